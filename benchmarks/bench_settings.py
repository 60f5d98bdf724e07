"""Settings of benchmarks/bench_api.py only: the project's own, plus the bench URLconf.

Nothing but the benchmark names this module (``DJANGO_SETTINGS_MODULE``), so the bare view of
``bench_urls`` is unreachable in any server started the ordinary way.
"""

from codeai.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
