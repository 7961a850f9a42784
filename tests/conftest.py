"""Test-suite settings.

Hypothesis profiles: "ci" draws the same examples on every run (``.ci/run`` selects it, so a
submission's result does not depend on luck); "dev", the default, draws new ones each run, so
running the tests locally keeps exploring. Select with ``HYPOTHESIS_PROFILE=ci``.

Memory: the test process may map at most ``AUTODIFF_TEST_MEMORY_GB`` GiB (default 8; 0 for no
limit), so a case that materialises a huge array fails at once with MemoryError instead of
filling the machine's memory and swap.
"""

import os
import sys

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _cap_address_space(gib):
    try:
        import resource
    except ImportError:  # not on this platform (Windows): no cap
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(gib * 2**30)
    if gib > 0 and sys.platform.startswith("linux") and (soft == resource.RLIM_INFINITY or soft > limit):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


_cap_address_space(float(os.environ.get("AUTODIFF_TEST_MEMORY_GB", "8")))
