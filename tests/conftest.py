"""Hypothesis profiles: `ci` (the default) is reproducible, `fuzz` searches long.

Pick one with HYPOTHESIS_PROFILE=fuzz (`just fuzz`). A test that needs its own
example count says so with `@settings(max_examples=...)`.
"""

import os

from hypothesis import HealthCheck, settings

# Mutated files vary in size and some compile to big programs: neither is a
# problem worth a health-check failure.
_SLOW_OR_LARGE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=2_000,  # the parser fuzz test's floor in CI
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI is reproducible
    database=None,
    suppress_health_check=_SLOW_OR_LARGE,
)
settings.register_profile(
    "fuzz",
    max_examples=50_000,
    deadline=None,
    suppress_health_check=_SLOW_OR_LARGE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
