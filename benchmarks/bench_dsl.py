"""Benchmark: parse + validate a generated config that mixes every DSL construct.

Run: .venv/bin/python benchmarks/bench_dsl.py
Targets: 10,000 lines in <= 1.0 s; 20,000 lines in <= 2.2x the 10,000-line time.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeai.dsl import parse, validate

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


def generate(lines: int) -> str:
    """A config of at least ``lines`` lines built from repeated units."""
    parts, total, n = [HEADER], HEADER.count("\n"), 0
    while total < lines:
        unit = UNIT.format(n=n)
        parts.append(unit)
        total += unit.count("\n")
        n += 1
    return "".join(parts)


def parse_and_validate(source: str) -> tuple[float, int]:
    """(best wall time of 3 runs, number of diagnostics)."""
    best, diagnostics = float("inf"), []
    for _ in range(3):
        start = time.perf_counter()
        diagnostics = validate(parse(source))
        best = min(best, time.perf_counter() - start)
    return best, len(diagnostics)


def peak_traced_memory(source: str) -> int:
    tracemalloc.start()
    validate(parse(source))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> int:
    parse("var warm_up = 1")  # builds the grammar tables once, outside the timings
    timings = {}
    for lines in (10_000, 20_000):
        source = generate(lines)
        real_lines = source.count("\n")
        seconds, diagnostics = parse_and_validate(source)
        timings[lines] = seconds
        peak = peak_traced_memory(source)
        print(
            f"{real_lines:>6} lines  {len(source) / 1024:7.0f} KiB  {seconds:6.3f} s  "
            f"{real_lines / seconds:>9,.0f} lines/s  peak traced {peak / 2**20:6.1f} MiB  "
            f"diagnostics {diagnostics}"
        )
    ratio = timings[20_000] / timings[10_000]
    max_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"20k/10k time ratio {ratio:.2f}  (target <= 2.2)   max RSS {max_rss_mib:.0f} MiB")
    ok = timings[10_000] <= 1.0 and ratio <= 2.2
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
