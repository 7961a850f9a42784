"""nn modules: registration and naming, call scopes, layers and init, state dicts and checkpoints."""

import copy
import math
import os
import pickle

import numpy as np
import pytest

import autodiff as ad
import nn


class Affine(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(np.ones((n_out, n_in)))
        self.bias = nn.Parameter(np.zeros(n_out))
        self.note = "not a parameter"

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.MLP(2, [3, 1])
        self.head = Affine(1, 1)
        self.blocks = nn.ModuleList([nn.Linear(1, 1), nn.Tanh()])

    def forward(self, x):
        return self.blocks[1](self.blocks[0](self.head(self.body(x))))


# -- registration and naming -----------------------------------------------------------


def test_parameters_register_in_assignment_order_with_dotted_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "body.layers.0.weight",
        "body.layers.0.bias",
        "body.layers.2.weight",
        "body.layers.2.bias",
        "head.weight",
        "head.bias",
        "blocks.0.weight",
        "blocks.0.bias",
    ]
    assert [p for _, p in net.named_parameters()] == list(net.parameters())
    assert all(isinstance(p, ad.Tensor) and p.requires_grad and p.is_leaf for p in net.parameters())
    assert [name for name, _ in net.named_modules()] == [
        "",
        "body",
        "body.layers",
        "body.layers.0",
        "body.layers.1",
        "body.layers.2",
        "head",
        "blocks",
        "blocks.0",
        "blocks.1",
    ]
    assert [name for name, _ in net.named_children()] == ["body", "head", "blocks"]
    assert list(net.children()) == [net.body, net.head, net.blocks]
    assert net.head.note == "not a parameter"  # plain attributes stay plain


def test_parameter_names_follow_the_outermost_module():
    model = nn.MLP(2, [16, 1])
    assert model.layers[0].weight.name == "layers.0.weight"
    assert model.layers[2].bias.name == "layers.2.bias"
    lone = nn.Linear(2, 3)
    assert (lone.weight.name, lone.bias.name) == ("weight", "bias")
    net = Net()  # the MLP built first, then nested: the outer path wins
    assert net.body.layers[0].weight.name == "body.layers.0.weight"
    assert all(p.name == name for name, p in net.named_parameters())
    # a parameter replaced deep inside an already nested model gets its full path too
    net.body.layers[2].bias = nn.Parameter(np.zeros(1))
    assert net.body.layers[2].bias.name == "body.layers.2.bias"
    # and the name shows up where graph drawings and reprs read it
    assert "name='head.weight'" in repr(net.head.weight)


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3


def test_reassigning_and_removing_registered_attributes():
    layer = nn.Linear(3, 2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    with pytest.raises(
        TypeError, match=r"cannot assign ndarray as parameter 'weight' \(nn.Parameter or None expected\)"
    ):
        layer.weight = np.zeros((2, 3))
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign int as child module 'head' \(nn.Module or None expected\)"):
        net.head = 3
    head, body = net.head, net.body
    del net.head
    assert "head.weight" not in dict(net.named_parameters())
    assert head.weight.name == "weight"  # a removed module is a root again
    net.body = None
    assert [name for name, _ in net.named_parameters()] == ["blocks.0.weight", "blocks.0.bias"]
    assert body.layers[0].weight.name == "layers.0.weight"
    net.blocks = nn.ModuleList([nn.Linear(1, 1)])  # replacing renames the old one too
    assert net.blocks[0].weight.name == "blocks.0.weight"


def test_registration_errors_are_explicit():
    class Forgot(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match=r"cannot register 'weight' before Module.__init__\(\) call"):
        Forgot()
    module = nn.Module()
    with pytest.raises(KeyError, match="names of parameters and modules must be non-empty and without '.'"):
        module.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="names of parameters and modules must be strings, got int"):
        module.register_parameter(3, nn.Parameter(np.ones(1)))
    with pytest.raises(TypeError, match="list is not a Module subclass"):
        module.add_module("x", [])
    with pytest.raises(NotImplementedError, match=r'Module \[ModuleList\] is missing the required "forward" function'):
        nn.ModuleList([nn.ReLU()])(np.ones(1))
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        nn.Parameter([1, 2])


def test_deepcopy_and_pickle_give_independent_models_with_the_same_names():
    model = nn.MLP(2, [3, 1])
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert [(n, p.name) for n, p in clone.named_parameters()] == [(n, p.name) for n, p in model.named_parameters()]
        clone.layers[0].weight.data[...] = 0
        assert model.layers[0].weight.data.any()
        outer = nn.Sequential(clone)  # the copy's structure is linked to itself, not to the original
        assert clone.layers[0].weight.name == "0.layers.0.weight"
        assert model.layers[0].weight.name == "layers.0.weight"
        assert outer[0] is clone


def test_zero_grad_train_eval():
    model = nn.MLP(2, [3, 1])
    model(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.eval() is model and not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())


def test_repr_lists_layers_and_parameter_counts():
    text = repr(nn.MLP(2, [16, 16, 1]))
    assert text == (
        "MLP(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=16, bias=True)  # 48 parameters\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=16, out_features=16, bias=True)  # 272 parameters\n"
        "    (3): ReLU()\n"
        "    (4): Linear(in_features=16, out_features=1, bias=True)  # 17 parameters\n"
        "  )\n"
        ")  # 337 parameters"
    )
    assert repr(nn.Linear(3, 2, bias=False, dtype=np.float32)) == (
        "Linear(in_features=3, out_features=2, bias=False, dtype=float32)  # 6 parameters"
    )


def _scope_names(op):
    return tuple(str(frame) for frame in op.scope)  # frames print as their names


def test_module_calls_are_scoped_by_their_dotted_name():
    net = Net()
    out = net(np.ones((5, 2)))
    scopes = set()
    stack = [out.grad_fn]
    while stack:
        op = stack.pop()
        scopes.add(_scope_names(op))
        stack.extend(t.grad_fn for t in op.input_tensors if t.grad_fn is not None)
    assert scopes == {
        ("Net", "blocks.1"),
        ("Net", "blocks.0"),
        ("Net", "head"),
        ("Net", "body", "body.layers", "body.layers.0"),
        ("Net", "body", "body.layers", "body.layers.1"),
        ("Net", "body", "body.layers", "body.layers.2"),
    }
    # a sub-module called on its own is a root, named by its class
    assert _scope_names(net.head(np.ones((1, 1))).grad_fn) == ("Affine",)
    # after a call (even one that raised) nothing is left active
    with pytest.raises(ValueError):
        net(np.ones((5, 7)))
    assert _scope_names(net.body(np.ones((1, 2))).grad_fn) == ("MLP", "layers", "layers.2")


def test_sequential_and_module_list_behave_like_lists():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    x = np.ones((4, 2))
    np.testing.assert_array_equal(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    view = seq[::2]
    assert [name for name, _ in view.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert seq[2].weight.name == "2.weight"  # slicing does not rename
    lst = nn.ModuleList().append(nn.Identity()).extend([nn.Sigmoid()])
    assert [type(m).__name__ for m in lst] == ["Identity", "Sigmoid"]


# -- layers and init -----------------------------------------------------------------------


def test_linear_computes_x_wt_plus_b_with_pytorch_shapes():
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data)
    assert nn.Linear(3, 2, bias=False)(x).shape == (4, 2)
    assert ad.gradcheck(
        lambda x, w, b: nn.functional.linear(x, w, b), (ad.Tensor(x, requires_grad=True), layer.weight, layer.bias)
    )


def test_linear_default_init_is_pytorch_kaiming_uniform():
    layer = nn.Linear(400, 300, rng=0)
    bound = 1 / np.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_layer_arguments_are_validated():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive integer, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="Linear: out_features must be a positive integer, got 2.5"):
        nn.Linear(2, 2.5)
    with pytest.raises(TypeError, match=r"layers hold floating-point parameters; got dtype=int64"):
        nn.Linear(2, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="MLP: unknown activation 'gelu': choose from 'relu', 'tanh'"):
        nn.MLP(2, [3, 1], activation="gelu")
    with pytest.raises(ValueError, match=r"MLP: nouts must list at least one layer width"):
        nn.MLP(2, [])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_dtype_and_width_one_anywhere(dtype):
    model = nn.MLP(3, [1, 4, 1, 2], activation="tanh", dtype=dtype)
    assert all(p.dtype == dtype for p in model.parameters())
    x = np.ones((5, 3), dtype=dtype)
    out = model(x)
    assert out.shape == (5, 2) and out.dtype == dtype
    out.sum().backward()
    assert all(p.grad.shape == p.shape and p.grad.dtype == dtype for p in model.parameters())
    assert model(np.ones(3, dtype=dtype)).shape == (2,)  # one sample, micrograd style
    assert [type(m).__name__ for m in model.layers] == ["Linear", "Tanh"] * 3 + ["Linear"]
    assert isinstance(nn.MLP(2, [2, 1], activation=nn.Sigmoid).layers[1], nn.Sigmoid)


@pytest.mark.parametrize(
    "start, end, shape, expected",
    [
        (1, -1, (2, 3, 4, 5), (2, 60)),  # PyTorch's default: everything but the batch axis
        (0, -1, (2, 3, 4), (24,)),
        (1, 2, (2, 3, 4, 5), (2, 12, 5)),
        (-2, -1, (2, 3, 4), (2, 12)),
        (2, 2, (2, 3, 4), (2, 3, 4)),  # one axis: unchanged
        (1, -1, (2, 0, 3), (2, 0)),
        (0, -1, (), (1,)),  # a 0-d input counts as 1-d, as in PyTorch
    ],
)
def test_flatten_merges_axes_start_dim_to_end_dim(start, end, shape, expected):
    x = ad.Tensor(np.arange(math.prod(shape), dtype=np.float64).reshape(shape), requires_grad=True)
    layer = nn.Flatten(start, end)
    y = layer(x)
    assert y.shape == expected and y.dtype == x.dtype
    np.testing.assert_array_equal(y.data.ravel(), x.data.ravel())  # row-major order kept
    (y * ad.Tensor(np.arange(y.size, dtype=np.float64).reshape(expected))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.arange(x.size, dtype=np.float64).reshape(shape))
    assert ad.gradcheck(
        lambda t: nn.Flatten(start, end)(t) ** 2, [ad.Tensor(np.random.rand(*shape), requires_grad=True)]
    )


def test_flatten_defaults_repr_and_errors():
    layer = nn.Flatten()
    assert (layer.start_dim, layer.end_dim) == (1, -1) and repr(layer) == "Flatten(start_dim=1, end_dim=-1)"
    assert layer(np.ones((4, 2, 2))).shape == (4, 4)  # arrays work as for any layer
    assert list(layer.parameters()) == []
    assert nn.Sequential(nn.Flatten(), nn.Linear(6, 2))(np.ones((5, 2, 3))).shape == (5, 2)
    with pytest.raises(
        IndexError,
        match=r"Flatten\(start_dim=1, end_dim=-1\): dimension out of range for "
        r"a 1-d input \(expected to be in range of \[-1, 0\]\)",
    ):
        layer(np.ones(3))
    with pytest.raises(
        ValueError,
        match=r"Flatten\(start_dim=2, end_dim=1\): start_dim comes after end_dim "
        r"for a 3-d input",
    ):
        nn.Flatten(2, 1)(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="Flatten: start_dim must be an int, got 1.0"):
        nn.Flatten(1.0)


def test_manual_seed_and_rng_make_initialisation_reproducible():
    nn.manual_seed(7)
    a = nn.MLP(4, [8, 2]).state_dict()
    nn.manual_seed(7)
    b = nn.MLP(4, [8, 2]).state_dict()
    c = nn.MLP(4, [8, 2]).state_dict()  # the generator moved on
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["layers.0.weight"], c["layers.0.weight"])
    d, e = nn.MLP(4, [8, 2], rng=3).state_dict(), nn.MLP(4, [8, 2], rng=np.random.default_rng(3)).state_dict()
    assert all(np.array_equal(d[k], e[k]) for k in d)
    # one stream across layers: the second layer is not a copy of the first's draws
    assert not np.array_equal(d["layers.0.bias"][:2], d["layers.2.bias"])


def test_init_functions_match_their_formulas():
    w = nn.Parameter(np.empty((200, 300)))
    version = w._version
    assert nn.init.xavier_uniform_(w, rng=0) is w and w._version > version and w.is_leaf
    assert np.abs(w.data).max() <= np.sqrt(6 / 500)
    nn.init.xavier_normal_(w, gain=2.0, rng=0)
    assert abs(w.data.std() - 2 * np.sqrt(2 / 500)) < 0.02 * 2 * np.sqrt(2 / 500)
    nn.init.kaiming_normal_(w, nonlinearity="relu", rng=0)
    assert abs(w.data.std() - np.sqrt(2 / 300)) < 0.02 * np.sqrt(2 / 300)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", rng=0)
    assert np.abs(w.data).max() <= np.sqrt(3) * np.sqrt(2 / 200)
    assert abs(w.data.std() - np.sqrt(2 / 200)) < 0.02 * np.sqrt(2 / 200)
    nn.init.zeros_(w)
    assert not w.data.any()
    nn.init.ones_(w)
    assert (w.data == 1).all()
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("leaky_relu", 0.2) == np.sqrt(2 / 1.04)


@pytest.mark.parametrize("fill, args", [(nn.init.uniform_, (-0.3, 0.7)), (nn.init.normal_, (0.1, 2.0))])
def test_init_of_a_large_float32_weight_draws_in_chunks_the_values_of_one_draw(fill, args):
    import tracemalloc

    w = nn.Parameter(np.empty((512, 784), dtype=np.float32))
    array, version = w.data, w._version
    tracemalloc.start()
    try:
        fill(w, *args, rng=123)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_draw = getattr(np.random.default_rng(123), fill.__name__[:-1])(*args, (512, 784))
    assert w.data is array and w._version > version and w.dtype == np.float32
    np.testing.assert_array_equal(w.data, one_draw.astype(np.float32))
    assert peak < w.data.nbytes / 8  # a float64 scratch of 128 KiB, not one of the whole weight (twice its size)


def test_a_new_linear_layer_allocates_its_weight_once():
    import tracemalloc

    tracemalloc.start()
    try:
        layer = nn.Linear(784, 512, dtype=np.float32, rng=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    weight_bytes = layer.weight.data.nbytes  # 1.6 MB
    assert peak < weight_bytes * 1.15  # the weight, its bias and a 128 KiB scratch: no copy of an empty array
    assert layer.weight.requires_grad and layer.weight.dtype == np.float32 and layer.bias.shape == (512,)
    bound = 1 / np.sqrt(784)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.99 * bound


def test_init_errors():
    with pytest.raises(ValueError, match=r"fan in and fan out need a tensor with at least 2 axes, got shape \(3,\)"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        nn.init.kaiming_uniform_(nn.Parameter(np.zeros((2, 2))), mode="fan")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish': choose from"):
        nn.init.calculate_gain("swish")


def test_init_on_a_parameter_used_in_a_graph_is_detected_by_backward():
    layer = nn.Linear(2, 2)
    out = (layer(np.ones((1, 2))) ** 2).sum()
    nn.init.zeros_(layer.weight)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


# -- state dicts ---------------------------------------------------------------------------


def test_state_dict_round_trip_is_bit_exact():
    source, target = nn.MLP(3, [5, 2], rng=1), nn.MLP(3, [5, 2], rng=2)
    state = source.state_dict()
    assert list(state) == [name for name, _ in source.named_parameters()]
    result = target.load_state_dict(state)
    assert result == ([], [])
    for (name, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    state["layers.0.weight"][...] = 0  # a state dict holds copies
    assert source.layers[0].weight.data.any()


def test_load_state_dict_copies_in_place_and_casts():
    model = nn.MLP(2, [3, 1], dtype=np.float32)
    weight = model.layers[0].weight
    array = weight.data
    model.load_state_dict({k: v.astype(np.float64) for k, v in nn.MLP(2, [3, 1]).state_dict().items()})
    assert model.layers[0].weight is weight and weight.data is array and weight.dtype == np.float32


def test_load_state_dict_errors_name_keys_and_shapes():
    model = nn.MLP(2, [3, 1])
    good = model.state_dict()
    before = model.state_dict()
    bad = dict(good)
    bad["layers.0.weight"] = np.zeros((3, 5))
    del bad["layers.2.bias"]
    bad["layers.9.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for MLP:")
    assert (
        "size mismatch for 'layers.0.weight': the checkpoint has shape (3, 5), the model has shape (3, 2)"
    ) in message
    assert "missing keys: 'layers.2.bias'" in message
    assert "unexpected keys: 'layers.9.weight'" in message
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())  # nothing loaded

    partial = {"layers.0.bias": np.ones(3), "extra": np.zeros(2)}
    assert model.load_state_dict(partial, strict=False) == (
        ["layers.0.weight", "layers.2.weight", "layers.2.bias"],
        ["extra"],
    )
    assert (model.layers[0].bias.data == 1).all()
    with pytest.raises(RuntimeError, match="size mismatch for 'layers.0.bias'"):
        model.load_state_dict({"layers.0.bias": np.ones(4)}, strict=False)
    with pytest.raises(RuntimeError, match=r"'layers.0.bias' is not a numeric array \(dtype <U1\)"):
        model.load_state_dict(dict(good, **{"layers.0.bias": np.array(["a", "b", "c"])}))


def test_weights_and_biases_split_the_parameters():
    model = nn.MLP(2, [3, 1])
    assert nn.weights(model) == [model.layers[0].weight, model.layers[2].weight]
    assert nn.biases(model) == [model.layers[0].bias, model.layers[2].bias]


# -- checkpoints -----------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    model = nn.MLP(3, [4, 2], dtype=np.float32)
    path = nn.save(model, tmp_path / "model.npz")
    assert os.fspath(path) == os.fspath(tmp_path / "model.npz")
    state = nn.load(path)
    assert list(state) == list(model.state_dict())
    for name, p in model.named_parameters():
        assert state[name].dtype == np.float32 and state[name].tobytes() == p.data.tobytes()
    other = nn.MLP(3, [4, 2], dtype=np.float32)
    other.load_state_dict(nn.load(path))
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(other(x).data, model(x).data)
    # a plain dict of arrays works too, and the name is used as given
    nn.save({"a": np.arange(3), "b": ad.Tensor([1.5])}, tmp_path / "plain")
    loaded = nn.load(tmp_path / "plain")
    assert loaded["a"].tolist() == [0, 1, 2] and loaded["b"].tolist() == [1.5]
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "plain"]  # no temporary files left


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.save({"w": np.ones(3)}, path)

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.zeros(3)}, path)
    assert nn.load(path)["w"].tolist() == [1, 1, 1]  # the old checkpoint is whole
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_refuses_what_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(ValueError, match="cannot save entry 'a': dtype object is not numeric"):
        nn.save({"a": np.array([{}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="cannot save entry '__format__': names must be strings other than"):
        nn.save({"__format__": np.ones(1)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("pickle", r"looks like a Python pickle, not an nn checkpoint; nn.load never unpickles"),
        ("object_array", r"entry 'a' holds pickled Python objects; refusing to load it"),
        ("truncated", r"is truncated or corrupt \(BadZipFile: File is not a zip file\)"),
        ("corrupt", r"is truncated or corrupt \(BadZipFile: Bad CRC-32"),
        ("empty", r"is empty, not an nn checkpoint \(was its writing interrupted\?\)"),
        (
            "foreign_npz",
            r"is an .npz file but not an nn checkpoint \(no '__format__' entry; was it written by nn.save\?\)",
        ),
        ("npy", r"is not an nn checkpoint: not an .npz \(zip\) file \(it starts with b'\\x93NUM'\)"),
        ("other_version", r"has unsupported format 'autodiff.nn state_dict v99' \(this version reads"),
    ],
)
def test_load_refuses_bad_files_clearly(tmp_path, kind, message):
    path = tmp_path / "bad.npz"
    good = tmp_path / "good.npz"
    nn.save(nn.MLP(2, [3, 1]), good)
    data = good.read_bytes()
    if kind == "pickle":
        path.write_bytes(pickle.dumps(Boom()))
    elif kind == "object_array":
        np.savez(path, __format__=np.array("autodiff.nn state_dict v1"), a=np.array([Boom()], dtype=object))
    elif kind == "truncated":
        path.write_bytes(data[: len(data) - 40])
    elif kind == "corrupt":
        corrupt = bytearray(data)
        corrupt[data.index(b"\x93NUMPY") + 130] ^= 0xFF  # inside the first array's values
        path.write_bytes(bytes(corrupt))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign_npz":
        np.savez(path, a=np.ones(2))
    elif kind == "npy":
        np.save(path, np.ones(2))
        path = tmp_path / "bad.npz.npy"
    elif kind == "other_version":
        np.savez(path, __format__=np.array("autodiff.nn state_dict v99"), a=np.ones(2))
    with pytest.raises(nn.CheckpointError, match=message):
        nn.load(path)


def test_apply_visits_every_module_children_first_as_pytorch_does():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Sequential(nn.Linear(3, 1, rng=0)))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def init_weights(m):  # d2l's concise chapters
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    model.apply(init_weights)
    assert all((m.weight.data == 0).all() for m in model.modules() if isinstance(m, nn.Linear))
