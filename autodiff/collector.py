"""What CPython's cyclic garbage collector sees of a graph of Values: their ops are kept out of its sight.

micrograd's demo makes about 65,000 one-number operations a step, each a Value and an op. Every
object that can hold references is on the cyclic collector's list, and its full collections,
which the growing graph sets off, scan every object on the list: on the demo they took a third
of a step. A graph of ops needs no cyclic collector: an op points at its inputs and at arrays,
and nothing it reaches leads back to it, so reference counting frees the graph the moment its
last tensor is dropped. ``untrack(op)`` takes the op of a Value operation off the list
(``PyObject_GC_UnTrack``: what C types do for objects that cannot be part of a cycle), leaving
one object an operation for the collector, not two. The collector's settings are left alone.

An op is taken off only if it is one of the catalogue's and every op behind it is off too
(``alone``): so the ops off the list reach nothing but ops off the list, tensors and arrays, never
a custom ``autodiff.Function``'s context or a checkpointed function, which may hold anything. A
cycle through such ops needs a tensor made to point at something newer than itself, and where the
library does that it puts the ops back on the list (``track_graph``):

* a ``.grad`` that is itself recorded (``backward(create_graph=True)``, or assigned by hand);
* a recorded in-place change, which makes an older tensor the output of a newer op.

A Value's ``label`` is kept as text. What is left: a tensor's ``name`` set to an object that
leads back to the graph makes a cycle the collector does not see (nothing in the library does
that), and ``gc.get_objects`` and ``gc.get_referrers`` do not list Values' ops.

Where the C API is not reachable (an interpreter without ``ctypes.pythonapi``), nothing changes.
"""

import gc
import threading

from .history import graph_nodes

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


def track_graph(tensors):
    """Put the ops of the graphs behind ``tensors`` (any that are recorded) back on the collector's list."""
    if _api is None or not used[0]:
        return
    track = _api[1]
    nodes = graph_nodes([t for t in tensors if t is not None and t.grad_fn is not None])
    with _tracking:
        for node in nodes:
            if not is_tracked(node):
                track(node)
