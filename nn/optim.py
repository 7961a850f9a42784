"""Optimizers: SGD (momentum, Nesterov), Adam and AdamW, with PyTorch's parameter groups.

``step()`` changes each parameter's array in place under ``no_grad``: the
parameter stays the same leaf object, nothing is recorded, and its version
counter moves on, so a graph that saved the old values refuses a later backward.
The state (momentum buffers, moment estimates) is kept as numpy arrays.

``step()`` and ``load_state_dict()`` check everything first, so an error (a setting
changed to a bad value, a gradient of the wrong shape, a state dict of another model)
leaves the parameters and the optimizer's state as they were.
"""

import math
import numbers

import numpy as np

import autodiff as ad
from autodiff.deferred import add_product

_REAL = (float, int, numbers.Real)  # the concrete types first: isinstance of an ABC is slow

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Holds ``param_groups`` (dicts of "params" plus hyper-parameters) and per-parameter ``state``.

    ``params`` is an iterable of parameters or of dicts, each a group with its own
    settings: ``[{"params": nn.weights(m), "weight_decay": 1e-4}, {"params": nn.biases(m), "weight_decay": 0}]``;
    settings a group leaves out take the constructor's values.
    """

    def __init__(self, params, defaults):
        if isinstance(params, ad.Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, got a single Tensor: wrap it in a list")
        self.defaults = defaults
        self.param_groups = []
        self.state = {}  # id(param) -> dict of arrays and counters
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group of parameters with its own settings."""
        if not isinstance(group, dict):
            raise TypeError(f"a parameter group must be a dict with a 'params' entry, got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, ad.Tensor) else list(params)
        for p in params:
            if not isinstance(p, ad.Tensor):
                raise TypeError(f"optimizer params must be Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    "can't optimize a non-leaf Tensor (one computed from others); optimize the leaves it came from"
                )
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"unknown settings in parameter group: {', '.join(sorted(unknown))}")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or taken & {id(p) for p in params}:
            raise ValueError("some parameters appear more than once (in one group or in several)")
        full = dict(self.defaults, **group)
        full["params"] = params
        self._validate(full)
        self.param_groups.append(full)

    def _validate(self, group):
        for key in ("lr", "weight_decay", "momentum", "eps"):
            if key in group and not (isinstance(group[key], _REAL) and group[key] >= 0):
                raise ValueError(f"invalid {key}: {group[key]!r} (must be >= 0)")
        betas = group.get("betas", ())
        if "betas" in group and (not isinstance(betas, (tuple, list)) or len(betas) != 2):
            raise ValueError(f"invalid betas: {betas!r} (must be a pair of numbers in [0, 1))")
        for i, beta in enumerate(betas):
            if not (isinstance(beta, _REAL) and 0 <= beta < 1):
                raise ValueError(f"invalid beta parameter at index {i}: {beta!r} (must be in [0, 1))")

    def zero_grad(self):
        """Clear the gradients of every parameter (``.grad = None``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @ad.no_grad()
    def step(self):
        """Update every parameter that has a gradient, in place.

        The settings (a schedule may have changed ``lr``) and every gradient's shape are
        checked before any parameter changes: such an error leaves everything as it was.
        """
        for group in self.param_groups:
            self._validate(group)
        work = []
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if grad.shape != p.shape:
                    raise ValueError(f"the gradient of {_label(p)} has shape {grad.shape}, the parameter {p.shape}")
                work.append((p, grad, group))
        for p, grad, group in work:
            self._step_parameter(p, grad.data, self.state.setdefault(id(p), {}), group)

    def _step_parameter(self, p, g, state, group):
        """Update the parameter ``p`` in place given its gradient array ``g``."""
        w = p.data
        w -= self._update(w, g, state, group)
        p.data = w  # the same array: this only moves the version counter, as any in-place change does

    def _update(self, w, g, state, group):
        """The amount to subtract from the array ``w`` given its gradient ``g`` (``state`` is updated in place)."""
        raise NotImplementedError

    def state_dict(self):
        """{"state": {index: {name: array or number}}, "param_groups": [settings with "params": [indices]]}.

        Parameters are numbered in the order of the groups, as in PyTorch.
        """
        index, groups = {}, []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            groups.append(dict(group, params=[index[id(p)] for p in group["params"]]))
        state = {
            index[key]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for key, s in self.state.items()
            if key in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore settings and state saved by ``state_dict()`` for the same parameter layout.

        Everything is checked first (group sizes, settings, parameter indices, the shapes of
        the state's arrays): on an error nothing changes.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                "an optimizer state dict is a dict with the entries 'state' and 'param_groups' "
                "(what optimizer.state_dict() returns)"
            )
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(
                "the state dict's parameter groups do not match this optimizer's: sizes "
                f"{[len(g['params']) for g in groups]} vs {[len(g['params']) for g in self.param_groups]}"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        new_groups = []
        for saved, group in zip(groups, self.param_groups):
            unknown = set(saved) - set(self.defaults) - {"params"}
            if unknown:
                raise ValueError(
                    f"the state dict has settings this optimizer does not know: {', '.join(sorted(unknown))}"
                )
            new_group = dict(group, **{k: v for k, v in saved.items() if k != "params"})
            self._validate(new_group)
            new_groups.append(new_group)
        new_state = {}
        for i, entries in state_dict["state"].items():
            if not isinstance(i, (int, np.integer)) or not 0 <= i < len(params):
                raise ValueError(f"the state dict has state for parameter {i!r}, but this optimizer has {len(params)}")
            for name, value in entries.items():
                if isinstance(value, np.ndarray) and value.shape != params[i].shape:
                    raise ValueError(
                        f"the state dict's {name!r} for parameter {i} ({_label(params[i])}) has shape "
                        f"{value.shape}, the parameter {params[i].shape}"
                    )
            new_state[id(params[i])] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in entries.items()}
        for group, new_group in zip(self.param_groups, new_groups):
            group.update(new_group)
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            settings = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {settings}")
        return "\n".join(lines) + "\n)"


def _label(p):
    return repr(p.name) if p.name else f"a parameter of shape {p.shape}"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum μ, optional Nesterov, and weight decay λ (as PyTorch):

    g ← ∇w + λw;  b ← g on the first step, then b ← μb + g;  d = g + μb (Nesterov) or b;  w ← w − lr·d.
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))

    def _step_parameter(self, p, g, state, group):
        if group["momentum"]:
            return super()._step_parameter(p, g, state, group)
        # Plain SGD: w − lr(g + λw) = (1 − lr·λ)w − lr·g, computed in w's own memory with
        # a cache-sized scratch, so no temporary as large as the parameter is ever made.
        w, lr = p.data, group["lr"]
        add_product(w, g, lr, np.subtract, keep=1 - lr * group["weight_decay"])
        p.data = w  # the same array: this only moves the version counter, as any in-place change does

    def _update(self, w, g, state, group):
        decay, mu = group["weight_decay"], group["momentum"]
        owned = False  # g is a temporary of ours (not .grad, not the momentum buffer): scale it in place
        if decay:
            d = w * decay
            d += g
            g, owned = d, True
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                buf += g
            if group["nesterov"]:
                g, owned = g + mu * buf, True
            else:
                g, owned = buf, False
        if owned:
            g *= group["lr"]
            return g
        return group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient (as PyTorch's Adam):

    g ← ∇w + λw;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    w ← w − lr · m̂ / (√v̂ + ε)  with m̂ = m / (1−β₁ᵗ), v̂ = v / (1−β₂ᵗ).
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, w, g, state, group):
        lr, decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if decay and not self.decoupled:
            d = w * decay
            d += g
            g = d
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        scratch = np.multiply(g, 1 - beta1, dtype=w.dtype)  # the one temporary, reused below
        m *= beta1
        m += scratch
        np.multiply(g, g, out=scratch)
        scratch *= 1 - beta2
        v *= beta2
        v += scratch
        # lr m̂ / (√v̂ + ε) = (lr √(1−β₂ᵗ) / (1−β₁ᵗ)) · m / (√v + ε √(1−β₂ᵗ)): one pass fewer
        root = math.sqrt(1 - beta2**t)
        denom = np.sqrt(v, out=scratch)
        denom += eps * root
        update = np.divide(m, denom, out=scratch)
        update *= lr * root / (1 - beta1**t)
        if decay and self.decoupled:
            update += (lr * decay) * w
        return update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): w ← w − lr·λw − lr · m̂ / (√v̂ + ε).

    The decay does not pass through the moment estimates; PyTorch's default λ = 0.01.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
