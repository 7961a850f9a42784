"""Layers: ``Linear``, the activations as modules, ``Flatten`` and ``MLP``."""

import math

import numpy as np

import autodiff as ad

from . import functional as F
from . import init
from .module import Module, Parameter, Sequential


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"layers hold floating-point parameters; got dtype={dtype} (use float64 or float32)")
    return dtype


def _uninitialised(shape, dtype):
    """A Parameter around a new array of ``shape``, for ``reset_parameters`` to fill: not a copy of an empty
    array (a Tensor copies what it is given), so making a model's weights does not take twice their memory."""
    param = Parameter(np.empty(0, dtype=dtype))
    param._data = np.empty(shape, dtype=dtype)
    return param


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch.

    Initialised like PyTorch: W ~ U(−1/√in, 1/√in) (Kaiming-uniform with a = √5)
    and b ~ U(−1/√in, 1/√in), drawn from ``rng`` (a Generator or a seed) or the
    global generator that ``nn.manual_seed`` resets.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float64, rng=None):
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        dtype = _float_dtype(dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = _uninitialised((out_features, in_features), dtype)
        self.bias = _uninitialised((out_features,), dtype) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None):
        """Draw new initial values (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        dtype = "" if self.weight.dtype == np.float64 else f", dtype={self.weight.dtype.name}"
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}{dtype}"


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return ad.relu(x)


class Tanh(Module):
    """tanh x."""

    def forward(self, x):
        return ad.tanh(x)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ)."""

    def forward(self, x):
        return ad.sigmoid(x)


class Identity(Module):
    """x, unchanged."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Axes ``start_dim`` to ``end_dim`` (inclusive) merged into one: (N, C, H, W) → (N, C·H·W) by default.

    PyTorch's ``nn.Flatten``: the batch axis 0 is kept unless ``start_dim=0``;
    negative dims count from the end. A reshape, so the gradient is the
    incoming one reshaped back.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        for what, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
                raise TypeError(f"Flatten: {what} must be an int, got {dim!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def dims(self, ndim):
        """(start, end) as axes of an ``ndim``-d input, each in [0, ndim) (a 0-d input counts as 1-d)."""
        n = max(ndim, 1)
        start, end = self.start_dim, self.end_dim
        if not (-n <= start < n and -n <= end < n):
            raise IndexError(
                f"Flatten(start_dim={start}, end_dim={end}): dimension out of range for a {ndim}-d input "
                f"(expected to be in range of [{-n}, {n - 1}])"
            )
        start, end = start % n, end % n
        if start > end:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): start_dim comes after "
                f"end_dim for a {ndim}-d input"
            )
        return start, end

    def forward(self, x):
        x = ad.as_tensor(x)
        start, end = self.dims(x.ndim)
        shape = x.shape or (1,)
        return ad.reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "identity": Identity}


class MLP(Module):
    """A multilayer perceptron with micrograd's signature: ``MLP(2, [16, 16, 1])``.

    ``layers`` is a ``Sequential`` of Linear layers of widths ``nouts`` with the
    activation after each but the last (the output is linear: logits or scores).
    ``activation`` is "relu", "tanh", "sigmoid", "identity" or a Module class.
    """

    def __init__(self, nin, nouts, activation="relu", bias=True, dtype=np.float64, rng=None):
        super().__init__()
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ValueError(
                    f"MLP: unknown activation {activation!r}: choose from "
                    + ", ".join(repr(k) for k in ACTIVATIONS)
                    + " or pass a Module class"
                )
            activation = ACTIVATIONS[activation]
        nouts = list(nouts)
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer width, e.g. MLP(2, [16, 1])")
        rng = None if rng is None else np.random.default_rng(rng)  # one stream for every layer
        sizes = [nin] + nouts
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, dtype=dtype, rng=rng))
            if i < len(nouts) - 1:
                layers.append(activation())
        self.layers = Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
