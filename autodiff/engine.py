"""The chain rule: recording operations into the graph and walking it backwards.

Edges point from an op to its input tensors and from a tensor to the op that
produced it (``grad_fn``); nothing points from an op to its output, so the
graph has no reference cycles and is freed by reference counting as soon as the
last tensor of it is dropped.

In-place operations are tracked with version counters, as in PyTorch: every
tensor carries a counter that in-place writes bump, and every recorded op
remembers its inputs' versions. Backward refuses to use a saved array whose
version changed. When an in-place op is itself recorded, the tensor's old value
and history move to a hidden tensor kept in ``tensor._history`` under the old
version, and ops recorded before the change are routed to it.
"""
import itertools

import numpy as np

import gc
import sys
from heapq import heappop, heappush

from . import anomaly
from .grad_mode import _local, _set_differentiating_rule, set_grad_enabled
from .ops import array_math
from .tensor import NUMERIC_KINDS, UNCHANGED, FreedTensor, Tensor, bump_version, describe

NOT_TWICE_DIFFERENTIABLE = (
    "second derivatives of {name} are not implemented: {node}'s rule works on raw numpy arrays, "
    "so backward(create_graph=True) / autograd.grad(create_graph=True) cannot differentiate it again"
)

BACKWARD_TWICE = (
    "Trying to backward through the graph a second time ({node} was already used by an "
    "earlier backward, which freed its saved values). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you "
    "need to backward through the graph a second time."
)

MODIFIED_INPLACE = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: {what} of {node} (shape {shape}, dtype {dtype}) is at version {now}; expected "
    "version {then} instead. Compute the in-place change on a copy (y = x + 1 instead of x += 1), "
    "or do it after backward."
)

_sequence = itertools.count(1)  # creation order of recorded ops: a topological order of the graph
_last_change = [0]  # the creation number drawn at the latest in-place change of any tensor


def note_inplace_change():
    """Called wherever a version counter moves: ops created before this moment must check
    their inputs' versions in backward; ops created after it need not (they saw the new values)."""
    _last_change[0] = next(_sequence)
_ndarray, _asarray, _new = np.ndarray, np.asarray, object.__new__

# Every op keeps which inputs need a gradient and their versions: shared tuples for the common
# values, so that a long graph holds fewer objects for the cyclic garbage collector to scan
# (it runs on the count of objects created and kept: benchmarks/, deep-chain).
_NEEDS2 = {(True, True): (True, True), (True, False): (True, False), (False, True): (False, True)}
_TRUE1, _ZERO1, _ZERO2 = (True,), (0,), (0, 0)
_shared_needs, _shared_versions = {}, {}  # apart: (True, False) == (1, 0) as dict keys


def _share(values, shared):
    """``values`` (a tuple of bools, or of ints), or an equal tuple kept in ``shared`` from before."""
    kept = shared.get(values)
    if kept is None:
        if len(shared) < 4096:
            shared[values] = values
        return values
    return kept


# apply, apply1 and apply2 are one function: apply1 and apply2 are it unrolled for one and two
# inputs, because every operation of every user runs through here and Python charges for each
# loop, list and call (see benchmarks/, op-overhead).


def apply(op_cls, *inputs, **params):
    """Run ``op_cls`` forward on the inputs' arrays and record it when a gradient can flow through it."""
    op = op_cls()
    arrays = [t._data for t in inputs]
    try:
        out = op.forward(*arrays, **params)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except _FORWARD_ERRORS as error:
        raise _forward_error(op, arrays, error) from error
    result = _result(out)
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, arrays, result._data)
    if result._data.dtype.kind != "f":
        _check_kind(op, inputs, arrays, result._data, state)
    elif state.enabled:
        needs = tuple([t._requires_grad for t in inputs])
        if True in needs:
            _record(op, inputs, _share(needs, _shared_needs), _share(tuple([t._vc[0] for t in inputs]), _shared_versions),
                    arrays, result, state)
    return result


def apply1(op_cls, x, **params):
    """``apply`` for one input."""
    op = op_cls()
    a = x._data
    try:
        out = op.forward(a, **params)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except _FORWARD_ERRORS as error:
        raise _forward_error(op, (a,), error) from error
    result = _result(out)
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, (a,), result._data)
    if result._data.dtype.kind != "f":
        _check_kind(op, (x,), (a,), result._data, state)
    elif x._requires_grad and state.enabled:
        version = x._vc[0]
        _record(op, (x,), _TRUE1, _ZERO1 if version == 0 else (version,), (a,), result, state)
    return result


def apply2(op_cls, x, y):
    """``apply`` for two inputs and no parameters (the arithmetic operators)."""
    op = op_cls()
    a, b = x._data, y._data
    try:
        out = op.forward(a, b)
        if type(out) is not _ndarray:
            out = _asarray(out)
    except _FORWARD_ERRORS as error:
        raise _forward_error(op, (a, b), error) from error
    result = _new(Tensor)  # _result(out), inlined
    result._data, result._vc, result.grad_fn = out, UNCHANGED, None
    result.name = result._grad = result._history = result._released_as = None
    result._requires_grad = result._retains_grad = False
    state = _local.state
    if state.anomaly:
        anomaly.check_forward(op, (a, b), out)
    rx, ry = x._requires_grad, y._requires_grad
    if out.dtype.kind != "f":
        _check_kind(op, (x, y), (a, b), out, state)
    elif (rx or ry) and state.enabled:
        vx, vy = x._vc[0], y._vc[0]
        op.inputs, op.needs_input_grad = (x, y), _NEEDS2[rx, ry]
        op.versions = _ZERO2 if vx == 0 and vy == 0 else (vx, vy)
        op.seq, op.scope, op.released = next(_sequence), state.scope, False
        op.saved = (a, b) if op.saves_inputs else None
        if op.saves_output:
            op.saved_output, op._output_counter, op.output_version = out, [0], 0
            result._vc = op._output_counter
        else:
            op.saved_output = None
        result.grad_fn, result._requires_grad = op, True
        if state.anomaly:
            op.created_at = anomaly.user_stack()
    return result


def _result(out):
    """The result Tensor around a forward's array (``Tensor._wrap``)."""
    if type(out) is not _ndarray:
        out = _asarray(out)
    result = _new(Tensor)
    result._data, result._vc, result.grad_fn = out, UNCHANGED, None
    result.name = result._grad = result._history = result._released_as = None
    result._requires_grad = result._retains_grad = False
    return result


def _record(op, inputs, needs, versions, arrays, result, state):
    """Make ``op`` the ``grad_fn`` of ``result``: the graph's edges, and what its rule needs saved."""
    op.inputs, op.needs_input_grad, op.versions = inputs, needs, versions
    op.seq, op.scope, op.released = next(_sequence), state.scope, False
    op.saved = arrays if op.saves_inputs else None
    if op.saves_output:
        op.saved_output, op._output_counter, op.output_version = result._data, [0], 0
        result._vc = op._output_counter
    else:
        op.saved_output = None
    result.grad_fn, result._requires_grad = op, True
    if state.anomaly:
        op.created_at = anomaly.user_stack()


_FORWARD_ERRORS = (ValueError, IndexError, TypeError, OverflowError, ZeroDivisionError, AttributeError)


def _forward_error(op, arrays, error):
    """The error of a failed forward, naming the op and its inputs' shapes (or what wasn't a number)."""
    odd = _non_numeric(arrays)
    if odd:
        return TypeError(f"{op.name} needs numbers, got {odd}")
    shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in arrays)
    message = f"{op.name} of shapes {shapes}: {error}"
    if isinstance(error, (OverflowError, ZeroDivisionError)):
        return ValueError(message)
    if isinstance(error, AttributeError):
        return TypeError(message)
    try:
        return type(error)(message)
    except Exception:  # an exception class with its own constructor (numpy's _UFuncNoLoopError)
        return (TypeError if isinstance(error, TypeError) else ValueError)(message)


def _non_numeric(arrays):
    return ", ".join(f"{describe(a)} as input {i}" for i, a in enumerate(arrays)
                     if getattr(a, "dtype", np.dtype(object)).kind not in NUMERIC_KINDS)


def _check_kind(op, inputs, arrays, out, state):
    """Refuse results that are not numbers, and complex results of inputs that require grad."""
    kind = out.dtype.kind
    if kind not in NUMERIC_KINDS:
        raise TypeError(f"{op.name} needs numbers, got {_non_numeric(arrays) or describe(out)}")
    if kind == "c" and state.enabled and any(t._requires_grad for t in inputs):
        raise TypeError(
            f"{op.name} of a tensor that requires grad gave a complex result: autodiff differentiates "
            "real floating-point tensors only (complex numbers have no derivative rules here)")


def record_inplace(tensor, result):
    """``tensor`` becomes ``result`` (the recorded out-of-place form of an in-place op on it).

    Its old value and history move to a hidden tensor stored in
    ``tensor._history`` under the last version it covered. Ops recorded earlier
    that read ``tensor`` keep seeing the old one: those the new op depends on are
    re-pointed to it now (otherwise ``tensor`` would sit on a reference cycle
    through its own history), the others are routed to it by ``resolve``.
    """
    version = tensor._vc[0]
    if tensor._history is None:
        tensor._history = {}
        tensor._born = tensor.grad_fn.seq if tensor.grad_fn is not None else 0
    old = Tensor._wrap(tensor._data)
    old._vc, old.grad_fn, old._requires_grad, old.name = (
        tensor._vc, tensor.grad_fn, tensor._requires_grad, tensor.name)
    clean = {id(o.grad_fn) for o in tensor._history.values()}  # rewired by earlier in-place ops
    tensor._history[version] = old
    tensor._vc = [version + 1]
    note_inplace_change()

    node = result.grad_fn
    stack, seen = [node], {id(node)}
    while stack:  # ops created before tensor existed cannot have read it: the walk stops there
        op = stack.pop()
        if any(t is tensor for t in op.inputs):
            op.inputs = tuple(resolve(t, v) if t is tensor else t for t, v in zip(op.inputs, op.versions))
        for t in graph_inputs(op):
            up = t.grad_fn
            if up is not None and up.seq > tensor._born and id(up) not in seen and id(up) not in clean:
                seen.add(id(up))
                stack.append(up)

    tensor._data = result._data if result.dtype == tensor.dtype else result._data.astype(tensor.dtype)
    if node.saves_output:
        node._output_counter, node.output_version = tensor._vc, tensor._vc[0]
    tensor.grad_fn = node
    tensor._requires_grad = True


def resolve(tensor, version):
    """The tensor an op saw at ``version``: ``tensor`` itself, or the earlier self that a recorded in-place op replaced."""
    if tensor._history is not None and tensor._vc[0] != version:
        for last, old in tensor._history.items():  # in increasing version order
            if version <= last:
                return old
    return tensor


def graph_inputs(node):
    """The op's input tensors as the op saw them, in order."""
    inputs = node.inputs
    for t in inputs:
        if t._history is not None:  # only tensors changed by a recorded in-place op need resolving
            return tuple(resolve(t, v) for t, v in zip(inputs, node.versions))
    return inputs


def graph_nodes(roots):
    """Every recorded op the ``roots`` depend on, latest first.

    Creation order is a topological order (an op can only read tensors that
    already exist), so sorting by it replaces a depth-first search: no recursion,
    whatever the depth.
    """
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    seen = set(stack)
    nodes = []
    while stack:
        node = stack.pop()
        nodes.append(node)
        inputs = node.inputs
        for t in inputs:
            if t._history is not None:
                inputs = graph_inputs(node)
                break
        for t in inputs:
            up = t.grad_fn
            if up is not None and up not in seen:
                seen.add(up)
                stack.append(up)
    nodes.sort(key=_creation, reverse=True)
    return nodes


def _creation(node):
    return node.seq


def _check_versions(node, inputs):
    """Raise if an array the op saved was changed in place since (backward checks cheaply first)."""
    if node.saves_inputs:
        for i, (t, then) in enumerate(zip(inputs, node.versions)):
            if t._vc[0] != then:
                raise RuntimeError(MODIFIED_INPLACE.format(
                    what=f"input {i}", node=repr(node)[1:-1], shape=t.shape, dtype=t.dtype,
                    now=t._vc[0], then=then))
    if node.saves_output and node._output_counter[0] != node.output_version:
        out = node.saved_output
        raise RuntimeError(MODIFIED_INPLACE.format(
            what="output 0", node=repr(node)[1:-1], shape=out.shape, dtype=out.dtype,
            now=node._output_counter[0], then=node.output_version))


def release(node):
    """Free what the op saved for backward; its place in the graph (inputs, name) stays for drawing."""
    node.released = True
    node.saved = node.saved_output = None
    for name in node.frees:
        setattr(node, name, None)


def _placeholder(tensor):
    """What released ops keep of an intermediate tensor: its place in the graph, not its values."""
    kept = tensor._released_as
    if kept is None:
        kept = tensor._released_as = FreedTensor(tensor)
    return kept


FREE_FROM_BYTES = 4096  # smaller arrays stay with the graph: a placeholder would save next to nothing


def _worth_freeing(tensor):
    return tensor.grad_fn is not None and not tensor._freed and tensor._data.nbytes >= FREE_FROM_BYTES


def _let_go_of_intermediates(nodes):
    """Point released ops at placeholders of their big intermediate inputs, so those arrays are
    freed (unless you hold the tensors) while the graph's structure stays for drawing, as in PyTorch."""
    for node in nodes:
        node.inputs = tuple(_placeholder(t) if _worth_freeing(t) else t for t in node.inputs)


def _output_tensor(node):
    """A tensor standing for the op's output (ops don't point to their outputs: no cycles)."""
    out = Tensor._wrap(node.saved_output)
    out._vc, out.grad_fn, out._requires_grad = node._output_counter, node, True
    return out


_getrefcount = sys.getrefcount
_UNSHARED_REFS = _getrefcount([]) + 2  # the entry's list, the loop variable and the call's argument


def _accumulate(tensor, g, create_graph, unshared):
    """Add ``g`` into ``tensor.grad``. ``g`` becomes the grad without a copy only if ``unshared``
    (a fresh array nothing else refers to: PyTorch's AccumulateGrad steals it the same way)."""
    if create_graph:
        tensor._grad = g if tensor._grad is None else tensor._grad + g
    elif tensor._grad is None:
        tensor._grad = Tensor._wrap(g if unshared else np.array(g, dtype=tensor.dtype))
    else:
        grad = tensor._grad
        if grad._requires_grad or not grad._data.flags.writeable:
            tensor._grad = Tensor._wrap(grad._data + g)
        else:
            grad._data += g
            bump_version(grad)


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate ``root_grads`` from ``roots`` down the graph by the chain rule (see ``_backward``).

    Backward makes no reference cycles, and the cyclic garbage collector, whenever the
    allocations of backward triggered it, would rescan the whole graph: pausing it for
    the walk makes backward about 30% faster (benchmarks/, op-overhead).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _backward(roots, root_grads, retain_graph, create_graph, capture)
    finally:
        if collecting:
            gc.enable()


def _backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate ``root_grads`` from ``roots`` down the graph by the chain rule.

    Without ``capture``, leaves (and tensors that ``retain_grad()``) accumulate
    into ``.grad``. With ``capture`` (a list of tensors), nothing's ``.grad`` is
    touched and the gradients of those tensors are returned (``None`` where no
    path leads to them); only the part of the graph leading to them is walked.

    Gradients of intermediate tensors are kept per op (the op that produced the
    tensor), those of leaves per tensor. An op runs its rule once the gradient of
    its output is complete: ops wait in a heap and the latest-created runs first
    (as in PyTorch's engine), and every op that reads a tensor was created after it.
    """
    xp = array_math
    if create_graph:
        from . import functions as xp

    grads = {}        # op -> gradient of its output, summed over the paths seen so far
    leaves = {}       # id(leaf) -> [leaf, gradient]
    keep = {}         # op -> tensors whose .grad (or captured gradient) is that op's output gradient
    targets = wanted = None
    if capture is not None:
        targets = {id(t) for t in capture}
        for t in capture:
            if t.grad_fn is not None:
                keep.setdefault(t.grad_fn, []).append(t)
        wanted = set()
        for node in reversed(graph_nodes(roots)):  # inputs first: a node's inputs are decided before it
            if any(id(t) in targets or t.grad_fn in wanted for t in graph_inputs(node)):
                wanted.add(node)

    ready = []  # heap of (−seq, op) for the ops whose output has received a gradient
    for root, g in zip(roots, root_grads):
        node = root.grad_fn
        if node is None:
            entry = leaves.setdefault(id(root), [root, None])
            entry[1] = g if entry[1] is None else entry[1] + g
        else:
            if node in grads:
                grads[node] = grads[node] + g
            else:
                grads[node] = g
                heappush(ready, (-node.seq, node))
            if root._retains_grad and capture is None:
                keep.setdefault(node, []).append(root)
    to_free = []
    retained = []  # (tensor, gradient) for tensors that retain_grad(): stored once nothing can fail

    anomalies = _local.state.anomaly
    with set_grad_enabled(create_graph):
        while ready:
            node = heappop(ready)[1]
            g = grads.pop(node)
            if keep and node in keep:
                for t in keep[node]:
                    if capture is None:
                        retained.append((t, g))
                    else:
                        leaves[id(t)] = [t, g]
            if wanted is not None and node not in wanted:
                continue
            if node.released:
                raise RuntimeError(BACKWARD_TWICE.format(node=repr(node)[1:-1]))
            inputs = node.inputs
            if node.seq < _last_change[0]:  # something changed in place since this op was recorded
                for x, then in zip(inputs, node.versions):
                    if x._vc[0] != then or x._history is not None:
                        inputs = graph_inputs(node)
                        _check_versions(node, inputs)
                        break
                if node.saves_output and node._output_counter[0] != node.output_version:
                    _check_versions(node, inputs)
            if create_graph:
                if not node.twice_differentiable:
                    raise NotImplementedError(NOT_TWICE_DIFFERENTIABLE.format(name=node.name, node=repr(node)[1:-1]))
                xs = inputs if node.saves_inputs else (None,) * len(inputs)
                out = _output_tensor(node) if node.saves_output else None
                _set_differentiating_rule(node)
                try:
                    input_grads = node.vjp(xp, g, *xs, out=out)
                finally:
                    _set_differentiating_rule(None)
            else:
                xs = node.saved if node.saves_inputs else (None,) * len(inputs)
                input_grads = node.vjp(xp, g, *xs, out=node.saved_output)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if anomalies:
                anomaly.check_backward(node, g, input_grads)
            big_intermediate = False
            for x, gx in zip(inputs, input_grads):
                if gx is None or not x._requires_grad:
                    continue
                up = x.grad_fn
                if wanted is not None and id(x) not in targets and up not in wanted:
                    continue
                data = x._data
                if gx.shape != data.shape:
                    gx = xp.sum_to(gx, data.shape)
                if gx.dtype is not data.dtype and gx.dtype != data.dtype:
                    gx = gx.astype(data.dtype)
                if up is None:
                    entry = leaves.get(id(x))
                    if entry is None:
                        leaves[id(x)] = [x, gx]
                    else:
                        entry[1] = entry[1] + gx
                else:
                    if up in grads:
                        grads[up] = grads[up] + gx
                    else:
                        grads[up] = gx
                        heappush(ready, (-up.seq, up))
                    if x._retains_grad and capture is None:
                        kept = keep.setdefault(up, [])
                        if x not in kept:
                            kept.append(x)
                    if data.nbytes >= FREE_FROM_BYTES:
                        big_intermediate = True
            if not retain_graph:
                node.released = True  # release(node), inlined
                node.saved = node.saved_output = None
                for name in node.frees:
                    setattr(node, name, None)
                if big_intermediate:
                    to_free.append(node)
        g = gx = input_grads = None  # drop the last references: leaves may take their arrays as is

    _let_go_of_intermediates(to_free)  # after the walk: every retained .grad is final by now
    if capture is not None:
        return [leaves[id(t)][1] if id(t) in leaves else None for t in capture]
    for tensor, g in retained:
        _accumulate(tensor, g, create_graph, False)
    retained = None
    for entry in leaves.values():
        tensor, g = entry
        unshared = type(g) is np.ndarray and g.base is None and _getrefcount(g) <= _UNSHARED_REFS
        _accumulate(tensor, g, create_graph, unshared)
    return None


def _root_gradient(root, gradient, create_graph, position):
    if not root._requires_grad:
        raise RuntimeError(
            f"element {position} of tensors does not require grad and does not have a grad_fn "
            "(nothing that produced it requires grad: create the inputs with requires_grad=True)")
    if gradient is None:
        if root.size != 1:
            raise RuntimeError(
                "grad can be implicitly created only for scalar outputs; this output has shape "
                f"{root.shape}: pass gradient= (an array of that shape, the ∂L/∂output to start from)")
        g = np.ones(root.shape, dtype=root.dtype)
    else:
        try:
            g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        except (ValueError, TypeError):  # ragged nesting
            raise TypeError(f"gradient must be numbers, got a ragged {type(gradient).__name__}") from None
        if g.dtype.kind not in "biuf":
            raise TypeError(
                f"gradient must be real numbers (∂L/∂output, shape {root.shape}), got "
                f"{type(gradient).__name__} of dtype {g.dtype} ({describe(g)})")
        if g.shape != root.shape:
            raise RuntimeError(
                f"Mismatch in shape: gradient has a shape of {g.shape} and output {position} "
                f"has a shape of {root.shape}")
        if g.dtype != root.dtype:
            g = g.astype(root.dtype)
    if create_graph:
        return gradient if isinstance(gradient, Tensor) and gradient.dtype == root.dtype else Tensor._wrap(g)
    return g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate into ``.grad`` of every leaf the ``tensors`` depend on (PyTorch's ``torch.autograd.backward``)."""
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    grads = [_root_gradient(t, g, create_graph, i) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    run_backward(tensors, grads, retain_graph, create_graph)
