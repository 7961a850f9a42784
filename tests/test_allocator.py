"""allocator: glibc's malloc thresholds, fixed on request so a training loop does not page-fault every step."""

import json
import subprocess
import sys

import pytest

from autodiff import allocator

# One SGD step of an MLP 256-256-128-10, batch 128, repeated: its arrays (64-256 KiB) are the sizes
# glibc's default thresholds hand back to the system after every step (309 page faults a step here).
LOOP = """
import json, resource, time, numpy as np
import os, autodiff as ad, nn
from nn import functional as F
if os.environ.get("TUNE") == "call":
    ad.tune_allocator()
rng = np.random.default_rng(0)
x, y = ad.Tensor(rng.random((128, 256), dtype=np.float32)), rng.integers(0, 10, 128)
model = nn.MLP(256, [256, 128, 10], dtype=np.float32, rng=0)
opt = nn.optim.SGD(model.parameters(), lr=0.05, weight_decay=1e-4)
def step():
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
for _ in range(20): step()
before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
for _ in range(50): step()
ms = (time.perf_counter() - start) / 50 * 1e3
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50
print(json.dumps({"tuned": ad.allocator.tuned, "faults_per_step": faults, "ms_per_step": ms}))
"""


def _run(env_extra):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("AUTODIFF_TUNE_MALLOC", "TUNE") + allocator._OWN_SETTINGS}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_glibcs_own_settings_win():
    assert allocator.tune_allocator({"MALLOC_TRIM_THRESHOLD_": "1000000"}) is False
    assert allocator.tune_allocator({"MALLOC_MMAP_THRESHOLD_": "1000000"}) is False


def test_tuning_is_opt_in():
    assert allocator.tune_on_import({}) is False
    assert allocator.tune_on_import({"AUTODIFF_TUNE_MALLOC": "0"}) is False
    code = "import autodiff\nprint(autodiff.allocator.tuned)"
    env = {k: v for k, v in __import__("os").environ.items() if k != "AUTODIFF_TUNE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_autodiff_imports_without_ctypes():
    code = "import sys; sys.modules['_ctypes'] = None\nimport autodiff\nprint(autodiff.tune_allocator())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.parametrize("how", [{"TUNE": "call"}, {"AUTODIFF_TUNE_MALLOC": "1"}])
def test_a_training_loop_stops_page_faulting_once_tuned(how):
    tuned = _run(how)
    if not tuned["tuned"]:
        pytest.skip("this libc has no working mallopt (not glibc)")
    assert tuned["faults_per_step"] < 20, tuned
    assert _run({})["tuned"] is False


if __name__ == "__main__":  # python tests/test_allocator.py: both settings side by side (times are not asserted)
    for label, extra in (("glibc's defaults", {}), ("autodiff.tune_allocator()", {"TUNE": "call"})):
        result = _run(extra)
        print(f"{label}: {result['faults_per_step']:.0f} page faults, {result['ms_per_step']:.2f} ms per step")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_glibcs_own_variables_give_the_same_settings_to_any_process():
    """How the benchmarks give every peer the same allocator, whether or not it imports autodiff."""
    from benchmarks.timing import MALLOC_SETTINGS

    assert MALLOC_SETTINGS == {
        "MALLOC_MMAP_THRESHOLD_": str(allocator.MMAP_THRESHOLD),
        "MALLOC_TRIM_THRESHOLD_": str(allocator.TRIM_THRESHOLD),
    }
    result = _run(MALLOC_SETTINGS)
    if _run({"TUNE": "call"})["tuned"]:
        assert result["faults_per_step"] < 20 and result["tuned"] is False, result
