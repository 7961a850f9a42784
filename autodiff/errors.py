"""Error messages of the engine: they name the op and say what to do.

Forward errors from numpy are translated to name the op and its inputs' shapes (or what was
not a number); what a derivative rule returns is validated here when it is not a gradient of
its input's shape and dtype (PyTorch's ``validate_outputs``).
"""

import numpy as np

NUMERIC_KINDS = "biufc"  # bool, ints, floats (and complex, which can't require grad)

NOT_TWICE_DIFFERENTIABLE = (
    "second derivatives of {name} are not implemented: {node}'s rule works on raw numpy arrays, "
    "so backward(create_graph=True) / autograd.grad(create_graph=True) cannot differentiate it again"
)

BACKWARD_TWICE = (
    "Trying to backward through the graph a second time ({node} was already used by an "
    "earlier backward, which freed its saved values). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you "
    "need to backward through the graph a second time."
)

FORWARD_ERRORS = (ValueError, IndexError, TypeError, OverflowError, ZeroDivisionError, AttributeError)
"""What numpy raises from a forward: translated by ``forward_error``."""


class Opaque:
    """A value numpy can keep only as a Python object (None, a string, a ragged list, an int beyond
    64 bits), wrapped so that ops refuse it at once by name. Bare, numpy would apply Python's own
    operators to it: an int times a list repeats the list, (-4) ** 2**76 is computed digit by digit."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def opaque(value):
    """``value`` (an object array, or what numpy can't make an array of: a ragged list) as an object
    array of ``Opaque``: elementwise, or a 0-d one holding the whole value."""
    if isinstance(value, np.ndarray):
        result = np.empty(value.shape, dtype=object)
        for i, v in np.ndenumerate(value):
            result[i] = v if isinstance(v, Opaque) else Opaque(v)
        return result
    result = np.empty((), dtype=object)
    result[()] = Opaque(value)
    return result


def _number(v):
    return isinstance(v, (bool, float, complex, np.number)) or (isinstance(v, int) and -(2**63) <= v < 2**64)


def describe(value):
    """What a non-numeric value is, for error messages: its type, or the type inside an object array."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            items = [v.value if isinstance(v, Opaque) else v for v in value.flat]
            v = next((v for v in items if not _number(v)), items[0] if items else None)
            if isinstance(v, int) and not isinstance(v, bool):
                return f"an int too large for numpy ({v.bit_length()} bits)"
            return type(v).__name__
        return {"U": "str", "S": "bytes", "M": "datetime64", "m": "timedelta64"}.get(value.dtype.kind, str(value.dtype))
    return type(value).__name__


def _non_numeric(arrays):
    return ", ".join(
        f"{describe(a)} as input {i}"
        for i, a in enumerate(arrays)
        if getattr(a, "dtype", np.dtype(object)).kind not in NUMERIC_KINDS
    )


def forward_error(op, arrays, error):
    """The error of a failed forward, naming the op and its inputs' shapes (or what wasn't a number)."""
    odd = _non_numeric(arrays)
    if odd:
        return TypeError(f"{op.name} needs numbers, got {odd}")
    shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in arrays)
    message = f"{op.name} of shapes {shapes}: {error}"
    if isinstance(error, (OverflowError, ZeroDivisionError)):
        return ValueError(message)
    if isinstance(error, AttributeError):
        return TypeError(message)
    try:
        return type(error)(message)
    except Exception:  # an exception class with its own constructor (numpy's _UFuncNoLoopError)
        return (TypeError if isinstance(error, TypeError) else ValueError)(message)


def check_kind(op, inputs, arrays, out, grad_enabled):
    """Refuse results that are not numbers, and complex results of inputs that require grad."""
    kind = out.dtype.kind
    if kind not in NUMERIC_KINDS:
        raise TypeError(f"{op.name} needs numbers, got {_non_numeric(arrays) or describe(out)}")
    if kind == "c" and grad_enabled and any(t._requires_grad for t in inputs):
        raise TypeError(
            f"{op.name} of a tensor that requires grad gave a complex result: autodiff differentiates "
            "real floating-point tensors only (complex numbers have no derivative rules here)"
        )


# -- what derivative rules return --------------------------------------------------------------------


def _summable(shape, to):
    """Whether a gradient of ``shape`` sums back to an input of shape ``to`` (the input broadcasts to it)."""
    n = max(len(shape), len(to))
    padded, target = (1,) * (n - len(shape)) + tuple(shape), (1,) * (n - len(to)) + tuple(to)
    return all(t == s or t == 1 for s, t in zip(padded, target))


def _invalid(node, index, what):
    if isinstance(index, tuple):  # (inputs, gradients, input, gradient): the position is found only for the message
        inputs, grads, x, gx = index
        index = next(i for i, (t, g) in enumerate(zip(inputs, grads)) if t is x and g is gx)
    return RuntimeError(
        f"Function {type(node).__name__}Backward returned an invalid gradient at index {index} - {what}"
    )


def gradient_count(node, got, expected):
    """The error for a rule that returned ``got`` gradients for ``expected`` inputs."""
    return RuntimeError(
        f"Function {type(node).__name__}Backward returned an incorrect number of gradients "
        f"(expected {expected}, got {got})"
    )


def check_rule(node, inputs, grads, tensor_type):
    """What a rule from outside the op catalogue returned, as a tuple with one gradient (or None) per
    input, each an array (a Tensor under create_graph) of real numbers; or an error naming the op."""
    if len(grads) != len(inputs):
        raise gradient_count(node, len(grads), len(inputs))
    return tuple(
        gx if gx is None or type(gx) is tensor_type else check_gradient(node, i, gx, x._data, tensor_type)
        for i, (x, gx) in enumerate(zip(inputs, grads))
    )


def check_gradient(node, index, gx, like, tensor_type):
    """``gx`` as an array (or under create_graph a Tensor) the engine can sum back to ``like``'s shape,
    or an error naming the op, the input index and both shapes. ``gx`` differs from ``like`` in type,
    shape or dtype (the engine checks the common case, all equal, itself). ``index`` is the input's
    position, or (inputs, gradients, input, gradient) to find it by only if there is an error."""
    if isinstance(gx, np.generic):
        gx = np.asarray(gx)
    if not isinstance(gx, (np.ndarray, tensor_type)):
        raise _invalid(node, index, f"expected an array of shape {list(like.shape)}, got {type(gx).__name__}")
    if gx.dtype.kind not in "biuf":
        raise _invalid(
            node, index, f"expected real numbers (shape {list(like.shape)}, dtype {like.dtype}), got dtype {gx.dtype}"
        )
    if gx.shape != like.shape and not _summable(gx.shape, like.shape):
        raise _invalid(node, index, f"got {list(gx.shape)} but expected shape compatible with {list(like.shape)}")
    return gx


# -- autodiff.Function (user-defined operations) -----------------------------------------------------

ONCE_DIFFERENTIABLE = (
    "trying to differentiate twice a function that was marked with @once_differentiable: "
    "{name}.backward cannot be recorded for create_graph=True (double backward, gradgradcheck, hessian, "
    "jvp, jacfwd). Write backward with autodiff operations on the Tensors it gets, and drop the decorator"
)

NON_TENSOR_GRADIENT = (
    "Function {node} returned a gradient at index {index}, but argument {index} of forward is not a "
    "Tensor ({kind}): return None for it"
)

NUMPY_UNDER_CREATE_GRAPH = (
    "Function {node} returned a numpy array as the gradient at index {index} under create_graph=True: "
    "its second derivatives would be silently lost. Compute backward with autodiff operations on the "
    "Tensors it gets (grad_outputs, ctx.saved_tensors), or decorate it with @once_differentiable"
)

SAVE_FOR_BACKWARD = "save_for_backward can only save tensors (or None), but argument {index} is of type {kind}"

SAVED_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed): {node} was used by an earlier backward, which freed its saved tensors. "
    "Specify retain_graph=True if you need to backward through the graph a second time or if you "
    "need to access saved tensors after calling backward."
)
