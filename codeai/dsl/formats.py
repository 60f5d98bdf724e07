"""The value formats Go's validator checks with library parsers: URLs (net/url), durations
(time.ParseDuration) and 5-field cron expressions (robfig/cron). Each checker returns an
error text in the spirit of the Go library's, or None when the value is fine."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+")
_SCHEME_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9a-fA-F]{2})(.{0,2})", re.DOTALL)


def is_go_duration(text: str) -> bool:
    return text in ("0", "+0", "-0") or _DURATION_RE.fullmatch(text) is not None


def url_scheme_and_error(url: str) -> tuple[str, str | None]:
    """(lower-cased scheme, parse error) the way Go's ``url.Parse`` sees ``url``."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "", f'parse "{url}": net/url: invalid control character in URL'
    if url.startswith(":"):
        return "", f'parse "{url}": missing protocol scheme'
    bad_escape = _BAD_ESCAPE_RE.search(url)
    if bad_escape:
        return "", f'parse "{url}": invalid URL escape "{bad_escape.group()}"'
    match = _SCHEME_RE.match(url)
    scheme = match.group(1).lower() if match else ""
    rest = url[match.end() :] if match else url
    if rest.startswith("//"):
        authority = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = authority.rsplit("@", 1)[-1]
        if not host.endswith("]") and ":" in host:
            port = host.rsplit(":", 1)[1]
            if not port.isdigit() and port:
                return scheme, f'parse "{url}": invalid port ":{port}" after host'
    return scheme, None


# Each field's (lowest, highest, names for its values).
_CRON_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),  # minute
    (0, 23, {}),  # hour
    (1, 31, {}),  # day of month
    (  # month
        1,
        12,
        {
            name: number
            for number, name in enumerate(
                [
                    "jan",
                    "feb",
                    "mar",
                    "apr",
                    "may",
                    "jun",
                    "jul",
                    "aug",
                    "sep",
                    "oct",
                    "nov",
                    "dec",
                ],
                start=1,
            )
        },
    ),
    (
        0,
        6,  # day of week
        {name: n for n, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)


def _cron_number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"failed to parse int from {text}")
    return int(text)


def _check_cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    range_part, _, step = expr.partition("/")
    if range_part in ("*", "?"):
        start, end = low, high
    else:
        first, _, last = range_part.partition("-")
        start = _cron_number(first, names)
        end = _cron_number(last, names) if last else start
    if "/" in expr and (not step.isdigit() or int(step) == 0):
        raise ValueError(f"step of range should be a positive number: {expr}")
    if start < low:
        raise ValueError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ValueError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")


def cron_error(expression: str) -> str | None:
    """Why ``expression`` is not a standard 5-field cron spec, or None."""
    parts = expression.split()
    if len(parts) != len(_CRON_FIELDS):
        return f"expected exactly 5 fields, found {len(parts)}: {parts}"
    try:
        for part, (low, high, names) in zip(parts, _CRON_FIELDS, strict=False):
            for expr in part.split(","):
                _check_cron_range(expr, low, high, names)
    except ValueError as error:
        return str(error)
    return None
