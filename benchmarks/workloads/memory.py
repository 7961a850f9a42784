"""memory: peak resident memory of 50 ``mlp-mnist`` training steps, each engine in a fresh process.

The child imports its engine, makes the data and initial weights (``mlp_mnist.problem``),
takes the RSS as its baseline, then builds the model and runs 50 steps; it reports
peak RSS minus that baseline (the kernel's peak mark is reset at the baseline on
Linux). Parameters, gradients, activations and whatever the engine keeps alive
between steps all count.

The RSS also counts where glibc places the arrays: memory that making the data freed is
reused by whichever arrays fit into it first, and the same engine code moves by up to 0.6 MB
when unrelated modules change the heap's layout. A second row takes the same steps with
``tracemalloc`` (in another child: tracing has memory of its own), which sees every array
numpy allocates and none of the layout: the peak of the bytes allocated and not yet freed,
minus those before the model is built. PyTorch's allocator is not traced, so that row
compares autodiff and numpy only.

The child: ``python -m benchmarks.workloads.memory ENGINE STEPS [--smoke] [--traced]`` prints one JSON line.
"""

import statistics
import sys
import tracemalloc

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


TRACED = ("autodiff", "numpy")  # engines whose arrays tracemalloc sees


def child(engine, steps, smoke=False, traced=False):
    for module in IMPORTS[engine]:
        __import__(module)
    problem = mlp_mnist.problem(smoke)
    if traced:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step = ENGINES[engine](problem)
        for _ in range(steps):
            loss = step()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return {"traced_peak_bytes": peak, "steps": steps}
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
    jobs.update(
        {f"{e} traced": (lambda e=e: run_child(__name__, e, steps, *extra, "--traced")) for e in engines if e in TRACED}
    )
    results = round_robin(jobs, ctx.reps(REPEATS), settle=ctx.settle)
    rows = []
    for metric, key, suffix in (
        (f"peak RSS delta, {steps} mlp-mnist steps", "peak_bytes", ""),
        (f"peak of traced allocations, {steps} mlp-mnist steps", "traced_peak_bytes", " traced"),
    ):
        values, samples = {}, {}
        for e in engines:
            rs = results.get(e + suffix)
            if rs is None:
                continue
            peaks = samples[e] = [r[key] / MB for r in rs if key in r]
            values[e] = statistics.median(peaks) if peaks else rs[0].get("error", "failed")
            if not peaks:
                ctx.log(f"WARNING: {NAME}: {e}{suffix} failed: {values[e]}")
        rows.append(row(NAME, metric, "MB", values, samples=samples))
    return rows


if __name__ == "__main__":
    flags = sys.argv[3:]
    emit(child(sys.argv[1], int(sys.argv[2]), smoke="--smoke" in flags, traced="--traced" in flags))
