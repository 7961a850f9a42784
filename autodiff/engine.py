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

from .grad_mode import _set_differentiating_rule, current_scope, is_grad_enabled, set_grad_enabled
from .ops import array_math
from .tensor import FreedTensor, Tensor

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

_sequence = itertools.count(1)  # creation order of recorded ops, to bound graph walks


def apply(op_cls, *inputs, **params):
    """Run ``op_cls`` forward on the inputs' arrays and record it when a gradient can flow through it."""
    op = op_cls()
    arrays = [t._data for t in inputs]
    try:
        out = op.forward(*arrays, **params)
    except (ValueError, IndexError, TypeError) as error:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise type(error)(f"{op.name} of shapes {shapes}: {error}") from error
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    result = Tensor._wrap(out)
    if out.dtype.kind == "f" and is_grad_enabled():
        needs = [t._requires_grad for t in inputs]
        if True in needs:
            op.inputs = inputs
            op.versions = [t._vc[0] for t in inputs]
            op.needs_input_grad = needs
            op.seq = next(_sequence)
            op.scope = current_scope()
            if op.saves_inputs:
                op.saved = arrays
            if op.saves_output:
                op.saved_output = out
                op._output_counter = result._vc
                op.output_version = 0
            result.grad_fn = op
            result._requires_grad = True
    return result


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


def _parents(tensor):
    node = tensor.grad_fn
    if node is None:
        return ()
    return [t for t in graph_inputs(node) if t._requires_grad]


def topological_order(roots):
    """Every tensor that requires grad and that ``roots`` depend on, each listed after its inputs.

    Iterative depth-first search: a chain of any length never hits Python's recursion limit.
    """
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(_parents(root)))]
        while stack:
            tensor, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(_parents(parent))))
                    break
            else:
                stack.pop()
                order.append(tensor)
    return order


def _check_versions(node, inputs):
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
        if any(_worth_freeing(t) for t in node.inputs):
            node.inputs = tuple(_placeholder(t) if _worth_freeing(t) else t for t in node.inputs)


def _accumulate(tensor, g, create_graph, owned=False):
    """Add ``g`` into ``tensor.grad``. ``g`` is copied the first time unless ``owned`` (fresh and unshared)."""
    if create_graph:
        tensor._grad = g if tensor._grad is None else tensor._grad + g
    elif tensor._grad is None:
        tensor._grad = Tensor._wrap(g if owned else np.array(g, dtype=tensor.dtype))
    else:
        grad = tensor._grad
        if grad._requires_grad or not grad._data.flags.writeable:
            tensor._grad = Tensor._wrap(grad._data + g)
        else:
            grad._data += g
            grad._vc[0] += 1


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate ``root_grads`` from ``roots`` down the graph by the chain rule.

    Without ``capture``, leaves (and tensors that ``retain_grad()``) accumulate
    into ``.grad``. With ``capture`` (a list of tensors), nothing's ``.grad`` is
    touched and the gradients of those tensors are returned (``None`` where no
    path leads to them); only the part of the graph leading to them is walked.
    """
    order = topological_order(roots)
    wanted = None
    if capture is not None:
        targets = {id(t) for t in capture}
        wanted = set()
        for t in order:  # inputs come first, so a tensor's parents are decided before it
            if id(t) in targets or any(id(p) in wanted for p in _parents(t)):
                wanted.add(id(t))
        captured = {}
    xp = array_math
    if create_graph:
        from . import functions as xp

    grads = {}
    for root, g in zip(roots, root_grads):
        grads[id(root)] = g if id(root) not in grads else grads[id(root)] + g
    # How many inputs each gradient array was handed to: an array a rule made (not a view, not
    # the user's) that went to one input only can become a leaf's .grad without a copy.
    handed = {id(g): 2 for g in root_grads}
    released = []

    with set_grad_enabled(create_graph):
        for tensor in reversed(order):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            node = tensor.grad_fn
            if capture is not None:
                if id(tensor) in targets:
                    captured[id(tensor)] = g
            elif node is None:
                owned = type(g) is np.ndarray and g.base is None and handed.get(id(g), 0) == 1
                _accumulate(tensor, g, create_graph, owned)
            elif tensor._retains_grad:
                _accumulate(tensor, g, create_graph)
            if node is None:
                continue
            if node.released:
                raise RuntimeError(BACKWARD_TWICE.format(node=repr(node)[1:-1]))
            inputs = graph_inputs(node)
            _check_versions(node, inputs)
            if create_graph:
                if not node.twice_differentiable:
                    raise NotImplementedError(NOT_TWICE_DIFFERENTIABLE.format(name=node.name, node=repr(node)[1:-1]))
                xs = inputs if node.saves_inputs else (None,) * len(inputs)
                out = tensor if node.saves_output else None
                _set_differentiating_rule(node)
                try:
                    input_grads = node.vjp(xp, g, *xs, out=out)
                finally:
                    _set_differentiating_rule(None)
            else:
                xs = node.saved if node.saves_inputs else (None,) * len(inputs)
                out = node.saved_output if node.saves_output else None
                input_grads = node.vjp(xp, g, *xs, out=out)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for x, gx in zip(inputs, input_grads):
                if gx is None or not x._requires_grad or (wanted is not None and id(x) not in wanted):
                    continue
                data = x._data
                if gx.shape != data.shape:
                    gx = xp.sum_to(gx, data.shape)
                if gx.dtype != data.dtype:
                    gx = gx.astype(data.dtype)
                key = id(x)
                if key in grads:
                    grads[key] = grads[key] + gx
                else:
                    grads[key] = gx
                    handed[id(gx)] = handed.get(id(gx), 0) + 1
            if not retain_graph:
                release(node)
                released.append(node)

    _let_go_of_intermediates(released)  # after the loop: every retained .grad is final by now
    if capture is not None:
        return [captured.get(id(t)) for t in capture]
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
        g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
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
