"""Suite-wide settings: Hypothesis profiles.

`dev` (the default) keeps property tests quick; `ci` runs more examples and is chosen
with HYPOTHESIS_PROFILE=ci (or `pytest --hypothesis-profile=ci`). Neither has a deadline:
a loaded CI machine must not turn a slow example into a failure.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
