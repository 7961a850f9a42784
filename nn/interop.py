"""Interop: models to PyTorch and back (``to_torch``, ``from_torch``) and to ONNX (``export_onnx``).

Linear keeps its weight as (out_features, in_features) here as in PyTorch, and
both name parameters by their dotted attribute path, so a converted model has
the same ``state_dict()`` keys holding the same arrays: a state dict moves
between the two unchanged. ``nn.MLP`` becomes ``TorchMLP`` (a torch module with
the same ``layers`` attribute); every other supported module becomes its
``torch.nn`` namesake.

torch and onnx are imported inside these functions only, so ``import nn`` does
not load them; when one is missing the error names the extra that installs it.
"""

import numpy as np

import autodiff as ad

from .layers import MLP, Flatten, Identity, Linear, ReLU, Sigmoid, Tanh
from .module import Module, ModuleList, Parameter, Sequential
from .serialization import atomic_write

__all__ = ["to_torch", "from_torch", "export_onnx", "ONNX_OPSET"]

ONNX_OPSET = 17  # Gemm, MatMul, Add, Relu, Tanh, Sigmoid, Flatten, Reshape, Identity: all stable since
ONNX_IR_VERSION = 8  # the IR version released with opset 17 (onnx 1.12), so older runtimes read the files too

_ACTIVATIONS = {ReLU: "ReLU", Tanh: "Tanh", Sigmoid: "Sigmoid", Identity: "Identity"}
_ONNX_OPS = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid", Identity: "Identity"}
_CONVERTS = "Linear, ReLU, Tanh, Sigmoid, Flatten, Identity, Sequential, ModuleList and MLP"
_EXPORTS = "Linear, ReLU, Tanh, Sigmoid, Flatten, Identity, Sequential and MLP"
_FLOATS = ("float16", "float32", "float64")


def _require(module, extra, caller):
    """``import module`` (through ``builtins.__import__``, as an import statement), or say which extra installs it."""
    try:
        return __import__(module)
    except ImportError as error:
        raise ModuleNotFoundError(
            f"{caller} needs the '{module}' package, which is not installed: pip install 'autodiff[{extra}]' "
            "(or 'autodiff[export]' for torch, onnx, onnxruntime and safetensors together)",
            name=module,
        ) from error


def _at(path):
    return f" (at '{path}')" if path else ""


def _check_contents(module, path, caller, counterpart):
    """Refuse a supported module that holds parameters or sub-modules its counterpart has no place for."""
    expected_params = {"weight", "bias"} if type(module) is Linear else set()
    expected_modules = {"layers"} if type(module) is MLP else set()
    extra = [f"parameter '{n}'" for n in module._parameters if n not in expected_params]
    if type(module) not in (Sequential, ModuleList):
        extra += [f"sub-module '{n}'" for n in module._modules if n not in expected_modules]
    if extra:
        raise TypeError(
            f"{caller}: {type(module).__name__}{_at(path)} holds {', '.join(extra)}, which {counterpart} "
            "has no place for; keep extra parameters and layers in modules of their own"
        )


# -- PyTorch ---------------------------------------------------------------------------------------

_TORCH_CLASSES = {}


def _torch_mlp():
    """``TorchMLP``, nn.MLP's PyTorch counterpart: a Module whose ``layers`` (a Sequential) does the work.

    Made on first use (it subclasses ``torch.nn.Module``) and reachable as
    ``nn.interop.TorchMLP``, so a whole pickled torch model (``torch.save``) reloads.
    """
    if "TorchMLP" not in _TORCH_CLASSES:
        import torch

        class TorchMLP(torch.nn.Module):
            """nn.MLP in PyTorch: ``layers``, a Sequential of Linear layers and activations, applied in order."""

            def __init__(self, layers):
                super().__init__()
                self.layers = layers

            def forward(self, x):
                return self.layers(x)

        TorchMLP.__module__, TorchMLP.__qualname__ = __name__, "TorchMLP"
        _TORCH_CLASSES["TorchMLP"] = TorchMLP
    return _TORCH_CLASSES["TorchMLP"]


def __getattr__(name):  # PEP 562: nn.interop.TorchMLP imports torch only when someone asks for it
    if name == "TorchMLP":
        _require("torch", "torch", "nn.interop.TorchMLP")
        return _torch_mlp()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_torch(model):
    """An equivalent ``torch.nn.Module``: same layers, weights (copied), dtype and ``state_dict()`` keys.

    Converts Linear, ReLU, Tanh, Sigmoid, Flatten, Identity, Sequential, ModuleList
    and MLP, and any nesting of them; ``requires_grad`` and training mode carry over, and a
    module used twice stays shared. The result trains in PyTorch like any module.
    Anything else (including subclasses of these, whose ``forward`` may differ)
    is refused with a TypeError naming it.

    >>> torch_model = nn.to_torch(model)
    >>> torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    """
    torch = _require("torch", "torch", "nn.to_torch")
    if not isinstance(model, Module):
        raise TypeError(
            f"nn.to_torch expects an nn.Module, got {type(model).__name__} (for a torch module use nn.from_torch)"
        )
    return _to_torch(model, "", torch, {})


def _to_torch(module, path, torch, memo):
    if id(module) in memo:
        return memo[id(module)]
    kind = type(module)
    if kind is Linear:
        _check_contents(module, path, "nn.to_torch", "torch.nn.Linear")
        dtype = module.weight.dtype
        if dtype.name not in _FLOATS:
            raise TypeError(
                f"nn.to_torch: Linear{_at(path)} has dtype {dtype}, which PyTorch does not have; "
                "build it with dtype=np.float32 or np.float64"
            )
        converted = torch.nn.Linear(
            module.in_features, module.out_features, bias=module.bias is not None, device="meta"
        )  # no initialisation: the weights are ours
        converted.weight = _torch_parameter(module.weight, torch)
        if module.bias is not None:
            converted.bias = _torch_parameter(module.bias, torch)
    elif kind in _ACTIVATIONS:
        _check_contents(module, path, "nn.to_torch", f"torch.nn.{_ACTIVATIONS[kind]}")
        converted = getattr(torch.nn, _ACTIVATIONS[kind])()
    elif kind is Flatten:
        _check_contents(module, path, "nn.to_torch", "torch.nn.Flatten")
        converted = torch.nn.Flatten(module.start_dim, module.end_dim)
    elif kind in (Sequential, ModuleList):
        _check_contents(module, path, "nn.to_torch", f"torch.nn.{kind.__name__}")
        converted = getattr(torch.nn, kind.__name__)()
        for name, child in module.named_children():
            converted.add_module(name, _to_torch(child, _join(path, name), torch, memo))
    elif kind is MLP:
        _check_contents(module, path, "nn.to_torch", "TorchMLP")
        converted = _torch_mlp()(_to_torch(module.layers, _join(path, "layers"), torch, memo))
    else:
        raise TypeError(
            f"nn.to_torch: {kind.__name__}{_at(path)} has no PyTorch counterpart; to_torch converts "
            f"{_CONVERTS}, and modules built from them. Write {kind.__name__} as a torch.nn.Module with "
            "the same attribute names, then load model.state_dict() into it"
        )
    converted.training = module.training
    memo[id(module)] = converted
    return converted


def _torch_parameter(param, torch):
    return torch.nn.Parameter(torch.from_numpy(param.data.copy()), requires_grad=param.requires_grad)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def from_torch(module):
    """The nn model equivalent to a ``torch.nn.Module``: the reverse of ``to_torch``, weights copied.

    Converts ``torch.nn.Sequential``, ``ModuleList``, ``Linear``, ``ReLU``,
    ``Tanh``, ``Sigmoid``, ``Flatten`` and ``Identity`` (and ``TorchMLP`` from
    ``to_torch``, which comes back as an ``nn.MLP``), and any nesting of them.
    The state dict keys stay the same (named Sequential entries included), and
    ``requires_grad``, training mode and sharing carry over. Anything else is
    refused with a TypeError naming it.
    """
    torch = _require("torch", "torch", "nn.from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"nn.from_torch expects a torch.nn.Module, got {type(module).__name__} (for an nn model use nn.to_torch)"
        )
    return _from_torch(module, "", torch, {})


def _from_torch(module, path, torch, memo):
    if id(module) in memo:
        return memo[id(module)]
    kind, name = type(module), type(module).__name__
    activations = {getattr(torch.nn, torch_name): ours for ours, torch_name in _ACTIVATIONS.items()}
    containers = {torch.nn.Sequential: Sequential, torch.nn.ModuleList: ModuleList}
    is_mlp = _TORCH_CLASSES.get("TorchMLP") is kind
    if not (is_mlp or kind in (torch.nn.Linear, torch.nn.Flatten, *containers, *activations)):
        raise TypeError(
            f"nn.from_torch: {name}{_at(path)} has no counterpart in nn; from_torch converts torch.nn.Sequential, "
            "ModuleList, Linear, ReLU, Tanh, Sigmoid, Flatten and Identity, and modules built from them"
        )
    own = [
        f"parameter '{n}'"
        for n, p in module._parameters.items()
        if p is not None and not (kind is torch.nn.Linear and n in ("weight", "bias"))
    ]
    own += [f"buffer '{n}'" for n, b in module._buffers.items() if b is not None]
    if kind not in containers:
        own += [f"sub-module '{n}'" for n in module._modules if not (is_mlp and n == "layers")]
    if own:
        raise TypeError(
            f"nn.from_torch: {name}{_at(path)} holds {', '.join(own)}, which nn.{'MLP' if is_mlp else name} "
            "has no place for"
        )
    if kind is torch.nn.Linear:
        converted = Linear(
            module.in_features,
            module.out_features,
            bias=module.bias is not None,
            dtype=_numpy_dtype(module.weight, path, torch),
            rng=0,
        )  # rng=0: leaves nn's generator alone
        converted.weight = _our_parameter(module.weight)
        if module.bias is not None:
            converted.bias = _our_parameter(module.bias)
    elif kind in activations:
        converted = activations[kind]()
    elif kind is torch.nn.Flatten:
        converted = Flatten(module.start_dim, module.end_dim)
    elif kind in containers:
        converted = containers[kind]()
        for child_name, child in module._modules.items():  # named_children() would skip a repeated module
            converted.add_module(child_name, _from_torch(child, _join(path, child_name), torch, memo))
    else:  # TorchMLP: an MLP around the converted layers (no fresh initialisation to overwrite)
        converted = MLP.__new__(MLP)
        Module.__init__(converted)
        converted.layers = _from_torch(module.layers, _join(path, "layers"), torch, memo)
    converted.training = module.training
    memo[id(module)] = converted
    return converted


def _numpy_dtype(weight, path, torch):
    names = {torch.float16: "float16", torch.float32: "float32", torch.float64: "float64"}
    if weight.dtype not in names:
        raise TypeError(
            f"nn.from_torch: Linear{_at(path)} has dtype {weight.dtype}, which numpy does not have; "
            "convert it first (module.float() or module.double())"
        )
    return np.dtype(names[weight.dtype])


def _our_parameter(param):
    return Parameter(param.detach().cpu().numpy(), requires_grad=param.requires_grad)


# -- ONNX ------------------------------------------------------------------------------------------


def export_onnx(model, path, example_input):
    """Write ``model`` to ``path`` as an ONNX model (opset 17) with a dynamic batch axis; returns ``path``.

    The graph is built node by node with ``onnx.helper``: Linear becomes Gemm
    (MatMul + Add for inputs of more than two axes), the activations Relu, Tanh,
    Sigmoid and Identity, Flatten becomes Flatten or Reshape. Its input is
    ``"input"`` with ``example_input``'s shape except axis 0, which is the
    symbolic ``"batch"``; its output is ``"output"``. Both have the model's dtype
    (feed float32 arrays to a float32 model). Initialisers are named by
    ``state_dict()`` keys and hold the same arrays. ``onnx.checker`` checks the
    model before it is written, atomically as ``nn.save`` writes.
    """
    onnx = _require("onnx", "onnx", "nn.export_onnx")
    if not isinstance(model, Module):
        raise TypeError(f"nn.export_onnx expects an nn.Module, got {type(model).__name__}")
    x = np.asarray(example_input.data if isinstance(example_input, ad.Tensor) else example_input)
    if x.ndim == 0:
        raise ValueError(
            "nn.export_onnx: example_input must have a batch axis first, e.g. shape (1, features); got a 0-d array"
        )
    dtypes = sorted({p.dtype.name for p in model.parameters()})
    if len(dtypes) > 1:
        raise TypeError(
            f"nn.export_onnx: the model mixes parameter dtypes {', '.join(dtypes)}; an ONNX graph needs one, "
            "so build every layer with the same dtype"
        )
    dtype = np.dtype(dtypes[0] if dtypes else (x.dtype if x.dtype.kind == "f" else np.float64))
    if dtype.name not in _FLOATS:
        raise TypeError(f"nn.export_onnx: dtype {dtype} has no ONNX tensor type; use float32 or float64")
    x = x.astype(dtype, copy=False)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with ad.no_grad():
            model(x)  # the model must accept the example: a shape error here names our layer, not a graph node
    finally:
        for module, training in modes:
            module.training = training

    graph = _OnnxGraph(onnx, model)
    shape = ("batch", *x.shape[1:])
    value, shape = graph.add(model, "", "input", shape)
    graph.finish(value)
    elem_type = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            type(model).__name__,
            [onnx.helper.make_tensor_value_info("input", elem_type, ["batch", *x.shape[1:]])],
            [onnx.helper.make_tensor_value_info("output", elem_type, list(shape))],
            initializer=graph.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
        ir_version=ONNX_IR_VERSION,
        producer_name="autodiff.nn",
        producer_version=ad.__version__,
        doc_string=f"{type(model).__name__} exported by nn.export_onnx",
    )
    onnx.checker.check_model(proto, full_check=True)
    return atomic_write(path, lambda f: f.write(proto.SerializeToString()))


class _OnnxGraph:
    """The nodes and initialisers of one export, added module by module."""

    def __init__(self, onnx, model):
        self.onnx, self.nodes, self.initializers = onnx, [], []
        self.param_names = {id(p): name for name, p in model.named_parameters()}
        self.added = set()

    def node(self, op, inputs, where, **attributes):
        name = f"{where}/{op}"
        while any(n.name == name for n in self.nodes):  # a shared module called twice at one path
            name += "_"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [f"{name}_output"], name=name, **attributes))
        return f"{name}_output"

    def parameter(self, param):
        name = self.param_names[id(param)]
        if name not in self.added:
            self.added.add(name)
            self.initializers.append(self.onnx.numpy_helper.from_array(param.data, name))
        return name

    def add(self, module, path, value, shape):
        """Append ``module``'s nodes reading ``value`` of ``shape`` (ints, "batch" or None); returns the output and its shape."""
        kind, where = type(module), path or type(module).__name__
        if kind in (Sequential, MLP, Linear, Flatten, *_ONNX_OPS):
            _check_contents(module, path, "nn.export_onnx", "ONNX")
        if kind is Sequential:
            for name, child in module.named_children():
                value, shape = self.add(child, _join(path, name), value, shape)
            return value, shape
        if kind is MLP:
            return self.add(module.layers, _join(path, "layers"), value, shape)
        if kind is Linear:
            if len(shape) < 2:
                raise ValueError(
                    f"nn.export_onnx: Linear{_at(path)} gets inputs of shape {shape}, whose only axis is the batch "
                    "axis; give example_input a feature axis after the batch axis"
                )
            inputs = [value, self.parameter(module.weight)]
            bias = [] if module.bias is None else [self.parameter(module.bias)]
            if len(shape) == 2:
                value = self.node("Gemm", inputs + bias, where, transB=1)  # x Wᵀ + b with W as stored
            else:
                transposed = self.node("Transpose", inputs[1:], where, perm=[1, 0])
                value = self.node("MatMul", [value, transposed], where)
                if bias:
                    value = self.node("Add", [value] + bias, where)
            return value, (*shape[:-1], module.out_features)
        if kind in _ONNX_OPS:
            return self.node(_ONNX_OPS[kind], [value], where), shape
        if kind is Flatten:
            start, end = module.dims(len(shape))
            merged = shape[start : end + 1]
            size = int(np.prod(merged)) if all(isinstance(d, int) for d in merged) else None
            out = (*shape[:start], size, *shape[end + 1 :])
            if start == end:
                return self.node("Identity", [value], where), shape
            if start == 1 and end == len(shape) - 1:
                return self.node("Flatten", [value], where, axis=1), out
            # 0 copies an input axis (the batch axis among them), -1 is the merged one; the rest are fixed.
            target = np.array([0] * start + [-1] + list(shape[end + 1 :]), dtype=np.int64)
            name = f"{where}/shape"
            self.initializers.append(self.onnx.numpy_helper.from_array(target, name))
            return self.node("Reshape", [value, name], where), out
        raise TypeError(
            f"nn.export_onnx: {kind.__name__}{_at(path)} has no ONNX translation; export_onnx handles "
            f"{_EXPORTS}, and modules built from them"
        )

    def finish(self, value):
        """Name the last value "output" (through an Identity node when the model computes nothing)."""
        if value == "input":
            self.node("Identity", ["input"], "output")
        last = self.nodes[-1]
        last.output[0] = "output"
