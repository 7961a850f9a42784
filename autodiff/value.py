"""micrograd's ``Value``, running on this engine: its README, demo and lecture code run with only the import changed."""

import numpy as np

from . import collector, functions, ops
from . import methods as _methods  # noqa: F401  (Tensor's operators must exist before they are wrapped here)
from .engine import apply2
from .errors import BACKWARD_TWICE
from .functions import operand
from .history import inputs_for_backward
from .ops import array_math, sum_to
from .tensor import Tensor, _raw

_ZERO = np.float64(0.0)
_NUMBERS = (int, float, np.float64)  # operands that become a 0-d float64 constant next to a Value
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "relu": "ReLU"}  # micrograd's names for its ops


class Value(Tensor):
    """A scalar that requires grad, with micrograd's semantics: a 0-d float64 Tensor.

    >>> a = Value(-4.0, label="a"); b = Value(2.0, label="b")
    >>> c = a * b + b**3; c.label = "c"
    >>> c.backward(); print(a.grad, b.grad, c.grad)
    2.0 8.0 1.0

    As in micrograd, and unlike Tensor (whose ``.grad`` is PyTorch's: leaves only, None until
    backward):

    * operators and methods on Values return Values (``a * 2``, ``2 * a``, ``a.tanh()``,
      ``np.float64(2) * a``); ``autodiff`` functions (``autodiff.sin(a)``) return 0-d Tensors;
    * ``.grad`` is a number, 0.0 until a backward reaches it, and every Value in the graph keeps
      its gradient after ``backward()`` (scalar graphs are small, and drawing them is the point);
    * ``label``, ``_prev`` (the set of input Values) and ``_op`` (``"+"``, ``"*"``, ``"**2"``,
      ``"tanh"``...) are there for your own graph tracing; ``_backward()`` runs the one step of
      the chain rule at this node, as micrograd's does;
    * ``c += x`` on an intermediate Value makes a new Value (Python's fallback to ``c = c + x``
      in micrograd); on a leaf it is Tensor's in-place update, allowed under ``no_grad``.

    ``.data`` is a 0-d numpy array (prints, formats and computes like a number).
    """

    __slots__ = ()
    _scalar_grad = np.float64  # a gradient that is a numpy float64 needs no shape or dtype check in backward

    def __init__(self, data, _children=(), _op="", label=""):
        if _children or _op:
            raise TypeError(
                "Value(data, _children, _op) is how micrograd's own operators build its graph; here "
                "operations record the graph themselves: write a * b, a + b, a.tanh() ..."
            )
        super().__init__(data, requires_grad=True, dtype=np.float64, name=_text(label) or None)
        if self.ndim:
            raise ValueError(f"a Value holds one number, got shape {self.shape}; use Tensor for arrays")

    @property
    def data(self):
        """The number, as a 0-d numpy array (``v.data += 0.1 * v.grad`` updates it in place)."""
        return self._data

    @data.setter
    def data(self, value):
        array = np.asarray(_raw(value), dtype=self._data.dtype)
        if array.ndim:
            raise ValueError(f"a Value holds one number, got shape {array.shape}")
        Tensor.data.fset(self, array)

    @property
    def grad(self):
        """∂L/∂self after ``L.backward()`` as a number (numpy float64), 0.0 before; kept for every Value in the graph.

        After ``backward(create_graph=True)`` it is the 0-d Tensor, which carries its own graph.
        """
        g = self._grad
        if g is None:
            return _ZERO
        if isinstance(g, Tensor):
            return g if g._requires_grad else g._data[()]
        return g[()]  # as backward stored it: a numpy scalar, or a 0-d array

    @grad.setter
    def grad(self, value):
        Tensor.grad.fset(self, value)

    @property
    def label(self):
        """The name drawings show (micrograd's ``label``; Tensor's ``name``)."""
        return self.name or ""

    @label.setter
    def label(self, text):
        self.name = _text(text)

    @property
    def _prev(self):
        """The inputs of the operation that made this Value, as a set (micrograd's ``_prev``).

        A number or a Tensor that met a Value in an operation appears as a Value of its data (made
        on each call), with gradient 0: constants get no gradient here, unlike in micrograd.
        """
        node = self.grad_fn
        if node is None:
            return set()
        return {x if isinstance(x, Value) else _snapshot(x) for x in node.input_tensors}

    @property
    def _op(self):
        """The operation that made this Value: micrograd's ``"+"``, ``"*"``, ``"**2"``, ``"ReLU"``, else the op's name."""
        node = self.grad_fn
        if node is None:
            return ""
        if node.name == "pow":
            exponent = node.input_tensors[1]
            if exponent.size == 1 and not exponent.requires_grad:
                e = exponent.item()
                return f"**{int(e) if float(e).is_integer() else e}"
            return "**"
        return _SYMBOLS.get(node.name, node.name)

    def _backward(self):
        """One step of the chain rule, as micrograd's ``_backward``: add ``self.grad`` times the local
        derivative of this Value's operation into the ``.grad`` of each of its inputs.

        ``backward()`` does all the steps at once; this one is for following them by hand.
        """
        node = self.grad_fn
        if node is None:
            return
        if node.released:
            raise RuntimeError(BACKWARD_TWICE.format(node=repr(node)[1:-1]))
        inputs = inputs_for_backward(node)
        g = self._grad_tensor()._data if self._grad is not None else np.zeros((), dtype=self.dtype)
        saved = node.saved
        grads = node.vjp(array_math, g, *saved, out=node.saved_output)
        for x, gx in zip(inputs, grads if type(grads) is tuple else (grads,)):
            if gx is None or not x._requires_grad:
                continue
            gx = sum_to(np.asarray(gx, dtype=x.dtype), x.shape)
            x._grad = Tensor._wrap(np.array(gx) if x._grad is None else x._grad_tensor()._data + gx)

    def __repr__(self):
        grad = self.grad
        return f"Value(data={self.item()}, grad={grad.item() if isinstance(grad, Tensor) else grad})"


def _text(label):
    """A label as text (None stays None): a label is for drawings, and text holds nothing a graph could loop through."""
    return label if label is None or type(label) is str else str(label)


def _snapshot(t):
    """A Value showing the data (and gradient, if any) of a tensor that is not a Value."""
    v = Tensor._wrap(t._data)
    v.__class__ = Value
    v._grad = t._grad
    return v


def _as_value(out):
    """``out``, made a Value that keeps its gradient in place if it is a plain Tensor of one floating-point number."""
    if type(out) is Tensor and not out._data.ndim and out._data.dtype.kind == "f":
        out.__class__ = Value  # same layout (no slots of its own): no new object
        out._retains_grad = True
        collector.let_go(out)  # out of the cyclic collector's sight, as apply2 does for Values' operators
    return out


def _returning_values(method):
    """``method`` of Tensor, whose one-number floating-point result becomes a Value that keeps its gradient."""

    def on_values(self, *args, **kwargs):
        return _as_value(method(self, *args, **kwargs))

    on_values.__name__ = on_values.__qualname__ = method.__name__
    on_values.__doc__ = method.__doc__
    return on_values


def _binary(op, reflected):
    """The operator ``x op y`` (or ``y op x``) on a Value: the engine called directly, as Tensor's operators do, the
    result made a Value in place. Written out for the arithmetic operators: micrograd code is made of them."""
    if reflected:

        def on_values(self, other):
            if type(other) in _NUMBERS:  # a 0-d float64 constant: the result is a Value
                out = apply2(op, operand(other, self), self, Value)
                out._retains_grad = True
                return out
            return _as_value(apply2(op, operand(other, self), self))
    else:

        def on_values(self, other):
            if type(other) is Value or type(other) in _NUMBERS:
                out = apply2(op, self, other if type(other) is Value else operand(other, self), Value)
                out._retains_grad = True
                return out
            return _as_value(apply2(op, self, other if isinstance(other, Tensor) else operand(other, self)))

    return on_values


def _rebinding(inplace, outofplace):
    """``c += x``: a new Value for an intermediate (micrograd's ``c = c + x``), Tensor's in-place update for a leaf."""

    def on_values(self, other):
        if self.grad_fn is not None:
            return outofplace(self, other)
        return inplace(self, other)

    on_values.__name__ = on_values.__qualname__ = inplace.__name__
    return on_values


_OPERATORS = "__pow__ __rpow__ __neg__ __abs__ __array_ufunc__ __array_function__ clone".split()
for _name in [n for n in _OPERATORS + list(functions.METHODS) if hasattr(Tensor, n)]:
    setattr(Value, _name, _returning_values(getattr(Tensor, _name)))
for _name, _op in (("add", ops.Add), ("sub", ops.Sub), ("mul", ops.Mul), ("truediv", ops.Div)):
    for _reflected in (False, True):
        _method = _binary(_op, _reflected)
        _method.__name__ = _method.__qualname__ = f"__{'r' if _reflected else ''}{_name}__"
        setattr(Value, _method.__name__, _method)
for _name in ("add", "sub", "mul", "truediv", "pow"):
    setattr(Value, f"__i{_name}__", _rebinding(getattr(Tensor, f"__i{_name}__"), getattr(Value, f"__{_name}__")))
del _name, _op, _reflected, _method
