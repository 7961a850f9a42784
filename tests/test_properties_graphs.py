"""Random expression graphs: compositions of 2–12 ops with shared subexpressions over 1–3 inputs.

A graph is a list of instructions, each a tuple of small integers (op, operand, operand, axis),
so hypothesis shrinks a failure to the fewest, simplest instructions: op 0 is ``add`` and
operands count back from the newest node, so shared subexpressions are cheap to express and
every node can feed several later ones. Inputs have mutually broadcastable shapes (the first
has the full shape); every node keeps a shape that broadcasts with all others (reductions keep
their axes and pick axes longer than 1), and the output adds up every node and input, so all of
them are differentiated; the whole Jacobian is checked. The ops are the smooth ones, in forms that
stay finite on any real input (kinks and domains are the per-op tests' business, see
tests/test_properties.py), plus in-place updates and view round trips.

A failing example is also shown as code (``describe``).
"""

import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_properties import check_backward_side_effects

import autodiff as ad
from autodiff import Tensor


def _pattern(shape):
    return np.sin(np.arange(int(np.prod(shape)))).reshape(shape) > 0


def _axis(a, n):
    """The n-th axis of ``a`` longer than 1 (counting around), else of any length; None for 0-d."""
    long = [i for i, m in enumerate(a.shape) if m > 1] or list(range(a.ndim))
    return long[n % len(long)] if long else None


def _reduce(name):
    def op(a, b, axis):
        return getattr(ad, name)(a, axis=_axis(a, axis), keepdims=True)

    return op


def _softmax(name):
    def op(a, b, axis):
        return getattr(ad, name)(a, axis=_axis(a, axis)) if a.ndim else ad.tanh(a)

    return op


def _inplace_add(a, b, axis):
    c = (a + b) * 1.0  # the full shape, so both fit into it
    c += a  # recorded in-place ops on an intermediate
    c *= ad.sigmoid(b)
    return c


def _inplace_setitem(a, b, axis):
    c = (a + b) * 1.0
    if c.ndim:
        c[..., :1] = ad.tanh(c[..., -1:]) * 2.0  # reads and writes the same tensor
    return c


def _flip(a, b, axis):
    return a[..., ::-1] if a.ndim else a  # a view


def _round_trip(a, b, axis):
    shape = a.shape
    return ad.expand_dims(a, 0).reshape(-1).reshape(shape).T.T  # views all the way


OPS = [  # (name, function of (a, b, axis)); index 0 is what shrinking reaches first
    ("add", lambda a, b, axis: a + b),
    ("sub", lambda a, b, axis: a - b),
    ("mul", lambda a, b, axis: a * ad.tanh(b)),
    ("div", lambda a, b, axis: a / (1.0 + b * b)),
    ("pow", lambda a, b, axis: (1.0 + ad.sigmoid(a)) ** ad.tanh(b)),
    ("tanh", lambda a, b, axis: ad.tanh(a)),
    ("sin", lambda a, b, axis: ad.sin(a)),
    ("cos", lambda a, b, axis: ad.cos(a)),
    ("sigmoid", lambda a, b, axis: ad.sigmoid(a)),
    ("softplus", lambda a, b, axis: ad.softplus(a)),
    ("exp", lambda a, b, axis: ad.exp(ad.tanh(a))),
    ("log", lambda a, b, axis: ad.log(1.0 + a * a)),
    ("sqrt", lambda a, b, axis: ad.sqrt(1.0 + a * a)),
    ("neg", lambda a, b, axis: -a),
    ("square", lambda a, b, axis: a * a),
    ("where", lambda a, b, axis: ad.where(_pattern(np.broadcast_shapes(a.shape, b.shape)), a, b)),
    ("sum", _reduce("sum")),
    ("mean", _reduce("mean")),
    ("var", _reduce("var")),
    ("logsumexp", _reduce("logsumexp")),
    ("softmax", _softmax("softmax")),
    ("log_softmax", _softmax("log_softmax")),
    ("flip", _flip),
    ("views", _round_trip),
    ("inplace", _inplace_add),
    ("setitem", _inplace_setitem),
]

INSTRUCTION = st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 11), st.integers(0, 11), st.integers(0, 3))


@st.composite
def programs(draw):
    """(input arrays, instructions). The first input has the full shape, the others broadcast to it."""
    full = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    shapes = [full]
    for _ in range(draw(st.integers(0, 2))):
        keep = draw(st.lists(st.booleans(), min_size=len(full), max_size=len(full)))
        lead = draw(st.integers(0, len(full)))
        shapes.append(tuple(n if k else 1 for n, k in zip(full, keep))[lead:])
    values = [draw(hnp.arrays(np.float64, s, elements=st.floats(-2, 2))) for s in shapes]
    instructions = draw(st.lists(INSTRUCTION, min_size=2, max_size=12))
    return values, instructions


def run(instructions, *inputs):
    nodes = list(inputs)
    for op, i, j, axis in instructions:
        a, b = nodes[-1 - i % len(nodes)], nodes[-1 - j % len(nodes)]
        nodes.append(OPS[op][1](a, b, axis))
    total = nodes[0]
    for node in nodes[1:]:
        total = total + node
    return total


def describe(program):
    values, instructions = program
    lines = [f"x{i} = {v!r}" for i, v in enumerate(values)]
    names = [f"x{i}" for i in range(len(values))]
    for n, (op, i, j, axis) in enumerate(instructions):
        a, b = names[-1 - i % len(names)], names[-1 - j % len(names)]
        lines.append(f"v{n} = {OPS[op][0]}({a}, {b}, axis={axis})")
        names.append(f"v{n}")
    return "\n".join(lines + ["out = " + " + ".join(names)])


@settings(max_examples=200, deadline=None)
@given(program=programs())
def test_random_graphs_have_finite_difference_gradients(program):
    values, instructions = program
    note(describe(program))
    fn = lambda *xs: run(instructions, *xs)  # noqa: E731
    check_backward_side_effects(fn, values)
    assert ad.gradcheck(fn, [Tensor(v, requires_grad=True) for v in values])


@settings(max_examples=30, deadline=None)
@given(program=programs())
def test_random_graphs_under_create_graph_give_the_same_first_derivatives(program):
    values, instructions = program
    inputs = [Tensor(v, requires_grad=True) for v in values]
    out = run(instructions, *inputs)
    grads = ad.autograd.grad(out.sum(), inputs, create_graph=True, allow_unused=True)
    for x in inputs:
        x.grad = None
    run(instructions, *inputs).sum().backward()
    for x, g in zip(inputs, grads):
        np.testing.assert_allclose(g.data, x.grad.data, rtol=1e-12, atol=1e-12)


def test_describe_shows_the_program():
    text = describe(([np.array(1.0)], [(0, 0, 0, 0), (5, 0, 1, 2)]))
    assert text.splitlines()[-2:] == ["v1 = tanh(v0, x0, axis=2)", "out = x0 + v0 + v1"]
