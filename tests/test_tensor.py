"""Tensor construction, attributes, repr, numpy interoperability and micrograd's Value."""

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor, Value


@pytest.mark.parametrize(
    "data,dtype,shape",
    [
        (2.0, np.float64, ()),
        (3, np.int64, ()),
        ([1.0, 2.0], np.float64, (2,)),
        ([[1, 2], [3, 4]], np.int64, (2, 2)),
        (np.ones(3, dtype=np.float32), np.float32, (3,)),
        (True, np.bool_, ()),
    ],
)
def test_construction_infers_like_numpy(data, dtype, shape):
    t = Tensor(data)
    assert t.dtype == dtype and t.shape == shape and t.ndim == len(shape)
    assert t.size == int(np.prod(shape))


def test_construction_options():
    t = Tensor([1, 2], dtype=np.float32, requires_grad=True, name="w")
    assert t.dtype == np.float32 and t.requires_grad and t.name == "w" and t.is_leaf
    assert ad.tensor([1.0]).dtype == np.float64
    u = Tensor(t)
    assert u.dtype == np.float32 and not u.requires_grad
    assert not np.shares_memory(u.data, t.data)  # constructors copy
    a = np.zeros(3)
    assert np.shares_memory(ad.from_numpy(a).data, a)  # from_numpy shares


def test_construction_errors():
    with pytest.raises(
        TypeError, match="only floating-point tensors can require gradients, got dtype int64; pass dtype=np.float64"
    ):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="cannot make a Tensor of dict"):
        Tensor({"a": 1})


def test_requires_grad_can_only_change_on_leaves():
    x = Tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    y.requires_grad_()  # setting True on a non-leaf that requires grad is a no-op
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_attributes_and_conversions():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.T.shape == (3, 2) and len(t) == 2
    assert [row.tolist() for row in t] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    s = Tensor(2.5)
    assert s.item() == 2.5 and float(s) == 2.5 and int(s) == 2 and f"{s:.2f}" == "2.50"
    assert [10, 20, 30][Tensor(1)] == 20
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(s)
    with pytest.raises(ValueError, match="truth value of an array with more than one element is ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{t:.2f}"
    with pytest.raises(TypeError, match="only integer tensors of a single element can be used as an index"):
        [1, 2][Tensor(1.0)]


def test_repr_shows_history_like_pytorch():
    x = Tensor([2.0, 3.0], requires_grad=True)
    assert repr(x) == "Tensor([2., 3.], requires_grad=True)"
    assert repr(x * Tensor([1.0, 1.0])) == "Tensor([2., 3.], grad_fn=<MulBackward>)"
    assert repr(Tensor(np.ones(2, dtype=np.float32), name="b")) == "Tensor([1., 1.], dtype=float32, name='b')"
    assert repr(Tensor(1.5)) == "Tensor(1.5)"
    assert "..." in repr(Tensor(np.zeros(1000)))


def test_comparisons_are_plain_boolean_tensors_outside_the_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2, 2 < x):
        assert result.dtype == np.bool_ and not result.requires_grad and result.grad_fn is None
    assert (x > 1.5).tolist() == [False, True, True]
    assert x in [x] and len({x, x}) == 1  # hashing by identity still works


def test_numpy_ufuncs_dispatch_to_differentiable_ops():
    x = Tensor([0.5, 1.0], requires_grad=True)
    y = np.exp(x) + np.ones(2) * x + np.sin(x) ** 2 + np.maximum(x, 0.75)
    assert isinstance(y, Tensor) and y.grad_fn is not None
    y.sum().backward()
    expected = np.exp([0.5, 1.0]) + 1 + 2 * np.sin([0.5, 1.0]) * np.cos([0.5, 1.0]) + [0.0, 1.0]
    np.testing.assert_allclose(x.grad.data, expected)


def test_numpy_functions_without_a_rule_refuse_instead_of_dropping_gradients():
    x = Tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(TypeError, match="numpy.floor has no derivative rule in autodiff"):
        np.floor(x)
    assert np.floor(x.detach()).tolist() == [0.0, 1.0]
    with ad.no_grad():
        assert np.floor(x).tolist() == [0.0, 1.0]
    arr = np.zeros(2)
    with pytest.raises(TypeError, match=r"numpy.add\(..., out=...\) can't record its result for backward"):
        arr += x  # out= can't carry the gradient: refused, as np.asarray(x) is
    arr += x.detach()  # a constant written into a plain array: plain numpy
    assert arr.tolist() == [0.5, 1.5]


def test_python_scalars_take_the_tensor_dtype():
    x = Tensor(np.ones(2, dtype=np.float32))
    for y in (x + 1, 1 + x, x * 2.5, 2.5 / x, x**2, 2**x, x - np.float64(1.0), x.mean(), x.var()):
        assert y.dtype == np.float32
    assert (Tensor([1, 2]) * 1.5).dtype == np.float64
    assert (Tensor([1, 2]) + 1).dtype == np.int64


def test_creation_helpers():
    assert ad.zeros((2, 3)).data.sum() == 0 and ad.ones(3).data.sum() == 3
    assert ad.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert ad.zeros_like(Tensor([1.0, 2.0])).shape == (2,) and ad.ones_like(np.ones((2, 2))).size == 4
    assert ad.arange(3).tolist() == [0, 1, 2] and ad.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert ad.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert ad.zeros(2, requires_grad=True).requires_grad


def test_detach_shares_data_and_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and np.shares_memory(d.data, y.data)
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


def test_grad_setter_validates():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad = 0
    assert x.grad.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3,\), but the tensor has shape \(2,\)"):
        x.grad = np.ones(3)


def test_op_errors_name_the_op_and_the_shapes():
    with pytest.raises(
        ValueError, match=r"matmul of shapes \(2, 3\), \(2, 3\): matmul: Input operand 1 has a mismatch"
    ):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"add of shapes \(2,\), \(3,\): operands could not be broadcast"):
        Tensor([1.0, 2.0]) + Tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match=r"getitem of shapes \(2,\): index 5 is out of bounds"):
        Tensor([1.0, 2.0])[5]


def test_value_is_micrograds_scalar():
    v = Value(-4.0)
    assert isinstance(v, Tensor) and v.requires_grad and v.dtype == np.float64 and v.shape == ()
    assert Value(3).dtype == np.float64
    assert repr(v) == "Value(data=-4.0, grad=0.0)"
    assert Value(1.0, label="a").name == "a"
    t = Value.tanh(Value(0.5))
    e = Value.exp(Value(0.5))
    assert t.item() == pytest.approx(np.tanh(0.5)) and e.item() == pytest.approx(np.exp(0.5))
    with pytest.raises(ValueError, match=r"a Value holds one number, got shape \(2,\)"):
        Value([1.0, 2.0])


def test_micrograd_sanity_check():
    """micrograd's test_sanity_check, with PyTorch's numbers written out."""
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0 and x.grad == 46.0


def test_micrograd_more_ops():
    """micrograd's test_more_ops; expected numbers from the closed form (micrograd and PyTorch agree)."""
    a = Value(-4.0)
    b = Value(2.0)
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
    assert g.item() == pytest.approx(24.70408163265306, abs=1e-6)
    assert a.grad.item() == pytest.approx(138.83381924198252, abs=1e-6)
    assert b.grad.item() == pytest.approx(645.5772594752186, abs=1e-6)


def test_micrograd_style_training_loop_updates_data_in_place():
    w = Value(0.5)
    for _ in range(3):
        loss = (w * 3.0 - 6.0) ** 2
        w.grad = 0
        loss.backward()
        w.data -= 0.01 * w.grad
    assert w.item() == pytest.approx(0.5 + (2 - 0.5) * (1 - (1 - 0.18) ** 3))
