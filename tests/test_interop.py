"""Interop: models to PyTorch and back, to ONNX (run by onnxruntime), weights through safetensors.

PyTorch, onnx, onnxruntime and safetensors are oracles here, installed with the dev extras; each
test that needs one asks for it through a fixture (``pytest.importorskip`` only guards).
"""

import builtins
import importlib.util
import json
import os
import pickle
import struct
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autodiff as ad
import nn
from nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
INTEROP_PACKAGES = ("torch", "onnx", "onnxruntime", "safetensors")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def onnx():
    return pytest.importorskip("onnx")


@pytest.fixture
def ort():
    return pytest.importorskip("onnxruntime")


@pytest.fixture
def safetensors():
    pytest.importorskip("safetensors")
    import safetensors.numpy
    import safetensors.torch

    return safetensors


def nested(dtype=np.float64):
    """Every supported module, nested: for inputs of shape (N, 2, 3, 2)."""
    nn.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(2, 3),  # (N, 2, 6)
        nn.Linear(6, 8, dtype=dtype),  # on 3-d inputs
        nn.Tanh(),
        nn.Flatten(),  # (N, 16)
        nn.MLP(16, [12, 4], activation="sigmoid", dtype=dtype),
        nn.ReLU(),
        nn.Identity(),
        nn.Linear(4, 3, bias=False, dtype=dtype),
    )


def torch_output(torch, module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


# -- optional dependencies ---------------------------------------------------------------------------


def test_importing_autodiff_and_nn_loads_no_interop_package():
    code = (
        "import sys, autodiff, nn, nn.interop, nn.serialization\n"
        f"print(sorted(m for m in {INTEROP_PACKAGES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def block_with_sys_modules(monkeypatch, name):
    monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ModuleNotFoundError


def block_with_import_hook(monkeypatch, name):
    real = builtins.__import__

    def fake(module, *args, **kwargs):
        if module == name or module.startswith(name + "."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real(module, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


@pytest.mark.parametrize("block", [block_with_sys_modules, block_with_import_hook], ids=["sys.modules", "__import__"])
@pytest.mark.parametrize(
    "call, package, caller",
    [
        (lambda tmp: nn.to_torch(nn.MLP(2, [1])), "torch", "nn.to_torch"),
        (lambda tmp: nn.from_torch(object()), "torch", "nn.from_torch"),
        (lambda tmp: nn.export_onnx(nn.MLP(2, [1]), tmp / "m.onnx", np.ones((1, 2))), "onnx", "nn.export_onnx"),
    ],
    ids=["to_torch", "from_torch", "export_onnx"],
)
def test_a_missing_package_names_the_extra_to_install(monkeypatch, tmp_path, block, call, package, caller):
    block(monkeypatch, package)
    with pytest.raises(ModuleNotFoundError) as error:
        call(tmp_path)
    assert str(error.value) == (
        f"{caller} needs the '{package}' package, which is not installed: pip install 'autodiff[{package}]' "
        "(or 'autodiff[export]' for torch, onnx, onnxruntime and safetensors together)"
    )
    assert error.value.name == package
    assert not os.listdir(tmp_path)


def test_safetensors_checkpoints_need_no_package(monkeypatch, tmp_path):
    block_with_sys_modules(monkeypatch, "safetensors")
    block_with_import_hook(monkeypatch, "safetensors")
    model = nn.MLP(3, [4, 2])
    nn.save(model, tmp_path / "m.safetensors")
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in nn.load(tmp_path / "m.safetensors").items())


# -- PyTorch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_has_our_outputs_dtype_and_state_dict(torch, dtype):
    model = nn.MLP(5, [16, 8, 3], activation="tanh", dtype=dtype, rng=1)
    converted = nn.to_torch(model)
    assert isinstance(converted, torch.nn.Module) and type(converted).__name__ == "TorchMLP"
    assert isinstance(converted.layers, torch.nn.Sequential)
    assert [type(m).__name__ for m in converted.layers] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    theirs, ours = converted.state_dict(), model.state_dict()
    assert list(theirs) == list(ours)
    for key, value in ours.items():
        assert theirs[key].dtype == getattr(torch, np.dtype(dtype).name)
        assert theirs[key].numpy().tobytes() == value.tobytes()  # same layout, no transposition
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(dtype)
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, **TOLERANCE[dtype])
    # the weights were copied: changing ours leaves theirs alone
    model.layers[0].weight.data[...] = 0.0
    assert converted.layers[0].weight.abs().sum() > 0
    # and a state dict moves between the two unchanged, both ways
    model.load_state_dict(converted.state_dict())
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, **TOLERANCE[dtype])
    other = nn.to_torch(nn.MLP(5, [16, 8, 3], activation="tanh", dtype=dtype, rng=2))
    other.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(torch_output(torch, other, x), torch_output(torch, converted, x))


def test_round_trip_ours_torch_ours_of_every_supported_module(torch):
    model = nested()
    converted = nn.to_torch(model)
    assert [type(m).__name__ for m in converted] == [
        "Flatten",
        "Linear",
        "Tanh",
        "Flatten",
        "TorchMLP",
        "ReLU",
        "Identity",
        "Linear",
    ]
    assert (converted[0].start_dim, converted[0].end_dim) == (2, 3)
    assert converted[7].bias is None
    assert list(converted.state_dict()) == list(model.state_dict())
    x = np.random.default_rng(0).normal(size=(5, 2, 3, 2))
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, rtol=1e-12, atol=1e-14)

    back = nn.from_torch(converted)
    assert repr(back) == repr(model)
    assert [type(m) for m in back.modules()] == [type(m) for m in model.modules()]
    assert all(np.array_equal(a, b) for a, b in zip(back.state_dict().values(), model.state_dict().values()))
    assert list(back.state_dict()) == list(model.state_dict())
    np.testing.assert_array_equal(back(x).data, model(x).data)
    assert back[4].layers[0].weight.name == "4.layers.0.weight"  # named like any model's parameters


def test_requires_grad_training_mode_and_sharing_carry_over(torch):
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(3, 1))
    model[3].weight.requires_grad = False
    model[1].eval()
    converted = nn.to_torch(model)
    assert converted[0] is converted[2]  # one module, used twice
    assert [p.requires_grad for p in converted.parameters()] == [True, True, False, True]
    assert [m.training for m in converted] == [True, False, True, True]
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, rtol=1e-12)
    # PyTorch lists a shared module under each of its names; ours lists it once
    assert list(converted.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]

    back = nn.from_torch(converted)
    assert back[0] is back[2]
    assert [p.requires_grad for p in back.parameters()] == [True, True, False, True]
    assert [m.training for m in back] == [True, False, True, True]


def test_a_module_list_converts_both_ways(torch):
    blocks = nn.ModuleList([nn.Linear(2, 3), nn.MLP(3, [4, 1])])
    converted = nn.to_torch(blocks)
    assert type(converted) is torch.nn.ModuleList and type(converted[1]).__name__ == "TorchMLP"
    assert list(converted.state_dict()) == list(blocks.state_dict())
    back = nn.from_torch(converted)
    assert type(back) is nn.ModuleList and repr(back) == repr(blocks)
    assert all(np.array_equal(a, b) for a, b in zip(back.state_dict().values(), blocks.state_dict().values()))


def test_the_torch_model_trains_like_ours(torch):
    model = nn.MLP(4, [8, 3], rng=0)
    converted = nn.to_torch(model)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)

    loss = F.cross_entropy(model(x), y)
    loss.backward()
    torch_loss = torch.nn.functional.cross_entropy(converted(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    assert torch_loss.item() == pytest.approx(loss.item(), rel=1e-12)
    for (name, ours), (torch_name, theirs) in zip(model.named_parameters(), converted.named_parameters()):
        assert name == torch_name
        np.testing.assert_allclose(theirs.grad.numpy(), ours.grad.data, rtol=1e-10, atol=1e-14)

    nn.optim.SGD(model.parameters(), lr=0.1).step()
    optimizer = torch.optim.SGD(converted.parameters(), lr=0.1)
    optimizer.step()
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, rtol=1e-10)
    losses = []
    for _ in range(20):  # and it goes on learning in PyTorch
        optimizer.zero_grad()
        step_loss = torch.nn.functional.cross_entropy(converted(torch.from_numpy(x)), torch.from_numpy(y))
        step_loss.backward()
        optimizer.step()
        losses.append(step_loss.item())
    assert losses[-1] < losses[0] < loss.item()
    np.testing.assert_allclose(nn.from_torch(converted)(x).data, torch_output(torch, converted, x), rtol=1e-12)


def test_from_torch_keeps_named_sequential_entries_and_the_dtype(torch):
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        OrderedDict(
            flat=torch.nn.Flatten(),
            fc=torch.nn.Linear(6, 4),
            act=torch.nn.ReLU(inplace=True),
            head=torch.nn.Linear(4, 2, bias=False),
            out=torch.nn.Sigmoid(),
        )
    )
    model = nn.from_torch(module)
    assert list(model.state_dict()) == list(module.state_dict()) == ["fc.weight", "fc.bias", "head.weight"]
    assert model.fc.weight.dtype == np.float32 and model.head.bias is None
    x = np.random.default_rng(0).normal(size=(3, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x).data, torch_output(torch, module, x), **TOLERANCE[np.float32])
    single = nn.from_torch(torch.nn.Linear(3, 2, dtype=torch.float64))
    assert type(single) is nn.Linear and single.weight.dtype == np.float64


def test_a_torch_model_made_by_to_torch_pickles_and_reloads(torch, monkeypatch):
    converted = nn.to_torch(nn.MLP(2, [3, 1]))
    assert nn.interop.TorchMLP is type(converted)
    data = pickle.dumps(converted)
    monkeypatch.setattr(nn.interop, "_TORCH_CLASSES", {})  # as in a fresh process: the class is made on demand
    clone = pickle.loads(data)
    assert type(clone).__name__ == "TorchMLP" and type(clone) is nn.interop.TorchMLP
    x = torch.ones(2, 2, dtype=torch.float64)
    assert torch.equal(clone(x), converted(x))
    with pytest.raises(AttributeError, match="module 'nn.interop' has no attribute 'TorchLSTM'"):
        nn.interop.TorchLSTM


class Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.ones((2, 2)))

    def forward(self, x):
        return x @ self.weight


class Swish(nn.Module):
    def forward(self, x):
        return x * ad.sigmoid(x)


class MyLinear(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


def with_extra_parameter():
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].scale = nn.Parameter(np.ones(1))
    return model


REFUSED = (
    r"; to_torch converts Linear, ReLU, Tanh, Sigmoid, Flatten, Identity, Sequential, ModuleList and MLP, "
    r"and modules built"
)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            Affine,
            TypeError,
            r"^nn.to_torch: Affine has no PyTorch counterpart" + REFUSED + r" from them\. "
            r"Write Affine as a torch.nn.Module with the same attribute names, then load model.state_dict\(\) into it$",
        ),
        (
            lambda: nn.MLP(2, [4, 1], activation=Swish),
            TypeError,
            r"^nn.to_torch: Swish \(at 'layers.1'\) has no PyTorch counterpart" + REFUSED,
        ),
        (
            lambda: nn.Sequential(nn.ReLU(), MyLinear(2, 2)),
            TypeError,
            r"^nn.to_torch: MyLinear \(at '1'\) has no PyTorch counterpart",
        ),
        (
            with_extra_parameter,
            TypeError,
            r"^nn.to_torch: Linear \(at '0'\) holds parameter 'scale', which torch.nn.Linear has no place for; "
            r"keep extra parameters and layers in modules of their own$",
        ),
        (
            lambda: nn.Linear(2, 2, dtype=np.longdouble),
            TypeError,
            r"^nn.to_torch: Linear has dtype float128, which PyTorch does not have; build it with dtype=np.float32",
        ),
        (
            lambda: np.ones(3),
            TypeError,
            r"^nn.to_torch expects an nn.Module, got ndarray \(for a torch module use nn.from_torch\)$",
        ),
    ],
    ids=["custom_module", "custom_activation", "subclass", "extra_parameter", "longdouble", "not_a_module"],
)
def test_to_torch_refuses_what_pytorch_has_no_counterpart_for(torch, make, error, message):
    model = make()
    if isinstance(model, nn.Linear) and model.weight.dtype == np.float64:
        pytest.skip("np.longdouble is float64 on this platform")
    with pytest.raises(error, match=message):
        nn.to_torch(model)


def buffered_sequential(torch):
    module = torch.nn.Sequential(torch.nn.Linear(2, 2))
    module.register_buffer("running_mean", torch.zeros(2))
    return module


def mlp_with_a_head(torch):
    module = nn.to_torch(nn.MLP(2, [3, 1]))
    module.head = torch.nn.Linear(1, 1)
    return module


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda torch: torch.nn.Conv2d(1, 1, 3),
            r"^nn.from_torch: Conv2d has no counterpart in nn; from_torch converts torch.nn.Sequential, ModuleList, "
            r"Linear, ReLU, Tanh, Sigmoid, Flatten and Identity, and modules built from them$",
        ),
        (
            lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.GELU())),
            r"^nn.from_torch: GELU \(at '1.0'\) has no counterpart in nn",
        ),
        (
            buffered_sequential,
            r"^nn.from_torch: Sequential holds buffer 'running_mean', which nn.Sequential has no place for$",
        ),
        (mlp_with_a_head, r"^nn.from_torch: TorchMLP holds sub-module 'head', which nn.MLP has no place for$"),
        (
            lambda torch: torch.nn.Linear(2, 2, dtype=torch.bfloat16),
            r"^nn.from_torch: Linear has dtype torch.bfloat16, which numpy does not have; convert it first "
            r"\(module.float\(\) or module.double\(\)\)$",
        ),
        (
            lambda torch: nn.MLP(2, [1]),
            r"^nn.from_torch expects a torch.nn.Module, got MLP \(for an nn model use nn.to_torch\)$",
        ),
    ],
    ids=["conv", "nested_gelu", "buffer", "extra_sub_module", "bfloat16", "not_a_torch_module"],
)
def test_from_torch_refuses_what_nn_has_no_counterpart_for(torch, make, message):
    with pytest.raises(TypeError, match=message):
        nn.from_torch(make(torch))


# -- ONNX --------------------------------------------------------------------------------------------


def shared_model():
    shared = nn.Linear(4, 4, dtype=np.float32, rng=0)
    return nn.Sequential(shared, nn.Tanh(), shared, nn.Linear(4, 2, dtype=np.float32, rng=1))


EXPORTS = {  # name: (model, input shape without the batch axis, dtype)
    "mlp": (lambda: nn.MLP(64, [32, 10], dtype=np.float32, rng=0), (64,), np.float32),
    "nested": (lambda: nested(np.float32), (2, 3, 2), np.float32),
    "nested_float64": (lambda: nested(np.float64), (2, 3, 2), np.float64),
    "shared": (shared_model, (4,), np.float32),
    "flatten_batch": (lambda: nn.Sequential(nn.Linear(3, 2, dtype=np.float32, rng=0), nn.Flatten(0)), (3,), np.float32),
    "no_parameters": (lambda: nn.Sequential(), (3,), np.float32),
}


@pytest.mark.parametrize("name", list(EXPORTS))
def test_export_onnx_runs_in_onnxruntime_like_ours_for_any_batch(onnx, ort, tmp_path, name):
    make, features, dtype = EXPORTS[name]
    model = make()
    rng = np.random.default_rng(0)
    path = nn.export_onnx(model, tmp_path / "model.onnx", rng.normal(size=(3, *features)).astype(dtype))
    assert path == os.fspath(tmp_path / "model.onnx") and os.listdir(tmp_path) == ["model.onnx"]

    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", nn.interop.ONNX_OPSET)] == [("", 17)]
    assert proto.producer_name == "autodiff.nn"
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert (graph_input.name, graph_output.name) == ("input", "output")
    assert [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim] == ["batch", *features]
    if name != "flatten_batch":
        assert graph_output.type.tensor_type.shape.dim[0].dim_param == "batch"
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer if not i.name.endswith("/shape")}
    assert list(weights) == list(model.state_dict())  # named by state_dict keys, each stored once
    assert all(np.array_equal(weights[k], v) for k, v in model.state_dict().items())

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for batch in (1, 5, 64):
        x = rng.normal(size=(batch, *features)).astype(dtype)
        (theirs,) = session.run(None, {"input": x})
        ours = ad.as_tensor(model(x)).data  # an empty Sequential hands back its input
        assert theirs.dtype == ours.dtype == dtype and theirs.shape == ours.shape
        np.testing.assert_allclose(
            theirs, ours, **({"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12})
        )


def test_export_onnx_uses_gemm_for_matrices_and_reshape_for_partial_flattening(onnx, tmp_path):
    model = nested(np.float32)
    model[4].eval()
    proto = onnx.load(nn.export_onnx(model, tmp_path / "m.onnx", np.ones((1, 2, 3, 2))))
    assert [m.training for m in model.modules()] == [True] * 5 + [False] * 5 + [True] * 3  # modes left as they were
    assert [(n.name, n.op_type) for n in proto.graph.node] == [
        ("0/Reshape", "Reshape"),
        ("1/Transpose", "Transpose"),
        ("1/MatMul", "MatMul"),
        ("1/Add", "Add"),
        ("2/Tanh", "Tanh"),
        ("3/Flatten", "Flatten"),
        ("4.layers.0/Gemm", "Gemm"),
        ("4.layers.1/Sigmoid", "Sigmoid"),
        ("4.layers.2/Gemm", "Gemm"),
        ("5/Relu", "Relu"),
        ("6/Identity", "Identity"),
        ("7/Gemm", "Gemm"),
    ]
    assert proto.graph.node[-1].output == ["output"]
    shape = next(i for i in proto.graph.initializer if i.name == "0/shape")
    assert onnx.numpy_helper.to_array(shape).tolist() == [0, 0, -1]


def test_export_onnx_writes_atomically(onnx, tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous model")

    def crash(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)  # after every byte is written, before the rename
    with pytest.raises(KeyboardInterrupt):
        nn.export_onnx(nn.MLP(2, [3, 1]), path, np.ones((1, 2)))
    assert path.read_bytes() == b"the previous model" and os.listdir(tmp_path) == ["model.onnx"]


def mixed_dtypes():
    return nn.Sequential(nn.Linear(2, 2, dtype=np.float32), nn.Linear(2, 2, dtype=np.float64))


@pytest.mark.parametrize(
    "make, example, error, message",
    [
        (
            lambda: nn.Sequential(nn.Linear(2, 2), Swish()),
            np.ones((1, 2)),
            TypeError,
            r"^nn.export_onnx: Swish \(at '1'\) has no ONNX translation; export_onnx handles Linear, ReLU, Tanh, Sigmoid, "
            r"Flatten, Identity, Sequential and MLP, and modules built from them$",
        ),
        (Affine, np.ones((1, 2)), TypeError, r"^nn.export_onnx: Affine has no ONNX translation"),
        (
            mixed_dtypes,
            np.ones((1, 2)),
            TypeError,
            r"^nn.export_onnx: the model mixes parameter dtypes float32, float64; an ONNX graph needs one, "
            r"so build every layer with the same dtype$",
        ),
        (
            lambda: nn.MLP(2, [1]),
            np.ones(2),
            ValueError,
            r"^nn.export_onnx: Linear \(at 'layers.0'\) gets inputs of shape \('batch',\), whose only axis is the batch axis; "
            r"give example_input a feature axis after the batch axis$",
        ),
        (
            lambda: nn.MLP(2, [1]),
            np.float64(1.0),
            ValueError,
            r"^nn.export_onnx: example_input must have a batch axis first, e.g. shape \(1, features\); got a 0-d array$",
        ),
        (
            lambda: nn.MLP(2, [1]),
            np.ones((1, 3)),
            ValueError,  # our own shape error, before any ONNX
            r"^linear of shapes \(1, 3\), \(1, 2\), \(1,\): x has 3 features per sample",
        ),
        (lambda: "model", np.ones((1, 2)), TypeError, r"^nn.export_onnx expects an nn.Module, got str$"),
    ],
    ids=[
        "unknown_module",
        "custom_module",
        "mixed_dtypes",
        "no_feature_axis",
        "no_batch_axis",
        "wrong_width",
        "not_a_module",
    ],
)
def test_export_onnx_refuses_clearly(onnx, tmp_path, make, example, error, message):
    with pytest.raises(error, match=message):
        nn.export_onnx(make(), tmp_path / "m.onnx", example)
    assert not os.listdir(tmp_path)


# -- safetensors -------------------------------------------------------------------------------------


def test_safetensors_round_trip_ours_to_torch(torch, safetensors, tmp_path):
    model = nested()
    path = nn.save(model, tmp_path / "model.safetensors")
    assert os.listdir(tmp_path) == ["model.safetensors"]
    state = safetensors.torch.load_file(path)
    converted = nn.to_torch(nested())  # a fresh model: its weights all come from the file
    nn.manual_seed(1)
    for p in converted.parameters():
        torch.nn.init.normal_(p.data)
    converted.load_state_dict(state)
    x = np.random.default_rng(0).normal(size=(5, 2, 3, 2))
    np.testing.assert_allclose(torch_output(torch, converted, x), model(x).data, rtol=1e-12, atol=1e-14)
    # ours back from the same file: bit-exact, in state_dict order
    loaded = nn.load(path)
    assert list(loaded) == list(model.state_dict())
    assert all(loaded[k].dtype == v.dtype and loaded[k].tobytes() == v.tobytes() for k, v in model.state_dict().items())
    with open(path, "rb") as f:
        assert safetensors.safe_open(f.name, "np").metadata() == {"format": "pt"}


def test_safetensors_round_trip_torch_to_ours(torch, safetensors, tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    safetensors.torch.save_file(module.state_dict(), tmp_path / "torch.safetensors")
    model = nn.Sequential(nn.Linear(5, 7, dtype=np.float32), nn.Tanh(), nn.Linear(7, 2, dtype=np.float32))
    model.load_state_dict(nn.load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(model(x).data, torch_output(torch, module, x), **TOLERANCE[np.float32])


def every_dtype():
    rng = np.random.default_rng(0)
    arrays = {
        f"{np.dtype(t).name}": (rng.normal(size=(2, 3)) * 50).astype(t)
        for t in (
            np.bool_,
            np.uint8,
            np.int8,
            np.uint16,
            np.int16,
            np.uint32,
            np.int32,
            np.uint64,
            np.int64,
            np.float16,
            np.float32,
            np.float64,
        )
    }
    arrays.update(
        {
            "scalar": np.array(2.5),
            "empty": np.zeros((0, 4), np.float32),
            "big_endian": np.arange(6, dtype=">i4").reshape(3, 2),
            "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
            "ünïcode.name": np.ones(1, np.int8),
        }
    )
    return arrays


def test_safetensors_agrees_with_the_reference_implementation_both_ways(safetensors, tmp_path):
    arrays = every_dtype()
    ours = nn.save(arrays, tmp_path / "ours.safetensors")
    read = safetensors.numpy.load_file(ours)
    safetensors.numpy.save_file(
        {k: np.asarray(v, v.dtype.newbyteorder("<"), order="C") for k, v in arrays.items()},
        tmp_path / "theirs.safetensors",
    )
    for loaded in (read, nn.load(tmp_path / "theirs.safetensors"), nn.load(ours)):
        assert sorted(loaded) == sorted(arrays)
        for key, value in arrays.items():
            assert loaded[key].shape == value.shape and loaded[key].dtype == value.dtype.newbyteorder("=")
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].flags.writeable
    # with the reference writer's order (wider dtypes first, then by name), the files are byte for byte the same
    ordered = {k: arrays[k] for k in ("float64", "float32", "float16", "bool")}
    safetensors.numpy.save_file(ordered, tmp_path / "theirs.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "theirs.safetensors").read_bytes() == Path(
        nn.save(ordered, tmp_path / "o.safetensors")
    ).read_bytes()


def test_safetensors_save_is_atomic_and_chosen_by_extension(tmp_path, monkeypatch):
    path = tmp_path / "model.SafeTensors"
    nn.save({"w": np.ones(3)}, path)
    assert path.read_bytes()[8:9] == b"{"  # not a zip
    nn.save({"w": np.ones(3)}, tmp_path / "model.npz")
    assert (tmp_path / "model.npz").read_bytes()[:4] == b"PK\x03\x04"  # .npz stays the default

    def crash(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert nn.load(path)["w"].tolist() == [1, 1, 1]
    assert sorted(os.listdir(tmp_path)) == ["model.SafeTensors", "model.npz"]


@pytest.mark.parametrize(
    "state, message",
    [
        (
            {"z": np.ones(2, np.complex128)},
            r"^cannot save entry 'z' as safetensors: the format has no complex128 dtype "
            r"\(save it to an .npz file instead\)$",
        ),
        (
            {"__metadata__": np.ones(2)},
            r"^cannot save entry '__metadata__' as safetensors: the format reserves that name$",
        ),
        ({"o": np.array([None])}, r"^cannot save entry 'o': dtype object is not numeric$"),
    ],
    ids=["complex", "reserved_name", "object"],
)
def test_safetensors_save_refuses_what_the_format_cannot_hold(tmp_path, state, message):
    with pytest.raises(ValueError, match=message):
        nn.save(state, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def safetensors_bytes(header, data, length=None):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


ONE = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
EIGHT = bytes(8)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"is empty, not an nn checkpoint \(was its writing interrupted\?\)"),
        (pickle.dumps({"w": 1}), r"looks like a Python pickle, not an nn checkpoint; nn.load never unpickles"),
        ("npz", r"is an .npz \(zip\) file, not safetensors: rename it to end in .npz to load it$"),
        (
            b"hello, world",
            r"is not a safetensors file: it should start with an 8-byte header length and a JSON header, "
            r"but it starts with b'hello, wo'",
        ),
        (
            safetensors_bytes(ONE, EIGHT)[:40],
            r"is truncated or corrupt: its safetensors header claims 61 bytes but the "
            r"file holds 32 after the length \(was its writing interrupted\?\)",
        ),
        (
            safetensors_bytes(ONE, EIGHT)[:-3],
            r"is truncated or corrupt: safetensors entry 'w' ends at byte 8 of the data, "
            r"but the file holds 5",
        ),
        (
            safetensors_bytes(ONE, EIGHT, length=2**40),
            r"is truncated or corrupt: its safetensors header claims 1099511627776",
        ),
        (struct.pack("<Q", 5) + b"{oops" + EIGHT, r"is truncated or corrupt: its safetensors header is not valid JSON"),
        (struct.pack("<Q", 15) + b'{"a":1,"a":2}  ', r"header is not valid JSON \(duplicate names \['a'\]\)"),
        (
            safetensors_bytes({"__metadata__": {"n": 1}}, b""),
            r"is corrupt: its safetensors header must be a JSON object "
            r"whose '__metadata__' maps names to strings$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "F32"}}, EIGHT),
            r"is corrupt: safetensors entry 'w' must be an object with 'dtype', 'shape' and 'data_offsets'$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, EIGHT),
            r"is corrupt: safetensors entry 'w' has unknown dtype 'Q7'$",
        ),
        (
            safetensors_bytes({"w": {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}}, EIGHT),
            r"is corrupt: safetensors entry 'w' has unknown dtype \['F32'\]$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, EIGHT),
            r": entry 'w' has dtype BF16, which numpy cannot hold; convert it before saving \(in PyTorch: "
            r"\{k: v.float\(\) for k, v in state_dict.items\(\)\}\)$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, EIGHT),
            r"is corrupt: safetensors entry 'w' needs a list of non-negative ints for 'shape' \(got \[-2\]\) and two for "
            r"'data_offsets' \(got \[0, 8\]\)$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, EIGHT),
            r"is corrupt: safetensors entry 'w' spans bytes 0..8, but shape \(3,\) of F32 takes 12$",
        ),
        (
            safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, EIGHT),
            r"is corrupt: safetensors entry 'w' starts at byte 4 of the data, but the previous tensor ends at 0 "
            r"\(the tensors must tile the data without gaps\)$",
        ),
        (
            safetensors_bytes(ONE, EIGHT + b"junk"),
            r"is corrupt: its tensors take 8 bytes but the data holds 12 \(extra bytes after the last tensor\)$",
        ),
    ],
    ids=[
        "empty",
        "pickle",
        "npz",
        "text",
        "truncated_header",
        "truncated_data",
        "absurd_length",
        "bad_json",
        "duplicate_names",
        "bad_metadata",
        "missing_fields",
        "unknown_dtype",
        "list_dtype",
        "bf16",
        "negative_shape",
        "size_mismatch",
        "gap",
        "trailing_bytes",
    ],
)
def test_load_refuses_bad_safetensors_files_clearly(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    if content == "npz":
        nn.save({"w": np.ones(2)}, tmp_path / "x.npz")
        content = (tmp_path / "x.npz").read_bytes()
    path.write_bytes(content)
    with pytest.raises(nn.CheckpointError, match=message):
        nn.load(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, 10_000),
    where=st.integers(0, 10_000),
    byte=st.integers(0, 255),
    kind=st.sampled_from(["truncate", "overwrite", "insert"]),
)
def test_a_damaged_safetensors_file_loads_or_is_a_checkpoint_error(tmp_path, cut, where, byte, kind):
    path = tmp_path / "m.safetensors"
    nn.save(
        {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": np.ones(3),
            "n": np.arange(4, dtype=np.int16),
            "flag": np.array(True),
        },
        path,
    )
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        data = data[: cut % len(data)]
    elif kind == "overwrite":
        data[where % len(data)] = byte
    else:
        data.insert(where % len(data), byte)
    path.write_bytes(bytes(data))
    try:
        loaded = nn.load(path)
    except nn.CheckpointError:
        return
    assert all(isinstance(v, np.ndarray) for v in loaded.values())  # a change the format cannot see (in the data)


def test_a_safetensors_file_named_otherwise_gets_a_hint(tmp_path):
    nn.save({"w": np.ones(2)}, tmp_path / "weights.safetensors")
    os.rename(tmp_path / "weights.safetensors", tmp_path / "weights.bin")
    with pytest.raises(
        nn.CheckpointError,
        match=r"not an .npz \(zip\) file \(it starts with b'.*'\) "
        r"\(it looks like safetensors: rename it to end in .safetensors\)$",
    ):
        nn.load(tmp_path / "weights.bin")


# -- the example -------------------------------------------------------------------------------------


def test_the_export_digits_example_gets_our_accuracy_from_onnxruntime(ort, tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.syspath_prepend(str(ROOT / "examples"))  # as when run as a script: digits.py is beside it
    spec = importlib.util.spec_from_file_location("export_digits", ROOT / "examples" / "export_digits.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--epochs", "5", "--out", str(tmp_path / "digits.onnx")]) == 0
    out = capsys.readouterr().out
    ours = float(out.split("test accuracy, autodiff:")[1].split()[0])
    theirs = float(out.split("test accuracy, onnxruntime:")[1].split()[0])
    assert ours == theirs > 0.9
    assert os.listdir(tmp_path) == ["digits.onnx"]
