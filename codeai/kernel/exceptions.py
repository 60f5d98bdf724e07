"""Domain errors raised by services; the API maps them to status codes (409, 503, 404, 413).

They live outside ``codeai.kernel.api`` so services, tasks, commands and the admin can raise and
catch them without importing the HTTP layer.
"""

from __future__ import annotations


class CodeAIError(Exception):
    """Base of every domain error; ``str(error)`` is the message shown to the client."""


class Conflict(CodeAIError):
    """The request clashes with the current state (duplicate name, resource in use)."""


class ServiceUnavailable(CodeAIError):
    """A dependency (database, broker) is down; retrying later may succeed."""


class NotFound(CodeAIError):
    """The thing asked for does not exist."""


class TooLarge(CodeAIError):
    """An input is over its documented size limit (a config's content)."""
