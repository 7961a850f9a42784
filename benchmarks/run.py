"""Benchmarks: autodiff side by side with its peers, in one run, as ratios.

    .venv/bin/python benchmarks/run.py                 # every case, every peer installed
    .venv/bin/python benchmarks/run.py op-overhead     # one case
    .venv/bin/python benchmarks/run.py --against HEAD~3 op-overhead mlp-mnist
                                                       # this tree vs an earlier commit

Peers (install with ``pip install -e ".[bench]"``): PyTorch (CPU) and micrograd, plus a
hand-written numpy backprop (Nielsen's full-matrix equations) for the MLP: the floor an engine
in Python can approach. Each case reports the best of several repeats (the machine is shared;
the minimum is the least noisy statistic) and the ratio to autodiff.

Cases:
  op-overhead   forward+backward of a 200-op chain of small elementwise ops on (4,) tensors;
                per-op cost, i.e. Python overhead of recording and of the backward walk
  mlp-mnist     one epoch of minibatch SGD (batch 64) of a 784-128-64-10 ReLU MLP with softmax
                cross-entropy, float32, on 8,192 MNIST-shaped samples (random pixels, fixed seed;
                no download) -- throughput of real training
  scalar-neuron micrograd's shape: one tanh neuron over 100 scalar Values, forward+backward
  deep-chain    backward through a 100,000-op chain (iterative topological sort)
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_time(fn, repeat=5, number=1):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


# --------------------------------------------------------------------------- op-overhead

CHAIN = 200


def _op_overhead(x):
    """Per-op time of CHAIN elementwise ops on ``x`` (an autodiff or PyTorch tensor: same operators)."""
    def run():
        y = x
        for _ in range(CHAIN // 4):
            y = ((y * 0.9 + 0.1).tanh() - x) * x
        y.sum().backward()
        x.grad = None

    return best_time(run, repeat=7, number=5) / CHAIN


def op_overhead_autodiff():
    import autodiff as ad

    return _op_overhead(ad.Tensor(np.linspace(0.1, 0.4, 4), requires_grad=True))


def op_overhead_torch():
    import torch

    return _op_overhead(torch.tensor(np.linspace(0.1, 0.4, 4), requires_grad=True))


def op_overhead_micrograd():
    from micrograd.engine import Value

    xs = [Value(v) for v in np.linspace(0.1, 0.4, 4)]

    def run():  # micrograd 0.1.0 has relu but no tanh: same op count, relu in tanh's place
        ys = list(xs)
        for _ in range(CHAIN // 4):
            ys = [((y * 0.9 + 0.1).relu() - x) * x for y, x in zip(ys, xs)]
        sum(ys).backward()
        for x in xs:
            x.grad = 0

    # micrograd works on scalars: 4 scalar graphs of CHAIN ops each, so per op divide by 4 * CHAIN
    return best_time(run, repeat=7, number=5) / (4 * CHAIN)


# --------------------------------------------------------------------------- mlp-mnist

SIZES = (784, 128, 64, 10)
SAMPLES, BATCH = 8192, 64


def mnist_like():
    rng = np.random.default_rng(0)
    X = rng.random((SAMPLES, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], SAMPLES)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                        rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return X, y, weights


def mlp_autodiff():
    import autodiff as ad

    X, y, init = mnist_like()
    params = [(ad.Tensor(W, requires_grad=True), ad.Tensor(b, requires_grad=True)) for W, b in init]
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]
    lr = 0.05

    def epoch():
        for start in range(0, SAMPLES, BATCH):
            h = ad.Tensor(X[start:start + BATCH])
            for i, (W, b) in enumerate(params):
                h = h @ W.T + b
                if i < len(params) - 1:
                    h = h.relu()
            loss = -(ad.log_softmax(h, axis=1) * onehot[start:start + BATCH]).sum() * (1.0 / BATCH)
            loss.backward()
            with ad.no_grad():
                for W, b in params:
                    W -= lr * W.grad
                    b -= lr * b.grad
                    W.grad = b.grad = None

    return best_time(epoch, repeat=3)


def mlp_torch():
    import torch

    torch.set_num_threads(1)
    X, y, init = mnist_like()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in init]
    lr = 0.05

    def epoch():
        for start in range(0, SAMPLES, BATCH):
            h = Xt[start:start + BATCH]
            for i, (W, b) in enumerate(params):
                h = h @ W.T + b
                if i < len(params) - 1:
                    h = h.relu()
            loss = torch.nn.functional.cross_entropy(h, yt[start:start + BATCH])
            loss.backward()
            with torch.no_grad():
                for W, b in params:
                    W -= lr * W.grad
                    b -= lr * b.grad
                    W.grad = b.grad = None

    return best_time(epoch, repeat=3)


def mlp_numpy():
    """Nielsen's four equations by hand, full-matrix over the minibatch: the floor for numpy."""
    X, y, init = mnist_like()
    params = [(W.copy(), b.copy()) for W, b in init]
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]
    lr = np.float32(0.05)

    def epoch():
        for start in range(0, SAMPLES, BATCH):
            a, acts, zs = X[start:start + BATCH], [X[start:start + BATCH]], []
            for i, (W, b) in enumerate(params):
                z = a @ W.T + b
                zs.append(z)
                a = np.maximum(z, 0) if i < len(params) - 1 else z
                acts.append(a)
            e = np.exp(a - a.max(axis=1, keepdims=True))
            delta = (e / e.sum(axis=1, keepdims=True) - onehot[start:start + BATCH]) / BATCH
            for i in reversed(range(len(params))):
                W, b = params[i]
                gW, gb = delta.T @ acts[i], delta.sum(axis=0)
                if i:
                    delta = (delta @ W) * (zs[i - 1] > 0)
                W -= lr * gW
                b -= lr * gb

    return best_time(epoch, repeat=3)


# --------------------------------------------------------------------------- scalar-neuron

def scalar_neuron_autodiff():
    from autodiff import Value

    rng = np.random.default_rng(0)
    ws, xs = [Value(v) for v in rng.uniform(-1, 1, 100)], rng.uniform(-1, 1, 100).tolist()

    def run():
        act = sum((w * x for w, x in zip(ws, xs)), Value(0.0))
        act.tanh().backward()
        for w in ws:
            w.grad = None

    return best_time(run, repeat=7, number=5)


def scalar_neuron_micrograd():
    from micrograd.engine import Value

    rng = np.random.default_rng(0)
    ws, xs = [Value(v) for v in rng.uniform(-1, 1, 100)], rng.uniform(-1, 1, 100).tolist()

    def run():
        act = sum((w * x for w, x in zip(ws, xs)), Value(0.0))
        act.relu().backward()  # micrograd 0.1.0 has relu, not tanh
        for w in ws:
            w.grad = 0

    return best_time(run, repeat=7, number=5)


def scalar_neuron_torch():
    import torch

    rng = np.random.default_rng(0)
    ws = [torch.tensor(v, requires_grad=True) for v in rng.uniform(-1, 1, 100)]
    xs = rng.uniform(-1, 1, 100).tolist()

    def run():
        act = sum((w * x for w, x in zip(ws, xs)), torch.tensor(0.0, dtype=torch.float64))
        act.tanh().backward()
        for w in ws:
            w.grad = None

    return best_time(run, repeat=7, number=5)


# --------------------------------------------------------------------------- deep-chain

def _deep_chain(x):
    """Seconds for one backward through a 100,000-op chain starting at ``x``."""
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    start = time.perf_counter()
    y.backward()
    return time.perf_counter() - start


def deep_chain_autodiff():
    import autodiff as ad

    return _deep_chain(ad.Tensor(1.0, requires_grad=True))


def deep_chain_torch():
    import torch

    return _deep_chain(torch.tensor(1.0, dtype=torch.float64, requires_grad=True))


CASES = {
    "op-overhead": ("s per op", {"autodiff": op_overhead_autodiff, "torch": op_overhead_torch,
                                 "micrograd": op_overhead_micrograd}),
    "mlp-mnist": ("s per epoch", {"autodiff": mlp_autodiff, "torch": mlp_torch, "numpy": mlp_numpy}),
    "scalar-neuron": ("s per step", {"autodiff": scalar_neuron_autodiff, "micrograd": scalar_neuron_micrograd,
                                     "torch": scalar_neuron_torch}),
    "deep-chain": ("s per backward", {"autodiff": deep_chain_autodiff, "torch": deep_chain_torch}),
}


def available(peer):
    if peer in ("autodiff", "numpy"):
        return True
    try:
        __import__(peer)
        return True
    except ImportError:
        return False


def measure_in(tree, case, peer):
    """Run one measurement in a fresh interpreter with ``tree`` first on sys.path."""
    code = (f"import sys; sys.path.insert(0, {tree!r}); sys.path.insert(1, {os.path.join(ROOT, 'benchmarks')!r});"
            f"import run; print(run.CASES[{case!r}][1][{peer!r}]())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(out.stdout.strip().splitlines()[-1])


def fmt(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="case",
                        help=f"one or more of {', '.join(CASES)} (default: all)")
    parser.add_argument("--against", metavar="REV", help="also time autodiff at git revision REV (interleaved runs)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds with --against (default 3)")
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cpus")
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-q", tmp, args.against], check=True)
            try:
                print(f"\n| case | unit | this tree | {args.against} | ratio (this / {args.against}) |")
                print("| --- | --- | --- | --- | --- |")
                for case in args.cases:
                    unit = CASES[case][0]
                    ours, theirs = [], []
                    for _ in range(args.rounds):  # interleave so load changes hit both alike
                        ours.append(measure_in(ROOT, case, "autodiff"))
                        theirs.append(measure_in(tmp, case, "autodiff"))
                    a, b = min(ours), min(theirs)
                    print(f"| {case} | {unit} | {fmt(a)} | {fmt(b)} | {a / b:.3f} |")
            finally:
                subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tmp], check=False)
        return

    print("\n| case | unit | peer | time | ratio to autodiff |")
    print("| --- | --- | --- | --- | --- |")
    for case in args.cases:
        unit, peers = CASES[case]
        base = None
        for peer, _ in peers.items():
            if not available(peer):
                print(f"| {case} | {unit} | {peer} | not installed | |")
                continue
            t = measure_in(ROOT, case, peer)
            base = t if peer == "autodiff" else base
            ratio = "1" if peer == "autodiff" else f"{t / base:.2f}"
            print(f"| {case} | {unit} | {peer} | {fmt(t)} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
