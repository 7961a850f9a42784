"""Big products made when read (autodiff.deferred): ``(W * W).sum()`` as ⟨W, W⟩, ``W -= lr * W.grad`` without
``lr * W.grad``; every other reader sees the product the eager ``x * y`` would have made, as it was."""

import copy
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff import deferred, ops
from autodiff.released import FreedTensor

SHAPE = (300, 400)  # 120,000 elements: more than deferred.FROM_ELEMENTS, not a multiple of deferred.CHUNK


def weights(dtype=np.float32, seed=0, shape=SHAPE):
    return ad.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True)


@pytest.fixture
def made(monkeypatch):
    """The products made from a Deferred, as (x, y) pairs."""
    calls = []

    def spy(real):
        def made(op, x, y):
            calls.append((x, y))
            return real(op, x, y)

        return made

    monkeypatch.setattr(deferred, "_multiply", spy(deferred._multiply))
    monkeypatch.setattr(deferred, "_power", spy(deferred._power))
    return calls


@pytest.fixture
def eager(monkeypatch):
    """Products made at once, as before autodiff.deferred: what the deferred ones are compared with."""

    def off():
        monkeypatch.setattr(deferred, "FROM_ELEMENTS", 1 << 62)
        monkeypatch.setattr(ops, "SCALED_FROM", 1 << 62)

    return off


def test_a_big_product_waits_and_is_made_as_the_eager_one_when_read(made):
    W = weights()
    p = W * W
    assert type(p) is deferred.Deferred and not made
    assert type(p.grad_fn) is ops.Mul and p.requires_grad and p.shape == SHAPE
    assert np.array_equal(p.data, np.square(W.data))
    assert type(p) is ad.Tensor and len(made) == 1
    q = 0.5 * W
    assert type(q) is deferred.Deferred
    assert np.array_equal(np.asarray(q.detach()), np.float32(0.5) * W.data)


@pytest.mark.parametrize(
    "spell",
    [
        lambda W, V: W * W,
        lambda W, V: W * V,
        lambda W, V: V * 3.0,
        lambda W, V: 2.0 * W,
    ],
    ids=["W*W", "W*V", "V*3", "2*W"],
)
def test_every_reader_sees_the_eager_values(spell, eager):
    W, V = weights(seed=1), weights(seed=2)
    readers = {
        "data": lambda p: p.data.copy(),
        "numpy": lambda p: p.detach().numpy().copy(),
        "ops": lambda p: (p + 0.0).data,
        "repr": lambda p: repr(p),
        "tolist": lambda p: p.tolist(),
        "deepcopy": lambda p: copy.deepcopy(p).data,
        "pickle": lambda p: pickle.loads(pickle.dumps(p.detach())).data,
    }
    got = {name: read(spell(W, V)) for name, read in readers.items()}
    eager()
    want = {name: read(spell(W, V)) for name, read in readers.items()}
    for name in readers:
        if name in ("repr", "tolist"):
            assert got[name] == want[name], name
        else:
            assert np.array_equal(got[name], want[name]), name


def test_repr_and_type_are_the_eager_ones():
    p = weights() * 2.0
    assert repr(p).startswith("Tensor(")
    assert type(copy.copy(weights() * 2.0)) is ad.Tensor
    assert type(pickle.loads(pickle.dumps((weights() * 2.0).detach()))) is ad.Tensor


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_a_sum_of_all_of_a_product_is_the_inner_product_and_the_product_is_never_made(dtype, rtol, made):
    W, V = weights(dtype, 1), weights(dtype, 2)
    w, v = W.data, V.data
    s = (W * W).sum() + (W * V).sum()
    k = (W * V).sum(keepdims=True)
    assert s.dtype == dtype and s.shape == () and k.shape == (1, 1)
    np.testing.assert_allclose(s.item(), np.sum(w * w) + np.sum(w * v), rtol=rtol)
    np.testing.assert_allclose(k.item(), np.sum(w * v), rtol=rtol)
    s.backward()
    assert not made
    assert np.array_equal(W.grad.data, 2 * w + v) and np.array_equal(V.grad.data, w)


@pytest.mark.parametrize(
    "total",
    [
        lambda X: (X * X).sum(),
        lambda X: (X**2).sum(),
        lambda X: (X.T * X.T).sum(),
        lambda X: ad.sum_of_squares([X]),
        lambda X: (X[:, ::2] * X[:, ::2]).sum() + (X[:, 1::2] ** 2).sum(),
    ],
    ids=["X*X", "X**2", "column-ordered", "sum_of_squares", "strided"],
)
def test_a_summed_product_is_as_accurate_as_numpys_pairwise_sum(total):
    """Over 4 M float32 numbers one dot product, adding its terms one after another, is off by 7e-6 to 5e-5
    (as the BLAS goes); numpy's pairwise sum of the squares, and this sum, in blocks, by 1e-7 or less (``ops.inner``)."""
    x = np.random.default_rng(11).standard_normal((2000, 2000)).astype(np.float32) + 1
    exact = np.sum(x.astype(np.float64) ** 2)
    got = total(ad.Tensor(x, requires_grad=True))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.item(), exact, rtol=1e-6)


@pytest.mark.parametrize("n", [1, 65_535, 65_536, 65_537, 2 * 65_536 + 5, 3 * 65_536])
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_the_inner_product_in_blocks_adds_every_element_once(n, dtype, rtol, order):
    """``ops.inner`` at the edges of its blocks: every element in one block or in the rest, none twice."""
    rng = np.random.default_rng(n)
    rows = 5 if n % 5 == 0 else 1
    x, y = (np.asarray(rng.uniform(0.5, 1.5, (rows, n // rows)), dtype=dtype, order=order) for _ in range(2))
    got = ops.inner(x, y)
    assert type(got) is type(x.dtype.type(0))
    np.testing.assert_allclose(got, np.sum(x.astype(np.float64) * y), rtol=rtol)


def test_d2l_penalty_written_out_has_the_eager_gradients_to_the_bit(eager):
    """J = L + λ/2 (‖W1‖² + ‖W2‖²): the penalty's product is not made, the gradients are the eager ones."""

    def gradients():
        rng = np.random.default_rng(3)
        x = ad.Tensor(rng.standard_normal((128, 400)).astype(np.float32))
        W1, W2 = weights(seed=4), ad.Tensor(rng.standard_normal((10, 300)).astype(np.float32), requires_grad=True)
        h = ad.relu(x @ W1.T)
        J = (h @ W2.T).pow(2).mean() + 1e-4 / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
        J.backward()
        return J.item(), W1.grad.data, W2.grad.data

    J, g1, g2 = gradients()
    eager()
    J0, h1, h2 = gradients()
    assert np.array_equal(g1, h1) and np.array_equal(g2, h2)
    np.testing.assert_allclose(J, J0, rtol=1e-6)


@pytest.fixture
def scaled_made(monkeypatch):
    """How many leaf gradients c·x (ops.Scaled) were made as arrays rather than added in place."""
    calls = []
    real = ops.Scaled.made

    def spy(self):
        calls.append(self.shape)
        return real(self)

    monkeypatch.setattr(ops.Scaled, "made", spy)
    return calls


PENALTIES = {
    "written out": lambda W: 1e-4 / 2 * (W * W).sum(),
    "l2_penalty": lambda W: 1e-4 / 2 * ad.sum_of_squares([W]),
    "both": lambda W: (W * W).sum() + ad.sum_of_squares([W]),
}


@pytest.mark.parametrize("name", PENALTIES)
@pytest.mark.parametrize("first", ["penalty", "loss"])
def test_a_penalty_gradient_is_added_into_the_weights_other_gradient_with_the_eager_numbers(
    name, first, eager, scaled_made
):
    """Backward runs the ops made last first. The penalty's c·W is added into the loss's gradient, before it
    arrives or after, and never made as an array of its own, but when two come before it: one is made, and
    the other is added into it."""

    def gradient():
        W = weights(seed=5)
        x = ad.Tensor(np.random.default_rng(6).standard_normal((8, SHAPE[1])).astype(np.float32))
        if first == "penalty":
            s = PENALTIES[name](W)
            J = (x @ W.T).sum() + s
        else:
            loss = (x @ W.T).sum()
            J = loss + PENALTIES[name](W)
        J.backward()
        return W.grad.data

    g = gradient()
    assert scaled_made == ([SHAPE] if name == "both" and first == "loss" else [])
    eager()
    assert np.array_equal(g, gradient())


def test_a_penalty_alone_hooks_and_captured_gradients_get_arrays(eager):
    W = weights(np.float64)
    seen = []
    W.register_hook(lambda g: seen.append(type(g.data)))
    (W * W).sum().backward()
    (g,) = ad.autograd.grad(ad.sum_of_squares([W]) + (W * W).sum(), [W])
    assert seen == [np.ndarray, np.ndarray] and type(g.data) is np.ndarray  # hooks run in grad() too, as in PyTorch
    assert np.array_equal(W.grad.data, 2 * W.data) and np.array_equal(g.data, 4 * W.data)
    with ad.detect_anomaly():
        (W * W).sum().backward()
    assert np.array_equal(W.grad.data, 4 * W.data)


def test_sums_over_an_axis_read_the_product_and_means_of_all_of_it_do_not(made):
    W = weights(np.float64)
    np.testing.assert_allclose((W * W).sum(axis=0).data, np.square(W.data).sum(axis=0))
    assert len(made) == 1
    np.testing.assert_allclose((W * W).mean().data, np.square(W.data).mean())
    np.testing.assert_allclose((W**2).mean(axis=None, keepdims=True).data, np.square(W.data).mean(keepdims=True))
    assert len(made) == 1


def test_a_product_waiting_knows_its_shape_dtype_and_size(made):
    p = weights(np.float64) * 3.0
    assert (p.shape, p.dtype, p.ndim, p.size, p.size(), p.size(1), len(p)) == (
        SHAPE,
        np.float64,
        2,
        120_000,
        SHAPE,
        400,
        300,
    )
    assert type(p) is deferred.Deferred and not made


SQUARES = {
    "W ** 2": lambda W: W**2,
    "W ** 2.0": lambda W: W**2.0,
    "W.pow(2)": lambda W: W.pow(2),
    "ad.pow(W, 2)": lambda W: ad.pow(W, 2),
}


@pytest.mark.parametrize("spell", SQUARES.values(), ids=SQUARES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_big_square_waits_and_is_made_as_the_eager_power_when_read(spell, dtype, made):
    W = weights(dtype)
    p = spell(W)
    assert type(p) is deferred.Deferred and type(p.grad_fn) is ops.Pow and not made
    assert p.dtype == dtype and np.array_equal(p.data, W.data**2) and len(made) == 1
    assert type(p) is ad.Tensor


def test_d2l_penalty_with_pow_has_the_eager_gradients_and_makes_neither_the_square_nor_lambda_w(
    eager, made, scaled_made
):
    """d2l's own spelling, ``(w ** 2).sum() / 2``: J = L + λ (‖W1‖² + ‖W2‖²) / 2, gradients to the bit."""

    def gradients():
        rng = np.random.default_rng(7)
        x = ad.Tensor(rng.standard_normal((128, 400)).astype(np.float32))
        W1 = weights(seed=8)
        W2 = ad.Tensor(rng.standard_normal((10, 300)).astype(np.float32), requires_grad=True)
        h = ad.relu(x @ W1.T)
        J = (h @ W2.T).pow(2).mean() + 1e-4 * ((W1**2).sum() / 2 + (W2**2).sum() / 2)
        J.backward()
        return J.item(), W1.grad.data, W2.grad.data

    J, g1, g2 = gradients()
    assert not made and not scaled_made
    eager()
    J0, h1, h2 = gradients()
    assert np.array_equal(g1, h1) and np.array_equal(g2, h2)
    np.testing.assert_allclose(J, J0, rtol=1e-6)


@pytest.mark.parametrize(
    "spell",
    [
        lambda W: W**3,
        lambda W: W**1,
        lambda W: W ** ad.Tensor(2.0, requires_grad=True),
        lambda W: W ** ad.Tensor(np.full(SHAPE, 2.0, np.float32)),
        lambda W: 2**W,
        lambda W: ad.Tensor(np.arange(W.size).reshape(SHAPE)) ** 2,
    ],
    ids=["W**3", "W**1", "exponent requiring grad", "exponent array", "2**W", "integers"],
)
def test_other_powers_are_made_at_once(spell):
    assert type(spell(weights())) is ad.Tensor


def test_a_square_waiting_is_made_before_it_is_added_into_a_tensor():
    W, V = weights(seed=9), weights(seed=10)
    v = V.data.copy()
    with ad.no_grad():
        V -= W**2
    assert np.array_equal(V.data, v - W.data**2)


@pytest.mark.parametrize("square", [lambda W: W * W, lambda W: W**2], ids=["W*W", "W**2"])
def test_second_derivatives_through_a_summed_product(square):
    W = weights(np.float64)
    (g,) = ad.autograd.grad(square(W).sum(), [W], create_graph=True)
    g.sum().backward()
    assert np.array_equal(g.data, 2 * W.data) and np.all(W.grad.data == 2)


def test_backward_releases_the_product_like_any_big_intermediate(made):
    W = weights()
    s = (W * W).sum()
    key = id(s.grad_fn.inputs[0])
    assert key in deferred.waiting
    s.backward()
    assert isinstance(s.grad_fn.inputs[0], FreedTensor) and key not in deferred.waiting and not made


def test_a_product_waiting_sees_its_factors_as_they_were_when_it_was_written():
    """Every way autodiff changes an array in place, or hands one out to be changed, makes the products first."""
    W = weights(np.float64)
    before = np.square(W.data)

    def changed(change):
        W.data = before**0.5
        W.grad = None
        p = W * W
        change()
        return np.array_equal(p.data, before)

    def accumulate():
        (W * 3.0).sum().backward()
        (W * 3.0).sum().backward()

    def grad_product():
        W.grad = None
        (W * 1.0).sum().backward()
        g = W.grad * W.grad
        (W * 1.0).sum().backward()  # adds into the .grad g reads
        return np.array_equal(g.data, np.ones(SHAPE))

    with ad.no_grad():
        assert changed(lambda: W.__iadd__(1.0))
        assert changed(lambda: W.__isub__(W.grad if W.grad is not None else 1.0))
        assert changed(lambda: W.__setitem__((0, 0), 7.0))
        assert changed(lambda: W.zero_())
        assert changed(lambda: W.data.__imul__(0))
        assert changed(lambda: W.numpy().__imul__(0))
        assert changed(lambda: np.asarray(W).__imul__(0))
        assert changed(lambda: np.copyto(W, 0.0))
        assert changed(lambda: np.multiply(W, 0.0, out=W))
    assert changed(accumulate)
    assert grad_product()


def test_sgd_written_out_updates_without_making_lr_times_grad_and_gives_numpys_numbers(made):
    W = weights()
    (W * W).sum().backward()
    w, g = W.data.copy(), W.grad.data.copy()
    with ad.no_grad():
        W -= 0.01 * W.grad
        W += W.grad * 0.5
    assert not made
    assert np.array_equal(W.data, (w - np.float32(0.01) * g) + g * np.float32(0.5))
    assert W._version == 2


def test_an_update_makes_first_the_other_products_that_read_its_target(made):
    W = weights()
    (W * W).sum().backward()
    square = np.square(W.detach().numpy())
    p = W * W
    with ad.no_grad():
        W -= 0.01 * W.grad
    assert len(made) == 1 and np.array_equal(p.data, square)


def test_an_update_that_reads_its_own_target_makes_the_product_first():
    W = weights(np.float64)
    w = W.data.copy()
    with ad.no_grad():
        W -= W * 2.0
        W += W.T.T * 1.0
    assert np.array_equal(W.data, 2 * (w - 2.0 * w))


def test_a_product_is_not_an_update_into_a_tensor_of_another_shape_or_dtype():
    W, row = weights(np.float64), ad.Tensor(np.ones((1, SHAPE[1])))
    with ad.no_grad():
        row += (W * 2.0)[:1]  # a view of the product: made
        b = ad.Tensor(np.zeros(SHAPE, np.float32))
        b -= W * 2.0  # float64 into float32: numpy's casting
    assert np.array_equal(row.data, 1 + 2 * W.data[:1])
    assert np.array_equal(b.data, (-(2 * W.data)).astype(np.float32))


def test_small_products_and_products_under_anomaly_detection_are_made_at_once():
    assert type(weights(shape=(10, 10)) * 2.0) is ad.Tensor
    W = weights()
    assert type(W * ad.Tensor(np.ones(SHAPE[1], np.float32))) is ad.Tensor  # broadcast: made
    assert type(W * ad.Tensor(2.0)) is ad.Tensor  # float64 by float32: made
    with ad.detect_anomaly():
        assert type(W * W) is ad.Tensor


def test_threads_reading_one_product_get_one_array():
    W = weights(np.float64)
    p = W * W
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(p.data)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is seen[0] for a in seen) and np.array_equal(seen[0], np.square(W.data))


@pytest.mark.parametrize("n", [10, deferred.CHUNK, 3 * deferred.CHUNK + 5])
@pytest.mark.parametrize("keep", [1, 0.9])
@pytest.mark.parametrize("ufunc", [np.add, np.subtract])
def test_add_product_gives_numpys_numbers_in_blocks(n, keep, ufunc):
    rng = np.random.default_rng(n)
    w, x, y = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    for factor in (np.float32(0.01), y, 0.01):
        got = w.copy()
        deferred.add_product(got, x, factor, ufunc, keep=keep)
        want = w * np.float32(keep) if keep != 1 else w.copy()
        ufunc(want, x * factor, out=want)
        assert np.array_equal(got, want)
    strided = np.zeros(2 * n, np.float32)[::2]
    deferred.add_product(strided, x, 2.0)
    assert np.array_equal(strided, -2 * x)


def test_the_stand_in_a_sum_gets_computes_anything_else_on_the_product():
    W = weights(np.float64)
    p = W * 3.0
    assert deferred.summand(p) is None  # a product with a number is summed as an array
    q = W * W
    f = deferred.summand(q)
    np.testing.assert_allclose(np.add.reduce(f, axis=None), np.sum(np.square(W.data)))
    assert np.array_equal(np.add.reduce(f, axis=0), np.add.reduce(np.square(W.data), axis=0))
    assert np.array_equal(np.isnan(f), np.zeros(SHAPE, bool))


def test_the_graph_in_place_and_tensor_suites_pass_with_every_product_deferred():
    """Every product of those suites waits to be read, and every leaf gradient c·x to be added
    (``tests/every_product_deferred.py``): the random graphs checked against finite differences, the in-place
    histories and attacks, backward, the Tensor's API, every op's rule, hooks, checkpoints, Functions, optimizers."""
    root = Path(__file__).resolve().parent.parent
    suites = ["test_inplace.py", "test_inplace_attacks.py", "test_properties_graphs.py", "test_backward.py"]
    suites += ["test_tensor.py", "test_ops.py", "test_hooks.py", "test_checkpoint.py", "test_function.py"]
    suites.append("test_nn_optim.py")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.every_product_deferred"]
        + [f"tests/{name}" for name in suites],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]
