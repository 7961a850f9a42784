"""Big products made when something reads them: ``(W * W).sum()`` in one pass, ``W -= lr * W.grad``
without a temporary as large as W.

``x * y`` on two big float arrays of one dtype (the same shape, or one of them a single number),
and ``x ** 2`` on a big float array (d2l's penalty ``(w ** 2).sum() / 2``), are recorded at once,
as every op is, but the result is a ``Deferred`` tensor: its array is made when something first
reads it, with the op's own forward (``Mul``'s or ``Pow``'s), so the values are the ones ``x * y``
or ``x ** 2`` would have had. Its shape, dtype and size are known without it. Two readers need
less than the array:

* a sum of all of it (``Sum`` with ``axis=None``, and so ``mean()``): Σᵢ xᵢyᵢ = ⟨x, y⟩ (x² as
  ⟨x, x⟩), ``ops.inner``, one pass that makes nothing, where the product and its sum stream two
  arrays of W's size (d2l's penalty, s = λ/2 Σ ‖W‖², as ``(W * W).sum()`` or ``(W ** 2).sum()``).
  The terms are added in another order than ``np.sum(x * y)`` adds them: the value may differ in
  its last bits. Backward never reads the product (∂/∂x of Σ xy is y), so the gradients are the
  same to the bit;
* ``+=`` or ``-=`` of it into a tensor outside the graph (``with no_grad(): W -= lr * W.grad``):
  done a block at a time through a scratch that stays in the cache, the same numbers as numpy's
  ``W -= lr * G``, without making ``lr * G`` (a square is made, then added).

A product waiting to be made reads its factors' arrays when it is made, so it must see them as
they were: before autodiff writes into any array in place or hands one out that the caller could
write into (``.data``, ``numpy()``, ``np.asarray``, numpy functions with ``out=``), the products
still waiting that may read it are made (``settle``). Writing into an array taken from ``.data`` before the product
was written is invisible to it, as it is to backward (and to PyTorch's autograd).
"""

import sys
import threading
import weakref

import numpy as np

from . import ops, tensor
from .grad_mode import _local
from .tensor import Tensor

FROM_ELEMENTS = 1 << 16
"""Products of fewer elements are made at once: waiting costs a few µs, what numpy takes to multiply
64 Ki elements."""

CHUNK = 1 << 16
"""Elements per block of ``add_product``: a float32 scratch of 256 KiB stays in a core's L2 cache."""

waiting = {}
"""id(tensor) → (weak reference to it, x, y, exponent): the products not made yet, x · y, or x ** exponent
(then y is x)."""

_lock = threading.Lock()
_slot = Tensor._data  # the array slot itself: what a Deferred holds there is a stand-in (shape, dtype, no memory)
_multiply = ops.Mul.forward  # x * y as the op computes it (x ⊙ x as np.square): the values of the eager product
_power = ops.Pow.forward  # x ** 2 as the op computes it
_EMPTY = {}  # (shape, dtype) → without_memory's array


def without_memory(like):
    """An array of ``like``'s shape and dtype that takes no memory: read-only, every element a view of one
    zero (a Deferred's stand-in, a FreedTensor's data). One per shape and dtype: the same shapes come back
    every training step, and np.broadcast_to costs ten times more than a dict lookup."""
    key = (like.shape, like.dtype)
    empty = _EMPTY.get(key)
    if empty is None:
        if len(_EMPTY) >= 4096:
            _EMPTY.clear()
        empty = np.ndarray(like.shape, like.dtype, np.zeros(1, like.dtype), 0, (0,) * like.ndim)
        empty.flags.writeable = False
        _EMPTY[key] = empty
    return empty


class Deferred(Tensor):
    """A product not made yet (see ``autodiff.deferred``). Reading its array makes it, and the tensor
    becomes a plain Tensor: the class changes back, the object and its place in the graph stay."""

    __slots__ = ()

    shape = property(lambda self: _slot.__get__(self).shape, doc=Tensor.shape.__doc__)
    ndim = property(lambda self: _slot.__get__(self).ndim, doc=Tensor.ndim.__doc__)
    dtype = property(lambda self: _slot.__get__(self).dtype, doc=Tensor.dtype.__doc__)

    @property
    def size(self):
        return tensor._size_of(_slot.__get__(self).shape)

    size.__doc__ = Tensor.size.__doc__

    def __len__(self):  # (never 0-d: a product waits only when it is big)
        return len(_slot.__get__(self))

    @property
    def _data(self):
        return made(self)

    @_data.setter
    def _data(self, array):
        waiting.pop(id(self), None)
        _slot.__set__(self, array)
        self.__class__ = Tensor

    def __repr__(self):
        made(self)
        return repr(self)

    def __reduce_ex__(self, protocol):
        made(self)
        return self.__reduce_ex__(protocol)


class Later(ops.Mul):
    """``Mul`` recorded without running: its result is a stand-in of the product's shape and dtype."""

    __slots__ = ()
    eager = ops.Mul  # the class the op takes once recorded

    def forward(self, x, y):
        return without_memory(x if x.ndim else y)


class LaterSquare(ops.Pow):
    """``Pow`` with the exponent 2 recorded without running (the stand-in is also the output it saves, which
    its rule for a constant exponent never reads)."""

    __slots__ = ()
    eager = ops.Pow

    def forward(self, x, y):
        return without_memory(x)


def waits(x, y):
    """Whether ``x * y`` is better made when read: big, and of one float dtype (float32 or float64)."""
    a, b = _slot.__get__(x), _slot.__get__(y)
    return (
        a.dtype.char in "fd"
        and b.dtype == a.dtype
        and (a.shape == b.shape or b.ndim == 0 or a.ndim == 0)
        and max(a.size, b.size) >= FROM_ELEMENTS
        and type(x) is not Deferred
        and type(y) is not Deferred
        and not _local.state.anomaly
    )


def squares(x, exponent):
    """Whether ``x ** exponent`` is better made when read: x big and of a float dtype, the exponent the constant
    2 of x's dtype (as ``operand`` makes it from the number 2)."""
    return not exponent._requires_grad and ops.is_square(_slot.__get__(x), _slot.__get__(exponent)) and waits(x, x)


def later(result, x, y, exponent=None):
    """``result``, which the engine made for ``x * y`` with ``Later``, or for ``x ** exponent`` with
    ``LaterSquare`` (then y is x), its array a stand-in, as a Deferred."""
    if result.grad_fn is not None:
        result.grad_fn.__class__ = result.grad_fn.eager  # the graph as the eager op's
    result.__class__ = Deferred
    key = id(result)
    e = None if exponent is None else exponent._data
    waiting[key] = (weakref.ref(result, lambda _, key=key: waiting.pop(key, None)), x._data, y._data, e)
    return result


def _make(entry):
    """The product an entry of ``waiting`` stands for, computed as the eager op computes it."""
    _, x, y, exponent = entry
    return _multiply(None, x, y) if exponent is None else _power(None, x, exponent)


def made(t):
    """``t``'s array: made now if ``t`` is a Deferred (under a lock: two threads may read it at once)."""
    with _lock:
        if type(t) is Deferred:
            product = _make(waiting.pop(id(t)))
            _slot.__set__(t, product if type(product) is np.ndarray else np.asarray(product))
            t.__class__ = Tensor
    return _slot.__get__(t)


def settle(array=None, but=None):
    """Make the products still waiting that may read ``array`` (every one, without it), but ``but``:
    before ``array`` is written in place or handed out to be."""
    for key in list(waiting):
        entry = waiting.get(key)
        t = entry[0]() if entry is not None else None
        if t is None or t is but:
            continue
        if array is None or np.may_share_memory(array, entry[1]) or np.may_share_memory(array, entry[2]):
            made(t)


def stand_in(t):
    """The array of ``t``, or for a Deferred its stand-in: what the shape, dtype and size are read from."""
    return _slot.__get__(t)


class _Factors(np.ndarray):
    """What ``Sum``'s forward gets for a Deferred: its stand-in, which carries the product's entry in
    ``waiting``. numpy's ``add.reduce`` of all of it is ⟨x, y⟩; anything else is computed on the
    product, made now."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        entry = self.entry
        if ufunc is np.add and method == "reduce" and inputs[0] is self and kwargs.get("axis", 0) is None:
            if set(kwargs) <= {"axis", "keepdims"}:
                total = ops.inner(entry[1], entry[2])
                return np.reshape(total, (1,) * self.ndim) if kwargs.get("keepdims") else total
        product = _make(entry)
        return getattr(ufunc, method)(*[product if i is self else i for i in inputs], **kwargs)


def summand(t):
    """For ``sum(t)`` over every axis: the array its forward gets when ``t`` is a Deferred product of two
    arrays of one shape (``_Factors``), or None (the sum reads the product itself)."""
    entry = waiting.get(id(t)) if type(t) is Deferred else None
    if entry is None or entry[1].shape != entry[2].shape:
        return None
    summed = _slot.__get__(t).view(_Factors)
    summed.entry = entry
    return summed


def add_into(target, t, ufunc):
    """``target ∘= t`` (∘: ufunc, np.add or np.subtract) for a Deferred ``t``, without making it; False
    when its factors don't fit (another shape or dtype than target's, or target's own memory) or it is a
    power."""
    entry = waiting.get(id(t)) if type(t) is Deferred else None
    if entry is None or ufunc not in (np.add, np.subtract) or entry[3] is not None:
        return False
    _, x, y, _ = entry
    if not x.ndim:
        x, y = y, x
    w = target._data
    if w.shape != x.shape or w.dtype != x.dtype or np.may_share_memory(w, x) or np.may_share_memory(w, y):
        return False
    settle(w, but=t)  # products that read w see it before it changes
    add_product(w, x, y, ufunc)
    return True


def add_product(w, x, y, ufunc=np.subtract, keep=1):
    """w ← keep·w ∘ x·y in place (∘: ufunc, np.add or np.subtract), a block at a time through a scratch
    of ``CHUNK`` elements: numpy's ``w -= x * y`` would first make x·y as large as w, and a separate
    ``w *= keep`` would read w from memory twice. ``x``: an array; ``y``: a number or an array of x's
    shape. The same numbers as numpy's spelling."""
    if w.size > CHUNK and w.shape == x.shape and w.flags.c_contiguous and x.flags.c_contiguous:
        scalar = type(y) is not np.ndarray or not y.ndim
        if scalar or (y.shape == x.shape and y.flags.c_contiguous):
            flat_w, flat_x = w.reshape(-1), x.reshape(-1)
            flat_y = y if scalar else y.reshape(-1)
            scratch = np.empty(CHUNK, dtype=np.result_type(x, y))
            for start in range(0, flat_w.size, CHUNK):
                stop = min(start + CHUNK, flat_w.size)
                part, w_part = scratch[: stop - start], flat_w[start:stop]
                np.multiply(flat_x[start:stop], flat_y if scalar else flat_y[start:stop], out=part)
                if keep != 1:
                    w_part *= keep
                ufunc(w_part, part, out=w_part)
            return
    if keep != 1:
        w *= keep
    if ufunc is np.subtract:
        w -= x * y
    else:
        ufunc(w, x * y, out=w)


tensor._deferred = sys.modules[__name__]  # what Tensor's .data, numpy() and __array__ settle through
