"""Losses, penalties and activations as functions of tensors (``torch.nn.functional``).

Every loss takes ``reduction="mean" | "sum" | "none"``. Targets given as
arrays or numbers are converted to the input's dtype, so a float32 model gives a
float32 loss. A single score per sample may come as shape (N, 1) for targets of
shape (N,): it is read as (N,).
"""

import numpy as np

import autodiff as ad
from autodiff import log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401  (activations, re-exported)

__all__ = [
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "mse_loss",
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "hinge_loss",
    "l2_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")
_min, _max = np.minimum.reduce, np.maximum.reduce  # labels.min() and .max() without numpy's Python wrappers


def linear(x, weight, bias=None):
    """y = x Wᵀ + b for a batch x of shape (N, in) and W of shape (out, in) (one ``linear`` op)."""
    if getattr(weight, "ndim", None) == 2 and (bias is None or getattr(bias, "shape", None) == weight.shape[:1]):
        return ad.linear(x, weight, bias)
    y = ad.matmul(x, weight.T)  # other shapes: numpy's broadcasting rules
    return y if bias is None else y + bias


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_reduction(reduction, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _pair(input, target, fn):
    """``input`` as a Tensor and ``target`` in its dtype, with one shape (an (N, 1) input read as (N,))."""
    input = ad.as_tensor(input)
    if isinstance(target, ad.Tensor):
        if target.dtype != input.dtype and not target.requires_grad:
            target = ad.Tensor(target.data, dtype=input.dtype)
    else:
        target = ad.Tensor(target, dtype=input.dtype if input.dtype.kind == "f" else None)
    if input.shape != target.shape:
        if input.shape == target.shape + (1,):
            input = input.reshape(target.shape)
        else:
            raise ValueError(
                f"{fn}: input shape {input.shape} and target shape {target.shape} differ "
                "(they must be equal; an input of shape (N, 1) may go with targets of shape (N,))"
            )
    return input, target


def mse_loss(input, target, reduction="mean"):
    """Squared error (input − target)², averaged (or summed) over every element."""
    _check_reduction(reduction, "mse_loss")
    input, target = _pair(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction)


def cross_entropy(logits, labels, reduction="mean"):
    """−log softmax(logits)[label] per sample, for logits of shape (N, C) and integer labels of shape (N,).

    One op (``autodiff.cross_entropy``), stable for large logits; its gradient with
    respect to the logits is softmax(logits) − onehot (per sample).
    """
    _check_reduction(reduction, "cross_entropy")
    logits = ad.as_tensor(logits)
    labels = np.asarray(labels.data if isinstance(labels, ad.Tensor) else labels)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}")
    n, classes = logits.shape
    if labels.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be integer class indices, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(
            f"cross_entropy: labels must have shape (N,) = ({n},) for logits of shape {logits.shape}, "
            f"got {labels.shape}"
        )
    if n and (_min(labels) < 0 or _max(labels) >= classes):
        raise ValueError(
            f"cross_entropy: labels must lie in [0, {classes}) for {classes} classes, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    if logits.dtype.kind != "f":
        logits = logits.astype(np.float64)
    return ad.cross_entropy(logits, labels, reduction)


def binary_cross_entropy_with_logits(logits, targets, reduction="mean"):
    """−[y log σ(x) + (1 − y) log(1 − σ(x))] for logits x and targets y in [0, 1].

    Computed as softplus(x) − x·y = ln(1 + eˣ) − x·y, stable for any x; ∂/∂x = σ(x) − y.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, y = _pair(logits, targets, "binary_cross_entropy_with_logits")
    losses = ad.softplus(x) - x * y
    return _reduce(losses, reduction)


def hinge_loss(scores, targets, reduction="mean"):
    """micrograd's max-margin loss relu(1 − y·score) for targets y = ±1."""
    _check_reduction(reduction, "hinge_loss")
    scores, y = _pair(scores, targets, "hinge_loss")
    if not np.all(np.abs(y.data) == 1):
        raise ValueError("hinge_loss: targets must be -1 or +1 (for 0/1 labels pass 2 * y - 1)")
    return _reduce(relu(1.0 - y * scores), reduction)


def l2_penalty(params, lam):
    """λ/2 · Σ ‖W‖²_F over ``params`` (e.g. ``nn.weights(model)``); its gradient is λW for each W.

    Adding it to the loss gives the gradients of ``weight_decay=lam`` in SGD or Adam.
    """
    params = list(params)
    if not params:
        return ad.Tensor(0.0)
    return ad.sum_of_squares(params) * (0.5 * lam)
