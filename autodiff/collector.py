"""What CPython's cyclic garbage collector sees of a graph of Values: nothing an operation makes.

micrograd's demo makes about 65,000 one-number operations a step, each a Value and an op. Every
object that can hold references is on the cyclic collector's list, and its full collections,
which the growing graph sets off, scan every object on the list: on the demo they took a third
of a step. A graph needs no cyclic collector: an op points at its inputs and at arrays, a Value
at its op, its array and its gradient, and nothing they reach leads back to them, so reference
counting frees the graph the moment its last tensor is dropped. An operation on Values takes its
op and its result off the list (``untrack``: CPython's ``PyObject_GC_UnTrack``, what C types do
for objects that cannot be part of a cycle). The Values made by hand (parameters, inputs) stay
on it, and the collector's settings are left alone.

Only a catalogue op whose inputs' ops are all off the list is taken off (``alone``): so what is
off the list reaches nothing but what is off the list, tensors and arrays, never a custom
``autodiff.Function``'s context or a checkpointed function, which may hold anything. A cycle
through it then needs a tensor made to point at something newer than itself, and where the
library does that it puts the graph behind back on the list (``track_graph``):

* a ``.grad`` that is itself recorded (``backward(create_graph=True)``, or assigned by hand);
* a recorded in-place change, which makes an older tensor the output of a newer op.

A Value's ``label`` is kept as text. What is left: a tensor's ``name`` set to something that
is not text and leads back to its graph makes a cycle the collector does not see (the library
never does that), and ``gc.get_objects`` and ``gc.get_referrers`` do not list what Values'
operations made.

Where the C API is not reachable (an interpreter without ``ctypes.pythonapi``), nothing changes.
"""

import gc
import itertools
import threading

from .history import graph_inputs, graph_nodes
from .ops import CATALOGUE

_CATALOGUE = frozenset(CATALOGUE)  # ops whose only references are their inputs, saved arrays and parameters

is_tracked = gc.is_tracked


def _c_api():
    """CPython's PyObject_GC_UnTrack and PyObject_GC_Track, or None."""
    try:
        import ctypes

        api = ctypes.pythonapi
        untrack, track = api.PyObject_GC_UnTrack, api.PyObject_GC_Track
    except (ImportError, AttributeError, OSError):
        return None
    for function in (untrack, track):
        function.argtypes, function.restype = (ctypes.py_object,), None
    return untrack, track


_api = _c_api()
untrack = _api[0] if _api else id  # id: a C function that takes one object and changes nothing
"""Take an object that cannot be part of a reference cycle off the cyclic collector's list."""

used = [False]
"""``used[0]``: whether an op was taken off the list in this process (until then nothing needs putting back)."""

_tracking = threading.Lock()  # checking and tracking are two steps: tracking a tracked object aborts CPython


def alone(op):
    """Whether every op behind ``op``'s inputs is off the collector's list (or there is none)."""
    for t in op.inputs:
        up = t.grad_fn
        if up is not None and is_tracked(up):
            return False
    return True


def let_go(value):
    """Take the Value ``value`` and its op off the list if ``alone`` (``engine.apply2`` does the same inline)."""
    node = value.grad_fn
    if type(node) in _CATALOGUE and alone(node):
        untrack(node)
        untrack(value)
        used[0] = True


def track_graph(tensors):
    """Put the graphs behind ``tensors`` (any that are recorded: them, their ops, the ops' inputs) back on the list."""
    if _api is None or not used[0]:
        return
    track = _api[1]
    tensors = [t for t in tensors if t is not None and t.grad_fn is not None]
    nodes = graph_nodes(tensors)
    with _tracking:
        for obj in itertools.chain(tensors, nodes, *(graph_inputs(node) for node in nodes)):
            if not is_tracked(obj):
                track(obj)
