"""Checking derivative rules against central finite differences.

``gradcheck`` builds the Jacobian of ``fn`` twice: analytically, one backward
pass per output element, and numerically, ∂fᵢ/∂xⱼ ≈ (f(x + εeⱼ) − f(x − εeⱼ)) / 2ε
with two forward passes per input element (which is why nobody trains by
finite differences). ``gradgradcheck`` applies the same check to the gradient
function itself, built with ``create_graph=True``.
"""

import numpy as np

from . import autograd
from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with the finite-difference estimate."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else list(out)


def _prepare(inputs):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    prepared = []
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            x = Tensor(x.data, dtype=np.float64, requires_grad=True, name=x.name)
        prepared.append(x)
    return prepared


def _analytic(fn, inputs, wrt):
    """jac[i][k]: the Jacobian of output k with respect to input i, shape (out.size, x.size)."""
    outputs = _outputs(fn, inputs)
    jac = [[np.zeros((o.size, inputs[i].size)) for o in outputs] for i in wrt]
    for k, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for j in range(out.size):
            seed = np.zeros(out.size)
            seed[j] = 1.0
            grads = autograd.grad(
                out, [inputs[i] for i in wrt], seed.reshape(out.shape), retain_graph=True, allow_unused=True
            )
            for n, g in enumerate(grads):
                if g is not None:
                    jac[n][k][j] = g.data.ravel()
    return outputs, jac


def _numerical(fn, inputs, wrt, eps, outputs):
    jac = [[np.zeros((o.size, inputs[i].size)) for o in outputs] for i in wrt]
    for n, i in enumerate(wrt):
        flat = inputs[i].data.reshape(-1)  # a view: writing it perturbs the input
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = [o.data.copy() for o in _outputs(fn, inputs)]
            flat[j] = original - eps
            minus = [o.data.copy() for o in _outputs(fn, inputs)]
            flat[j] = original
            for k, (p, m) in enumerate(zip(plus, minus)):
                jac[n][k][:, j] = ((p - m) / (2 * eps)).ravel()
    return jac


def _compare(analytic, numerical, inputs, wrt, outputs, atol, rtol, what):
    worst = None
    for n, i in enumerate(wrt):
        for k in range(len(outputs)):
            a, num = analytic[n][k], numerical[n][k]
            excess = np.abs(a - num) - (atol + rtol * np.abs(num))
            excess = np.where(np.isnan(a) != np.isnan(num), np.inf, np.nan_to_num(excess, nan=-1))
            if excess.size and excess.max() > 0 and (worst is None or excess.max() > worst[0]):
                row, col = np.unravel_index(np.argmax(excess), excess.shape)
                worst = (excess.max(), i, k, row, col, float(a[row, col]), float(num[row, col]))
    if worst is None:
        return None
    _, i, k, row, col, a, num = worst
    in_index = np.unravel_index(col, inputs[i].shape)
    out_index = np.unravel_index(row, outputs[k].shape)
    return (
        f"{what} mismatch for output {k} with respect to input {i} (shape {inputs[i].shape}) "
        f"at input index {tuple(int(v) for v in in_index)}, output index "
        f"{tuple(int(v) for v in out_index)}: analytical {a!r} vs numerical {num!r} "
        f"(difference {abs(a - num):.3g}, allowed atol={atol} + rtol={rtol}·|numerical|)"
    )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check every ∂output/∂input of ``fn`` against central finite differences, in float64.

    ``inputs`` is a Tensor or a sequence; only Tensors that require grad are
    checked (they are copied to float64). Returns True, or raises
    :class:`GradcheckError` naming the input, the index and both values of the
    worst mismatch (returns False instead with ``raise_exception=False``).
    """
    inputs = _prepare(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck needs at least one input Tensor with requires_grad=True")
    outputs, analytic = _analytic(fn, inputs, wrt)
    with no_grad():
        numerical = _numerical(fn, inputs, wrt, eps, outputs)
    message = _compare(analytic, numerical, inputs, wrt, outputs, atol, rtol, "Jacobian")
    if message is None:
        return True
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check second derivatives: ``gradcheck`` of (inputs, v) ↦ vᵀ ∂fn/∂inputs, built with ``create_graph=True``.

    ``grad_outputs`` (the v) default to random normal values (seeded by ``seed``).
    """
    inputs = _prepare(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck needs at least one input Tensor with requires_grad=True")
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [rng.standard_normal(o.shape) for o in outputs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    vs = [Tensor(v, dtype=np.float64, requires_grad=True) for v in grad_outputs]
    n = len(inputs)

    def first_derivatives(*args):
        xs, v = list(args[:n]), args[n:]
        with enable_grad():  # gradcheck evaluates this under no_grad for the finite differences
            return _first_derivatives(xs, v)

    def _first_derivatives(xs, v):
        outs = _outputs(fn, xs)
        live = [(o, g) for o, g in zip(outs, v) if o.requires_grad]
        grads = (
            autograd.grad(
                [o for o, _ in live], [xs[i] for i in wrt], [g for _, g in live], create_graph=True, allow_unused=True
            )
            if live
            else [None] * len(wrt)
        )
        return tuple(g if g is not None else Tensor(np.zeros(xs[i].shape)) for g, i in zip(grads, wrt))

    try:
        return gradcheck(first_derivatives, inputs + vs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
    except GradcheckError as error:
        raise GradcheckError(f"second derivatives: {error}") from None
