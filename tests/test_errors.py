"""Bad input gets a clear error at the line that caused it, and an error leaves nothing half-done."""

import warnings

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor
from nn import functional as F


def raised_in_forward(info):
    """The error came through a line of this file (the user's statement) from a forward, not a backward."""
    names = [entry.frame.code.name for entry in info.traceback]
    assert "run_backward" not in names and "backward" not in names, names
    assert any(str(entry.path) == __file__ for entry in info.traceback)


# -- non-numeric data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data,named",
    [
        (None, "NoneType"),
        (object(), "object"),
        ({"a": 1}, "dict"),
        ({1, 2}, "set"),
        ((i for i in range(3)), "generator"),
        (np.array([1, None], dtype=object), "ndarray"),
        ([1.0, None], "list"),
    ],
    ids=["None", "object", "dict", "set", "generator", "object_array", "list_with_None"],
)
def test_non_numeric_data_is_a_type_error_naming_what_was_given(data, named):
    with pytest.raises(TypeError, match=f"cannot make a Tensor of {named}: give numbers"):
        Tensor(data)


@pytest.mark.parametrize(
    "data,dtype,named",
    [
        ("abc", None, "str"),
        (["a", "b"], None, "list"),
        ([1, "a"], None, "list"),
        (b"ab", None, "bytes"),
        (np.array(["x"]), None, "ndarray"),
        (np.datetime64("2020-01-01"), None, "datetime64"),
        ([[1.0], [2.0, 3.0]], None, "list"),
        ([[1.0, 2.0], 3.0], None, "list"),
        ([1.0, [2.0]], None, "list"),
        ("abc", np.float64, "str"),
        ("1.5", np.float64, "str"),
        (None, np.float64, "NoneType"),
        ([1.0, None], np.float64, "list"),
        (["1", "2"], np.float32, "list"),
    ],
    ids=[
        "str",
        "list_of_str",
        "mixed_list",
        "bytes",
        "str_array",
        "datetime",
        "ragged",
        "ragged_scalar",
        "ragged_list",
        "str_with_float_dtype",
        "numeric_str_with_float_dtype",
        "None_with_float_dtype",
        "list_with_None_with_float_dtype",
        "list_of_str_with_float_dtype",
    ],
)
def test_strings_dates_and_ragged_lists_are_type_errors_naming_what_was_given(data, dtype, named):
    with pytest.raises(TypeError, match=f"cannot make a Tensor of {named}"):
        Tensor(data, dtype=dtype)


X = Tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize(
    "statement,op,named",
    [
        (lambda: X * None, "mul", "NoneType"),
        (lambda: ad.maximum(X, object()), "maximum", "object"),
    ],
)
def test_ops_refuse_non_numeric_operands_naming_the_op_and_the_type(statement, op, named):
    with pytest.raises(TypeError, match=f"{op}.*{named}") as info:
        statement()
    raised_in_forward(info)


@pytest.mark.parametrize(
    "statement,op,named",
    [
        (lambda: X + "a", "add", "str"),
        (lambda: ad.add("a", "b"), "add", "str"),
        (lambda: X * np.datetime64("NaT"), "mul", "datetime64"),
        (lambda: ad.exp("a"), "exp", "str"),
        (lambda: ad.neg(b"a"), "neg", "bytes"),
        (lambda: X @ [["a"], ["b"]], "matmul", "str"),
        (lambda: ad.where(np.array([True, False]), X, "a"), "where", "str"),
        (lambda: ad.concatenate([X, "ab"]), "concatenate", "str"),
        (lambda: ad.clip(X, "a", None), "clip", "str"),
        (lambda: ad.flatten(None), "flatten|reshape", "NoneType"),
        (lambda: ad.max(None), "max", "NoneType"),
        (lambda: ad.tanh([1.0, [2.0]]), "tanh", "list"),
    ],
    ids=[
        "add_str",
        "add_two_str",
        "mul_datetime",
        "exp_str",
        "neg_bytes",
        "matmul_str",
        "where_str",
        "concatenate_str",
        "clip_str",
        "flatten_None",
        "max_None",
        "tanh_ragged",
    ],
)
def test_ops_refuse_strings_dates_none_and_ragged_lists(statement, op, named):
    with pytest.raises(TypeError, match=f"({op}).*{named}") as info:
        statement()
    raised_in_forward(info)


@pytest.mark.parametrize(
    "statement,op",
    [
        (lambda: Tensor(2**70, dtype=np.int64), "Tensor|int64"),
        (lambda: Tensor([1, 2]) * 10**30, "mul"),
        (lambda: X * 10**400, "mul"),
        (lambda: X.sum(axis=2**70), "sum"),
        (lambda: X.max(axis=2**70), "max"),
    ],
    ids=[
        "int64_tensor_of_huge_int",
        "int_tensor_times_huge_int",
        "times_int_beyond_float",
        "sum_huge_axis",
        "max_huge_axis",
    ],
)
def test_numbers_too_large_for_the_dtype_are_refused_naming_the_op(statement, op):
    with pytest.raises((ValueError, TypeError), match=op) as info:
        statement()
    raised_in_forward(info)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_reducing_a_0d_tensor_over_axis_0_is_numpys_answer_or_a_clear_error(name, axis):
    x = Tensor(1.5, requires_grad=True)
    try:
        y = getattr(ad, name)(x, axis=axis)
    except (ValueError, IndexError) as error:  # refusing at the forward, naming op and axis, is fine
        assert name in str(error) or "sum" in str(error)
        assert "axis" in str(error)
        return
    expected = {"sum": 1.5, "mean": 1.5, "var": 0.0, "max": 1.5, "min": 1.5, "logsumexp": 1.5}[name]
    assert y.shape == () and y.item() == expected
    y.backward()
    assert x.grad.item() == {"var": 0.0}.get(name, 1.0)


def test_complex_operands_next_to_a_tensor_that_requires_grad_are_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([1j, 2.0])
    try:
        loss = (x * 2).sum() + ad.abs(c * x).sum()
    except TypeError as error:
        assert "mul" in str(error) and "complex" in str(error)
        return
    loss.backward()  # or else the right gradient
    np.testing.assert_allclose(x.grad.data, 2 + np.abs(c.data))


# -- shape mismatches: named, with both shapes, at the line that caused them ----------------------------


A23, A24, A6 = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 4))), Tensor(np.ones(6))


@pytest.mark.parametrize(
    "statement,error,message",
    [
        (lambda: A23 @ A23, ValueError, r"matmul of shapes \(2, 3\), \(2, 3\): matmul: Input operand 1 has a mismatch"),
        (lambda: A23 + A24, ValueError, r"add of shapes \(2, 3\), \(2, 4\): operands could not be broadcast"),
        (
            lambda: A23 * Tensor([1.0, 2.0]),
            ValueError,
            r"mul of shapes \(2, 3\), \(2,\): operands could not be broadcast",
        ),
        (lambda: ad.maximum(A23, A24), ValueError, r"maximum of shapes \(2, 3\), \(2, 4\)"),
        (
            lambda: A6.reshape(4, 2),
            ValueError,
            r"reshape of shapes \(6,\): cannot reshape array of size 6 into shape \(4, ?2\)",
        ),
        (
            lambda: ad.concatenate([A23, A24], axis=0),
            ValueError,
            r"concatenate of shapes \(2, 3\), \(2, 4\): .*along dimension 1",
        ),
        (lambda: ad.stack([A23, A24]), ValueError, r"concatenate of shapes \(1, 2, 3\), \(1, 2, 4\)"),
        (lambda: ad.where(np.ones(3, dtype=bool), A23, A24), ValueError, r"where of shapes \(2, 3\), \(2, 4\)"),
        (
            lambda: ad.setitem(A23, 0, Tensor([1.0, 2.0])),
            ValueError,
            r"setitem of shapes \(2, 3\), \(2,\): could not broadcast",
        ),
        (lambda: A23[:, 5], IndexError, r"getitem of shapes \(2, 3\): index 5 is out of bounds for axis 1 with size 3"),
        (lambda: A23[np.ones(3, dtype=bool)], IndexError, r"getitem of shapes \(2, 3\): boolean index did not match"),
        (lambda: A23.sum(axis=2), ValueError, r"sum: axis 2 is out of bounds for a tensor of shape \(2, 3\)"),
        (lambda: ad.softmax(A23, axis=-3), ValueError, r"softmax of shapes \(2, 3\): axis -3 is out of bounds"),
        (
            lambda: F.mse_loss(A23, np.ones((3, 2))),
            ValueError,
            r"mse_loss: input shape \(2, 3\) and target shape \(3, 2\) differ",
        ),
        (
            lambda: F.cross_entropy(A23, np.array([0, 1, 2])),
            ValueError,
            r"cross_entropy: labels must have shape \(N,\) = \(2,\) for logits of shape \(2, 3\), got \(3,\)",
        ),
        (
            lambda: nn.Linear(3, 2)(np.ones((4, 5))),
            ValueError,
            r"linear of shapes \(4, 5\), \(2, 3\), \(2,\): x has 5 features per sample, W of shape \(2, 3\) \(out, in\) takes 3",
        ),
    ],
    ids=[
        "matmul",
        "add",
        "mul",
        "maximum",
        "reshape",
        "concatenate",
        "stack",
        "where",
        "setitem",
        "getitem_int",
        "getitem_mask",
        "sum_axis",
        "softmax_axis",
        "mse_loss",
        "cross_entropy",
        "linear",
    ],
)
def test_shape_mismatches_name_the_op_and_both_shapes_at_the_forward(statement, error, message):
    with pytest.raises(error, match=message) as info:
        statement()
    raised_in_forward(info)


@pytest.mark.parametrize(
    "statement,error,message",
    [
        (lambda: ad.broadcast_to(A23, (4,)), ValueError, r"broadcast_to of shapes \(2, 3\).*\(4,\)"),
        (lambda: ad.broadcast_to(A23, (3, 3)), ValueError, r"broadcast_to of shapes \(2, 3\).*\(3, 3\)"),
        (lambda: A23.squeeze(axis=0), ValueError, r"squeeze.*\(2, 3\)"),
        (lambda: ad.expand_dims(A23, 5), ValueError, r"expand_dims.*axis 5"),
        (lambda: A23.swapaxes(0, 5), ValueError, r"swapaxes.*\(2, 3\).*5"),
        (lambda: A23.transpose("ab"), TypeError, r"transpose of shapes \(2, 3\).*'ab'"),
        (lambda: ad.concatenate([]), ValueError, r"concatenate.*at least one"),
        (
            lambda: ad.concatenate([Tensor(1.0), Tensor(2.0)]),
            ValueError,
            r"concatenate of shapes \(\), \(\).*zero-dimensional",
        ),
        (lambda: ad.broadcast_to(A23, None), TypeError, r"broadcast_to.*None"),
        (lambda: ad.expand_dims(A23, None), TypeError, r"expand_dims.*None"),
    ],
    ids=[
        "broadcast_to_fewer_dims",
        "broadcast_to_mismatch",
        "squeeze",
        "expand_dims",
        "swapaxes",
        "transpose_str",
        "concatenate_nothing",
        "concatenate_0d",
        "broadcast_to_None",
        "expand_dims_None",
    ],
)
def test_shape_errors_of_composite_ops_name_the_op(statement, error, message):
    with pytest.raises(error, match=message) as info:
        statement()
    raised_in_forward(info)


def test_setitem_with_a_value_of_more_dimensions_backpropagates():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    v = Tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    c = x * 1.0
    c[0] = v
    (c * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [[0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.0, 0.0], [3.0, 4.0, 5.0]])


# -- empty reductions -------------------------------------------------------------------------------------


def test_mean_and_var_of_nothing_are_nan_as_in_numpy_and_pytorch():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(x.mean().item()) and np.isnan(x.var().item())
        assert np.all(np.isnan(x.mean(axis=0).data)) and x.mean(axis=0).shape == (3,)
        assert np.isnan(Tensor([1.0], requires_grad=True).var(ddof=1).item())
        x.mean().backward()
    assert x.grad.shape == (0, 3)


def test_losses_on_an_empty_batch():
    logits = Tensor(np.zeros((0, 4)), requires_grad=True)
    labels = np.zeros(0, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(F.cross_entropy(logits, labels).item())
        assert np.isnan(F.mse_loss(logits, np.zeros((0, 4))).item())
    assert F.cross_entropy(logits, labels, reduction="sum").item() == 0.0
    assert F.cross_entropy(logits, labels, reduction="none").shape == (0,)


# -- backward misuse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "misuse,message",
    [
        ("no_grad", r"does not require grad .*create the inputs with requires_grad=True"),
        (
            "non_scalar",
            r"grad can be implicitly created only for scalar outputs; this output has shape \(2,\): pass gradient=",
        ),
        ("wrong_shape", r"Mismatch in shape: gradient has a shape of \(3,\) and output 0 has a shape of \(2,\)"),
        ("broadcastable_shape", r"Mismatch in shape: gradient has a shape of \(\) and output 0 has a shape of \(2,\)"),
        ("twice", r"backward through the graph a second time .*Specify retain_graph=True"),
    ],
)
def test_backward_misuse_says_what_to_do_and_changes_nothing(misuse, message):
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = w * w
    if misuse == "twice":
        y.sum().backward()
        w.grad = None
        y = y.sum()
    attempt = {
        "no_grad": lambda: Tensor([1.0]).backward(),
        "non_scalar": lambda: y.backward(),
        "wrong_shape": lambda: y.backward(np.ones(3)),
        "broadcastable_shape": lambda: y.backward(np.array(1.0)),
        "twice": lambda: y.backward(),
    }[misuse]
    with pytest.raises(RuntimeError, match=message):
        attempt()
    assert w.grad is None
    if misuse != "twice":  # the graph is intact: a right call works
        assert not y.grad_fn.released
        y.backward(np.array([1.0, 1.0]))
        np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])


def test_backward_accepts_a_gradient_given_as_a_list():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).backward([1.0, 0.5])
    np.testing.assert_array_equal(w.grad.data, [2.0, 2.0])


@pytest.mark.parametrize(
    "gradient,named",
    [
        ("a", "str"),
        (np.array(None), "object"),
        (np.array([1j, 1.0]), "complex"),
        ([None, 1.0], "list|object"),
    ],
    ids=["str", "object_array", "complex", "list_with_None"],
)
def test_backward_refuses_a_non_numeric_gradient(gradient, named):
    w = Tensor(np.ones(np.shape(gradient)), requires_grad=True)
    y = w * 2.0
    with pytest.raises(TypeError, match=named):
        y.backward(gradient)
    assert w.grad is None and not y.grad_fn.released


def test_a_failed_backward_accumulates_no_gradient():
    w1 = Tensor([1.0, 2.0], requires_grad=True)
    w2 = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    y2 = w2 * c  # saves c
    y1 = w1 * 2.0
    c += 1  # changes what y2 saved
    loss = y2.sum() + y1.sum()
    with pytest.raises(RuntimeError, match=r"input 1 of MulBackward .* is at version 1; expected version 0"):
        loss.backward()
    assert w1.grad is None and w2.grad is None


# -- cross_entropy labels --------------------------------------------------------------------------------


LOGITS = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)


@pytest.mark.parametrize(
    "labels,error,message",
    [
        (np.array([0, 4, 1]), ValueError, r"labels must lie in \[0, 4\) for 4 classes, got values from 0 to 4"),
        (np.array([0, -1, 1]), ValueError, r"labels must lie in \[0, 4\) for 4 classes, got values from -1 to 1"),
        (np.array([7, -3, 1]), ValueError, r"labels must lie in \[0, 4\) for 4 classes, got values from -3 to 7"),
        (
            np.array([0, 2**40, 1]),
            ValueError,
            r"labels must lie in \[0, 4\) for 4 classes, got values from 0 to 1099511627776",
        ),
        (np.array([0.0, 1.0, 2.0]), TypeError, r"labels must be integer class indices, got dtype float64"),
        ([0.0, 1.0, 2.0], TypeError, r"labels must be integer class indices, got dtype float64"),
        (Tensor([0.0, 1.0, 2.0]), TypeError, r"labels must be integer class indices, got dtype float64"),
        (np.array([True, False, True]), TypeError, r"labels must be integer class indices, got dtype bool"),
        (np.array(["0", "1", "2"]), TypeError, r"labels must be integer class indices, got dtype <U1"),
        (None, TypeError, r"labels must be integer class indices, got dtype object"),
        (np.array(1), ValueError, r"labels must have shape \(N,\) = \(3,\) for logits of shape \(3, 4\), got \(\)"),
        (
            np.array([[0, 1, 2]]),
            ValueError,
            r"labels must have shape \(N,\) = \(3,\) for logits of shape \(3, 4\), got \(1, 3\)",
        ),
    ],
    ids=[
        "too_large",
        "negative",
        "both",
        "huge",
        "float",
        "float_list",
        "float_tensor",
        "bool",
        "str",
        "None",
        "0-d",
        "2-d",
    ],
)
def test_cross_entropy_names_bad_labels_and_the_number_of_classes(labels, error, message):
    with pytest.raises(error, match="cross_entropy: " + message) as info:
        F.cross_entropy(LOGITS, labels)
    raised_in_forward(info)
    assert LOGITS.grad is None


def test_cross_entropy_accepts_every_integer_label_type():
    expected = F.cross_entropy(LOGITS, np.array([0, 3, 1])).item()
    for labels in (
        [0, 3, 1],
        np.array([0, 3, 1], dtype=np.uint8),
        np.array([0, 3, 1], dtype=np.int32),
        Tensor(np.array([0, 3, 1])),
    ):
        assert F.cross_entropy(LOGITS, labels).item() == expected


# -- nothing half-done: optimizers and checkpoints -------------------------------------------------------


def _model_and_optimizer(cls, **settings):
    nn.manual_seed(0)
    model = nn.MLP(2, [3, 1])
    optimizer = cls([{"params": nn.weights(model)}, {"params": nn.biases(model)}], **settings)
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    return model, optimizer


@pytest.mark.parametrize(
    "cls,settings", [(nn.optim.SGD, dict(lr=0.1, momentum=0.9)), (nn.optim.Adam, dict(lr=0.1))], ids=["SGD", "Adam"]
)
@pytest.mark.parametrize(
    "setting,value", [("lr", "0.1"), ("lr", None), ("lr", -1.0), ("lr", float("nan")), ("weight_decay", -0.5)]
)
def test_a_failed_optimizer_step_changes_no_parameter_and_no_state(cls, settings, setting, value):
    model, optimizer = _model_and_optimizer(cls, **settings)
    optimizer.step()  # some state to keep
    before, state = model.state_dict(), optimizer.state_dict()
    optimizer.param_groups[1][setting] = value  # the second group: the first would be updated first
    with pytest.raises(ValueError, match=f"invalid {setting}: {value!r}"):
        optimizer.step()
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    after = optimizer.state_dict()["state"]
    assert after.keys() == state["state"].keys()
    for i, entries in state["state"].items():
        for key, value in entries.items():
            np.testing.assert_array_equal(after[i][key], value)
    optimizer.param_groups[1][setting] = settings.get(setting, 0.0)
    optimizer.step()  # and it goes on
    assert not np.array_equal(model.state_dict()["layers.0.weight"], before["layers.0.weight"])


def test_loading_an_optimizer_state_of_another_model_is_refused_whole():
    model, optimizer = _model_and_optimizer(nn.optim.Adam, lr=0.1)
    nn.manual_seed(1)
    other = nn.MLP(2, [4, 1])
    other_optimizer = nn.optim.Adam([{"params": nn.weights(other)}, {"params": nn.biases(other)}], lr=0.5)
    for p in other.parameters():
        p.grad = np.ones(p.shape)
    other_optimizer.step()
    with pytest.raises(
        ValueError,
        match=r"the state dict's 'exp_avg' for parameter 0 \('layers.0.weight'\) has shape \(4, 2\), the parameter \(3, 2\)",
    ):
        optimizer.load_state_dict(other_optimizer.state_dict())
    assert optimizer.state == {} and [g["lr"] for g in optimizer.param_groups] == [0.1, 0.1]
    bad = optimizer.state_dict()
    bad["state"] = {9: {}}
    with pytest.raises(ValueError, match="the state dict has state for parameter 9, but this optimizer has 4"):
        optimizer.load_state_dict(bad)
    with pytest.raises(
        ValueError, match="an optimizer state dict is a dict with the entries 'state' and 'param_groups'"
    ):
        optimizer.load_state_dict(model.state_dict())
    optimizer.step()  # still usable
    assert len(optimizer.state) == 4


def test_a_failed_load_leaves_the_model_unchanged(tmp_path):
    model = nn.MLP(2, [3, 1])
    before = model.state_dict()
    path = tmp_path / "m.npz"
    nn.save({**before, "layers.0.weight": np.zeros((3, 5))}, path)
    with pytest.raises(RuntimeError, match=r"size mismatch for 'layers.0.weight'"):
        model.load_state_dict(nn.load(path))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(nn.CheckpointError, match="is truncated or corrupt"):
        model.load_state_dict(nn.load(path))
    with pytest.raises(nn.CheckpointError, match="is a directory, not an nn checkpoint file"):
        nn.load(tmp_path)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def _fit(model, X, y, **settings):
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    return nn.fit(model, X, y, loss=F.cross_entropy, optimizer=optimizer, progress=False, **settings)


XS, YS = np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda m: _fit(m, XS, YS, batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
        (lambda m: _fit(m, XS, YS, batch_size=True), ValueError, "batch_size must be a positive integer, got True"),
        (lambda m: _fit(m, XS[:0], YS[:0]), ValueError, r"fit: X has no samples \(shape \(0, 2\)\)"),
        (lambda m: _fit(m, np.full((10, 2), "a"), YS), TypeError, "X must hold numbers, got an array of dtype <U1"),
        (
            lambda m: _fit(m, XS, YS + 5),
            ValueError,
            r"labels must lie in \[0, 2\) for 2 classes, got values from 5 to 6",
        ),
        (lambda m: _fit(m, XS, YS.astype(float)), TypeError, "labels must be integer class indices, got dtype float64"),
        (
            lambda m: _fit(m, np.ones((10, 3)), YS),
            ValueError,
            r"linear of shapes \(10, 3\), \(3, 2\), \(3,\): x has 3 features per sample",
        ),
        (
            lambda m: nn.predict(m, np.full((2, 2), None)),
            TypeError,
            "X must hold numbers, got an array of dtype object",
        ),
        (
            lambda m: list(nn.data.minibatches(np.array(1.0), np.array(1), 1)),
            ValueError,
            r"X and y must have one sample per row, got shapes \(\) and \(\)",
        ),
        (lambda m: m.load_state_dict(None), TypeError, "state_dict must be a dict of parameter name -> array"),
        (lambda m: m.load_state_dict([1, 2]), TypeError, "state_dict must be a dict .* got list"),
    ],
    ids=[
        "batch_size_0",
        "batch_size_bool",
        "no_samples",
        "str_X",
        "labels_out_of_range",
        "float_labels",
        "wrong_width",
        "object_X",
        "0-d_data",
        "None_state",
        "list_state",
    ],
)
def test_nn_entry_points_refuse_bad_input_clearly_and_change_nothing(call, error, message):
    nn.manual_seed(0)
    model = nn.MLP(2, [3, 2])
    before = model.state_dict()
    with pytest.raises(error, match=message):
        call(model)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_an_int_beyond_64_bits_is_refused_at_once_instead_of_computed_with_python_ints():
    """numpy keeps such an int as a Python object and would compute (-4) ** 2**76 digit by digit."""
    with pytest.raises(TypeError, match=r"pow needs numbers, got an int too large for numpy \(77 bits\) as input 1"):
        ad.pow(-4, 75_557_863_725_914_323_419_136)
    with pytest.raises(TypeError, match=r"mul needs numbers, got an int too large for numpy \(71 bits\) as input 1"):
        ad.Tensor([1, 2]) * 2**70


def test_python_objects_are_refused_before_python_operates_on_them():
    """numpy keeps a ragged list as an object, and int * list would repeat it 515 million times."""
    with pytest.raises(TypeError, match=r"mul needs numbers, got list as input 1"):
        ad.mul(515_072_953, [0.0, []])
    with pytest.raises(TypeError, match=r"add needs numbers, got NoneType as input 1"):
        ad.Tensor([1.0]) + np.array([1, None], dtype=object)


def test_value_refuses_micrograd_s_hand_built_graph():
    with pytest.raises(
        TypeError,
        match=r"Value\(data, _children, _op\) is how micrograd's own operators build its "
        r"graph; here operations record the graph themselves",
    ):
        ad.Value(2.0, (ad.Value(1.0),), "+")
    assert ad.Value(2.0, label="a").name == "a"
