"""autodiff.checkpoint: the same gradients as the plain call, for less memory held between forward and backward."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import deferred


def _mlp(depth=6, width=16, seed=0):
    nn.manual_seed(seed)
    return [nn.Linear(width, width) for _ in range(depth)]


def _block(layer):
    return lambda h: ad.tanh(layer(h))


def _segment(layers):
    def run(h):
        for layer in layers:
            h = ad.tanh(layer(h))
        return h

    return run


def _grads(layers, x, every):
    """∂loss/∂(every parameter and x), with a checkpoint every ``every`` layers (0: none)."""
    for layer in layers:
        layer.zero_grad()
    x.grad = None
    h = x
    step = every or len(layers)
    for i in range(0, len(layers), step):
        run = _segment(layers[i : i + step])
        h = ad.checkpoint(run, h) if every else run(h)
    ((h - 0.5) ** 2).mean().backward()
    return [p.grad.data.copy() for layer in layers for p in layer.parameters()] + [x.grad.data.copy()]


@pytest.mark.parametrize("every", [1, 2, 3, 6])
def test_gradients_equal_those_of_the_plain_call(every):
    layers = _mlp()
    x = ad.Tensor(np.random.default_rng(0).normal(size=(5, 16)), requires_grad=True)
    plain, checkpointed = _grads(layers, x, 0), _grads(layers, x, every)
    assert len(plain) == 2 * 6 + 1
    for a, b in zip(plain, checkpointed):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=0)


def test_one_node_for_the_whole_call_and_its_graph_is_let_go():
    layers = _mlp(depth=3)
    x = ad.Tensor(np.ones((2, 16)), requires_grad=True)
    inner = []

    def run(h):
        out = _segment(layers)(h)
        inner.append(weakref.ref(out.grad_fn))
        return out

    y = ad.checkpoint(run, x)
    assert repr(y.grad_fn) == "<CheckpointBackward>" and y.grad_fn.name == "Checkpoint"
    assert inner[0]() is None  # the segment's own graph is gone once the call returns
    read = {id(t) for t in y.grad_fn.inputs}
    assert id(x) in read and all(id(p) in read for layer in layers for p in layer.parameters())
    assert "Checkpoint" in ad.draw_graph(y.sum()).source


def test_autograd_grad_captures_the_parameters_the_function_reads():
    (layer,) = _mlp(depth=1)
    x = ad.Tensor(np.random.default_rng(1).normal(size=(3, 16)), requires_grad=True)
    y = ad.checkpoint(_block(layer), x)
    gw, gx = ad.autograd.grad(y.sum(), [layer.weight, x])
    pw, px = ad.autograd.grad(_block(layer)(x).sum(), [layer.weight, x])
    np.testing.assert_allclose(gw.data, pw.data, rtol=1e-13)
    np.testing.assert_allclose(gx.data, px.data, rtol=1e-13)
    assert layer.weight.grad is None


def test_a_tensor_read_from_outside_is_not_counted_twice():
    """fn reads w directly and through u = 2w, computed before the call: w's gradient comes once each way."""
    w = ad.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    u = w * 2
    x = ad.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    ad.checkpoint(lambda x: (x * w * u).sum(), x).backward()
    np.testing.assert_allclose(w.grad.data, x.data * 4 * w.data)  # ∂(2 x w²)/∂w
    np.testing.assert_allclose(x.grad.data, 2 * w.data**2)


def test_several_arguments_keywords_tuples_and_non_tensor_outputs():
    a = ad.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ad.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    data = ad.Tensor(np.array([0.5, 0.5]))

    def fn(a, b, scale, *, shift):
        return a * b * scale + shift, ad.exp(a) + data, "a label", a

    s, e, label, same = ad.checkpoint(fn, a, b, 3.0, shift=data)
    assert label == "a label" and same is a  # what fn did not compute is returned as it is
    (s.sum() + e.sum() + same.sum()).backward()
    np.testing.assert_allclose(a.grad.data, 3 * b.data + np.exp(a.data) + 1)
    np.testing.assert_allclose(b.grad.data, 3 * a.data)


def test_second_derivatives_go_through_the_recomputation():
    (layer,) = _mlp(depth=1, width=3)
    x = ad.Tensor(np.random.default_rng(2).normal(size=(2, 3)), requires_grad=True)
    assert ad.gradgradcheck(lambda x, w: ad.checkpoint(lambda h: ad.tanh(h @ w.T), x), [x, layer.weight])
    f = lambda x: ad.checkpoint(lambda h: (ad.sin(h) * h).sum(), x)  # noqa: E731
    np.testing.assert_allclose(
        ad.hessian(f)(np.array([0.3, 1.1])).data, ad.hessian(lambda h: (ad.sin(h) * h).sum())([0.3, 1.1]).data
    )


def test_functions_and_hooks_inside_a_checkpoint():
    class Square(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x, x * 3

        @staticmethod
        def backward(ctx, g, g3):
            (x,) = ctx.saved_tensors
            return 2 * x * g + 3 * g3

    x = ad.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    sq, tr = ad.checkpoint(Square.apply, x)
    (sq + tr).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3)


def test_outside_grad_mode_it_is_the_plain_call():
    (layer,) = _mlp(depth=1)
    with ad.no_grad():
        y = ad.checkpoint(_block(layer), np.ones((1, 16)))
    assert not y.requires_grad and y.grad_fn is None


def test_an_input_changed_in_place_before_backward_is_an_error():
    x = ad.Tensor(np.ones(3), requires_grad=True)
    h = x * 1
    y = ad.checkpoint(lambda h: (h**2).sum(), h)
    with ad.no_grad():
        h += 1
    with pytest.raises(
        RuntimeError, match=r"saved tensor 0 of CheckpointBackward \(shape \(3,\), dtype float64\) is at version 1"
    ):
        y.backward()
    assert x.grad is None


def test_a_function_that_computes_something_else_the_second_time_is_an_error():
    calls = []

    def changing(x):
        calls.append(1)
        return x[: len(calls) + 1] * 2

    x = ad.Tensor(np.ones(4), requires_grad=True)
    y = ad.checkpoint(changing, x)
    with pytest.raises(
        RuntimeError,
        match=r"checkpoint: recomputing changing in backward gave outputs of shapes \(\(3,\),\), the forward pass "
        r"gave \(\(2,\),\): the checkpointed function must compute the same thing twice",
    ):
        y.sum().backward()


def test_backward_twice_needs_retain_graph():
    (layer,) = _mlp(depth=1)
    x = ad.Tensor(np.ones((1, 16)), requires_grad=True)
    y = ad.checkpoint(_block(layer), x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def _held_after_forward(layers, x, every):
    """Bytes the graph keeps alive between forward and backward (tracemalloc: numpy reports its arrays)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h, step = x, every or len(layers)
        for i in range(0, len(layers), step):
            run = _segment(layers[i : i + step])
            h = ad.checkpoint(run, h) if every else run(h)
        loss = (h**2).mean()
        held = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        return held
    finally:
        tracemalloc.stop()


def test_checkpointing_holds_less_memory_between_forward_and_backward():
    """Each tanh layer keeps two (64, 256) float64 arrays (its linear output and its tanh output):
    a checkpoint per layer keeps one, one per four layers one per four. The loss keeps one more
    (h², the output pow saves) unless h ** 2 waits to be read (``autodiff.deferred``: then its mean
    is ⟨h, h⟩ / n and h² is never made), and the nodes and tensors themselves take under half an array."""
    layers = _mlp(depth=8, width=256)
    x = ad.Tensor(np.random.default_rng(0).normal(size=(64, 256)))
    plain = _held_after_forward(layers, x, 0)
    per_layer = _held_after_forward(layers, x, 1)
    per_four = _held_after_forward(layers, x, 4)
    activation = 64 * 256 * 8
    loss = 0 if 64 * 256 >= deferred.FROM_ELEMENTS else 1
    assert (16 + loss) * activation <= plain < (16.5 + loss) * activation
    assert (8 + loss) * activation <= per_layer < (8.5 + loss) * activation
    assert (2 + loss) * activation <= per_four < (2.5 + loss) * activation
