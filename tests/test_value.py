"""micrograd's Value: operations give Values, every Value keeps its gradient, label/_prev/_op/_backward for tracing."""

import gc
import math
import warnings
import weakref

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor, Value


def test_operations_on_values_return_values():
    a, b = Value(-4.0, label="a"), Value(2.0, label="b")
    results = {
        "a + b": a + b,
        "a + 1": a + 1,
        "1 + a": 1 + a,
        "a - b": a - b,
        "2 - a": 2 - a,
        "a * b": a * b,
        "2 * a": 2 * a,
        "a / b": a / b,
        "2 / a": 2 / a,
        "a ** 2": a**2,
        "2 ** b": 2**b,
        "a ** b": a**b,
        "-a": -a,
        "abs(a)": abs(a),
        "a.tanh()": a.tanh(),
        "a.exp()": a.exp(),
        "a.relu()": a.relu(),
        "b.log()": b.log(),
        "a.sigmoid()": a.sigmoid(),
        "np.float64(2) * a": np.float64(2.0) * a,
        "np.int64(2) * a": np.int64(2) * a,
        "np.exp(a)": np.exp(a),
        "np.sum(a)": np.sum(a),
        "sum([a, b])": sum([a, b]),
        "0-d Tensor + a": Tensor(1.0) + a,
        "a + 0-d Tensor": a + Tensor(1.0),
    }
    for text, value in results.items():
        assert type(value) is Value, text
        assert value.label == "" and value.grad == 0.0 and value.requires_grad, text
    assert (a / b).item() == -2.0 and (2**b).item() == 4.0 and (np.int64(2) * a).item() == -8.0
    assert type(a * Tensor([1.0, 2.0])) is Tensor and type(Tensor([1.0, 2.0]) * a) is Tensor  # not one number
    assert type(ad.sin(a)) is Tensor  # autodiff's functions give Tensors: the methods give Values
    with ad.no_grad():
        c = a * b
    assert type(c) is Value and not c.requires_grad and c.grad_fn is None


def test_grad_starts_at_zero_and_every_value_keeps_its_gradient_after_backward():
    """micrograd's semantics, checked against PyTorch with retain_grad() on every intermediate."""
    torch = pytest.importorskip("torch")
    a, b = Value(-4.0), Value(2.0)
    assert a.grad == 0.0 and isinstance(a.grad, float)
    a.data += 0.01 * a.grad  # micrograd's update works before any backward
    c = a + b
    d = a * b + b**3
    e = c * d
    f = e.tanh() * e.exp() / 1000 + d.relu()
    for v in (c, d, e, f):
        assert v.grad == 0.0
    f.backward()
    at, bt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (-4.0, 2.0))
    ct = at + bt
    dt = at * bt + bt**3
    et = ct * dt
    ft = et.tanh() * et.exp() / 1000 + dt.relu()
    for t in (ct, dt, et, ft):
        t.retain_grad()
    ft.backward()
    for ours, theirs in ((a, at), (b, bt), (c, ct), (d, dt), (e, et), (f, ft)):
        assert ours.grad == pytest.approx(theirs.grad.item(), rel=1e-12, abs=1e-300)
    assert f.grad == 1.0


def test_tensor_keeps_pytorchs_leaves_only_rule():
    x = Tensor(2.0, requires_grad=True)
    y = x * 3
    z = y * y
    z.backward()
    assert x.grad.item() == 36.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert y.grad is None
    assert "is not a leaf Tensor" in str(caught[0].message)


def test_gradients_accumulate_over_graphs_and_reset_like_micrograd():
    w = Value(0.5)
    (w * 3.0).backward()
    (w * 4.0).backward()
    assert w.grad == 7.0
    w.grad = 0
    assert w.grad == 0.0 and isinstance(w.grad, float)
    w.grad = None  # PyTorch's zero_grad(set_to_none=True)
    assert w.grad == 0.0
    v = Value(3.0)
    (v * v).backward(create_graph=True)
    assert isinstance(v.grad, Tensor) and v.grad.requires_grad  # the gradient's own graph is kept
    assert repr(v) == "Value(data=3.0, grad=6.0)"


def test_label_name_and_repr():
    a = Value(2.0, label="a")
    assert a.label == a.name == "a"
    b = a * 2
    b.label = "b"
    assert b.name == "b" and b.label == "b" and (b + 1).label == ""
    assert repr(Value(-4.0)) == "Value(data=-4.0, grad=0.0)"
    assert repr(Value(3)) == "Value(data=3.0, grad=0.0)" and Value(3).dtype == np.float64


def test_data_is_a_number_that_updates_in_place():
    v = Value(1.0)
    array = v.data
    v.data += 0.5
    assert v.data is array and v.item() == 1.5 and v._version == 1
    v.data = 3  # an int becomes the Value's float64
    assert v.dtype == np.float64 and v.item() == 3.0
    assert f"{v.data:.2f}" == "3.00" and "%.4f" % v.data == "3.0000"
    with pytest.raises(ValueError, match=r"a Value holds one number, got shape \(2,\)"):
        v.data = [1.0, 2.0]


def test_prev_and_op_describe_the_graph_as_micrograd_does():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    assert a._prev == set() and a._op == ""
    assert (a + b)._prev == {a, b} and (a + b)._op == "+"
    assert (a + a)._prev == {a}
    assert (a * b)._op == "*" and (a - b)._op == "-" and (a / b)._op == "/"
    assert a.relu()._op == "ReLU" and a.tanh()._op == "tanh" and a.exp()._op == "exp"
    assert (a**2)._op == "**2" and (a**-1)._op == "**-1" and (a**0.5)._op == "**0.5" and (a**b)._op == "**"
    assert (-a)._op == "neg"
    c = a * 2.5  # the constant appears as a Value of its data, with no gradient
    constant = next(v for v in c._prev if v is not a)
    assert type(constant) is Value and constant.item() == 2.5 and constant.grad == 0.0 and constant._prev == set()


def test_backward_steps_by_hand_give_what_backward_gives():
    """The lecture's neuron: o.grad = 1, then _backward() node by node in reverse topological order."""

    def neuron():
        x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
        w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
        b = Value(6.8813735870195432, label="b")
        x1w1 = x1 * w1
        x2w2 = x2 * w2
        x1w1x2w2 = x1w1 + x2w2
        n = x1w1x2w2 + b
        o = n.tanh()
        return o, [x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o]

    o, by_hand = neuron()
    o.grad = 1.0
    topo, visited = [], set()

    def build_topo(v):
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build_topo(child)
            topo.append(v)

    build_topo(o)
    for node in reversed(topo):
        node._backward()
    o2, automatic = neuron()
    o2.backward()
    assert [v.grad for v in by_hand] == pytest.approx([v.grad for v in automatic], rel=1e-12, abs=1e-15)
    x1, x2, w1, w2 = automatic[:4]
    assert (x1.grad, x2.grad, w1.grad, w2.grad) == pytest.approx((-1.5, 0.5, 1.0, 0.0), abs=1e-12)
    with pytest.raises(RuntimeError, match=r"Trying to backward through the graph a second time"):
        o2._backward()
    Value(1.0)._backward()  # a leaf: nothing to do, as micrograd's default lambda: None


def test_augmented_assignment_makes_a_new_value_for_intermediates_like_micrograd():
    a = Value(1.0)
    c = a * 2
    old = c
    c += 1
    assert c is not old and old.item() == 2.0 and c.item() == 3.0 and c._op == "+" and old in c._prev
    with pytest.raises(RuntimeError, match=r"a leaf Tensor that requires grad is being used in an in-place operation"):
        a += 1
    with ad.no_grad():
        a -= 0.5  # a parameter update: the same leaf, changed in place
    assert a.item() == 0.5 and a.is_leaf and a.requires_grad


def test_value_still_refuses_micrograds_hand_built_graph():
    with pytest.raises(TypeError, match=r"Value\(data, _children, _op\) is how micrograd's own operators build"):
        Value(2.0, (Value(1.0),), "+")
    with pytest.raises(ValueError, match=r"a Value holds one number, got shape \(2,\)"):
        Value([1.0, 2.0])


def test_draw_graph_labels_values_and_shows_every_gradient_after_backward():
    pytest.importorskip("graphviz")
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    L.backward()  # releases the graph: the drawing shows what .grad holds
    source = ad.draw_graph(L).source
    for label, grad in (("a", "6.0000"), ("b", "-4.0000"), ("c", "-2.0000"), ("e", "-2.0000"), ("d", "-2.0000")):
        assert f"<B>{label}</B>" in source
        assert f"grad {grad}" in source


def test_micrograd_lectures_draw_dot_runs_on_values():
    """The lecture's own trace/draw_dot, which reads label, data, grad, _op and _prev."""
    graphviz = pytest.importorskip("graphviz")

    def trace(root):
        nodes, edges = set(), set()

        def build(v):
            if v not in nodes:
                nodes.add(v)
                for child in v._prev:
                    edges.add((child, v))
                    build(child)

        build(root)
        return nodes, edges

    def draw_dot(root):
        dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": "LR"})
        nodes, edges = trace(root)
        for n in nodes:
            uid = str(id(n))
            dot.node(name=uid, label="{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad), shape="record")
            if n._op:
                dot.node(name=uid + n._op, label=n._op)
                dot.edge(uid + n._op, uid)
        for n1, n2 in edges:
            dot.edge(str(id(n1)), str(id(n2)) + n2._op)
        return dot, nodes, edges

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    e = a * b
    e.label = "e"
    o = (2 * e).tanh()
    o.label = "o"
    o.backward()
    dot, nodes, edges = draw_dot(o)
    assert len(nodes) == 6 and len(edges) == 5  # a, b, e, the constant 2, 2*e, o
    assert "{ e | data -6.0000 | grad %.4f }" % (2 * (1 - math.tanh(-12.0) ** 2)) in dot.source
    assert '[label="*"]' in dot.source and "[label=tanh]" in dot.source


def test_matches_micrograd_node_by_node():
    """micrograd's test_more_ops, with every intermediate's data and gradient compared."""
    mg = pytest.importorskip("micrograd.engine")

    def program(V):
        a, b = V(-4.0), V(2.0)
        c = a + b
        d = a * b + b**3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        g = g + 10.0 / f
        g.backward()
        return [a, b, c, d, e, f, g]

    ours, theirs = program(Value), program(mg.Value)
    for x, y in zip(ours, theirs):
        assert x.item() == pytest.approx(y.data, rel=1e-13)
        assert x.grad == pytest.approx(y.grad, rel=1e-13)


# --- the cyclic garbage collector (autodiff.collector) ---------------------------------------------


def test_values_ops_and_results_are_kept_from_the_cyclic_collector_and_freed_by_reference_counting():
    a, b = Value(2.0), Value(-3.0)
    results = [a * b, 2 * a, a / 4, a - b, a.relu(), a.tanh(), a**2, -a, (a * b + 1.0).exp()]
    assert not any(gc.is_tracked(v) or gc.is_tracked(v.grad_fn) for v in results)
    assert gc.is_tracked(a) and gc.is_tracked(b)  # the Values made by hand (parameters, inputs) are left as they are
    t = ad.Tensor(2.0, requires_grad=True) * 3.0
    assert gc.is_tracked(t) and gc.is_tracked(t.grad_fn)  # and so are tensors' ops,
    mixed = a * t
    assert gc.is_tracked(mixed) and gc.is_tracked(mixed.grad_fn)  # and whatever is computed from them
    assert gc.is_tracked(_Twice.apply(a))  # (a custom Function's node may hold anything)

    gc.disable()  # nothing an operation on Values makes is for the collector to count
    try:
        s = a * b
        start = len(gc.get_objects(generation=0))
        for _ in range(200):
            s = (s * a).relu()
        assert len(gc.get_objects(generation=0)) - start <= 5
        # and reference counting alone frees a graph: the collector has nothing to do
        x = Value(0.5)
        y = x
        for _ in range(100):
            y = (y * x + 1.0).tanh()
        first = weakref.ref(y.grad_fn)
        y.backward()
        assert x.grad != 0.0
        del y
        assert first() is None
    finally:
        gc.enable()


def _cycle_through_a_gradient(how):
    v = Value(3.0)
    y = v * v * v  # ops out of the collector's sight
    if how == "create_graph":
        y.backward(create_graph=True)  # v.grad = 3v², recorded: its graph reads v
        assert float(v.grad) == 27.0 and v.grad.requires_grad
    else:
        v.grad = y * 2.0
    return v, y


def _cycle_through_an_inplace_change(how):
    v = Value(2.0)
    t = v * 3.0
    (t * t).backward(create_graph=True)  # v.grad's graph reads t
    w = v * 5.0  # made after v.grad was stored
    t[()] = w  # t is now the output of a newer op: t → setitem → w → its op → v → v.grad → … → t
    return v, w


def _cycle_through_a_label(how):
    v = Value(1.0)
    w = v * 2.0
    v.label = w  # kept as text
    assert v.label == repr(w)
    return v, w


class _Twice(ad.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0


def _cycle_through_a_functions_context(how):
    v = Value(1.0)
    y = _Twice.apply(v)
    w = v * y  # an op behind a custom Function stays in the collector's sight
    y.grad_fn.later = w  # y → its node → w → w's op → y
    return v, w


def _cycle_through_a_checkpointed_layer(how):
    class Layer:  # keeps its output, as makemore's layers do
        def __init__(self):
            self.w = Value(0.5)

        def __call__(self, x):
            self.out = self.w * x
            return self.out

    layer = Layer()
    h = ad.checkpoint(layer, Value(1.0))
    layer(h)  # layer.out → its op → h → the checkpoint's node → layer
    return layer.w, layer.out


CYCLES = {
    "create_graph": _cycle_through_a_gradient,
    "grad assigned": _cycle_through_a_gradient,
    "in-place change": _cycle_through_an_inplace_change,
    "label": _cycle_through_a_label,
    "Function context": _cycle_through_a_functions_context,
    "checkpoint": _cycle_through_a_checkpointed_layer,
}


@pytest.mark.parametrize("how", sorted(CYCLES))
def test_a_cycle_through_the_ops_of_values_is_still_freed_by_the_collector(how):
    """Ops kept from the collector reach only ops kept from it, and every way the library offers to make something
    older point at something newer (a recorded .grad, an in-place change) puts them back: a cycle is still freed."""

    def make():
        value, later = CYCLES[how](how)
        return weakref.ref(value), weakref.ref(later.grad_fn)

    gc.collect()
    value, op = make()
    gc.collect()
    assert value() is None and op() is None
