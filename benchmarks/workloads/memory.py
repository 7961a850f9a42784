"""memory: peak resident memory of 50 ``mlp-mnist`` training steps, each engine in a fresh process.

The child imports its engine, makes the data and initial weights (``mlp_mnist.problem``),
takes the RSS as its baseline, then builds the model and runs 50 steps; it reports
peak RSS minus that baseline (the kernel's peak mark is reset at the baseline on
Linux). Parameters, gradients, activations and whatever the engine keeps alive
between steps all count.

The child: ``python -m benchmarks.workloads.memory ENGINE STEPS [--smoke]`` prints one JSON line.
"""

import statistics
import sys

from ..timing import PeakMemory, emit, round_robin, row, run_child
from . import mlp, mlp_mnist

NAME = "memory"
DESCRIPTION = "peak RSS of 50 mlp-mnist steps minus the RSS after imports and data, fresh process per engine"
STEPS, SMOKE_STEPS = 50, 3
REPEATS = 3
MB = 2**20

# one function per engine (the mlp-mnist steps), autodiff first
ENGINES = {"autodiff": mlp.autodiff_step, "numpy": mlp.numpy_step, "torch": mlp.torch_step}
PEERS = tuple(ENGINES)[1:]
IMPORTS = {"autodiff": ("autodiff", "nn"), "numpy": ("numpy",), "torch": ("torch",)}


def child(engine, steps, smoke=False):
    for module in IMPORTS[engine]:
        __import__(module)
    problem = mlp_mnist.problem(smoke)
    with PeakMemory() as memory:
        step = ENGINES[engine](problem)
        for _ in range(steps):
            loss = step()
        del step, loss
    return {"peak_bytes": memory.delta, "left_bytes": memory.after, "steps": steps}


def run(ctx):
    steps = SMOKE_STEPS if ctx.smoke else STEPS
    engines = [e for e in ENGINES if e == "autodiff" or ctx.wants(e)]
    extra = ["--smoke"] if ctx.smoke else []
    jobs = {e: (lambda e=e: run_child(__name__, e, steps, *extra)) for e in engines}
    results = round_robin(jobs, ctx.reps(REPEATS), settle=ctx.settle)
    values = {}
    for e, rs in results.items():
        peaks = [r["peak_bytes"] / MB for r in rs if "peak_bytes" in r]
        values[e] = statistics.median(peaks) if peaks else rs[0].get("error", "failed")
        if not peaks:
            ctx.log(f"WARNING: {NAME}: {e} failed: {values[e]}")
    return [
        row(
            NAME,
            f"peak RSS delta, {steps} mlp-mnist steps",
            "MB",
            values,
            samples={e: [r.get("peak_bytes", 0) / MB for r in rs] for e, rs in results.items()},
        )
    ]


if __name__ == "__main__":
    emit(child(sys.argv[1], int(sys.argv[2]), smoke="--smoke" in sys.argv[3:]))
