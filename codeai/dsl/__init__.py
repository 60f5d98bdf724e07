"""The CodeAI DSL as a pure-Python library (no Django): parse, validate, serialise, run.

See shared/spec/dsl.md (beside this repository) for the language and the deliberate changes from Go.
"""

from codeai.dsl.ast import Program
from codeai.dsl.check import CheckResult, check
from codeai.dsl.errors import Diagnostic, DSLError, DSLRuntimeError, DSLSyntaxError
from codeai.dsl.interpreter import RunResult, run
from codeai.dsl.lexer import NAME_RE
from codeai.dsl.parser import keywords, parse, prepare
from codeai.dsl.serialize import to_json
from codeai.dsl.validator import validate

__all__ = [
    "NAME_RE",
    "CheckResult",
    "DSLError",
    "DSLRuntimeError",
    "DSLSyntaxError",
    "Diagnostic",
    "Program",
    "RunResult",
    "check",
    "keywords",
    "parse",
    "prepare",
    "run",
    "to_json",
    "validate",
]
