"""One SGD training step of a ReLU MLP, written once per engine (used by mlp-mnist, mlp-small and memory).

A step is: forward, loss (softmax cross-entropy or mean squared error, mean over
the batch), backward, SGD update with weight decay λ as PyTorch does it
(w ← w − lr·(∇w + λw), on weights and biases alike). Every engine starts from
the same float32 arrays (``Problem``: data, targets, initial weights), so their
first losses agree to float32 rounding, which ``check_losses`` verifies.

Each ``*_step(problem)`` does its setup untimed and returns ``step()``, which
runs one training step and returns that step's loss (in the engine's own type).
"""

from dataclasses import dataclass

import numpy as np

from ..environment import torch_threads
from ..timing import interleaved, row

REPEATS = 15  # default rounds of the step workloads


@dataclass
class Problem:
    sizes: tuple  # layer widths, input first: (784, 512, 256, 10)
    X: np.ndarray  # (batch, sizes[0]) float32
    y: np.ndarray  # int64 labels (batch,) for "ce"; float32 (batch, 1) for "mse"
    init: list  # [(W (out, in), b (out,)), ...] float32, PyTorch's default Linear init
    loss: str  # "ce" or "mse"
    lr: float = 0.05
    weight_decay: float = 1e-4

    @property
    def flat_init(self):
        return [a for pair in self.init for a in pair]


def _init(sizes, rng):
    """PyTorch's nn.Linear default: W, b ~ U(−1/√fan_in, 1/√fan_in)."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        layers.append(
            (
                rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                rng.uniform(-bound, bound, fan_out).astype(np.float32),
            )
        )
    return layers


def classification(sizes, batch, seed=0):
    """MNIST-shaped data without a download: pixels U[0, 1), random labels, fixed seed."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    return Problem(tuple(sizes), X, y, _init(sizes, rng), "ce")


def regression(sizes, batch, seed=0):
    """Inputs N(0, 1), targets sin(x₁)·cos(x₂) (a smooth surface), shape (batch, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = (np.sin(X[:, :1]) * np.cos(X[:, -1:])).astype(np.float32)
    return Problem(tuple(sizes), X, y, _init(sizes, rng), "mse")


# --------------------------------------------------------------------------- the engines


def autodiff_step(p):
    """This engine, written as a user would with nn: MLP, F.cross_entropy / F.mse_loss, optim.SGD."""
    import autodiff as ad
    import nn
    from nn import functional as F

    model = nn.MLP(p.sizes[0], list(p.sizes[1:]), activation="relu", dtype=np.float32)
    names = [name for name, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, p.flat_init)))
    optimizer = nn.optim.SGD(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    loss_fn = F.cross_entropy if p.loss == "ce" else F.mse_loss
    x, y = ad.from_numpy(p.X), p.y  # the batch as is, as the PyTorch step takes it (torch.from_numpy)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def numpy_step(p):
    """Backprop by hand (``numpy_backprop``), SGD with weight decay on every parameter, as ``optim.SGD``."""
    lr, decay = np.float32(p.lr), np.float32(1 - p.lr * p.weight_decay)

    def update(W, b, grad_W, grad_b):  # w ← (1 − lr·λ) w − lr·∇w
        W *= decay
        grad_W *= lr
        W -= grad_W
        b *= decay
        grad_b *= lr
        b -= grad_b

    return numpy_backprop(p, update)


def numpy_backprop(p, update, lam=0.0):
    """Backprop by hand, the textbook's full-matrix equations (Nielsen ch. 2) over the batch; the step
    function, which calls ``update(W, b, grad_W, grad_b)`` for each layer (arrays updated in place).
    Its phases are ``step.forward()`` (J and the output delta) and ``step.backward(delta)``.

    float32 throughout; every array a step needs (pre-activations, deltas,
    gradients) is allocated once and written with ``out=`` / in place: the forward
    pass (bias add, ReLU), the output delta in the softmax's own buffer, the updates.
    With ``lam``, d2l's penalty: J += λ/2 Σ ⟨W, W⟩ (``np.vdot``: one pass, no temporary) and
    ∇W += λW, before the update.
    """
    params = [(W.copy(), b.copy()) for W, b in p.init]
    X, y, n, last = p.X, p.y, len(p.X), len(p.init) - 1
    lam = np.float32(lam)
    rows = np.arange(n)
    zs = [np.empty((n, W.shape[0]), np.float32) for W, _ in params]  # zˡ, then aˡ = relu(zˡ)
    deltas = [None] + [np.empty((n, W.shape[1]), np.float32) for W, _ in params[1:]]
    grads = [(np.empty_like(W), np.empty_like(b)) for W, b in params]

    def forward():
        a = X  # a⁰ = x; aˡ = relu(aˡ⁻¹ Wᵀ + b); the last layer is linear
        for i, (W, b) in enumerate(params):
            a = np.matmul(a, W.T, out=zs[i])
            a += b
            if i < last:
                np.maximum(a, 0, out=a)
        if p.loss == "ce":  # δᴸ = (softmax(z) − onehot(y)) / n
            a -= a.max(axis=1, keepdims=True)
            logit_y = a[rows, y]
            np.exp(a, out=a)
            total = a.sum(axis=1, keepdims=True)
            loss = np.log(total).mean() - logit_y.mean()
            a /= total
            a[rows, y] -= 1
            a /= n
        else:  # δᴸ = 2 (a − y) / n
            a -= y
            loss = np.mean(a * a)
            a *= 2 / a.size
        if lam:  # s = λ/2 Σ ‖W‖², before the weights change
            loss = loss + lam / 2 * sum(np.vdot(W, W) for W, _ in params)
        return loss, a

    def backward(delta):
        for i in range(last, -1, -1):
            W, b = params[i]
            grad_W, grad_b = grads[i]
            below = zs[i - 1] if i else X
            np.matmul(delta.T, below, out=grad_W)
            np.sum(delta, axis=0, out=grad_b)
            if i:  # δˡ⁻¹ = (δˡ W) ⊙ relu'(zˡ⁻¹), before W changes
                delta = np.matmul(delta, W, out=deltas[i])
                delta *= below > 0
            if lam:  # ∂J/∂W = ∂L/∂W + λW
                grad_W += lam * W
            update(W, b, grad_W, grad_b)

    def step():
        loss, delta = forward()
        backward(delta)
        return loss

    step.forward, step.backward = forward, backward  # the phases, for benchmarks.experiments.textbook_phases
    return step


def torch_step(p):
    """PyTorch CPU: nn.Sequential of Linear/ReLU, F.cross_entropy / F.mse_loss, optim.SGD."""
    import torch

    torch_threads(torch)
    layers = []
    for i, (W, b) in enumerate(p.init):
        linear = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(p.init) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    F = torch.nn.functional
    loss_fn = F.cross_entropy if p.loss == "ce" else F.mse_loss
    x, y = torch.from_numpy(p.X), torch.from_numpy(p.y)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def autograd_step(p):
    """HIPS autograd: the loss as a function of a list of arrays, ``value_and_grad``, numpy updates."""
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    params = [a.copy() for a in p.flat_init]
    X, last = p.X, len(p.init) - 1
    onehot = np.eye(p.sizes[-1], dtype=np.float32)[p.y] if p.loss == "ce" else None

    def loss(params):
        h = X
        for i in range(last + 1):
            h = anp.dot(h, params[2 * i].T) + params[2 * i + 1]
            if i < last:
                h = anp.maximum(h, 0)
        if p.loss == "ce":
            log_probs = h - logsumexp(h, axis=1, keepdims=True)
            return -anp.mean(anp.sum(log_probs * onehot, axis=1))
        d = h - p.y
        return anp.mean(d * d)

    value_and_grad = autograd.value_and_grad(loss)

    def step():
        value, grads = value_and_grad(params)
        for w, g in zip(params, grads):
            w -= p.lr * (g + p.weight_decay * w)
        return value

    return step


def mygrad_step(p):
    """MyGrad: mygrad Tensors, its relu and fused softmax_crossentropy, updates on ``.data``."""
    import mygrad as mg
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    params = [mg.tensor(a.copy()) for a in p.flat_init]
    X, y, last = p.X, p.y, len(p.init) - 1

    def step():
        h = X
        for i in range(last + 1):
            h = mg.matmul(h, params[2 * i].T) + params[2 * i + 1]
            if i < last:
                h = relu(h)
        if p.loss == "ce":
            loss = softmax_crossentropy(h, y)
        else:
            d = h - y
            loss = mg.mean(d * d)
        loss.backward()
        for w in params:
            w.data -= p.lr * (w.grad + p.weight_decay * w.data)
        return loss

    return step


def micrograd_step(p):
    """micrograd's scalar engine: ``micrograd.nn.MLP`` with the same weights, one Value per number (float64)."""
    from micrograd.nn import MLP

    model = MLP(p.sizes[0], list(p.sizes[1:]))  # ReLU after every layer but the last, like the others
    for layer, (W, b) in zip(model.layers, p.init):
        for neuron, w_row, b_i in zip(layer.neurons, W, b):
            for value, w in zip(neuron.w, w_row):
                value.data = float(w)
            neuron.b.data = float(b_i)
    if p.loss != "mse" or p.sizes[-1] != 1:
        raise NotImplementedError("the micrograd peer does mean squared error on one output")
    xs, ys, n = p.X.astype(float).tolist(), p.y.ravel().tolist(), len(p.X)
    params = model.parameters()

    def step():
        model.zero_grad()
        loss = sum((model(x) - t) ** 2 for x, t in zip(xs, ys)) * (1.0 / n)
        loss.backward()
        for v in params:
            v.data -= p.lr * (v.grad + p.weight_decay * v.data)
        return loss

    return step


STEPS = {
    "autodiff": autodiff_step,
    "numpy": numpy_step,
    "torch": torch_step,
    "autograd": autograd_step,
    "mygrad": mygrad_step,
    "micrograd": micrograd_step,
}


# --------------------------------------------------------------------------- checking and timing


def as_float(loss):
    """A loss of any engine as a Python float."""
    if hasattr(loss, "item"):  # numpy scalars, autodiff, torch and mygrad tensors
        return float(loss.item())
    return float(loss.data)  # micrograd's Value


def check_losses(steps, count=2, rtol=1e-4, atol=1e-6):
    """Run ``count`` steps of each engine; {peer: {"losses": [...], "ok": bool}} against autodiff's.

    The first loss checks the forward pass and the loss, the second also the
    gradients and the update (it is computed after one SGD step). These steps
    are the warm-up of the timing that follows.
    """
    losses = {name: [as_float(step()) for _ in range(count)] for name, step in steps.items()}
    ref = losses.get("autodiff")
    checks = {}
    for name, values in losses.items():
        ok = ref is not None and bool(np.allclose(values, ref, rtol=rtol, atol=atol))
        checks[name] = {"losses": values, "ok": ok}
    return checks


def time_steps(ctx, workload, problem, engines, caps=None):
    """The table row of an MLP-step workload: loss check, then interleaved timing of each engine's step.

    ``engines`` is {name: *_step function}, autodiff first.
    """
    steps = {name: make(problem) for name, make in engines.items() if name == "autodiff" or ctx.wants(name)}
    checks = check_losses(steps)
    for name, check in checks.items():
        if not check["ok"]:
            ctx.log(
                f"WARNING: {workload}: {name}'s first losses {check['losses']} differ from "
                f"autodiff's {checks['autodiff']['losses']} beyond float32 tolerance"
            )
    # the loss check's two steps were the warm-up; one more call sizes the samples
    timed = interleaved(steps, ctx.reps(REPEATS), warmup=1, min_sample=ctx.min_sample, caps=caps, settle=ctx.settle)
    return [
        row(
            workload,
            "time per step",
            "ms",
            {k: v["median"] * 1e3 for k, v in timed.items()},
            samples={k: [s * 1e3 for s in v["samples"]] for k, v in timed.items()},
            notes={k: f"{len(v['samples'])} samples of {v['number']} steps" for k, v in timed.items()},
            checks=checks,
        )
    ]
