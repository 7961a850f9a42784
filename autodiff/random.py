"""Random tensors and random fills in place, drawn from one seeded generator (PyTorch's ``torch.randn`` family).

The shared generator is a ``numpy.random.Generator`` (PCG64). Every draw below takes it unless
given ``rng=`` (a Generator, or an int seed for a new one): ``randn``, ``rand``, ``normal``,
``randint``, ``randperm``, ``randn_like``, ``rand_like``, ``Tensor.normal_``, ``Tensor.uniform_``;
and in ``nn``, which uses the same generator: the fills of ``nn.init`` (so ``Linear`` and ``MLP``
initialisation), the shuffling of ``nn.data.minibatches``, ``nn.data.DataLoader`` and ``nn.fit``.
``manual_seed(s)`` (``nn.manual_seed`` is the same function) reseeds it, so all of those repeat
exactly. Not covered: numpy's own ``np.random.*``, Python's ``random`` module.

Floating-point draws are made in float64 and rounded to the dtype asked for, so one seed gives
the same numbers in every float dtype (PyTorch's float32 draws differ from its float64 ones).
The default dtype is float64, as everywhere in autodiff (PyTorch's is float32).
"""

import operator

import numpy as np

from .grad_mode import is_grad_enabled
from .tensor import Tensor, _raw

__all__ = ["manual_seed", "randn", "rand", "normal", "randint", "randperm", "randn_like", "rand_like"]

_shared = np.random.default_rng()


def manual_seed(seed):
    """Reseed the shared generator, so every draw that uses it repeats exactly (PyTorch's ``torch.manual_seed``).

    The generator is reseeded in place (it stays one object) and returned.
    """
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"manual_seed: the seed must be an integer, got {type(seed).__name__}") from None
    if seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative integer, got {seed}")
    _shared.bit_generator.state = np.random.PCG64(seed).state  # the stream of np.random.default_rng(seed)
    return _shared


def generator(rng=None):
    """``rng`` as a ``numpy.random.Generator``: the shared one for None, itself for a Generator, a new one for a seed."""
    if rng is None:
        return _shared
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, float)) or not isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        raise TypeError(f"rng must be None, a numpy.random.Generator or an integer seed, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def _size(size, name):
    """``randn(2, 3)``, ``randn((2, 3))`` and ``randn([2, 3])`` as the shape (2, 3); ``randn()`` is 0-d."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        shape = tuple(operator.index(n) for n in size)
    except TypeError:
        raise TypeError(
            f"{name}: the shape must be integers, as {name}(2, 3) or {name}((2, 3)); got {size!r}"
        ) from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{name}: the shape {shape} has a negative length")
    return shape


def _float_dtype(dtype, name, default=np.float64):
    dtype = np.dtype(default if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name} draws floating-point numbers: dtype {dtype} is not a float dtype")
    return dtype


def _made(values, dtype, requires_grad):
    t = Tensor._wrap(values.astype(dtype, copy=False))
    if requires_grad:
        t.requires_grad = True  # refuses integer dtypes
    return t


def randn(*size, dtype=None, requires_grad=False, rng=None):
    """Samples of N(0, 1) of the given shape: ``randn(2, 3)`` or ``randn((2, 3))``."""
    dtype = _float_dtype(dtype, "randn")
    return _made(generator(rng).standard_normal(_size(size, "randn")), dtype, requires_grad)


def rand(*size, dtype=None, requires_grad=False, rng=None):
    """Samples of U[0, 1) of the given shape: ``rand(2, 3)`` or ``rand((2, 3))``."""
    dtype = _float_dtype(dtype, "rand")
    return _made(generator(rng).random(_size(size, "rand")), dtype, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, requires_grad=False, rng=None):
    """Samples of N(mean, std²): of shape ``size``, or of the broadcast shape of ``mean`` and ``std`` when those are arrays.

    ``mean`` and ``std`` are taken as values: the result is a new leaf, not differentiated with
    respect to them (in PyTorch their gradient is zero). The dtype is ``dtype``, else the float
    dtype of a Tensor given as ``mean`` or ``std``, else float64.
    """
    mean_array, std_array = np.asarray(_raw(mean)), np.asarray(_raw(std))
    if dtype is None:
        floats = [x.dtype for x in (mean, std) if isinstance(x, Tensor) and x.dtype.kind == "f"]
        dtype = np.result_type(*floats) if floats else np.float64
    dtype = _float_dtype(dtype, "normal")
    if np.any(std_array < 0):
        raise ValueError(f"normal: std must be non-negative, got {std!r}")
    shape = np.broadcast_shapes(mean_array.shape, std_array.shape) if size is None else _size((size,), "normal")
    values = generator(rng).normal(mean_array.astype(np.float64), std_array.astype(np.float64), shape)
    return _made(np.asarray(values), dtype, requires_grad)


def randint(low, high=None, size=(), *, dtype=np.int64, requires_grad=False, rng=None):
    """Integers drawn uniformly from [low, high): ``randint(10, (3,))`` (low = 0) or ``randint(2, 10, (3,))``."""
    if isinstance(high, (tuple, list)) and size == ():
        high, size = None, high
    if high is None:
        low, high = 0, low
    try:
        low, high = operator.index(low), operator.index(high)
    except TypeError:
        raise TypeError(f"randint: low and high must be integers, got {low!r} and {high!r}") from None
    if low >= high:
        raise ValueError(f"randint: low must be below high, got low={low}, high={high}")
    values = generator(rng).integers(low, high, _size((size,), "randint"), dtype=np.int64)
    return _made(values, np.dtype(dtype), requires_grad)


def randperm(n, *, dtype=np.int64, requires_grad=False, rng=None):
    """A random permutation of 0, 1, ..., n − 1 (the order ``nn.data`` shuffles in)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"randperm: n must be an integer, got {type(n).__name__}") from None
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    return _made(generator(rng).permutation(n), np.dtype(dtype), requires_grad)


def randn_like(x, dtype=None, requires_grad=False, rng=None):
    """``randn`` of x's shape, and x's dtype unless given (float64 for an integer x)."""
    return randn(np.shape(_raw(x)), dtype=_like_dtype(x, dtype), requires_grad=requires_grad, rng=rng)


def rand_like(x, dtype=None, requires_grad=False, rng=None):
    """``rand`` of x's shape, and x's dtype unless given (float64 for an integer x)."""
    return rand(np.shape(_raw(x)), dtype=_like_dtype(x, dtype), requires_grad=requires_grad, rng=rng)


def _like_dtype(x, dtype):
    if dtype is not None:
        return dtype
    kind = np.asarray(_raw(x)).dtype
    return kind if kind.kind == "f" else np.float64


# -- in place: attached to Tensor -------------------------------------------------------------------


def _fill(tensor, values, name):
    """Write ``values`` into ``tensor``: unrecorded outside the graph, recorded (as ``x[...] = values``, whose gradient
    to the old values is 0) on an intermediate tensor; refused on a leaf that requires grad unless under no_grad."""
    if tensor._requires_grad and tensor.grad_fn is None and is_grad_enabled():
        raise RuntimeError(
            f"a leaf Tensor that requires grad is being used in an in-place operation ({name}). "
            "Initialise parameters under `with autodiff.no_grad():` (as nn.init does)."
        )
    tensor[...] = values  # bumps the version: graphs that saved the old values notice
    return tensor


def _random_fill(tensor, name):
    if tensor.dtype.kind != "f":
        raise TypeError(f"{name} fills floating-point tensors; this one has dtype {tensor.dtype}")


def normal_(self, mean=0.0, std=1.0, *, rng=None):
    """Fill with samples of N(mean, std²) in place and return self (the values ``nn.init.normal_`` draws)."""
    _random_fill(self, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std!r}")
    return _fill(self, generator(rng).normal(mean, std, self.shape), "normal_")


def uniform_(self, a=0.0, b=1.0, *, rng=None):
    """Fill with samples of U(a, b) in place and return self (PyTorch's ``from``/``to``, named as ``nn.init.uniform_``)."""
    _random_fill(self, "uniform_")
    return _fill(self, generator(rng).uniform(a, b, self.shape), "uniform_")


def fill_(self, value):
    """Fill with ``value`` in place and return self."""
    return _fill(self, value, "fill_")


for _method in (normal_, uniform_, fill_):
    setattr(Tensor, _method.__name__, _method)
del _method
