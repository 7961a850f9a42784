"""Tensor.register_hook (gradient hooks) and nn.Module forward hooks."""

import copy
import gc
import pickle
import weakref

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import hooks


@pytest.fixture(autouse=True)
def _no_hooks_left():
    yield
    gc.collect()
    assert not hooks.registry, "a test left hooks registered"


def _x(*shape, seed=0):
    return ad.Tensor(np.random.default_rng(seed).uniform(-1, 1, shape or (4,)), requires_grad=True)


# -- leaves -------------------------------------------------------------------------------------------


def test_a_leaf_hook_sees_the_summed_gradient_before_it_is_accumulated():
    x = _x()
    x.grad = np.ones(4)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    (x * 2 + x * 3).sum().backward()
    assert len(seen) == 1  # once per backward, with the sum over both paths
    np.testing.assert_allclose(seen[0], 5.0)
    np.testing.assert_allclose(x.grad.data, 6.0)  # accumulated after the hook
    handle.remove()


def test_a_returned_tensor_replaces_the_gradient():
    x = _x()
    handle = x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 20.0)
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_hooks_run_in_registration_order_each_on_what_the_previous_returned():
    x = _x()
    seen = []
    first = x.register_hook(lambda g: seen.append(("first", g.data[0])) or g * 2)
    second = x.register_hook(lambda g: seen.append(("second", g.data[0])))
    third = x.register_hook(lambda g: g + 1)
    (x * 3).sum().backward()
    assert seen == [("first", 3.0), ("second", 6.0)]
    np.testing.assert_allclose(x.grad.data, 7.0)
    for handle in (first, second, third):
        handle.remove()


def test_remove_is_idempotent_and_handles_are_context_managers():
    x = _x()
    calls = []
    with x.register_hook(lambda g: calls.append(1)) as handle:
        (x * 1).sum().backward()
    handle.remove()
    (x * 1).sum().backward()
    assert calls == [1] and "removed" in repr(handle)
    assert not hooks.registry  # removing the last hook of a tensor empties the registry: backward pays nothing


def test_hooks_go_away_with_their_tensor():
    x = _x()
    x.register_hook(lambda g: None)
    assert hooks.registry
    del x
    assert not hooks.registry


def test_a_hook_that_refers_to_its_own_tensor_does_not_keep_it_alive():
    """``h``'s hook reading ``h`` is a reference cycle, which the garbage collector frees (as PyTorch's)."""

    def tensors():
        h = _x() * 2
        h.register_hook(lambda g: print(h.shape))
        v = ad.Value(1.0) * 2 + 1  # a chain of Values is off the collector's list until a hook may close a cycle
        v.register_hook(lambda g: print(v))
        return weakref.ref(h), weakref.ref(v)

    refs = tensors()
    assert hooks.registry
    gc.collect()
    assert [r() for r in refs] == [None, None] and not hooks.registry


def test_a_handle_kept_does_not_keep_the_hooks_of_a_dead_tensor_registered():
    x = _x()
    handle = x.register_hook(lambda g: None)
    del x
    assert not hooks.registry
    handle.remove()


def test_a_tensor_gets_its_hooks_back_after_removing_them_all_and_copies_have_none():
    x = _x()
    calls = []
    x.register_hook(lambda g: calls.append("first")).remove()
    x.register_hook(lambda g: calls.append("again"))
    copy.deepcopy(x).sum().backward()
    pickle.loads(pickle.dumps(x)).sum().backward()
    assert calls == []
    x.sum().backward()
    assert calls == ["again"]


def test_registering_on_a_tensor_that_does_not_require_grad_is_an_error():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        ad.Tensor([1.0]).register_hook(print)
    with pytest.raises(TypeError, match="register_hook needs a function of the gradient, got int"):
        _x().register_hook(3)


# -- intermediates -------------------------------------------------------------------------------------


def test_an_intermediate_hook_sees_the_complete_gradient_and_its_replacement_flows_on():
    x = _x()
    h = x * 2
    seen = []

    def double(g):
        seen.append(g.data.copy())
        return g * 2

    handle = h.register_hook(double)
    (h * 3 + h * 4).sum().backward()
    np.testing.assert_allclose(seen, [np.full(4, 7.0)])  # both paths summed, seen once
    np.testing.assert_allclose(x.grad.data, 7.0 * 2 * 2)  # the replacement reached x
    handle.remove()


def test_hook_on_the_root():
    x = _x()
    y = (x * x).sum()
    handle = y.register_hook(lambda g: g * 3)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)
    handle.remove()


def test_retained_and_captured_gradients_are_after_the_hooks_as_in_pytorch():
    x = _x()
    h = x * 2
    handle = h.register_hook(lambda g: g * 10)
    leaf = x.register_hook(lambda g: g + 1000)
    y = (h * h).sum()
    (gh,) = ad.autograd.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.data, 10 * 2 * h.data)
    (gx,) = ad.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.data, 10 * 2 * h.data * 2 + 1000)
    h.retain_grad()
    y.backward()
    np.testing.assert_allclose(h.grad.data, gh.data)
    np.testing.assert_allclose(x.grad.data, gx.data)
    handle.remove()
    leaf.remove()


def test_a_hook_registered_before_an_inplace_change_sees_the_old_values_gradient():
    """PyTorch's rule: the hook belongs to the value the tensor had when it was registered."""
    x = _x()
    h = x * 2
    seen = {}
    before = h.register_hook(lambda g: seen.setdefault("before", g.data.copy()))
    h *= 3
    after = h.register_hook(lambda g: seen.setdefault("after", g.data.copy()))
    (h * h).sum().backward()
    np.testing.assert_allclose(seen["after"], 2 * h.data)  # ∂/∂h_new of h_new²
    np.testing.assert_allclose(seen["before"], 3 * 2 * h.data)  # through h_new = 3 h_old
    before.remove()
    after.remove()


def test_the_gradient_a_hook_gets_is_read_only():
    x = _x()
    h = x * 2

    def in_place(g):
        g += 1

    handle = h.register_hook(in_place)
    with pytest.raises(ValueError, match="read-only"):
        (h * 3).sum().backward()
    assert x.grad is None
    handle.remove()


@pytest.mark.parametrize(
    "returns, error, message",
    [
        (
            lambda g: ad.ones(3),
            RuntimeError,
            r"hook 'bad' has changed the size of value: the gradient has shape \(4,\), ",
        ),
        (lambda g: 2.0, TypeError, r"hook 'bad' returned float: a hook returns None \(keep the gradient\) or a Tensor"),
        (lambda g: np.array(["a"] * 4), TypeError, r"hook 'bad' returned dtype <U1: gradients are real numbers"),
    ],
)
def test_a_wrong_replacement_is_an_error_and_nothing_is_accumulated(returns, error, message):
    for leaf in (True, False):
        x = _x()
        h = x if leaf else x * 2

        def bad(g):
            return returns(g)

        handle = h.register_hook(bad)
        with pytest.raises(error, match=message):
            (h * 3).sum().backward()
        assert x.grad is None
        handle.remove()


def test_a_replacement_of_another_dtype_is_cast():
    x = ad.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    handle = x.register_hook(lambda g: np.full(3, 2.0))
    (x * 1).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 2.0)
    handle.remove()


def test_hooks_under_create_graph_are_differentiated_through():
    x = _x()
    h = x**2
    handle = h.register_hook(lambda g: g * h)  # a differentiable replacement
    (g,) = ad.autograd.grad(h.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 2 * x.data**3)  # (1 · x²) · 2x
    handle.remove()  # (it would run again: the second backward passes through h too)
    (gg,) = ad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, 6 * x.data**2)


def test_gradients_of_each_layer_shrink_in_a_deep_sigmoid_net():
    """Nielsen, chapter 5: ‖∂C/∂z‖ per layer, watched with hooks, falls towards the input."""
    rng = np.random.default_rng(0)
    norms, handles = {}, []
    a = ad.Tensor(rng.normal(size=(16, 30)))
    for layer in range(6):
        w = ad.Tensor(rng.normal(size=(30, 30)), requires_grad=True)
        z = a @ w.T
        handles.append(z.register_hook(lambda g, layer=layer: norms.__setitem__(layer, np.linalg.norm(g.data))))
        a = ad.sigmoid(z)
    ((a - 1) ** 2).mean().backward()
    assert all(norms[layer] < norms[layer + 1] for layer in range(5)) and norms[0] < norms[5] / 3
    for handle in handles:
        handle.remove()


def test_hooks_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(4).normal(size=(3, 4))
    w_data = np.random.default_rng(5).normal(size=(4, 2))

    def run(lib, tensor, clip):
        x = tensor(data, requires_grad=True)
        w = tensor(w_data, requires_grad=True)
        h = lib.tanh(x @ w)
        seen = []
        h.register_hook(lambda g: seen.append(np.array(g.detach().numpy() if hasattr(g, "detach") else g.data)))
        h.register_hook(lambda g: clip(g))
        w.register_hook(lambda g: g * 0.5)
        (h**2).sum().backward()
        return seen[0], np.array(x.grad.numpy() if hasattr(x.grad, "detach") else x.grad.data), w.grad

    seen, gx, gw = run(ad, ad.Tensor, lambda g: g.clip(-0.3, 0.3))
    seen_t, gx_t, gw_t = run(
        torch, lambda d, requires_grad: torch.tensor(d, requires_grad=True), lambda g: g.clamp(-0.3, 0.3)
    )
    np.testing.assert_allclose(seen, seen_t, rtol=1e-12)
    np.testing.assert_allclose(gx, gx_t, rtol=1e-12)
    np.testing.assert_allclose(gw.data, gw_t.numpy(), rtol=1e-12)


def test_hooks_inside_a_checkpoint_run_once():
    w = _x(4, 4)
    x = _x(2, 4, seed=1)
    calls = {"w": 0, "x": 0}
    hw = w.register_hook(lambda g: calls.__setitem__("w", calls["w"] + 1))
    hx = x.register_hook(lambda g: calls.__setitem__("x", calls["x"] + 1))
    h = x * 1
    hh = h.register_hook(lambda g: g * 2)
    ad.checkpoint(lambda a: ad.tanh(a @ w), h).sum().backward()
    assert calls == {"w": 1, "x": 1}
    plain = x.grad.data.copy()
    x.grad = None
    hh.remove()
    h = x * 1
    hh = h.register_hook(lambda g: g * 2)
    ad.tanh(h @ w).sum().backward()
    np.testing.assert_allclose(plain, x.grad.data)  # the hook on h doubled both equally
    for handle in (hw, hx, hh):
        handle.remove()


def test_hooks_on_the_outputs_of_a_function():
    class SinCos(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ad.sin(x), ad.cos(x)

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * ad.cos(x) - gc * ad.sin(x)

    x = _x()
    s, c = SinCos.apply(x)
    handle = c.register_hook(lambda g: g * 0)
    (s + c).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(x.data))
    handle.remove()


# -- module hooks ----------------------------------------------------------------------------------------


def test_forward_hooks_capture_activations_and_are_removed():
    nn.manual_seed(0)
    model = nn.MLP(3, [5, 5, 2])
    captured = {}
    handles = [
        layer.register_forward_hook(lambda m, args, out, name=name: captured.__setitem__(name, out))
        for name, layer in model.named_modules()
        if isinstance(layer, nn.Linear)
    ]
    x = np.random.default_rng(0).normal(size=(4, 3))
    out = model(x)
    assert len(captured) == 3 and captured[max(captured)] is out
    for handle in handles:
        handle.remove()
    captured.clear()
    model(x)
    assert captured == {}


def test_a_forward_hook_can_replace_the_output_and_a_pre_hook_the_arguments():
    nn.manual_seed(0)
    layer = nn.Linear(3, 2)
    x = ad.Tensor(np.ones((1, 3)))
    plain = layer(x).data.copy()
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 2,))
    post = layer.register_forward_hook(lambda m, args, out: calls.append("post") or out * 10)
    out = layer(x)
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.data, (2 * (plain - layer.bias.data) + layer.bias.data) * 10)
    pre.remove()
    single = layer.register_forward_pre_hook(lambda m, args: args[0] * 0)  # one value: the only argument
    np.testing.assert_allclose(layer(x).data, layer.bias.data[None] * 10)
    single.remove()
    post.remove()
    np.testing.assert_allclose(layer(x).data, plain)


def test_forward_hooks_see_what_the_previous_one_returned_and_the_output_is_differentiable():
    nn.manual_seed(0)
    layer = nn.Linear(2, 2)
    a = layer.register_forward_hook(lambda m, args, out: out * 2)
    b = layer.register_forward_hook(lambda m, args, out: out + 1)
    layer(np.ones((1, 2))).sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, 2.0)
    a.remove()
    b.remove()


def test_a_module_hook_must_be_callable():
    with pytest.raises(TypeError, match="a forward hook must be callable, got str"):
        nn.Linear(2, 2).register_forward_hook("print")
