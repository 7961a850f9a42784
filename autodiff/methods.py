"""Tensor's operators and methods: ``x + y``, ``x @ w``, ``x[i]``, ``x += 1``, ``x.exp()``, ``x.sum()``,
``np.exp(x)``, attached to the class from the op catalogue and the functions.

``autodiff/tensor.pyi`` lists every one of them with its signature, for readers and IDEs
(``python docs/make_reference.py`` writes it; a test keeps it true).
"""

import numpy as np

from . import deferred, functions, numpy_dispatch, ops
from .engine import apply2
from .functions import operand
from .grad_mode import is_grad_enabled
from .history import record_inplace
from .tensor import Tensor, _raw, normalize_index
from .versions import bump_version

# -- operators (rules in autodiff.ops; the common ones skip the functions' wrappers: they are hot) --------


def __add__(self, other):
    return apply2(ops.Add, self, other if isinstance(other, Tensor) else operand(other, self))


def __radd__(self, other):
    return apply2(ops.Add, operand(other, self), self)


def __sub__(self, other):
    return apply2(ops.Sub, self, other if isinstance(other, Tensor) else operand(other, self))


def __rsub__(self, other):
    return apply2(ops.Sub, operand(other, self), self)


def __mul__(self, other):
    other = other if isinstance(other, Tensor) else operand(other, self)
    if self._data.size >= deferred.FROM_ELEMENTS and deferred.waits(self, other):  # made when read
        return deferred.later(apply2(deferred.Later, self, other), self, other)
    return apply2(ops.Mul, self, other)


def __rmul__(self, other):
    other = operand(other, self)
    if self._data.size >= deferred.FROM_ELEMENTS and deferred.waits(other, self):
        return deferred.later(apply2(deferred.Later, other, self), other, self)
    return apply2(ops.Mul, other, self)


def __truediv__(self, other):
    return apply2(ops.Div, self, other if isinstance(other, Tensor) else operand(other, self))


def __rtruediv__(self, other):
    return apply2(ops.Div, operand(other, self), self)


def __pow__(self, exponent):
    return functions.pow(self, exponent)


def __rpow__(self, base):
    return functions.pow(base, self)


def __matmul__(self, other):
    if isinstance(other, Tensor):
        return apply2(ops.Matmul, self, other)
    return functions.matmul(self, other)


def __rmatmul__(self, other):
    return functions.matmul(other, self)


def __neg__(self):
    return functions.neg(self)


def __pos__(self):
    return self


def __abs__(self):
    return functions.abs(self)


def __getitem__(self, index):
    return functions.getitem(self, index)


# -- in-place operators: recorded as the out-of-place op when the tensor is in the graph ---------------


def __iadd__(self, other):
    return _inplace(self, functions.add, np.add, other, "+=")


def __isub__(self, other):
    return _inplace(self, functions.sub, np.subtract, other, "-=")


def __imul__(self, other):
    return _inplace(self, functions.mul, np.multiply, other, "*=")


def __itruediv__(self, other):
    return _inplace(self, functions.div, np.true_divide, other, "/=")


def __ipow__(self, other):
    return _inplace(self, functions.pow, np.power, other, "**=")


def __setitem__(self, index, value):
    index = normalize_index(index)
    if not _records_inplace(self, value, "[...] ="):
        if deferred.waiting:
            deferred.settle(self._data)
        self._data[index] = _raw(value)
        bump_version(self)
        return
    _take_place_of(self, functions.setitem(self, index, value))


def zero_(self):
    """Fill with zeros in place (e.g. ``w.grad.zero_()``) and return self."""
    self[...] = 0
    return self


def _records_inplace(self, other, symbol):
    """Whether an in-place op on self must be recorded; refuses it on a leaf that requires grad."""
    if not is_grad_enabled():
        return False
    if self._requires_grad and self.grad_fn is None:
        raise RuntimeError(
            f"a leaf Tensor that requires grad is being used in an in-place operation ({symbol}). "
            "To update a parameter, do it under `with autodiff.no_grad():`; otherwise use an "
            "out-of-place operation (y = x + 1)."
        )
    return self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)


def _inplace(self, op, ufunc, other, symbol):
    if not _records_inplace(self, other, symbol):
        if deferred.waiting:
            if deferred.add_into(self, other, ufunc):  # w -= lr * w.grad: lr * w.grad not made
                bump_version(self)
                return self
            deferred.settle(self._data)
        ufunc(self._data, _raw(other), out=self._data, casting="same_kind")
        bump_version(self)
        return self
    return _take_place_of(self, op(self, other))


def _take_place_of(self, result):
    """Make self the result of a recorded op on its old value (see ``history.record_inplace``)."""
    if result.shape != self.shape:
        raise RuntimeError(f"output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
    if not np.can_cast(result.dtype, self.dtype, casting="same_kind"):
        raise TypeError(f"result type {result.dtype} can't be cast to the desired output type {self.dtype}")
    record_inplace(self, result)
    return self


# -- numpy: its functions and ufuncs on tensors (autodiff.numpy_dispatch) ------------------------------

__array_function__ = numpy_dispatch.array_function
__array_ufunc__ = numpy_dispatch.array_ufunc


# -- methods ------------------------------------------------------------------------------------------


def reshape(self, *shape):
    """x.reshape(2, 3) or x.reshape((2, 3)): x with a new shape (one axis may be -1)."""
    return functions.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)


def transpose(self, *axes):
    """x.transpose(), x.transpose(1, 0) or x.transpose((1, 0)): x with its axes permuted."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return functions.transpose(self, axes or None)


def clone(self):
    """A differentiable copy."""
    return functions.add(self, 0)


def double(self):
    """The tensor as float64 (PyTorch's ``double()``; differentiable)."""
    return functions.astype(self, np.float64)


def float(self):
    """The tensor as float32 (PyTorch's ``float()``; differentiable)."""
    return functions.astype(self, np.float32)


T = property(functions.transpose, doc="The tensor with its axes reversed (differentiable).")

OPERATORS = (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __pow__ __rpow__ __matmul__ "
    "__rmatmul__ __neg__ __pos__ __abs__ __getitem__ __iadd__ __isub__ __imul__ __itruediv__ __ipow__ "
    "__setitem__ __array_ufunc__ __array_function__ zero_ reshape transpose clone double float T"
).split()

for _name in functions.METHODS:
    setattr(Tensor, _name, getattr(functions, _name))
for _name in OPERATORS:  # after: reshape and transpose take varargs as methods
    setattr(Tensor, _name, globals()[_name])
del _name
