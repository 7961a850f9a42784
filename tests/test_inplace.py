"""In-place operators: parameter updates, recorded in-place ops, and the version counter."""

import gc
import weakref

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor, Value


def test_micrograd_readme_example_gives_micrograds_numbers():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"
    g.backward()
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_parameter_update_under_no_grad_keeps_the_same_leaf_object():
    w = Tensor([1.0, 2.0], requires_grad=True)
    data_before = w.data
    (w * w).sum().backward()
    with ad.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w.data is data_before  # the very same array, updated
    assert w._version == 1
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    with ad.no_grad():
        w *= 2
        w /= 4
        w += Tensor([1.0, 1.0])
        w[0] = 0.0
    np.testing.assert_allclose(w.data, [0.0, 1.8])


def test_inplace_on_a_leaf_that_requires_grad_is_an_error():
    w = Tensor([1.0, 2.0], requires_grad=True)
    for update in (
        lambda: w.__iadd__(1),
        lambda: w.__isub__(1),
        lambda: w.__imul__(2),
        lambda: w.__itruediv__(2),
        lambda: w.__setitem__(0, 5.0),
    ):
        with pytest.raises(
            RuntimeError,
            match=r"a leaf Tensor that requires grad is being used in an in-place operation \(.*\)\. To update a parameter, do it under `with autodiff.no_grad\(\):`",
        ):
            update()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_recorded_inplace_on_an_intermediate_gives_right_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = x * 3
    b = c * 2  # reads c before the change
    c += x * x  # c = 3x + x²
    c *= c  # c = (3x + x²)²
    (b.sum() + c.sum()).backward()
    expected = 2 * 3 + 2 * (3 * x.data + x.data**2) * (3 + 2 * x.data)
    np.testing.assert_allclose(x.grad.data, expected)


def test_consumers_created_before_an_unrecorded_bump_route_to_the_right_history():
    x = Tensor(2.0, requires_grad=True)
    c = x * 1
    r = c + 1  # sees c at version 0
    with ad.no_grad():
        c += 5  # unrecorded: same history, version 1
    c += r  # recorded: c = (x + 5) + (x + 1)
    assert c.item() == 10.0
    c.backward()
    assert x.grad.item() == 2.0


def test_inplace_setitem_and_augmented_item_assignment_on_an_intermediate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[0] = x[2] * 10  # y = [10·x2, x1, x2]
    y[1] += 5  # y[1] = x1 + 5 (tmp = y[1]; tmp += 5; y[1] = tmp)
    np.testing.assert_allclose(y.data, [30.0, 7.0, 3.0])
    (y * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 2.0, 10.0 + 3.0])


def test_inplace_on_a_constant_with_a_grad_requiring_operand_records_it():
    w = Tensor([1.0, 2.0], requires_grad=True)
    acc = ad.zeros(2)
    acc += w * w
    acc += w
    assert acc.requires_grad and not acc.is_leaf
    acc.sum().backward()
    np.testing.assert_allclose(w.grad.data, 2 * w.data + 1)


def test_accumulating_in_a_loop():
    x = Tensor([0.5, -1.0], requires_grad=True)
    total = ad.zeros(2)
    for i in range(2000):
        total += x * float(i % 3)
    total.sum().backward()
    np.testing.assert_allclose(x.grad.data, [sum(i % 3 for i in range(2000))] * 2)


def test_modified_saved_input_is_detected_and_named():
    w = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    y = w * c  # mul saves c to compute ∂y/∂w
    c += 1  # nothing requires grad: an ordinary in-place write
    with pytest.raises(
        RuntimeError,
        match=r"modified by an inplace operation: input 1 of MulBackward \(shape \(2,\), dtype float64\) is at version 1; expected version 0",
    ):
        y.sum().backward()


def test_modified_saved_output_is_detected_and_named():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    with ad.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=r"output 0 of ExpBackward .* is at version 1; expected version 0"):
        y.sum().backward()


def test_recorded_inplace_on_a_saved_output_keeps_the_saved_value():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y += 1  # recorded: exp's saved output is left untouched
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]))


def test_optimizer_step_between_forward_and_backward_is_detected():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with ad.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="input 0 of MulBackward"):
        loss.backward()


def test_writes_through_a_view_bump_the_base_version():
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (w * w).sum()
    with ad.no_grad():
        view = w.T
        view[0, 1] = 10.0  # writes into w's memory
    assert w.data[1, 0] == 10.0
    with pytest.raises(RuntimeError, match="has been modified by an inplace operation"):
        y.backward()


def test_version_counters_are_per_tensor_until_shared_by_a_view_or_detach():
    # Tensors never changed in place share one immutable counter; a change gives the tensor its own.
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    c, d = a * 2.0, a + b
    a += 1.0
    assert (a._version, b._version, c._version, d._version) == (1, 0, 0, 0)
    b[0] = 7.0
    b[1] = 8.0
    assert (a._version, b._version, c._version, d._version) == (1, 2, 0, 0)
    e = Tensor([1.0, 2.0])
    alias, view = e.detach(), e.reshape(2, 1)
    alias += 1.0
    assert e._version == alias._version == view._version == 1
    view[0, 0] = 0.0
    assert e._version == alias._version == view._version == 2 and e.data[0] == 0.0


def test_copies_and_pickles_keep_version_counters_right():
    import copy
    import pickle

    a = Tensor([1.0, 2.0])
    shallow = copy.copy(a)  # shares a's array, so it shares a's counter
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (w * shallow).sum()
    with ad.no_grad():
        a += 10.0
    assert shallow._version == a._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    deep = copy.deepcopy(a)
    deep += 1.0
    assert (a._version, deep._version) == (1, 2)
    restored = pickle.loads(pickle.dumps(Tensor([1.0, 2.0])))
    restored += 1.0  # the counter came back from the pickle as a list of its own
    assert restored._version == 1 and restored.data.tolist() == [2.0, 3.0]
    model = nn.Linear(3, 2, rng=0)
    model(np.ones((4, 3))).sum().backward()
    clone = pickle.loads(pickle.dumps(model))
    clone(np.ones((4, 3))).sum().backward()  # accumulates into the unpickled .grad
    np.testing.assert_array_equal(clone.weight.grad.data, 2 * model.weight.grad.data)


def test_needs_input_grad_stays_booleans():
    a, b, c = Tensor([1.0], requires_grad=True), Tensor([2.0]), Tensor([3.0])
    with ad.no_grad():
        a += 0.0
        c += 0.0
    ad.concatenate([a, b, c])  # versions (1, 0, 1): equal to (True, False, True) as a dict key
    p, q, r = Tensor([1.0], requires_grad=True), Tensor([2.0]), Tensor([3.0], requires_grad=True)
    needs = ad.concatenate([p, q, r]).grad_fn.needs_input_grad
    assert needs == (True, False, True) and all(type(n) is bool for n in needs)


def test_data_setter_bumps_the_version():
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data = np.array([5.0, 5.0])
    with pytest.raises(RuntimeError, match="has been modified by an inplace operation"):
        y.backward()


def test_inplace_errors_for_dtype_and_shape():
    i = Tensor([1, 2])
    with pytest.raises(Exception, match="Cannot cast ufunc 'add' output"):
        i += 1.5
    c = Tensor([1.0, 2.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match=r"output with shape \(2,\) doesn't match the broadcast shape \(3, 2\)"):
        c += Tensor(np.ones((3, 2)), requires_grad=True)
    n = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="non-broadcastable output operand"):
        n += np.ones((3, 2))


def test_recorded_inplace_graphs_have_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = Tensor([1.0, 2.0], requires_grad=True)
        c = x * 1
        r = c + 1
        c += 1
        c *= c
        c += r
        c[0] = c[1] * 2
        c.sum().backward()
        refs = [weakref.ref(c), weakref.ref(c.grad_fn), weakref.ref(r)]
        del c, r
        assert all(ref() is None for ref in refs)
    finally:
        gc.enable()


def test_inplace_keeps_dtype():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    c = x * 1
    c += Tensor(np.ones(2), requires_grad=True)  # a float64 operand
    assert c.dtype == np.float32
    c.sum().backward()
    assert x.grad.dtype == np.float32
