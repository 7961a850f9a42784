"""The matrix products of one 784-512-256-10 step (batch 128, float32), numpy against PyTorch.

The textbook rows (mlp-raw, mlp-penalty, mlp-d2l-penalty, mlp-l2-penalty) compare autodiff with a
hand-written numpy program and with PyTorch. autodiff's matrix products are numpy's ``np.matmul``,
the numpy program's too, and they are most of a step. This times each product a step makes, as the
step makes it, with numpy's BLAS and with PyTorch's, alternating sample by sample in one process
with the same threads, with the suite's pause between samples (``timing.SETTLE``: a library's idle
threads keep spinning on the cores for a while after its last call, which slows the other one
if its sample starts at once):

* forward, for each layer: ``a @ W.T`` (a: the batch's activations, W: the weight, out × in);
* backward, for each layer: ``δᵀ a`` (the weight's gradient, out × in) and, below the first layer,
  ``δ W`` (the gradient of the activations below).

    python -m benchmarks.experiments.matrix_products [--samples N] [--smoke]

prints, for each product, the median microseconds of each library and their ratio, then the sums:
when PyTorch's products take less time than numpy's, no engine built on numpy's products, autodiff
or the numpy program, can be faster than PyTorch on those rows without doing less arithmetic.
Needs PyTorch (``pip install torch==2.13.0``); without it, numpy's times only.
"""

import argparse
import statistics
import sys
import time

import numpy as np

from ..environment import set_threads, threads, torch_threads
from ..timing import SETTLE

SIZES, BATCH = (784, 512, 256, 10), 128
SMOKE_SIZES, SMOKE_BATCH = (20, 16, 8, 4), 8


def products(sizes, batch, seed=0):
    """{name: (A, B)}: the operands of each product of one step, float32, laid out as the step lays them out."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    acts = [rng.random((batch, n), dtype=f32) for n in sizes[:-1]]  # a⁰ = x, a¹, a²: the inputs of each layer
    weights = [rng.standard_normal((m, n), dtype=f32) for n, m in zip(sizes[:-1], sizes[1:])]  # (out, in)
    deltas = [rng.standard_normal((batch, m), dtype=f32) for m in sizes[1:]]  # δ of each layer's output
    pairs = {}
    for i, (a, W) in enumerate(zip(acts, weights), start=1):
        pairs[f"forward {i}: a @ W{i}.T"] = (a, W.T)
    for i in range(len(weights), 0, -1):
        pairs[f"backward {i}: δᵀ a (∇W{i})"] = (deltas[i - 1].T, acts[i - 1])
        if i > 1:
            pairs[f"backward {i}: δ W{i}"] = (deltas[i - 1], weights[i - 1])
    return pairs


def _time(fn, number):
    fn()  # (the first call after the other library's refills caches and wakes threads)
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def measure(pairs, samples, number, settle=SETTLE):
    """{name: {library: median seconds}}; numpy and, when importable, torch, alternating sample by sample,
    ``settle`` seconds of sleep after each."""
    try:
        import torch
    except ImportError:
        torch = None
    else:
        torch_threads(torch)
    results = {}
    for name, (a, b) in pairs.items():
        fns = {"numpy": lambda a=a, b=b: np.matmul(a, b)}
        if torch is not None:
            ta, tb = torch.from_numpy(a.T).T if not a.flags.c_contiguous else torch.from_numpy(a), None
            tb = torch.from_numpy(b.T).T if not b.flags.c_contiguous else torch.from_numpy(b)
            assert np.allclose(torch.matmul(ta, tb).numpy(), np.matmul(a, b), rtol=1e-4, atol=1e-3)
            fns["torch"] = lambda ta=ta, tb=tb: torch.matmul(ta, tb)
        times = {lib: [] for lib in fns}
        for _ in range(samples):
            for lib, fn in fns.items():
                times[lib].append(_time(fn, number))
                time.sleep(settle)
        results[name] = {lib: statistics.median(t) for lib, t in times.items()}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=9)
    parser.add_argument("--smoke", action="store_true", help="small matrices, few samples (a test of this script)")
    args = parser.parse_args(argv)
    set_threads(threads())  # every CPU, or OMP_NUM_THREADS: numpy's BLAS and PyTorch alike
    sizes, batch = (SMOKE_SIZES, SMOKE_BATCH) if args.smoke else (SIZES, BATCH)
    smoke = args.smoke
    results = measure(products(sizes, batch), 2 if smoke else args.samples, 2 if smoke else 50, 0 if smoke else SETTLE)
    libs = list(next(iter(results.values())))
    print(
        "| product | " + " | ".join(f"{lib} µs" for lib in libs) + (" | numpy / torch |" if "torch" in libs else " |")
    )
    print("| --- |" + " ---: |" * (len(libs) + ("torch" in libs)))
    totals = dict.fromkeys(libs, 0.0)
    for name, r in results.items():
        cells = [f"{r[lib] * 1e6:.1f}" for lib in libs]
        if "torch" in r:
            cells.append(f"{r['numpy'] / r['torch']:.2f}")
        for lib in libs:
            totals[lib] += r[lib]
        print(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"{totals[lib] * 1e6:.1f}" for lib in libs] + (
        [f"{totals['numpy'] / totals['torch']:.2f}"] if "torch" in libs else []
    )
    print("| all of a step's products | " + " | ".join(cells) + " |")
    print(f"(medians over the samples; {threads()} threads for numpy's BLAS and for PyTorch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
