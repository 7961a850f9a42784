"""The chain rule: recording operations into the graph and walking it backwards.

Edges point from an op to its input tensors and from a tensor to the op that
produced it (``grad_fn``); nothing points from an op to its output, so the
graph has no reference cycles and is freed by reference counting as soon as the
last tensor of it is dropped.

Here: ``apply`` (run an op forward and record it) and the backward walk
(``run_backward``; its entry points ``backward`` and ``grad`` are in ``autograd``).
Around it: ``versions``, ``history`` (in-place changes, the graph as ops saw it),
``released``, ``accumulation`` (storing into ``.grad``), ``errors``, ``ops`` (the
rules); docs/architecture.md tells the whole story.
"""

import gc
import threading
from heapq import heappop, heappush

import numpy as np

from . import anomaly, errors, hooks
from .accumulation import STEALS, accumulate, add_gradient, settle_gradients
from .accumulation import unshared as is_unshared
from .collector import is_tracked, track_graph, untrack
from .collector import used as untracked
from .deferred import Deferred, add_product, stand_in
from .grad_mode import _local, _set_differentiating_rule
from .history import graph_inputs, graph_nodes, inputs_for_backward
from .ops import MANY, ONE, Scaled, array_math, two_slots
from .released import FREE_FROM_BYTES, let_go_of_intermediates
from .tensor import Tensor
from .versions import UNCHANGED, last_change, sequence

_ndarray, _asarray, _wrap, _new = np.ndarray, np.asarray, Tensor._wrap, object.__new__

# Every op keeps which inputs need a gradient and their versions: shared tuples for the common
# values, so that a long graph holds fewer objects for the cyclic garbage collector to scan
# (it runs on the count of objects created and kept: benchmarks/, deep-chain).
_NEEDS2 = {(True, True): (True, True), (True, False): (True, False), (False, True): (False, True)}
_TRUE1, _ZERO1, _ZERO2, _BOTH = (True,), (0,), (0, 0), _NEEDS2[True, True]
_shared_needs, _shared_versions = {}, {}  # apart: (True, False) == (1, 0) as dict keys


def _share(values, shared):
    """``values`` (a tuple of bools, or of ints), or an equal tuple kept in ``shared`` from before."""
    kept = shared.get(values)
    if kept is None:
        if len(shared) >= 4096:  # versions keep growing in a long training: start afresh
            shared.clear()
        shared[values] = values
        return values
    return kept


# -- forward: apply, and apply1 / apply2 for one and two inputs ----------------------------------------
# They are one function: apply1 and apply2 are it unrolled, because every operation of every user
# runs through here and Python charges for each loop, list and call (benchmarks/, op-overhead).


def apply(op_cls, *inputs, **params):
    """Run ``op_cls`` forward on the inputs' arrays and record it when a gradient can flow through it."""
    op = op_cls()
    arrays = [t._data for t in inputs]
    try:
        out = op.forward(*arrays, **params)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except errors.FORWARD_ERRORS as error:
        raise errors.forward_error(op, arrays, error) from error
    result = _wrap(out)
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, arrays, out)
    if out.dtype.kind != "f":
        errors.check_kind(op, inputs, arrays, out, state.enabled)
    elif state.enabled:
        needs = tuple([t._requires_grad for t in inputs])
        if True in needs:
            versions = _share(tuple([t._vc[0] for t in inputs]), _shared_versions)
            _record(op, inputs, _share(needs, _shared_needs), versions, arrays, result, state)
    return result


def apply1(op_cls, x, _array=None, **params):
    """``apply`` for one input; ``_array``: what the forward gets instead of x's array (``deferred.summand``)."""
    op = op_cls()
    a = x._data if _array is None else _array
    try:
        out = op.forward(a, **params)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except errors.FORWARD_ERRORS as error:
        raise errors.forward_error(op, (a,), error) from error
    result = _wrap(out)
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, (a,), out)
    if out.dtype.kind != "f":
        errors.check_kind(op, (x,), (a,), out, state.enabled)
    elif x._requires_grad and state.enabled:
        version = x._vc[0]
        _record(op, (x,), _TRUE1, _ZERO1 if version == 0 else _share((version,), _shared_versions), (a,), result, state)
    return result


def apply2(op_cls, x, y, cls=None):
    """``apply`` for two inputs, no parameters and nothing to ``remember`` (the arithmetic operators).

    ``cls``: the class of the result, which Value's operators pass for two 0-d float64 operands;
    the forward then runs on numpy's scalars (0.1 µs against 0.3 on 0-d arrays) and saves them.
    """
    op = op_cls()
    a, b = x._data, y._data
    if cls is not None:
        a, b = a[()], b[()]
    try:
        out = op.forward(a, b)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except errors.FORWARD_ERRORS as error:
        raise errors.forward_error(op, (a, b), error) from error
    # Tensor._wrap(out), inlined: the arithmetic operators are the hottest path, and the call was 9% of
    # the instructions of an op of y = y * 1.0001 + 0.1 (callgrind)
    result = _new(Tensor if cls is None else cls)
    result._data, result._vc, result.grad_fn = out, UNCHANGED, None
    result.name = result._grad = result._history = result._released_as = None
    result._requires_grad = result._retains_grad = False
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, (a, b), out)
    rx, ry = x._requires_grad, y._requires_grad
    if out.dtype.kind != "f":
        errors.check_kind(op, (x, y), (a, b), out, state.enabled)
    elif (rx or ry) and state.enabled:  # _record, inlined
        vx, vy = x._vc[0], y._vc[0]
        op._in0, op._in1, op.needs_input_grad = x, y, _BOTH if rx and ry else _NEEDS2[rx, ry]
        if vx == 0 and vy == 0:
            op.versions = _ZERO2
        else:  # _share, inlined for a hit (the versions of a parameter updated in place, used in many ops)
            versions = (vx, vy)
            op.versions = _shared_versions.get(versions) or _share(versions, _shared_versions)
        op.seq, op.scope, op.released = next(sequence), state.scope, False
        if op.saves_inputs:  # op.saved = (a, b), without the property's call
            if out.ndim or cls is not None:
                op._saved0, op._saved1 = a, b
            else:  # 0-d: as numpy's scalars, which add, sub, mul and div's rules compute with ten times faster (Values)
                op._saved0, op._saved1 = a[()], b[()]
        else:
            op._saved0 = op._saved1 = None
        if op.saves_output:
            op.saved_output, op._output_counter, op.output_version = out, [0], 0
            result._vc = op._output_counter
        else:
            op.saved_output = None
        result.grad_fn, result._requires_grad = op, True
        if state.anomaly:
            op.created_at = anomaly.user_stack()
        # a Value's op and result: out of the cyclic collector's sight if the ops behind them are (collector.let_go, inlined)
        if cls is not None:
            gx, gy = x.grad_fn, y.grad_fn
            if (gx is None or not is_tracked(gx)) and (gy is None or not is_tracked(gy)):
                untrack(op)
                untrack(result)
                untracked[0] = True
    return result


def _record(op, inputs, needs, versions, arrays, result, state):
    """Make ``op`` the ``grad_fn`` of ``result``: the graph's edges, and what its rule needs saved."""
    if len(inputs) == 1:  # op.inputs = inputs and op.saved = arrays, without the properties' calls
        op._in0, op._in1 = inputs[0], ONE
        op._saved0, op._saved1 = arrays[0] if op.saves_inputs else None, ONE
    else:  # the properties' setters, without the properties' calls
        op._in0, op._in1 = two_slots(inputs)
        op._saved0, op._saved1 = two_slots(arrays if op.saves_inputs else (None,) * len(arrays))  # what vjp gets as x
    op.needs_input_grad, op.versions = needs, versions
    op.seq, op.scope, op.released = next(sequence), state.scope, False
    if op.saves_output:
        op.saved_output, op._output_counter, op.output_version = result._data, [0], 0
        result._vc = op._output_counter
    else:
        op.saved_output = None
    if op.remembers:
        op.remember(*arrays, out=result._data)
    result.grad_fn, result._requires_grad = op, True
    if state.anomaly:
        op.created_at = anomaly.user_stack()


# -- backward ---------------------------------------------------------------------------------------


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None, since=0):
    """Propagate ``root_grads`` from ``roots`` down the graph by the chain rule (see ``_backward``).

    Backward makes no reference cycles, and the cyclic garbage collector, whenever the
    allocations of backward triggered it, would rescan the whole graph: pausing it for
    the walk makes backward about 30% faster (benchmarks/, op-overhead).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _backward(roots, root_grads, retain_graph, create_graph, capture, since)
    finally:
        if collecting:
            gc.enable()


_running = threading.local()  # .walks: the backward walks running in this thread, innermost last


def current_walk():
    """The innermost backward walk running in this thread (where the outputs of a multi-output
    ``autodiff.Function`` leave their gradients for the Function's node, which runs after them)."""
    return _running.walks[-1]


class _Walk:
    """The state of one backward walk: pending gradients, and what the walk must store at its end."""

    __slots__ = tuple("grads ready leaves keep targets wanted retained capture node_hooks leaf_hooks gathered".split())

    def __init__(self, roots, root_grads, capture, since=0):
        self.grads = {}  # op -> gradient of its output, summed over the paths seen so far
        self.ready = []  # heap of (−seq, op) for the ops whose output has received a gradient
        self.leaves = {}  # id(leaf) -> [leaf, gradient]
        self.keep = {}  # op -> the tensor (a list: tensors) whose .grad (or captured gradient) is that op's output gradient
        self.retained = []  # (tensor, gradient) for tensors that retain_grad(): stored once nothing can fail
        self.gathered = {}  # multi-output Function node -> {output index: gradient} (autodiff.function)
        self.capture, self.targets, self.wanted = capture, None, None
        self.node_hooks = self.leaf_hooks = None
        if hooks.registry:  # Tensor.register_hook: intermediates' hooks run where the gradient is kept
            self.node_hooks, self.leaf_hooks = hooks.for_walk(since)
            for node in self.node_hooks:
                self.keep.setdefault(node, [])
        if capture is not None:  # only the part of the graph that leads to the captured tensors
            self.targets = {id(t) for t in capture}
            for t in capture:
                if t.grad_fn is not None:
                    self.kept(t.grad_fn, t)
            self.wanted = set()
            for node in reversed(graph_nodes(roots, since)):  # inputs first: a node's inputs are decided before it
                if any(id(t) in self.targets or t.grad_fn in self.wanted for t in graph_inputs(node)):
                    self.wanted.add(node)
        for root, g in zip(roots, root_grads):
            node = root.grad_fn
            if node is None:
                entry = self.leaves.setdefault(id(root), [root, None])
                entry[1] = g if entry[1] is None else entry[1] + g
            else:
                self.send(node, g)
                if root._retains_grad and capture is None:
                    self.kept(node, root)

    def kept(self, node, t):
        """Keep ``t``'s gradient, the gradient of ``node``'s output. Mostly one tensor an op: a list only for more."""
        keep = self.keep
        held = keep.get(node)
        if held is None:
            keep[node] = t
        elif type(held) is not list:
            if held is not t:
                keep[node] = [held, t]
        elif not any(u is t for u in held):
            held.append(t)

    def send(self, node, g):
        """Add ``g`` to the gradient of ``node``'s output; the first one queues the node."""
        grads = self.grads
        if node in grads:
            grads[node] = grads[node] + g
        else:
            grads[node] = g
            heappush(self.ready, (-node.seq, node))

    def finish(self, create_graph):
        """Store the gradients: into ``.grad`` of leaves and retained tensors, or returned for ``capture``."""
        leaves = self.leaves
        if self.leaf_hooks:  # every hook runs before anything is stored: a failing one leaves .grad untouched
            for key, (leaf, fns) in self.leaf_hooks.items():
                entry = leaves.get(key)
                if entry is not None and entry[0] is leaf:
                    entry[1] = hooks.run(fns, entry[1], create_graph)
            entry = None
        if self.capture is not None:
            return [leaves[id(t)][1] if id(t) in leaves else None for t in self.capture]
        if create_graph:  # a recorded .grad can close a cycle through ops kept from the collector: they return to it
            stored = [t for t, _ in self.retained] + [entry[0] for entry in leaves.values()]
        for tensor, g in self.retained:
            if tensor._grad is None and not create_graph:  # stored bare, wrapped when .grad is read
                # (a numpy scalar as it is: Values retain every gradient; an array copied: it may be shared)
                tensor._grad = np.array(g, dtype=tensor._data.dtype) if type(g) is _ndarray else g
            else:
                accumulate(tensor, g, create_graph, False)
        self.retained = tensor = g = None  # leaves may take their arrays as is: no other references
        for entry in leaves.values():
            unshared = STEALS and is_unshared(entry)  # before entry[1] is an argument: that is one more reference
            accumulate(entry[0], entry[1], create_graph, unshared)
        if create_graph:
            track_graph([t._grad for t in stored])
        return None


def _backward(roots, root_grads, retain_graph, create_graph, capture=None, since=0):
    """Propagate ``root_grads`` from ``roots`` down the graph by the chain rule.

    Without ``capture``, leaves (and tensors that ``retain_grad()``) accumulate
    into ``.grad``. With ``capture`` (a list of tensors), nothing's ``.grad`` is
    touched and the gradients of those tensors are returned (``None`` where no
    path leads to them); only the part of the graph leading to them is walked
    (and, with ``since``, only the ops created after the op numbered ``since``:
    ``autodiff.checkpoint`` recomputes a segment and walks just that).

    Hooks (``Tensor.register_hook``) run on an intermediate's gradient once it is
    complete, when its op leaves the heap, and on a leaf's before it is stored.

    Gradients of intermediate tensors are kept per op (the op that produced the
    tensor), those of leaves per tensor. An op runs its rule once the gradient of
    its output is complete: ops wait in a heap and the latest-created runs first
    (as in PyTorch's engine), and every op that reads a tensor was created after it.
    """
    xp, array_type = array_math, _ndarray
    if create_graph:
        from . import functions as xp

        array_type = Tensor
    walk = _Walk(roots, root_grads, capture, since)
    walks = getattr(_running, "walks", None)
    if walks is None:
        walks = _running.walks = []
    walks.append(walk)
    try:
        return _walk(walk, retain_graph, create_graph, capture, xp, array_type)
    finally:
        walks.pop()


def _walk(walk, retain_graph, create_graph, capture, xp, array_type):
    """The loop of ``_backward``."""
    grads, ready, leaves, keep = walk.grads, walk.ready, walk.leaves, walk.keep
    wanted, targets, node_hooks, retain = walk.wanted, walk.targets, walk.node_hooks, walk.retained.append
    to_free = []
    state = _local.state
    anomalies, grad_mode = state.anomaly, state.enabled
    state.enabled = bool(create_graph)  # rules run recorded only under create_graph
    try:
        while ready:
            node = heappop(ready)[1]
            g = grads.pop(node)
            if keep and node in keep:
                if node_hooks and node in node_hooks:
                    g = hooks.run(node_hooks[node], g, create_graph)
                held = keep[node]
                if type(held) is not list and capture is None:  # one retained tensor: every node of a Value graph
                    retain((held, g))
                else:
                    for t in held if type(held) is list else (held,):
                        if capture is None:
                            retain((t, g))
                        else:
                            leaves[id(t)] = [t, g]
            if wanted is not None and node not in wanted:
                continue
            if node.released:
                raise RuntimeError(errors.BACKWARD_TWICE.format(node=repr(node)[1:-1]))
            second = node._in1  # node.inputs, inlined
            inputs = (node._in0,) if second is ONE else node._in0 if second is MANY else (node._in0, second)
            if node.seq < last_change[0]:  # something changed in place since this op was recorded
                inputs = inputs_for_backward(node)
            if create_graph:
                input_grads = _twice(node, xp, g, inputs)
            else:  # node.vjp(xp, g, *node.saved, out=...), the property inlined
                second = node._saved1
                if second is ONE:
                    input_grads = node.vjp(xp, g, node._saved0, out=node.saved_output)
                elif second is MANY:
                    input_grads = node.vjp(xp, g, *node._saved0, out=node.saved_output)
                else:
                    input_grads = node.vjp(xp, g, node._saved0, second, out=node.saved_output)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if node.checks_rule:  # a rule from outside the catalogue: its count and types (the tests check ours)
                if not create_graph:  # (a catalogue rule checked like one: its gradients c·x as arrays)
                    input_grads = tuple([g.made() if type(g) is Scaled else g for g in input_grads])
                input_grads = errors.check_rule(node, inputs, input_grads, array_type)
            if anomalies:
                anomaly.check_backward(node, g, input_grads)
            big_intermediate = 0
            for x, gx in zip(inputs, input_grads):
                if gx is None or not x._requires_grad:
                    continue
                up = x.grad_fn
                if wanted is not None and id(x) not in targets and up not in wanted:
                    continue
                data = x._data if type(x) is not Deferred else stand_in(x)  # (a product not made: its shape)
                if (type(gx) is _ndarray or type(gx) is not x._scalar_grad) and (
                    gx.shape != data.shape or (gx.dtype is not data.dtype and gx.dtype != data.dtype)
                ):
                    gx = _conform(node, inputs, input_grads, x, gx, data, xp, array_type)
                if up is None:
                    entry = leaves.get(id(x))
                    if entry is None:
                        leaves[id(x)] = [x, gx]
                    elif (
                        STEALS and type(entry[1]) is _ndarray and is_unshared(entry)
                    ):  # an array only this walk holds: added into
                        if type(gx) is Scaled:  # c·x, a block at a time (ops.Scaled)
                            add_product(entry[1], gx.x, gx.c, np.add)
                        else:
                            entry[1] += gx
                    else:
                        add_gradient(entry, gx)
                    continue
                if up in grads:
                    grads[up] = grads[up] + gx
                else:
                    grads[up] = gx
                    heappush(ready, (-up.seq, up))
                if x._retains_grad and capture is None:  # walk.kept(up, x), inlined for the commonest case:
                    held = keep.setdefault(up, x)  # every node of a Value graph
                    if held is not x:
                        walk.kept(up, x)
                if data.nbytes >= FREE_FROM_BYTES:
                    big_intermediate = 2 if x._retains_grad else max(big_intermediate, 1)
            if not retain_graph:  # free what the op saved: it is used once
                node.released = True
                node._saved0, node._saved1, node.saved_output = None, MANY, None  # node.saved = None
                if node.frees:
                    for name in node.frees:
                        setattr(node, name, None)
                if big_intermediate == 1:  # nothing else needs them: freed now, not at the end of the walk
                    x = data = inputs = None
                    let_go_of_intermediates((node,))
                elif big_intermediate:  # a retained .grad is stored at the end: its placeholder waits for it
                    to_free.append(node)
        g = gx = input_grads = None  # drop the last references: leaves may take their arrays as is
    finally:
        state.enabled = grad_mode

    let_go_of_intermediates(to_free)  # the ops with retained inputs: every retained .grad is final by now
    settle_gradients(walk.leaves)  # before leaves' hooks and the captured gradients read them
    return walk.finish(create_graph)


def _conform(node, inputs, input_grads, x, gx, data, xp, array_type):
    """A rule's gradient for input ``x`` not of its shape and dtype: checked, summed
    back over broadcast axes (the one place that undoes broadcasting) and cast."""
    shape, got = data.shape, gx.shape
    if got != shape:
        if not (len(got) > len(shape) and got[len(got) - len(shape) :] == shape):  # more than leading axes
            gx = errors.check_gradient(node, (inputs, input_grads, x, gx), gx, data, array_type)
        gx = xp.sum_to(gx, shape)
    if gx.dtype != data.dtype:
        if gx.dtype.kind not in "biuf":  # complex, object...: refused by name
            errors.check_gradient(node, (inputs, input_grads, x, gx), gx, data, array_type)
        gx = gx.astype(data.dtype)
    return gx


def _twice(node, xp, g, inputs):
    """The rule of ``node`` run on Tensors, recorded, so the gradients can be differentiated again."""
    if not node.twice_differentiable:
        raise NotImplementedError(errors.NOT_TWICE_DIFFERENTIABLE.format(name=node.name, node=repr(node)[1:-1]))
    xs = inputs if node.saves_inputs else (None,) * len(inputs)
    out = None
    if node.saves_output:  # a tensor standing for the op's output (ops don't point to their outputs: no cycles)
        out = _wrap(node.saved_output)
        out._vc, out.grad_fn, out._requires_grad = node._output_counter, node, True
    _set_differentiating_rule(node)
    try:
        return node.vjp(xp, g, *xs, out=out)
    finally:
        _set_differentiating_rule(None)
