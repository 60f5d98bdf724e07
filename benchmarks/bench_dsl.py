"""Benchmark: ``check()`` (parse + validate) of 1, 2 and 5 MB of DSL, against lark's raw parse.

Run: .venv/bin/python benchmarks/bench_dsl.py
Inputs: a config mixing every construct, and plain ``var`` lines. For each: lines/s and
MB/s of ``check()``, and the ratio to the floor: lark's own LALR parse of the same text
with the same grammar (lark's contextual lexer, a plain parse tree, no transformer).
Rates and ratios use CPU time (steadier than wall time on a shared machine; both shown).
Targets: 1 MB in < 2 s for each input; time per MB at 5 MB within 1.3x of that at 1 MB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lark import Lark

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeai.dsl import check, parse
from codeai.dsl.lexer import RESERVED_WORDS

MB = 1_000_000
SIZES_MB = (1, 2, 5)

HEADER = """config {
    database_type: "postgres"
    app_name: "bench"
}
"""

# One unit of every construct; {n} keeps names unique so the validator stays quiet.
UNIT = """
var name_{n} = "service-{n}"
var count_{n} = {n} * 2 + 1
var items_{n} = [1, 2, 3, count_{n}]
function greet_{n}(who, times) {{
    var message = "hello " + who
    if times > 1 && !(times == 3) {{
        print(message)
    }} else if times < 0 {{
        exec {{ echo negative }}
    }} else {{
        var total = len(items_{n})
    }}
}}
for item in items_{n} {{
    greet_{n}(name_{n}, item)
}}
exec {{ echo $name_{n} | tr a-z A-Z }}
exec {{ awk '{{print $1}}' /etc/hosts | sed "s/{{/(/" }}
database postgres {{
    model User{n} {{
        description: "users {n}"
        id: uuid, primary, auto
        email: string, required, unique
        role: enum(admin, member), default(member)
        owner: ref(User{n}), optional
        index: [email] unique
    }}
    collection Log{n} {{
        _id: objectid, primary
        payload: embedded {{
            level: string, required
            tags: array(string)
        }}
        indexes {{
            index: [_id] unique
        }}
    }}
}}
auth jwt_{n} {{
    method jwt
    jwks_url "https://auth.example.com/{n}/jwks.json"
    issuer "https://auth.example.com"
    audience "api"
}}
role admin_{n} {{
    permissions ["users:read", "users:write"]
}}
middleware authn_{n} {{
    type authentication
    config {{
        provider: jwt_{n}
    }}
}}
middleware limit_{n} {{
    type rate_limiting
    config {{
        requests: 100
        window: "1m"
        strategy: sliding_window
    }}
}}
event user.created_{n} {{
    schema {{
        user_id uuid
        status string
    }}
}}
on "user.created_{n}" do workflow "welcome_{n}" async
integration crm_{n} {{
    type rest
    base_url "https://crm.example.com/{n}"
    auth bearer {{
        token: "$CRM_TOKEN"
    }}
    timeout "30s"
    circuit_breaker {{
        threshold 5
        timeout "60s"
        max_concurrent 10
    }}
}}
webhook hook_{n} {{
    event "user.created_{n}"
    url "https://hooks.example.com/{n}"
    method POST
    headers {{
        "Content-Type": "application/json"
    }}
    retry 3 initial_interval "1s" backoff 2.0
}}
@version("v1")
endpoint POST "/users/{n}" {{
    middleware authn_{n}
    request CreateUser from body
    response User status 201
    do {{
        validate(request)
        user = create(User, request)
    }}
}}
workflow welcome_{n} {{
    trigger event "user.created_{n}"
    timeout "5m"
    steps {{
        send {{
            activity "mail.send"
            input {{
                to: "workflow.input.email"
            }}
        }}
        parallel {{
            audit {{
                activity "audit.log"
            }}
        }}
    }}
    retry {{
        max_attempts 3
        initial_interval "10s"
        backoff_multiplier 2.0
    }}
}}
job cleanup_{n} {{
    schedule "*/15 * * * *"
    task "maintenance.cleanup"
    queue "low"
}}
"""


def generate_mixed(size: int) -> str:
    """Whole units of every construct, at most ``size`` characters."""
    parts, total, n = [HEADER], len(HEADER), 0
    while True:
        unit = UNIT.format(n=n)
        if total + len(unit) > size:
            return "".join(parts)
        parts.append(unit)
        total += len(unit)
        n += 1


def generate_vars(size: int) -> str:
    parts, total, n = [], 0, 0
    while True:
        line = f"var v{n} = {n}\n"
        if total + len(line) > size:
            return "".join(parts)
        parts.append(line)
        total += len(line)
        n += 1


def floor_parser() -> Lark:
    """lark alone on the same grammar: the lexer's tokens as lark terminals (exec text with
    one level of braces, enough for these inputs), lark's contextual lexer, a parse tree."""
    grammar = (Path(__file__).resolve().parents[1] / "codeai/dsl/grammar.lark").read_text()
    reserved = "|".join(sorted(RESERVED_WORDS))
    terminals = rf"""
EXEC.3: /exec\s*\{{(?:[^{{}}'"]|'[^']*'|"[^"]*"|\{{[^{{}}]*\}})+\}}/
STRING: /"[^"\\]*(?:\\.[^"\\]*)*"/
NUMBER: /[0-9]+(?:\.[0-9]*)?/
FLOAT: /[0-9]+\.[0-9]+/
NAME: /(?!(?:{reserved})\b)[a-zA-Z_][a-zA-Z0-9_]*/
EQ_OP: "==" | "!="
REL_OP: "<=" | ">=" | "<" | ">"
MUL_OP: "*" | "/" | "%"
%ignore /\s+/
%ignore /\/\/[^\n]*/
%ignore /\/\*[^*]*\*+(?:[^\/*][^*]*\*+)*\//
"""
    grammar = grammar.replace(
        "%declare EXEC NAME NUMBER FLOAT STRING EQ_OP REL_OP MUL_OP", terminals
    )
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=False)


def timed(function, text: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds): on a busy machine the CPU time is the steadier one."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(text)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    started = time.perf_counter()
    parse("var warm_up = 1")  # the grammar is built once per process, outside the timings
    print(f"grammar and tables built in {time.perf_counter() - started:.2f} s (once per process)")
    floor = floor_parser()
    ok = True
    for name, generate in (("mixed", generate_mixed), ("var lines", generate_vars)):
        per_mb = {}
        for size_mb in SIZES_MB:
            text = generate(size_mb * MB)
            result = check(text)
            assert result.valid, result.diagnostics[:3]
            seconds, cpu = timed(check, text)
            floor_seconds, floor_cpu = timed(floor.parse, text)
            lines = text.count("\n")
            per_mb[size_mb] = cpu / (len(text) / MB)
            print(
                f"{name:9}  {len(text) / MB:3.1f} MB  {lines:>7,} lines  check {seconds:5.2f} s "
                f"(CPU {cpu:5.2f} s)  {lines / cpu:>7,.0f} lines/s  "
                f"{len(text) / MB / cpu:4.2f} MB/s"
                f"  lark raw parse {floor_seconds:5.2f} s (CPU {floor_cpu:5.2f} s)"
                f"  ratio {cpu / floor_cpu:4.2f}"
            )
        growth = per_mb[SIZES_MB[-1]] / per_mb[SIZES_MB[0]]
        print(f"{name:9}  time per MB at 5 MB / at 1 MB: {growth:.2f} (target <= 1.3)")
        ok = ok and per_mb[1] < 2.0 and growth <= 1.3
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
