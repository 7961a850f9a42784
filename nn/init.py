"""Weight initialisation, in place and unrecorded, as ``torch.nn.init``.

For a weight of shape (out, in): fan_in = in, fan_out = out. Each function
fills the tensor from ``rng`` (a Generator or a seed; default: the global
generator that ``nn.manual_seed`` resets) and returns it.
"""

import math

import autodiff as ad

from .rng import generator

_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance steady through ``nonlinearity``: √2 for relu, 5/3 for tanh,
    √(2 / (1 + a²)) for leaky_relu with slope a (default 0.01)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"unsupported nonlinearity {nonlinearity!r}: choose from "
            + ", ".join(repr(k) for k in sorted(_GAINS))
            + ", 'leaky_relu'"
        )
    return _GAINS[nonlinearity]


def fans(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, ...): each times the product of the trailing axes."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 axes, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor, values):
    with ad.no_grad():
        tensor[...] = values  # bumps the version: graphs that saved the old values notice
    return tensor


_CHUNK = 1 << 14  # values drawn at a time: a 128 KiB float64 scratch


def _fill_drawn(tensor, draw):
    """Fill with ``draw(n)`` (n float64 values), in chunks: a float32 weight never has a float64
    twice its size beside it. The values are the ones a single draw would give (the generator's
    stream is consumed in the same order)."""
    array = tensor.data
    if array.size <= _CHUNK or not array.flags.c_contiguous or not array.flags.writeable:
        return _fill(tensor, draw(tensor.shape))
    flat = array.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        stop = min(start + _CHUNK, flat.size)
        flat[start:stop] = draw(stop - start)
    tensor.data = array  # the same array: moves the version counter, as any in-place change does
    return tensor


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with U(a, b)."""
    rng = generator(rng)
    return _fill_drawn(tensor, lambda shape: rng.uniform(a, b, shape))


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with N(mean, std²)."""
    rng = generator(rng)
    return _fill_drawn(tensor, lambda shape: rng.normal(mean, std, shape))


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation, U(−b, b) with b = gain · √(3 / fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He initialisation, N(0, σ²) with σ = gain / √fan."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng)


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """Glorot initialisation, U(−b, b) with b = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor, gain=1.0, rng=None):
    """Glorot initialisation, N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)
