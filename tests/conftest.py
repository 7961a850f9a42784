"""Hypothesis profiles: "ci" draws the same examples on every run (``.ci/run`` selects it, so a
submission's result does not depend on luck); "dev", the default, draws new ones each run, so
running the tests locally keeps exploring. Select with ``HYPOTHESIS_PROFILE=ci``."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
