"""``Module`` and ``Parameter``: containers that find, name and save the tensors a model learns.

A module registers every ``Parameter`` and sub-module assigned to one of its
attributes (or appended to a ``ModuleList`` / ``Sequential``), in assignment
order, under dotted names: ``layers.0.weight``. Each parameter's ``.name`` is its
path from the outermost module holding it, so graph drawings label it the way
``named_parameters()`` does.
"""

import itertools
import threading
import weakref
from collections import namedtuple
from collections.abc import Mapping

import numpy as np

import autodiff as ad
from autodiff.hooks import RemovableHandle


class Parameter(ad.Tensor):
    """A Tensor a module learns: it requires grad and is named after the attribute holding it.

    The data is copied (as for any Tensor) and must be floating point.
    """

    def __init__(self, data, requires_grad=True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_calls = threading.local()  # {id(module): dotted name} while a root module's forward runs
_structure = [0]  # bumped whenever any module gains or loses a sub-module: invalidates cached names
_hook_ids = itertools.count()


class Module:
    """Base class of layers and models: subclasses set attributes in ``__init__`` and define ``forward``.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.weight = Parameter(np.ones((2, 3)))
    ...     def forward(self, x):
    ...         return x @ self.weight.T
    >>> [name for name, _ in Affine().named_parameters()]
    ['weight']

    Registered parameters and sub-modules are ordinary attributes (reading them
    costs nothing); the module also keeps their names in ``_parameters`` and
    ``_modules`` to walk them in a stable order.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_parent", None)  # (weakref to the module holding this one, name there)
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------------
    def __setattr__(self, name, value):
        registry = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif registry is not None and name in registry:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' (nn.Parameter or None expected)"
                )
            del registry[name]
            object.__setattr__(self, name, None)
        elif registry is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' (nn.Module or None expected)"
                )
            self._remove_module(name)
            object.__setattr__(self, name, None)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if "_parameters" in self.__dict__:
            self._parameters.pop(name, None)
            self._remove_module(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add ``param`` under ``name`` (what ``self.name = param`` does)."""
        _check_name(name, self)
        self._remove_module(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)
        param.name = _join(self._path(), name)

    def add_module(self, name, module):
        """Add ``module`` under ``name`` (what ``self.name = module`` does) and name its parameters after its new path."""
        _check_name(name, self)
        if not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._parameters.pop(name, None)
        self._remove_module(name)
        self._modules[name] = module
        _structure[0] += 1
        object.__setattr__(self, name, module)
        object.__setattr__(module, "_parent", (weakref.ref(self), name))
        module._rename_parameters()

    def _remove_module(self, name):
        """Unregister the sub-module ``name``; if this was its place, it becomes a root and its parameters are renamed."""
        module = self._modules.pop(name, None)
        if module is None:
            return
        _structure[0] += 1
        if module._parent is None:
            return
        holder, place = module._parent
        if holder() is self and place == name:
            object.__setattr__(module, "_parent", None)
            module._rename_parameters()

    def _path(self):
        """This module's dotted path from the outermost module holding it ('' for a root)."""
        parts, module, seen = [], self, {id(self)}
        while module._parent is not None:
            parent, name = module._parent[0](), module._parent[1]
            if parent is None or id(parent) in seen:
                break
            parts.append(name)
            seen.add(id(parent))
            module = parent
        return ".".join(reversed(parts))

    def _rename_parameters(self):
        for name, param in self.named_parameters(prefix=self._path()):
            param.name = name

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_parent"] = None  # a weak reference can't be copied or pickled: __setstate__ relinks
        state.pop("_call_names", None)  # keyed by id(): meaningless in a copy
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name, module in self._modules.items():
            object.__setattr__(module, "_parent", (weakref.ref(self), name))

    # -- walking -----------------------------------------------------------------------
    def named_modules(self, prefix="", memo=None):
        """(dotted name, module) for this module (name ``prefix``) and every sub-module, depth first, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(_join(prefix, name), memo)

    def modules(self):
        """Every module in ``named_modules()`` order."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct sub-modules."""
        yield from self._modules.items()

    def children(self):
        """The direct sub-modules."""
        yield from self._modules.values()

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module, children first, then on this one; return self
        (PyTorch's ``Module.apply``, as in ``net.apply(init_weights)``)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, parameter) in registration order, depth first; a shared parameter is listed once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield _join(path, name), param

    def parameters(self, recurse=True):
        """The parameters in ``named_parameters()`` order."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def zero_grad(self):
        """Clear every parameter's gradient (``.grad = None``)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode=True):
        """Set training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        """Run ``forward`` inside ``autodiff.scope(<name>)`` so drawings can group this call's ops.

        The outermost module called is named by its class ("MLP"); modules called
        inside it by their dotted path from it ("layers.0"). Forward pre-hooks and hooks
        run inside the same block, around ``forward``.
        """
        names = getattr(_calls, "names", None)
        if names is None:
            cached = self.__dict__.get("_call_names")
            if cached is None or cached[0] != _structure[0]:
                cached = (_structure[0], {id(m): name for name, m in self.named_modules()})
                object.__setattr__(self, "_call_names", cached)
            _calls.names = cached[1]
            try:
                with ad.scope(type(self).__name__):
                    if self._forward_hooks is None:
                        return self.forward(*args, **kwargs)
                    return self._hooked_forward(args, kwargs)
            finally:
                _calls.names = None
        with ad.scope(names.get(id(self)) or type(self).__name__):
            if self._forward_hooks is None:
                return self.forward(*args, **kwargs)
            return self._hooked_forward(args, kwargs)

    # -- hooks -------------------------------------------------------------------------
    _forward_hooks = None  # (pre-hooks, hooks): two dicts {handle id: hook}, made by the first registration

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, args)`` before every ``forward``; a returned value replaces the
        positional arguments (a tuple, or one value). Returns a handle: ``handle.remove()``."""
        return self._register_hook(0, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, args, output)`` after every ``forward``, e.g. to keep activations; a
        returned value replaces the output. Returns a handle: ``handle.remove()``."""
        return self._register_hook(1, hook)

    def _register_hook(self, kind, hook):
        if not callable(hook):
            raise TypeError(f"a forward hook must be callable, got {type(hook).__name__}")
        if self._forward_hooks is None:
            object.__setattr__(self, "_forward_hooks", ({}, {}))
        hooks = self._forward_hooks[kind]
        key = next(_hook_ids)
        hooks[key] = hook
        return RemovableHandle(hooks, key)

    def _hooked_forward(self, args, kwargs):
        """``forward`` with the pre-hooks before it and the hooks after it, in registration order."""
        pre, post = self._forward_hooks
        for hook in list(pre.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(post.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # -- saving ------------------------------------------------------------------------
    def state_dict(self):
        """{dotted name: copy of the parameter's array}, in ``named_parameters()`` order."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy the arrays of ``state_dict`` into the parameters, in place (cast to each parameter's dtype).

        Nothing is changed unless every entry fits: a wrong shape is always an
        error; missing or unexpected names are errors when ``strict`` (otherwise
        they are returned as ``(missing_keys, unexpected_keys)``).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"state_dict must be a dict of parameter name -> array (as state_dict() or nn.load give), "
                f"got {type(state_dict).__name__}"
            )
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        problems = []
        arrays = {}
        for key, param in params.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = np.asarray(value.data if isinstance(value, ad.Tensor) else value)
            if array.dtype.kind not in "biuf":
                problems.append(f"'{key}' is not a numeric array (dtype {array.dtype})")
            elif array.shape != param.shape:
                problems.append(
                    f"size mismatch for '{key}': the checkpoint has shape {array.shape}, "
                    f"the model has shape {param.shape}"
                )
            arrays[key] = array
        if strict:
            if missing:
                problems.append("missing keys: " + ", ".join(f"'{k}'" for k in missing))
            if unexpected:
                problems.append("unexpected keys: " + ", ".join(f"'{k}'" for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        with ad.no_grad():
            for key, array in arrays.items():
                params[key][...] = array
        return IncompatibleKeys(missing, unexpected)

    # -- printing ----------------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        return self._repr(root=True)

    def _repr(self, root):
        count = sum(p.size for p in self.parameters())
        note = f"  # {count:,} parameters" if count and (root or not self._modules) else ""
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()}){note}"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, module in self._modules.items():
            body = module._repr(root=False).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + f"\n){note}"


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _check_name(name, module):
    if not isinstance(name, str):
        raise TypeError(f"names of parameters and modules must be strings, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"names of parameters and modules must be non-empty and without '.', got {name!r}")
    if "_parameters" not in module.__dict__:
        raise AttributeError(
            f"cannot register '{name}' before Module.__init__() call: "
            "call super().__init__() first in your module's __init__"
        )


class ModuleList(Module):
    """A list of modules, registered under their positions ("0", "1", ...). Not callable itself."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        """Append each module; returns self."""
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            # A view: its modules keep their names and their place in this container.
            view = type(self)()
            view._modules.update((str(i), m) for i, m in enumerate(items[index]))
            return view
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(Linear(2, 16), ReLU(), Linear(16, 1))(x)``."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


def weights(model):
    """The parameters with two or more axes (weight matrices): the ones weight decay applies to by default."""
    return [p for p in model.parameters() if p.ndim >= 2]


def biases(model):
    """The parameters with fewer than two axes (biases): those ``weights`` leaves out."""
    return [p for p in model.parameters() if p.ndim < 2]
