"""Function transforms in the style of HIPS autograd and JAX: ``grad``, ``value_and_grad``, ``elementwise_grad``,
``jacobian``, ``hessian``, ``hvp``.

They are thin layers over :func:`autodiff.autograd.grad`. Transforms nest
(``grad(grad(f))``) because an argument that already requires grad -- as it does
inside another transform -- is differentiated with ``create_graph=True``, so the
result keeps its graph and can be differentiated again.

Functions take Tensors, numpy arrays or Python numbers and return Tensors.
"""

import numpy as np

from . import autograd
from .functions import stack
from .grad_mode import is_grad_enabled
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "elementwise_grad", "jacobian", "hessian", "hvp"]


def _variable(x):
    """``x`` as a tensor to differentiate with respect to, and whether it came from an enclosing graph."""
    if isinstance(x, Tensor):
        if x.requires_grad and is_grad_enabled():
            return x, True
        data = x.data
    else:
        data = np.asarray(x)
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    return Tensor(data, requires_grad=True), False


def _prepare(args, argnums):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not -len(args) <= n < len(args):
            raise ValueError(f"argnums {argnums} refers to argument {n}, but the function got {len(args)} arguments")
    args = list(args)
    nested = False
    for n in nums:
        args[n], outer = _variable(args[n])
        nested = nested or outer
    return args, nums, single, nested


def _gradients(outputs, inputs, grad_outputs, create_graph):
    """autograd.grad that gives zeros for inputs the outputs do not depend on."""
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if live:
        grads = autograd.grad(
            [o for o, _ in live],
            inputs,
            [g for _, g in live],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
    else:
        grads = [None] * len(inputs)
    return tuple(Tensor(np.zeros(x.shape, dtype=x.dtype)) if g is None else g for g, x in zip(grads, inputs))


def _scalar(value, what):
    if not isinstance(value, Tensor):
        value = Tensor(value)
    if value.size != 1:
        raise TypeError(
            f"{what} needs a function with a scalar output (one element), got shape {value.shape}; "
            "use autodiff.jacobian for vector-valued functions"
        )
    return value


def value_and_grad(f, argnums=0):
    """A function returning ``(f(*args), ∂f/∂args[argnums])`` for a scalar-valued ``f``.

    ``argnums`` is an int or a tuple of ints (then the gradient is a tuple).
    """

    def value_and_grad_f(*args, **kwargs):
        args, nums, single, nested = _prepare(args, argnums)
        value = _scalar(f(*args, **kwargs), "grad")
        grads = _gradients([value], [args[n] for n in nums], [None], create_graph=nested)
        if not nested:
            value = value.detach()
        return value, (grads[0] if single else grads)

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(f, argnums=0):
    """A function computing ∂f/∂x for a scalar-valued ``f`` (x = the argument at ``argnums``).

    >>> df = grad(lambda x: x ** 3)
    >>> df(2.0), grad(df)(2.0)          # 3x², 6x
    (Tensor(12.), Tensor(12.))
    """
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args, **kwargs):
        return value_and_grad_f(*args, **kwargs)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def elementwise_grad(f, argnums=0):
    """A function computing ∂(Σᵢ f(x)ᵢ)/∂x, of x's shape (HIPS autograd's name).

    For an ``f`` applied elementwise that is f′ at every element: one backward pass instead of
    the Jacobian's one per element. (For any other ``f`` it is 1ᵀJ, the column sums of the
    Jacobian.) It nests like ``grad``::

        d4 = elementwise_grad(elementwise_grad(elementwise_grad(elementwise_grad(autodiff.tanh))))
    """

    def summed(*args, **kwargs):
        out = f(*args, **kwargs)
        return (out if isinstance(out, Tensor) else Tensor(out)).sum()

    summed.__name__ = getattr(f, "__name__", "f")
    egrad = grad(summed, argnums)
    egrad.__name__ = f"elementwise_grad({summed.__name__})"
    return egrad


def _jacobian_rows(outputs, inputs, create_graph):
    """For each output, for each input, the Jacobian of shape out.shape + x.shape: one backward per output element."""
    result = []
    for out in outputs:
        rows = [[] for _ in inputs]
        for i in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[i] = 1
            for n, g in enumerate(_gradients([out], inputs, [seed.reshape(out.shape)], create_graph)):
                rows[n].append(g)
        result.append(
            tuple(
                (stack(r) if r else Tensor(np.zeros((0,) + x.shape, dtype=x.dtype))).reshape(out.shape + x.shape)
                for r, x in zip(rows, inputs)
            )
        )
    return result


def jacobian(f, argnums=0):
    """A function computing the Jacobian ∂f/∂x, of shape ``f(x).shape + x.shape`` (reverse mode).

    Uses one backward pass per output element. ``f`` may return a Tensor or a
    tuple of Tensors (then the result is a tuple, one entry per output);
    ``argnums`` may be a tuple (then each entry is a tuple over the arguments).
    """

    def jacobian_f(*args, **kwargs):
        args, nums, single, nested = _prepare(args, argnums)
        out = f(*args, **kwargs)
        outputs = [out] if not isinstance(out, (tuple, list)) else list(out)
        outputs = [o if isinstance(o, Tensor) else Tensor(o) for o in outputs]
        blocks = _jacobian_rows(outputs, [args[n] for n in nums], create_graph=nested)
        if not nested:
            blocks = [tuple(b.detach() for b in row) for row in blocks]
        blocks = [row[0] if single else row for row in blocks]
        return blocks[0] if not isinstance(out, (tuple, list)) else tuple(blocks)

    jacobian_f.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    return jacobian_f


def hessian(f, argnums=0):
    """A function computing the Hessian ∂²f/∂x² of a scalar-valued ``f``, of shape ``x.shape + x.shape``.

    The Jacobian of the gradient; with a tuple ``argnums`` the result is a tuple
    of tuples of blocks ∂²f/∂xᵢ∂xⱼ.
    """
    h = jacobian(grad(f, argnums), argnums)
    h.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return h


def hvp(f, x, v):
    """The Hessian-vector product (∂²f/∂x²) v of a scalar-valued ``f`` at ``x``, without forming the Hessian.

    Two backward passes: g = ∂f/∂x with its graph kept, then ∂(g·v)/∂x.
    """
    (x,), _, _, nested = _prepare((x,), 0)
    v = v.data if isinstance(v, Tensor) else np.asarray(v, dtype=x.dtype)
    if v.shape != x.shape:
        raise ValueError(f"hvp: v has shape {v.shape} but x has shape {x.shape}")
    value = _scalar(f(x), "hvp")
    (g,) = _gradients([value], [x], [None], create_graph=True)
    (hv,) = _gradients([(g * Tensor(v)).sum()], [x], [None], create_graph=nested)
    return hv if nested else hv.detach()
