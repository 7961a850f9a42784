"""autodiff.Function: differentiable operations written in user code (PyTorch's torch.autograd.Function)."""

import gc
import weakref

import numpy as np
import pytest

import autodiff as ad
from autodiff.function import once_differentiable


class LegendrePolynomial3(ad.Function):
    """P₃(x) = ½(5x³ − 3x), as in PyTorch's tutorial polynomial_custom_function.py."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


class Softsign(ad.Function):
    """f(z) = z / (1 + |z|), f'(z) = 1 / (1 + |z|)²: an activation other than the sigmoid (Nielsen, ch. 2)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z / (1 + abs(z))

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g / (1 + abs(z)) ** 2


class Exp(ad.Function):
    """eˣ, saving its output (the rule reads the output, as ops.Exp does)."""

    @staticmethod
    def forward(ctx, x):
        out = ad.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Scale(ad.Function):
    """x · factor for a Python number factor: backward returns None for it."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor, None


class SinCos(ad.Function):
    """Two outputs: (sin x, cos x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ad.sin(x), ad.cos(x)

    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * ad.cos(x) - gc * ad.sin(x)


def _returning(rule, n_args=1):
    """A Function z = 2x (plus ignored extra arguments) whose backward returns ``rule(g)``."""

    class Wrong(ad.Function):
        @staticmethod
        def forward(ctx, x, *rest):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return rule(g)

    return Wrong


def _x(*shape, seed=0):
    return ad.Tensor(np.random.default_rng(seed).uniform(-1, 1, shape or (5,)), requires_grad=True)


# -- the basics -----------------------------------------------------------------------------------------


def test_legendre_value_gradient_and_grad_fn_named_after_the_class():
    x = _x()
    y = LegendrePolynomial3.apply(x)
    np.testing.assert_allclose(y.data, 0.5 * (5 * x.data**3 - 3 * x.data))
    assert repr(y.grad_fn) == "<LegendrePolynomial3Backward>"
    assert y.grad_fn.name == "LegendrePolynomial3" and y.requires_grad and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.5 * (5 * x.data**2 - 1))


def test_gradcheck_and_gradgradcheck_pass_on_functions():
    x = _x(4)
    assert ad.gradcheck(LegendrePolynomial3.apply, [x])
    assert ad.gradgradcheck(LegendrePolynomial3.apply, [x])
    assert ad.gradgradcheck(Softsign.apply, [_x(3, 2)])
    assert ad.gradgradcheck(Exp.apply, [_x(3)])
    assert ad.gradgradcheck(lambda x: SinCos.apply(x), [_x(3)])


def test_a_backward_that_is_wrong_fails_gradcheck():
    class Wrong(LegendrePolynomial3):
        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2)

    with pytest.raises(ad.GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        ad.gradcheck(Wrong.apply, [_x(3)])


def test_nielsens_neuron_with_another_activation_matches_the_composed_ops():
    """a = f(w·x + b): backprop is BP1–BP4 with σ' replaced by f'."""
    rng = np.random.default_rng(1)
    w, b = ad.Tensor(rng.normal(size=3), requires_grad=True), ad.Tensor(0.3, requires_grad=True)
    x = rng.normal(size=(4, 3))
    a = Softsign.apply(x @ w + b)
    ((a - 1) ** 2).sum().backward()
    custom = (w.grad.data.copy(), b.grad.data.copy())
    w.grad = b.grad = None
    z = x @ w + b
    ((z / (1 + abs(z)) - 1) ** 2).sum().backward()
    np.testing.assert_allclose(custom[0], w.grad.data, rtol=1e-12)
    np.testing.assert_allclose(custom[1], b.grad.data, rtol=1e-12)
    delta = 2 * (a.data - 1) / (1 + np.abs(z.data)) ** 2  # δ = ∂C/∂a ⊙ f'(z)
    np.testing.assert_allclose(custom[0], x.T @ delta, rtol=1e-12)


def test_forward_runs_without_recording_and_sees_the_tensors():
    seen = {}

    class Probe(ad.Function):
        @staticmethod
        def forward(ctx, x):
            seen["x"], seen["grad_enabled"] = x, ad.is_grad_enabled()
            y = x * 2
            seen["recorded"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            seen["backward_grad_enabled"] = ad.is_grad_enabled()
            return g * 2

    x = _x()
    Probe.apply(x).sum().backward()
    assert seen["x"] is x and seen == dict(seen, grad_enabled=False, recorded=False, backward_grad_enabled=False)
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_no_recording_when_nothing_requires_grad_or_under_no_grad():
    x = _x()
    with ad.no_grad():
        y = LegendrePolynomial3.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    z = LegendrePolynomial3.apply(ad.Tensor(x.data))
    assert not z.requires_grad and z.grad_fn is None


def test_a_numpy_forward_gives_tensors():
    class NumpySquare(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.data**2  # an array: it becomes a Tensor

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.data * 2 * x.data  # an array is a gradient too (first order)

    x = _x()
    y = NumpySquare.apply(x)
    assert isinstance(y, ad.Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    with ad.no_grad():
        assert isinstance(NumpySquare.apply(x), ad.Tensor)


def test_drawings_show_the_function_by_name():
    x = _x()
    y = Scale.apply(LegendrePolynomial3.apply(x), 3.0)
    source = ad.draw_graph(y.sum()).source
    assert "LegendrePolynomial3" in source and "Scale" in source
    assert "factor=3.0" in source  # what forward stored on ctx is shown, like an op's parameters


# -- ctx ----------------------------------------------------------------------------------------------------


def test_needs_input_grad_has_one_entry_per_argument_of_forward():
    seen = []

    class Add3(ad.Function):
        @staticmethod
        def forward(ctx, a, b, n):
            seen.append(ctx.needs_input_grad)
            return a + b + n

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return (g if ctx.needs_input_grad[0] else None), (g if ctx.needs_input_grad[1] else None), None

    a, b = _x(), ad.Tensor(np.ones(5))
    Add3.apply(a, b, 1.0).sum().backward()
    assert seen == [(True, False, False)] * 2
    np.testing.assert_allclose(a.grad.data, 1.0)


def test_arbitrary_attributes_and_non_tensor_arguments():
    x = _x()
    y = Scale.apply(x, 4.0)
    assert y.grad_fn.factor == 4.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 4.0)


def test_keyword_arguments_are_bound_to_forwards_parameters():
    class Affine(ad.Function):
        @staticmethod
        def forward(ctx, x, scale=2.0, shift=0.0):
            ctx.scale = scale
            return x * scale + shift

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None, None  # one per parameter of forward, defaults included

    x = _x()
    y = Affine.apply(x, shift=1.0)
    np.testing.assert_allclose(y.data, x.data * 2 + 1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_setup_context_style():
    class Cube(ad.Function):
        @staticmethod
        def forward(x):
            return x**3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    x = _x()
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    assert ad.gradgradcheck(Cube.apply, [_x(3)])


def test_saved_input_changed_in_place_is_an_error_at_backward():
    x = _x()
    h = x * 1
    y = LegendrePolynomial3.apply(h)
    with ad.no_grad():
        h += 1
    with pytest.raises(
        RuntimeError,
        match=r"modified by an inplace operation: saved tensor 0 of LegendrePolynomial3Backward \(shape \(5,\), "
        r"dtype float64\) is at version 1; expected version 0 instead",
    ):
        y.sum().backward()
    assert x.grad is None


def test_saved_output_changed_in_place_is_an_error_at_backward():
    x = _x()
    y = Exp.apply(x)
    with ad.no_grad():
        y *= 2
    with pytest.raises(RuntimeError, match=r"saved tensor 0 of ExpBackward .* is at version 1; expected version 0"):
        y.sum().backward()


def test_saving_something_else_than_a_tensor_is_an_error():
    class Bad(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None, 3)
            return x * 1

    with pytest.raises(
        TypeError, match="save_for_backward can only save tensors \\(or None\\), but argument 2 is of type int"
    ):
        Bad.apply(_x())


def test_saved_tensors_are_freed_by_backward_and_the_graph_has_no_cycles():
    x = _x()
    y = Exp.apply(x)  # saves its output: the node must not point back to it
    node = weakref.ref(y.grad_fn)
    y.sum().backward(retain_graph=True)
    (out,) = y.grad_fn.saved_tensors
    np.testing.assert_allclose(out.data, y.data)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match=r"access saved tensors after they have already been freed\): ExpBackward"):
        y.grad_fn.saved_tensors  # noqa: B018
    collecting = gc.isenabled()
    gc.disable()
    try:
        del y, out
        assert node() is None  # freed by reference counting alone
    finally:
        if collecting:
            gc.enable()


def test_an_input_returned_as_output_becomes_a_new_tensor():
    class Identity(ad.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3  # a marker, to see the gradient went through the node

    x = _x()
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None and np.shares_memory(y.data, x.data)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3.0)


# -- what backward returns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, n_args, message",
    [
        (
            lambda g: g[:2],
            0,
            r"Function WrongBackward returned an invalid gradient at index 0 - got \[2\] but expected shape "
            r"compatible with \[5\]",
        ),
        (lambda g: "a string", 0, r"at index 0 - expected an array of shape \[5\], got str"),
        (lambda g: 1.5, 0, r"at index 0 - expected an array of shape \[5\], got float"),
        (
            lambda g: g.astype(complex),
            0,
            r"at index 0 - expected real numbers \(shape \[5\], dtype float64\), got dtype complex128",
        ),
        (
            lambda g: (g, g),
            0,
            r"Function WrongBackward returned an incorrect number of gradients \(expected 1, got 2\)",
        ),
        (lambda g: g, 1, r"returned an incorrect number of gradients \(expected 2, got 1\)"),
        (
            lambda g: (g, g),
            1,
            r"Function WrongBackward returned a gradient at index 1, but argument 1 of forward is not a Tensor "
            r"\(int\): return None for it",
        ),
    ],
)
def test_what_backward_returns_is_checked_and_named(rule, n_args, message):
    x = _x()
    with pytest.raises((RuntimeError, TypeError), match=message):
        _returning(rule).apply(x, *range(n_args)).sum().backward()
    assert x.grad is None


def test_the_index_is_the_argument_of_forward():
    class Two(ad.Function):
        @staticmethod
        def forward(ctx, n, a, b):
            return a * b * n

        @staticmethod
        def backward(ctx, g):
            return None, g, np.ones(4)

    a, b = _x(3), _x(3, seed=1)
    with pytest.raises(RuntimeError, match=r"at index 2 - got \[4\] but expected shape compatible with \[3\]"):
        Two.apply(2, a, b).sum().backward()


def test_nothing_is_accumulated_when_backward_fails():
    x = _x()
    y = _returning(lambda g: np.ones(7)).apply(x * 2)
    with pytest.raises(RuntimeError, match="invalid gradient"):
        (y.sum() + (x * 3).sum()).backward()
    assert x.grad is None

    class Raises(LegendrePolynomial3):
        @staticmethod
        def backward(ctx, g):
            raise ValueError("my backward failed")

    with pytest.raises(ValueError, match="my backward failed"):
        (Raises.apply(x).sum() + (x * 3).sum()).backward()
    assert x.grad is None


def test_a_gradient_of_a_broadcast_shape_is_summed_back():
    class AddBias(ad.Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            return g, g  # g has x's shape (4, 3); b is (3,)

    x, b = _x(4, 3), _x(3, seed=1)
    AddBias.apply(x, b).sum().backward()
    np.testing.assert_allclose(b.grad.data, 4.0)
    assert b.grad.shape == (3,)


# -- several outputs, non-differentiable outputs -----------------------------------------------------


def test_several_outputs_each_get_their_gradient():
    x = _x()
    s, c = SinCos.apply(x)
    assert repr(s.grad_fn) == repr(c.grad_fn) == "<SinCosBackward>"
    (2 * s + 3 * c).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.cos(x.data) - 3 * np.sin(x.data))


def test_an_output_without_gradient_gets_zeros_or_none():
    seen = []

    class Record(SinCos):
        @staticmethod
        def backward(ctx, gs, gc):
            seen.append((gs, gc))
            return SinCos.backward(ctx, gs, gc)

    x = _x()
    s, c = Record.apply(x)
    s.sum().backward()
    np.testing.assert_allclose(seen[0][1].data, np.zeros(5))
    np.testing.assert_allclose(x.grad.data, np.cos(x.data))

    class Lazy(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga, gb))
            return ga * 2 if gb is None else ga * 2 + gb * 3

    x.grad = None
    a, b = Lazy.apply(x)
    a.sum().backward()
    assert seen[1][1] is None
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_several_outputs_under_autograd_grad_retain_grad_and_create_graph():
    x = _x(3)
    s, c = SinCos.apply(x)
    (g,) = ad.autograd.grad((s * c).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, np.cos(2 * x.data), rtol=1e-12)  # d/dx ½ sin 2x
    (h,) = ad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, -2 * np.sin(2 * x.data), rtol=1e-12)
    s, c = SinCos.apply(x)
    c.retain_grad()
    (s * c).sum().backward()
    np.testing.assert_allclose(c.grad.data, s.data)


def test_mark_non_differentiable():
    class SortWithIndex(ad.Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.data)
            values, index = ad.Tensor(x.data[order]), ad.Tensor(order.astype(float))
            ctx.mark_non_differentiable(index)
            ctx.order = order
            return values, index

        @staticmethod
        def backward(ctx, g, g_index):
            assert not g_index.data.any()  # zeros for the non-differentiable output
            gx = np.zeros_like(g.data)
            gx[ctx.order] = g.data
            return gx

    x = _x()
    values, index = SortWithIndex.apply(x)
    assert values.requires_grad and not index.requires_grad
    assert repr(values.grad_fn) == "<SortWithIndexBackward>"  # one differentiable output: the node itself
    (values * np.arange(5.0)).sum().backward()
    np.testing.assert_allclose(x.grad.data[np.argsort(x.data)], np.arange(5.0))


def test_integer_outputs_are_not_differentiable():
    class ArgmaxAndMax(ad.Function):
        @staticmethod
        def forward(ctx, x):
            i = int(np.argmax(x.data))
            ctx.i, ctx.n = i, x.shape[0]
            return x.max(), ad.Tensor(i)

        @staticmethod
        def backward(ctx, g, g_i):
            gx = np.zeros(ctx.n)
            gx[ctx.i] = g.item()
            return gx

    x = _x()
    m, i = ArgmaxAndMax.apply(x)
    assert m.requires_grad and not i.requires_grad and i.dtype.kind == "i"
    m.backward()
    assert x.grad.data[int(i.item())] == 1.0 and x.grad.data.sum() == 1.0


# -- double backward ------------------------------------------------------------------------------------


def test_once_differentiable_works_once_and_refuses_create_graph():
    class NumpyCube(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.numpy() * 3 * x.numpy() ** 2

    x = _x()
    NumpyCube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    with pytest.raises(
        RuntimeError,
        match="trying to differentiate twice a function that was marked with @once_differentiable: "
        r"NumpyCube.backward cannot be recorded for create_graph=True",
    ):
        ad.autograd.grad(NumpyCube.apply(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="marked with @once_differentiable"):
        ad.gradgradcheck(NumpyCube.apply, [x])


def test_a_numpy_gradient_under_create_graph_is_refused():
    class NumpyCube(LegendrePolynomial3):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.data * 3 * x.data**2  # .data: past the guard of .numpy() and np.asarray

    x = _x()
    with pytest.raises(
        RuntimeError,
        match="Function NumpyCubeBackward returned a numpy array as the gradient at index 0 under create_graph=True",
    ):
        ad.autograd.grad(NumpyCube.apply(x).sum(), x, create_graph=True)


def test_hessian_through_a_function():
    h = ad.hessian(lambda x: LegendrePolynomial3.apply(x).sum())(np.array([0.5, -0.2]))
    np.testing.assert_allclose(h.data, np.diag(15 * np.array([0.5, -0.2])), rtol=1e-12)


def test_anomaly_detection_names_the_function():
    class NanBackward(LegendrePolynomial3):
        @staticmethod
        def backward(ctx, g):
            return g.data * np.nan  # an array: the ops inside backward are checked by anomaly mode too

    with ad.detect_anomaly():
        y = NanBackward.apply(_x())
        with pytest.raises(ad.AnomalyError, match=r"the derivative rule of NanBackward \(<NanBackwardBackward>\)"):
            y.sum().backward()


# -- the oracle -----------------------------------------------------------------------------------------


def test_the_same_function_in_pytorch_gives_the_same_gradients():
    torch = pytest.importorskip("torch")

    class TorchLegendre(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 1.5 * (5 * x**2 - 1)

    data = np.random.default_rng(3).uniform(-1, 1, 6)
    xt = torch.tensor(data, requires_grad=True)
    (gt,) = torch.autograd.grad(TorchLegendre.apply(xt).pow(2).sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    x = ad.Tensor(data, requires_grad=True)
    (g,) = ad.autograd.grad((LegendrePolynomial3.apply(x) ** 2).sum(), x, create_graph=True)
    (h,) = ad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(h.data, ht.numpy(), rtol=1e-12)
