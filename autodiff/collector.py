"""What CPython's cyclic garbage collector sees of a graph of Values: their ops are kept out of its sight.

micrograd's demo makes about 65,000 one-number operations a step, each a Value and an op. Every
object that can hold references is on the cyclic collector's list, and its full collections,
which the growing graph sets off, scan every object on the list: on the demo they took half
of a step. The graph needs no cyclic collector: an op points at its inputs, which are older
than it, and only its output points at it, so there are no reference cycles, and reference
counting frees the graph the moment its last tensor is dropped. ``untrack(op)`` takes the op
of a Value operation off the list (``PyObject_GC_UnTrack``: what C types do for objects that
cannot be part of a cycle), leaving one object an operation for the collector, not two. The
collector's settings are left alone.

A cycle could only pass through an op if a tensor were made to hold a graph that leads back to
it: a ``.grad`` that is itself recorded (``backward(create_graph=True)``, or one assigned by
hand). Both put the ops of that graph back on the list (``track_graph``), so the collector
frees such a cycle as it would without this module.

Where the C API is not reachable (an interpreter without ``ctypes.pythonapi``), nothing changes.
"""

import gc

from .history import graph_nodes


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


def track_graph(tensors):
    """Put the ops of the graphs behind ``tensors`` (any that are recorded) back on the collector's list."""
    if _api is None:
        return
    track = _api[1]
    for node in graph_nodes([t for t in tensors if t is not None and t.grad_fn is not None]):
        if not gc.is_tracked(node):  # tracking a tracked object is a fatal error in CPython
            track(node)
