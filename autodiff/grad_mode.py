"""Grad modes: whether operations are recorded into the graph.

The mode is thread-local, as in PyTorch: ``no_grad`` in one thread does not
stop another thread from recording.
"""

import functools
import itertools
import threading
from typing import NamedTuple


class _State:
    """One thread's modes. The engine reads them on every op: plain slots, not thread-local lookups."""

    __slots__ = ("enabled", "rule", "scope", "anomaly", "saved_modes", "saved_anomaly")

    def __init__(self):
        self.enabled = True  # grad mode
        self.rule = None  # the op whose derivative rule runs under create_graph
        self.scope = ()  # the enclosing scope blocks
        self.anomaly = False  # autodiff.detect_anomaly
        # What the open with-blocks restore on exit, innermost last. Kept per thread, not per
        # context object, so one object (``inference = no_grad()``) works in several threads.
        self.saved_modes, self.saved_anomaly = [], []


class _PerThread(threading.local):
    def __init__(self):
        self.state = _State()  # runs once in each thread that touches it


_local = _PerThread()


def is_grad_enabled() -> bool:
    """True when new operations on tensors that require grad are recorded."""
    return _local.state.enabled


def _set_enabled(mode: bool) -> None:
    _local.state.enabled = bool(mode)


def differentiating_rule():
    """The op whose derivative rule is running under ``create_graph=True`` (None otherwise)."""
    return _local.state.rule


def _set_differentiating_rule(node) -> None:
    _local.state.rule = node


class ScopeFrame(NamedTuple):
    """One entered ``scope`` block: its name, and a number that tells two calls of one module apart."""

    name: str
    call: int

    def __str__(self):
        return self.name


_calls = itertools.count(1)
_tuple_new = tuple.__new__


class scope:
    """Label the ops recorded inside the block with ``name`` (nested blocks give a path).

    ``nn.Module`` calls run inside ``scope(<module name>)``, so graph drawings can
    group each module call into one cluster::

        with autodiff.scope("encoder"):
            h = (x @ W.T).tanh()        # h.grad_fn.scope_names == ("encoder",)
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name if type(name) is str else str(name)

    def __enter__(self):  # every module call enters one: ScopeFrame made without NamedTuple's Python __new__
        state = _local.state
        state.scope = state.scope + (_tuple_new(ScopeFrame, (self.name, next(_calls))),)
        return self

    def __exit__(self, *exc):  # blocks nest within a thread: the innermost frame is this block's
        state = _local.state
        state.scope = state.scope[:-1]
        return False


class _GradModeContext:
    """Sets the grad mode inside a ``with`` block (or a decorated function) and restores it after.

    What it restores is kept per thread: one object (``inference = no_grad()``) may be entered
    by several threads at once.
    """

    mode = True

    def __enter__(self):
        state = _local.state
        state.saved_modes.append(state.enabled)
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state = _local.state
        state.enabled = state.saved_modes.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Stop recording: results of operations do not require grad and keep no inputs alive.

    Use it for inference and for parameter updates::

        with autodiff.no_grad():
            w -= lr * w.grad
    """

    mode = False


class enable_grad(_GradModeContext):
    """Record operations again, e.g. inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled:
    """``set_grad_enabled(False)`` switches recording off at once; as a context manager it restores the previous mode on exit."""

    def __init__(self, mode: bool):
        self._previous = is_grad_enabled()
        self.mode = bool(mode)
        _set_enabled(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)
        return False

    def __call__(self, fn):
        mode = self.mode
        _set_enabled(self._previous)  # used as a decorator: the mode applies only inside fn

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
