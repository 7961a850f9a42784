"""Forward mode: Jacobian-vector products ``jvp`` and forward Jacobians ``jacfwd`` (JAX's names,
``torch.func.jvp`` / ``torch.func.jacfwd``), derived from the reverse-mode rules.

There is one rule set, the vjps of :mod:`autodiff.ops`. A vjp u ↦ Jᵀu is linear in the cotangent
u, so differentiating it once more with respect to u transposes it: ∂(tᵀJᵀu)/∂u = J t. So a jvp
is two reverse passes (the "double-vjp trick"): record v(u) = Jᵀu with ``create_graph=True`` for a
cotangent u that requires grad (its value does not matter: v is linear in u), then backpropagate
the tangent t from v to u. Every op whose rule is differentiable (all built-in ones) has a jvp
for free; what it costs is a reverse pass through the recorded backward, instead of the single
forward pass a dedicated jvp rule would take.

``jacfwd`` builds v(u) once and backpropagates one basis tangent per input element through it:
n passes for an input of n elements, where ``jacobian`` (reverse mode) takes one backward per
output element. Forward mode wins for tall Jacobians (few inputs, many outputs), reverse mode
for wide ones (many inputs, few outputs: a loss and its parameters).
"""

import numpy as np

from . import autograd
from .functions import stack
from .tensor import Tensor
from .transforms import _prepare

__all__ = ["jvp", "jacfwd"]


def _tangent(t, x, i):
    """Tangent ``i`` as an array (or a Tensor, kept for nesting) of primal ``x``'s shape and dtype."""
    if isinstance(t, Tensor):
        value = t if t.requires_grad else t.data
    else:
        value = np.asarray(t)
    if value.dtype.kind not in "biuf":
        raise TypeError(f"jvp: tangent {i} must be real numbers, got dtype {value.dtype}")
    if tuple(value.shape) != x.shape:
        raise ValueError(
            f"jvp: tangent {i} has shape {tuple(value.shape)} but primal {i} has shape {x.shape}: "
            "each tangent is a direction in its primal's space"
        )
    if value.dtype != x.dtype:
        value = value.astype(x.dtype)
    return value


def _transposed(outputs, inputs):
    """The reverse pass made differentiable in its cotangents: (outputs that require grad, a
    cotangent u per such output, v = ∂(Σ uᵀ output)/∂input per input, None where unused)."""
    live = [o for o in outputs if o.requires_grad]
    if not live:
        return live, [], [None] * len(inputs)
    us = [Tensor(np.zeros(o.shape, dtype=o.dtype), requires_grad=True) for o in live]
    vs = autograd.grad(live, inputs, us, create_graph=True, allow_unused=True)
    return live, us, [v if v is not None and v.requires_grad else None for v in vs]


def _outputs(out):
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o if isinstance(o, Tensor) else Tensor(o) for o in outputs]


def _as_given(out, values):
    return tuple(values) if isinstance(out, (tuple, list)) else values[0]


def jvp(f, primals, tangents):
    """``(f(*primals), J t)``: the value of ``f`` and its directional derivative along ``tangents``.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f`` (Tensors, arrays or
    numbers); each tangent has its primal's shape. ``f`` returns a Tensor or a tuple of them, and
    the output tangents have the same structure. Computed from the reverse-mode rules by the
    double-vjp trick (module docstring). Nests with ``grad`` and the other transforms, e.g. a
    Hessian-vector product forward-over-reverse: ``jvp(grad(f), (x,), (v,))[1]``.
    """
    for what, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(
                f"jvp(f, primals, tangents): expected {what} to be a tuple (one entry per argument of f), "
                f"e.g. ({what[:-1]},), got {type(value).__name__}"
            )
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents (one per primal)")
    args, _, _, nested = _prepare(tuple(primals), tuple(range(len(primals))))
    tangents = [_tangent(t, x, i) for i, (t, x) in enumerate(zip(tangents, args))]
    out = f(*args)
    outputs = _outputs(out)
    live, us, vs = _transposed(outputs, args)
    pairs = [(v, t) for v, t in zip(vs, tangents) if v is not None]
    found = [None] * len(us)
    if pairs:
        found = autograd.grad([v for v, _ in pairs], us, [t for _, t in pairs], create_graph=nested, allow_unused=True)
    by_output = {id(o): g for o, g in zip(live, found)}
    result = []
    for o in outputs:
        g = by_output.get(id(o))
        result.append(Tensor(np.zeros(o.shape, dtype=o.dtype)) if g is None else g)
    if not nested:
        outputs, result = [o.detach() for o in outputs], [g.detach() for g in result]
    return _as_given(out, outputs), _as_given(out, result)


def jacfwd(f, argnums=0):
    """A function computing the Jacobian ∂f/∂x in forward mode, of shape ``f(x).shape + x.shape``.

    The same result as ``jacobian`` (reverse mode), column by column: one pass per element of x
    through the transposed backward, where ``jacobian`` takes one backward per element of f(x).
    ``argnums`` and tuple outputs as for ``jacobian``.
    """

    def jacfwd_f(*args, **kwargs):
        args, nums, single, nested = _prepare(args, argnums)
        out = f(*args, **kwargs)
        outputs = _outputs(out)
        inputs = [args[n] for n in nums]
        live, us, vs = _transposed(outputs, inputs)
        place = {id(o): k for k, o in enumerate(live)}
        blocks = []  # blocks[i][k]: ∂output k / ∂input i
        for x, v in zip(inputs, vs):
            columns = [[] for _ in live]
            for j in range(x.size if v is not None else 0):
                basis = np.zeros(x.size, dtype=x.dtype)
                basis[j] = 1
                found = autograd.grad(
                    v, us, basis.reshape(x.shape), retain_graph=True, create_graph=nested, allow_unused=True
                )
                for k, (g, o) in enumerate(zip(found, live)):
                    columns[k].append(Tensor(np.zeros(o.shape, dtype=o.dtype)) if g is None else g)
            row = []
            for o in outputs:
                k = place.get(id(o))
                if k is None or not columns[k]:
                    block = Tensor(np.zeros(o.shape + x.shape, dtype=np.result_type(o.dtype, x.dtype)))
                else:
                    block = stack(columns[k], axis=-1).reshape(o.shape + x.shape)
                row.append(block if nested else block.detach())
            blocks.append(row)
        per_output = [tuple(blocks[i][k] for i in range(len(inputs))) for k in range(len(outputs))]
        per_output = [row[0] if single else row for row in per_output]
        return per_output[0] if not isinstance(out, (tuple, list)) else tuple(per_output)

    jacfwd_f.__name__ = f"jacfwd({getattr(f, '__name__', 'f')})"
    return jacfwd_f
