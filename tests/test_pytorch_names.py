"""PyTorch's spellings next to numpy's: the names PyTorch code uses, and the arguments numpy and PyTorch spell
differently (dim/keepdim, p/ord, shapes as varargs) or read differently (norm, var, max with dim).

Where PyTorch is installed it is the oracle; the values are also checked against numpy everywhere.
"""

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor


def _leaf(shape, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape), requires_grad=True)


# == shapes: varargs or a tuple ====================================================================


@pytest.mark.parametrize("make, fill", [(ad.zeros, 0.0), (ad.ones, 1.0)])
def test_creation_takes_the_shape_as_varargs_or_a_tuple(make, fill):
    for shape_args, shape in [((2, 3), (2, 3)), (((2, 3),), (2, 3)), (([2, 3],), (2, 3)), ((4,), (4,)), ((), ())]:
        t = make(*shape_args)
        assert t.shape == shape and t.dtype == np.float64 and np.all(t.data == fill)
    assert make(2, 2, dtype=np.float32, requires_grad=True).requires_grad
    assert make(np.int64(3)).shape == (3,)


def test_a_dtype_in_the_place_of_the_shape_is_refused_with_a_hint():
    with pytest.raises(
        TypeError,
        match=r"zeros: the shape is ints, as zeros\(2, 3\) or zeros\(\(2, 3\)\); got <class 'numpy.float32'>.*give the dtype by keyword",
    ):
        ad.zeros(2, np.float32)
    with pytest.raises(TypeError, match=r"ones: the shape is ints, as ones\(2, 3\) or ones\(\(2, 3\)\); got 2.5"):
        ad.ones(2.5)


# == dim / keepdim: PyTorch's names for axis / keepdims ===========================================

REDUCTIONS = ["sum", "mean", "prod", "logsumexp", "argmax", "argmin", "norm"]


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_take_dim_and_keepdim_as_axis_and_keepdims(name):
    x = _leaf((2, 3, 4))
    fn = getattr(ad, name)
    np.testing.assert_array_equal(fn(x, dim=1).data, fn(x, axis=1).data)
    np.testing.assert_array_equal(fn(x, dim=-1, keepdim=True).data, fn(x, axis=-1, keepdims=True).data)
    np.testing.assert_array_equal(getattr(x, name)(dim=0).data, fn(x, axis=0).data)
    with pytest.raises(
        TypeError, match=rf"{name}: got both axis= and dim= \(dim is PyTorch's name for numpy's axis\); give one"
    ):
        fn(x, axis=0, dim=1)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "cumsum", "squeeze"])
def test_functions_along_one_axis_take_dim(name):
    x = _leaf((2, 1, 3))
    fn = getattr(ad, name)
    np.testing.assert_array_equal(fn(x, dim=1).data, fn(x, axis=1).data)


def test_joining_takes_dim_and_cat_is_concatenate():
    x, y = _leaf((2, 3)), _leaf((1, 3), 1)
    np.testing.assert_array_equal(ad.cat([x, y]).data, np.concatenate([x.data, y.data]))
    np.testing.assert_array_equal(ad.cat([x, x], dim=1).data, ad.concatenate([x, x], axis=1).data)
    np.testing.assert_array_equal(ad.cat([x, x], axis=1).data, ad.concatenate([x, x], dim=1).data)
    np.testing.assert_array_equal(ad.stack([x, x], dim=2).data, np.stack([x.data, x.data], axis=2))
    with pytest.raises(TypeError, match="cat: got both axis= and dim="):
        ad.cat([x, x], 1, axis=0)
    assert ad.gradcheck(lambda a, b: ad.cat([a, b, a], dim=0), [x, y])


def test_keepdims_and_keepdim_together_are_refused():
    with pytest.raises(TypeError, match=r"sum: got both keepdims= and keepdim= \(PyTorch's name for it\); give one"):
        ad.sum(_leaf((2, 3)), axis=0, keepdims=True, keepdim=True)


def test_max_and_min_with_dim_give_pytorchs_values_and_indices():
    x = _leaf((3, 4))
    for name, pick in [("max", np.argmax), ("min", np.argmin)]:
        result = getattr(x, name)(dim=1)
        values, indices = result
        assert result.values is values and result.indices is indices
        np.testing.assert_array_equal(values.data, getattr(np, name)(x.data, axis=1))
        np.testing.assert_array_equal(indices.data, pick(x.data, axis=1))
        assert values.requires_grad and not indices.requires_grad
        kept = getattr(ad, name)(x, dim=0, keepdim=True)
        assert kept.values.shape == (1, 4) and kept.indices.shape == (1, 4)
        assert isinstance(getattr(x, name)(axis=1), Tensor)  # numpy's spelling: the values only
    assert ad.gradcheck(lambda t: t.max(dim=1).values, [x])
    with pytest.raises(TypeError, match=r"max: dim= must be one int"):
        x.max(dim=(0, 1))


def test_var_and_std_with_dim_need_the_divisor_said():
    x = _leaf((3, 4))
    for name in ("var", "std"):
        fn = getattr(ad, name)
        with pytest.raises(
            TypeError,
            match=rf"{name}: with PyTorch's dim= say which divisor you mean: PyTorch's {name} divides by n − 1 \(correction=1\)",
        ):
            fn(x, dim=0)
        reference = getattr(np, name)
        for kwargs, ddof in [
            ({"unbiased": True}, 1),
            ({"unbiased": False}, 0),
            ({"correction": 1}, 1),
            ({"ddof": 0}, 0),
        ]:
            np.testing.assert_allclose(fn(x, dim=0, **kwargs).data, reference(x.data, axis=0, ddof=ddof))
        np.testing.assert_allclose(fn(x, correction=1).data, reference(x.data, ddof=1))  # numpy 2's name too
        with pytest.raises(TypeError, match=rf"{name}: give one of ddof=, correction= and unbiased="):
            fn(x, ddof=1, correction=1)
    assert ad.gradcheck(lambda t: t.std(dim=1, unbiased=True, keepdim=True), [x])


def test_reductions_with_dim_match_pytorch():
    torch = pytest.importorskip("torch")
    x = _leaf((3, 4, 2))
    t = torch.tensor(x.data)
    np.testing.assert_allclose(x.sum(dim=(0, 2)).data, t.sum(dim=(0, 2)).numpy())
    np.testing.assert_allclose(x.mean(dim=1, keepdim=True).data, t.mean(dim=1, keepdim=True).numpy())
    np.testing.assert_allclose(x.var(dim=1, correction=1).data, t.var(dim=1).numpy())
    np.testing.assert_allclose(x.std(dim=0, unbiased=False).data, t.std(dim=0, unbiased=False).numpy())
    np.testing.assert_allclose(x.prod(dim=2).data, t.prod(dim=2).numpy())
    np.testing.assert_allclose(x.cumsum(dim=1).data, t.cumsum(dim=1).numpy())
    np.testing.assert_allclose(x.logsumexp(dim=0).data, t.logsumexp(dim=0).numpy())
    ours, theirs = x.max(dim=1), t.max(dim=1)
    np.testing.assert_allclose(ours.values.data, theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())


# == norm: numpy's ord, PyTorch's p, and the one ambiguity refused =====================================


def test_norm_reads_ord_as_numpy_and_p_as_pytorch():
    x = _leaf((3, 4))
    np.testing.assert_allclose(ad.norm(x).data, np.linalg.norm(x.data))
    np.testing.assert_allclose(ad.norm(x, 1, axis=(0, 1)).data, np.linalg.norm(x.data, 1))  # largest column sum
    np.testing.assert_allclose(ad.norm(x, p=1).data, np.abs(x.data).sum())  # PyTorch: every element
    np.testing.assert_allclose(x.norm(p=3, dim=1).data, (np.abs(x.data) ** 3).sum(axis=1) ** (1 / 3))
    np.testing.assert_allclose(x.norm(2, dim=1).data, np.linalg.norm(x.data, axis=1))  # dim=: PyTorch's reading
    np.testing.assert_allclose(ad.norm(x, np.inf, axis=1).data, np.abs(x.data).max(axis=1))
    np.testing.assert_allclose(ad.norm(x, 0, axis=0).data, np.count_nonzero(x.data, axis=0))
    with pytest.raises(
        TypeError,
        match=r"norm: ord=1 of a 2-d tensor is a matrix norm in numpy and the vector norm of all the elements in "
        r"PyTorch: write norm\(x, 1, axis=\(0, 1\)\) for numpy's, norm\(x, p=1\) for PyTorch's",
    ):
        x.norm(1)
    with pytest.raises(TypeError, match=r"norm: got both ord= \(numpy's name\) and p= \(PyTorch's\); give one"):
        ad.norm(x, 2, p=2)
    with pytest.raises(NotImplementedError, match="norm: ord='nuc' of a matrix needs its singular values"):
        ad.norm(x, "nuc")
    with pytest.raises(ValueError, match="norm: invalid norm order 'fro' for vectors"):
        ad.norm(x, "fro", axis=0)


def test_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = _leaf((3, 4))
    t = torch.tensor(x.data, requires_grad=True)
    for ours, theirs in [
        (x.norm(), t.norm()),
        (x.norm(p=1), t.norm(p=1)),
        (x.norm(p=3, dim=0, keepdim=True), t.norm(p=3, dim=0, keepdim=True)),
        (x.norm(p="fro", dim=(0, 1)), t.norm(p="fro", dim=(0, 1))),
        (x.norm(p=math.inf, dim=1), t.norm(p=math.inf, dim=1)),
    ]:
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12)
        x.grad, t.grad = None, None


def test_the_gradient_of_a_norm_at_zero_is_zero_as_in_pytorch():
    for norm in (lambda z: ad.norm(z), lambda z: z.norm(dim=1), lambda z: ad.norm(z, 3, axis=0)):
        z = Tensor(np.zeros((2, 3)), requires_grad=True)
        norm(z).sum().backward()
        np.testing.assert_array_equal(z.grad.data, np.zeros((2, 3)))


# == the names PyTorch code uses =====================================================================


def test_matmul_and_the_catalogues_functions_take_pytorchs_parameter_names():
    a, b = _leaf((2, 3)), _leaf((3, 2), 1)
    np.testing.assert_array_equal(ad.matmul(input=a, other=b).data, a.data @ b.data)
    np.testing.assert_array_equal(ad.exp(input=a).data, np.exp(a.data))
    np.testing.assert_array_equal(ad.maximum(a, other=2 * a).data, np.maximum(a.data, 2 * a.data))


def test_dot_unsqueeze_t_numel_double_float_is_tensor():
    v, w, m = _leaf((3,)), _leaf((3,), 1), _leaf((2, 3), 2)
    assert ad.dot(v, w).item() == pytest.approx(float(v.data @ w.data)) and v.dot(w).shape == ()
    assert ad.unsqueeze(m, 1).shape == (2, 1, 3) and m.unsqueeze(-1).shape == (2, 3, 1)
    assert m.t().shape == (3, 2) and ad.t(v).shape == (3,) and np.array_equal(m.t().data, m.data.T)
    assert m.numel() == 6 and ad.numel(m) == 6 and ad.numel(np.zeros((4, 2))) == 8
    assert m.double().dtype == np.float64 and m.float().dtype == np.float32
    assert m.float().requires_grad and m.float().grad_fn.name == "astype"
    assert ad.is_tensor(m) and ad.is_tensor(ad.Value(1.0)) and not ad.is_tensor(m.data) and not ad.is_tensor(1.0)
    with pytest.raises(
        ValueError, match=r"t\(\) expects a tensor with <= 2 dimensions, but it has 3; use transpose or swapaxes"
    ):
        ad.zeros(2, 2, 2).t()
    with pytest.raises(TypeError, match=r"unsqueeze: dim must be one int, got \(0, 1\) \(expand_dims takes several\)"):
        m.unsqueeze((0, 1))


def test_float_and_double_are_differentiable_casts():
    x = _leaf((2, 3))
    assert ad.gradcheck(lambda t: t.float().double(), [x], eps=1e-2, atol=1e-3)  # float32 rounding: a coarse step
    assert ad.gradcheck(lambda t: t.double() * 2, [x])
    x32 = Tensor(x.data, dtype=np.float32, requires_grad=True)
    (x32.double() ** 2).sum().backward()
    assert x32.grad.dtype == np.float32


def test_sinh_and_cosh_match_pytorch_and_numpy():
    x = _leaf((2, 3))
    np.testing.assert_allclose(ad.sinh(x).data, np.sinh(x.data))
    np.testing.assert_allclose(x.cosh().data, np.cosh(x.data))
    (ad.sinh(x) * ad.cosh(x)).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cosh(2 * x.data), rtol=1e-12)  # (sinh x cosh x)' = cosh 2x
    torch = pytest.importorskip("torch")
    t = torch.tensor(x.data, requires_grad=True)
    (torch.sinh(t) * torch.cosh(t)).sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12)


def test_size_is_numpys_count_and_pytorchs_size_called():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.size == 24 and isinstance(x.size, int) and x.size + 1 == 25
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.numel() == x.size
    with pytest.raises(IndexError, match=r"size\(dim\): dim 3 is out of range for a tensor of shape \(2, 3, 4\)"):
        x.size(3)
    assert Tensor(1.0).size() == () and Tensor(1.0).size == 1


def test_item_and_tolist():
    x = _leaf((2, 2))
    assert x[0, 1].item() == x.data[0, 1] and isinstance(x[0, 1].item(), float)
    assert x.tolist() == x.data.tolist() and Tensor(2.5).tolist() == 2.5
    with pytest.raises(ValueError, match="can only convert an array of size 1"):
        x.item()
