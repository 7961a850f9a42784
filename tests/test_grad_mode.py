"""no_grad, enable_grad, set_grad_enabled: what is recorded and what is kept alive."""

import weakref

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor


def test_no_grad_records_nothing_and_keeps_no_input_alive():
    x = Tensor(np.ones(3), requires_grad=True)
    with ad.no_grad():
        h = x * 2
        y = h.exp().sum()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    ref = weakref.ref(h)
    del h
    assert ref() is None  # nothing in y points back at h


def test_no_grad_as_decorator_and_nesting():
    x = Tensor(1.0, requires_grad=True)

    @ad.no_grad()
    def predict(t):
        return t * 2

    assert not predict(x).requires_grad and ad.is_grad_enabled()
    with ad.no_grad():
        with ad.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
        nested = ad.no_grad()
        with nested:
            with nested:  # the same object entered twice restores correctly
                pass
            assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()


def test_modes_are_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with ad.no_grad():
            1 / 0
    assert ad.is_grad_enabled()


def test_set_grad_enabled_as_function_and_context_manager():
    x = Tensor(1.0, requires_grad=True)
    ad.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ad.set_grad_enabled(True)
    with ad.set_grad_enabled(False):
        assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()

    @ad.set_grad_enabled(False)
    def f():
        return ad.is_grad_enabled()

    assert ad.is_grad_enabled() and f() is False and ad.is_grad_enabled()


def test_no_grad_inference_after_training_step():
    w = Tensor([[1.0, -1.0]], requires_grad=True)
    x = Tensor([[2.0], [3.0]])
    loss = (w @ x).sum()
    loss.backward()
    with ad.no_grad():
        w -= 0.5 * w.grad
        pred = w @ x
    assert pred.item() == pytest.approx((1 - 1.0) * 2 + (-1 - 1.5) * 3)
    assert not pred.requires_grad


def test_scope_labels_recorded_ops_with_a_path():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with ad.scope("model"):
        with ad.scope("layers.0"):
            h = x * 2
        y = h.sum()
    z = y * 1
    assert h.grad_fn.scope_names == ("model", "layers.0")
    assert y.grad_fn.scope_names == ("model",)
    assert h.grad_fn.scope[0] == y.grad_fn.scope[0]  # the same call of "model"
    assert z.grad_fn.scope == ()
    with ad.scope("model"):
        again = x * 3
    assert again.grad_fn.scope_names == ("model",) and again.grad_fn.scope != y.grad_fn.scope
    with pytest.raises(ZeroDivisionError):
        with ad.scope("broken"):
            1 / 0
    assert (x * 1).grad_fn.scope == ()


def test_graph_can_be_walked_through_the_public_interface():
    x = Tensor([1.0, -2.0], requires_grad=True, name="x")
    y = (x * 3).max(axis=0)
    node = y.grad_fn
    assert node.name == "max" and node.params == {"axis": 0, "keepdims": False, "input_shape": (2,)}
    (mul_out,) = node.input_tensors
    assert mul_out.grad_fn.name == "mul"
    assert mul_out.grad_fn.input_tensors[0] is x
    assert mul_out.grad_fn.saved[0] is x.data and not node.released
    y.backward()
    assert node.released and mul_out.grad_fn.saved is None
