"""One SGD step of an MLP written the way the textbooks write it (used by mlp-raw, mlp-penalty,
mlp-d2l-penalty, mlp-l2-penalty and mlp-small-penalty).

No ``nn.MLP``, no optimizer: raw tensors ``W`` (out, in) and ``b`` (out,) that require grad,
``h = relu(h @ W.T + b)``, the loss L (softmax cross-entropy or the mean of (h − y)²), and
the update written by hand, ``with no_grad(): W -= lr * W.grad`` (then ``W.grad = None``, as
PyTorch's ``zero_grad`` does by default). With a penalty the step minimises d2l's (eqs.
5.3.5–5.3.6)

    J = L + s,   s = λ/2 · Σ ‖W‖²  over the weights (not the biases),   ∂J/∂W = ∂L/∂W + λW,

spelled as ``penalty``:

* ``None``: J = L;
* ``"explicit"``: ``s = lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum() + ...)`` in the loss;
* ``"d2l"``: d2l's own code, ``l2_penalty(w) = (w ** 2).sum() / 2`` and
  ``s = lam * (l2_penalty(W1) + l2_penalty(W2) + ...)``;
* ``"l2_penalty"``: ``nn.functional.l2_penalty(weights, lam)``, which is that same s
  (λ/2 · Σ ‖W‖²_F; its gradient is λW).

Every engine minimises the same J from the same float32 arrays (``mlp.Problem``) and returns
J, so ``mlp.check_losses`` compares forward, penalty, gradients and update across engines. The
peers: backprop by hand in numpy (∂L/∂W from the textbook's equations, then λW added to each
weight's gradient), and PyTorch written the same raw way (with the explicit penalty for
``"l2_penalty"``: it has no ``l2_penalty``).
"""

from dataclasses import replace

import numpy as np

from ..environment import torch_threads
from . import mlp

LR, LAMBDA = 0.01, 1e-4
PENALTIES = (None, "explicit", "d2l", "l2_penalty")


def classification(sizes, batch):
    """``mlp.classification``'s data and initial weights, with this file's SGD (lr 0.01, no weight decay)."""
    return replace(mlp.classification(sizes, batch), lr=LR, weight_decay=0.0)


def regression(sizes, batch):
    """``mlp.regression``'s data and initial weights, with this file's SGD (lr 0.01, no weight decay)."""
    return replace(mlp.regression(sizes, batch), lr=LR, weight_decay=0.0)


def _check(penalty):
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")


def autodiff_step(p, penalty=None, lam=LAMBDA, update="textbook"):
    """This engine on raw tensors: ``h @ W.T + b``, ``ad.relu``, ``F.cross_entropy`` or ``((h - y) ** 2).mean()``."""
    forward, backward, update = autodiff_phases(p, penalty, lam, update)

    def step():
        loss = forward()
        backward(loss)
        update()
        return loss

    return step


UPDATES = ("textbook", "in place")


def autodiff_phases(p, penalty=None, lam=LAMBDA, update="textbook"):
    """``autodiff_step``'s three phases: ``forward()`` (returns J), ``backward(J)``, ``update()``.

    ``update="in place"`` spells the update as the numpy program does its own: the gradient scaled
    in its own memory, ``W.grad *= lr; W -= W.grad`` (the same numbers, no temporary as large as W;
    ``benchmarks.experiments.textbook_phases`` measures what the textbook spelling's temporary costs).
    """
    import autodiff as ad
    from nn import functional as F

    _check(penalty)
    params = [ad.Tensor(a.copy(), requires_grad=True) for a in p.flat_init]  # W1, b1, W2, b2, ...
    weights, last = params[0::2], len(p.init) - 1
    x = ad.from_numpy(p.X)  # the data as is, as the PyTorch step takes it (torch.from_numpy)
    y = p.y if p.loss == "ce" else ad.from_numpy(p.y)
    lr = p.lr

    def forward():
        h = x
        for i in range(last + 1):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < last:
                h = ad.relu(h)
        loss = F.cross_entropy(h, y) if p.loss == "ce" else ((h - y) ** 2).mean()
        if penalty == "explicit":
            s = (weights[0] * weights[0]).sum()
            for W in weights[1:]:
                s = s + (W * W).sum()
            loss = loss + lam / 2 * s
        elif penalty == "d2l":
            s = (weights[0] ** 2).sum() / 2
            for W in weights[1:]:
                s = s + (W**2).sum() / 2
            loss = loss + lam * s
        elif penalty == "l2_penalty":
            loss = loss + F.l2_penalty(weights, lam)
        return loss

    def backward(loss):
        loss.backward()

    def textbook_update():
        with ad.no_grad():
            for w in params:
                w -= lr * w.grad
                w.grad = None

    def update_in_place():
        with ad.no_grad():
            for w in params:
                g = w.grad
                g *= lr
                w -= g
                w.grad = None

    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    return forward, backward, textbook_update if update == "textbook" else update_in_place


def torch_step(p, penalty=None, lam=LAMBDA):
    """PyTorch CPU, written the same raw way; ``"l2_penalty"`` is the explicit penalty (the same J)."""
    import torch

    _check(penalty)
    torch_threads(torch)
    F = torch.nn.functional
    params = [torch.tensor(a, requires_grad=True) for a in p.flat_init]
    weights, last = params[0::2], len(p.init) - 1
    x, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    lr = p.lr

    def step():
        h = x
        for i in range(last + 1):
            h = h @ params[2 * i].T + params[2 * i + 1]
            if i < last:
                h = torch.relu(h)
        loss = F.cross_entropy(h, y) if p.loss == "ce" else ((h - y) ** 2).mean()
        if penalty == "d2l":
            s = (weights[0] ** 2).sum() / 2
            for W in weights[1:]:
                s = s + (W**2).sum() / 2
            loss = loss + lam * s
        elif penalty is not None:
            s = (weights[0] * weights[0]).sum()
            for W in weights[1:]:
                s = s + (W * W).sum()
            loss = loss + lam / 2 * s
        loss.backward()
        with torch.no_grad():
            for w in params:
                w -= lr * w.grad
                w.grad = None
        return loss

    return step


def numpy_step(p, penalty=None, lam=LAMBDA):
    """Backprop by hand (``mlp.numpy_backprop``), the penalty added by hand: J += λ/2 Σ ⟨W, W⟩
    (``np.vdot``: one pass, no temporary), ∇W += λW, then W −= lr ∇W."""
    _check(penalty)
    lr = np.float32(p.lr)

    def update(W, b, grad_W, grad_b):
        grad_W *= lr
        W -= grad_W
        grad_b *= lr
        b -= grad_b

    return mlp.numpy_backprop(p, update, lam=lam if penalty is not None else 0.0)


def numpy_phases(p, penalty=None, lam=LAMBDA):
    """``numpy_step``'s phases: ``forward()`` (returns J and the output delta), ``backward(delta)`` (each
    layer's gradients, then its update, as the step interleaves them)."""
    step = numpy_step(p, penalty, lam)
    return step.forward, step.backward


def engines(penalty, peers=("numpy", "torch")):
    """{engine: make_step(problem)} for ``mlp.time_steps``, autodiff first, the penalty bound."""
    makers = {"autodiff": autodiff_step, "numpy": numpy_step, "torch": torch_step}
    return {name: (lambda p, make=makers[name]: make(p, penalty=penalty)) for name in ("autodiff",) + tuple(peers)}
