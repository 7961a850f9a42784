"""Random tensors and fills: one seeded generator shared by autodiff and nn, PyTorch's shapes and names."""

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor


def test_manual_seed_repeats_every_draw_and_nn_shares_the_generator():
    assert nn.manual_seed is ad.manual_seed and nn.rng.generator is ad.random.generator
    g = ad.manual_seed(7)
    assert g is ad.random.generator() and g is ad.manual_seed(8)  # reseeded in place: one generator

    def draws():
        a = ad.randn(2, 3)
        w = nn.init.normal_(Tensor(np.empty((4, 2))))
        b = ad.rand(5)
        layer = nn.Linear(3, 2)
        order = next(nn.data.minibatches(np.arange(6), np.arange(6), 6))[0]
        c = ad.randint(10, (4,))
        return [a.data, w.data, b.data, layer.weight.data, layer.bias.data, order, c.data]

    ad.manual_seed(0)
    first = draws()
    nn.manual_seed(0)
    second = draws()
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    reference = np.random.default_rng(0)  # the stream is numpy's default_rng(seed), drawn in call order
    np.testing.assert_array_equal(first[0], reference.standard_normal((2, 3)))
    np.testing.assert_array_equal(first[1], reference.normal(0.0, 1.0, (4, 2)))
    np.testing.assert_array_equal(first[2], reference.random(5))


def test_shapes_as_pytorch_writes_them():
    assert ad.randn(2, 3).shape == ad.randn((2, 3)).shape == ad.randn([2, 3]).shape == (2, 3)
    assert ad.rand(4).shape == (4,) and ad.randn(()).shape == () and ad.randn().shape == ()
    assert ad.randn(0, 3).shape == (0, 3) and ad.randn(np.int64(2)).shape == (2,)
    assert ad.randn(*Tensor(np.ones((2, 5))).shape).shape == (2, 5)
    with pytest.raises(
        TypeError, match=r"randn: the shape must be integers, as randn\(2, 3\) or randn\(\(2, 3\)\); got \(2\.5,\)"
    ):
        ad.randn(2.5)
    with pytest.raises(ValueError, match=r"rand: the shape \(2, -1\) has a negative length"):
        ad.rand(2, -1)


def test_dtype_requires_grad_and_float32_rounding():
    x = ad.randn(3, requires_grad=True, rng=1)
    assert x.requires_grad and x.is_leaf and x.dtype == np.float64
    y = ad.randn(3, dtype=np.float32, rng=1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, x.data.astype(np.float32))  # one seed, the same numbers in every float dtype
    with pytest.raises(TypeError, match=r"randn draws floating-point numbers: dtype int64 is not a float dtype"):
        ad.randn(3, dtype=np.int64)
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients"):
        ad.randint(5, (3,), requires_grad=True)
    assert ad.randint(5, (3,), dtype=np.float32, requires_grad=True).requires_grad


def test_rng_argument_leaves_the_shared_stream_alone():
    np.testing.assert_array_equal(ad.randn(4, rng=3).data, np.random.default_rng(3).standard_normal(4))
    ad.manual_seed(0)
    a = ad.randn(2)
    g = np.random.default_rng(5)
    first, second = ad.rand(3, rng=g), ad.rand(3, rng=g)  # a Generator advances
    assert not np.array_equal(first.data, second.data)
    b = ad.randn(2)
    ad.manual_seed(0)
    np.testing.assert_array_equal(np.concatenate([a.data, b.data]), ad.randn(4).data)
    with pytest.raises(TypeError, match=r"rng must be None, a numpy.random.Generator or an integer seed, got float"):
        ad.randn(2, rng=0.5)
    with pytest.raises(TypeError, match=r"manual_seed: the seed must be an integer, got str"):
        ad.manual_seed("0")
    with pytest.raises(ValueError, match=r"manual_seed: the seed must be a non-negative integer, got -1"):
        ad.manual_seed(-1)


def test_normal_takes_pytorchs_arguments():
    ad.manual_seed(0)
    w = ad.normal(0, 0.01, size=(2, 1), requires_grad=True)  # d2l's init
    assert w.shape == (2, 1) and w.requires_grad and w.dtype == np.float64
    X = ad.normal(0, 1, (1000, 2))  # d2l's synthetic_data, size given positionally
    assert X.shape == (1000, 2)
    big = ad.normal(3.0, 2.0, (200_000,), rng=0)
    assert abs(big.data.mean() - 3.0) < 5 * 2.0 / np.sqrt(200_000)
    assert big.data.std() == pytest.approx(2.0, rel=0.01)
    mean = Tensor(np.array([0.0, 100.0, -100.0], dtype=np.float32), requires_grad=True)
    samples = ad.normal(mean, 0.1)  # the shape of the mean; its dtype
    assert samples.shape == (3,) and samples.dtype == np.float32 and not samples.requires_grad
    np.testing.assert_allclose(samples.data, mean.data, atol=1.0)
    assert ad.normal(np.zeros((2, 1)), np.ones(3)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"normal: std must be non-negative, got -1"):
        ad.normal(0, -1, (2,))
    assert np.all(ad.normal(5.0, 0.0, (3,)).data == 5.0)


def test_randint_and_randperm():
    values = ad.randint(2, 5, (1000,), rng=0)
    assert values.dtype == np.int64 and set(values.tolist()) == {2, 3, 4}
    assert ad.randint(10, (3, 2)).shape == (3, 2) and ad.randint(10, size=(4,)).shape == (4,)
    assert ad.randint(3, 10).shape == () and 3 <= ad.randint(3, 10).item() < 10
    with pytest.raises(ValueError, match=r"randint: low must be below high, got low=5, high=5"):
        ad.randint(5, 5, (2,))
    with pytest.raises(TypeError, match=r"randint: low and high must be integers, got 0.5 and 2"):
        ad.randint(0.5, 2, (2,))
    p = ad.randperm(10, rng=4)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype == np.int64
    np.testing.assert_array_equal(p.data, np.random.default_rng(4).permutation(10))
    assert ad.randperm(0).shape == (0,)
    with pytest.raises(ValueError, match=r"randperm: n must be non-negative, got -2"):
        ad.randperm(-2)
    with pytest.raises(TypeError, match=r"randperm: n must be an integer, got float"):
        ad.randperm(2.0)


def test_like_functions_take_the_shape_and_float_dtype():
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    assert ad.randn_like(x).shape == (2, 3) and ad.randn_like(x).dtype == np.float32
    assert ad.rand_like(np.arange(4)).dtype == np.float64  # an integer x gives float64
    assert ad.rand_like(x, dtype=np.float64, requires_grad=True).requires_grad
    r = ad.rand(10_000, rng=2).data
    assert r.min() >= 0.0 and r.max() < 1.0


def test_fills_in_place_draw_what_nn_init_draws():
    w = Tensor(np.empty((3, 4)), requires_grad=True)
    with ad.no_grad():
        assert w.normal_(0.0, 0.5, rng=1) is w
    np.testing.assert_array_equal(w.data, nn.init.normal_(Tensor(np.empty((3, 4))), 0.0, 0.5, rng=1).data)
    with ad.no_grad():
        w.uniform_(-2.0, -1.0, rng=1)
    np.testing.assert_array_equal(w.data, nn.init.uniform_(Tensor(np.empty((3, 4))), -2.0, -1.0, rng=1).data)
    assert np.all((w.data >= -2.0) & (w.data < -1.0))
    version = w._version
    with ad.no_grad():
        w.fill_(0.25)
    assert np.all(w.data == 0.25) and w._version > version and w.is_leaf and w.requires_grad
    h = Tensor(np.zeros(3, dtype=np.float32)).normal_()  # needs no grad: allowed anywhere
    assert h.dtype == np.float32 and np.all(h.data != 0)
    assert Tensor(np.zeros(2, dtype=np.int64)).fill_(2.7).tolist() == [2, 2]  # numpy's (and PyTorch's) truncation


def test_fills_refuse_a_leaf_that_requires_grad_outside_no_grad():
    w = Tensor(np.zeros(3), requires_grad=True)
    for fill, name in (
        (lambda: w.normal_(), "normal_"),
        (lambda: w.uniform_(), "uniform_"),
        (lambda: w.fill_(1.0), "fill_"),
    ):
        with pytest.raises(
            RuntimeError,
            match=rf"a leaf Tensor that requires grad is being used in an in-place operation \({name}\)\. "
            r"Initialise parameters under `with autodiff.no_grad\(\):`",
        ):
            fill()
    with pytest.raises(TypeError, match=r"normal_ fills floating-point tensors; this one has dtype int64"):
        Tensor(np.zeros(2, dtype=np.int64)).normal_()
    with pytest.raises(TypeError, match=r"uniform_ fills floating-point tensors; this one has dtype bool"):
        Tensor(np.zeros(2, dtype=bool)).uniform_()
    with pytest.raises(ValueError, match=r"normal_: std must be non-negative, got -0.5"):
        Tensor(np.zeros(2)).normal_(0.0, -0.5)


def test_a_fill_of_an_intermediate_is_recorded_with_zero_gradient_as_in_pytorch():
    torch = pytest.importorskip("torch")
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.fill_(5.0)
    (y * x).sum().backward()
    xt = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    yt = xt * 2
    yt.fill_(5.0)
    (yt * xt).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-15)
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0, 5.0])


def test_shuffling_draws_the_order_randperm_draws():
    ad.manual_seed(11)
    expected = ad.randperm(8).data
    ad.manual_seed(11)
    loader = nn.data.DataLoader(nn.data.TensorDataset(np.arange(8)), batch_size=8, shuffle=True)
    (batch,) = next(iter(loader))
    np.testing.assert_array_equal(batch.data, expected)
    ad.manual_seed(11)
    xb, _ = next(nn.data.minibatches(np.arange(8), np.arange(8), 8))
    np.testing.assert_array_equal(xb, expected)
