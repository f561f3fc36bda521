"""Hypothesis profiles: `ci` (the default) is reproducible, `fuzz` searches long.

Pick one with HYPOTHESIS_PROFILE=fuzz (`just fuzz`). A test that needs more
examples than the profile gives says so with `@settings(max_examples=...)`,
taking the larger of its floor and `settings.default.max_examples`.
"""

import os

from hypothesis import HealthCheck, settings

# Mutated files vary in size and some compile to big programs: neither is a
# problem worth a health-check failure.
_SLOW_OR_LARGE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI is reproducible
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OR_LARGE,
)
settings.register_profile(
    "fuzz",
    max_examples=50_000,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_SLOW_OR_LARGE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
