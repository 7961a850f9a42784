"""The graph as its ops saw it: in-place changes (version checks, the history of replaced values), and
the ops a set of roots depends on.

As in PyTorch, every recorded op remembers its inputs' versions, and backward refuses to use
a saved array whose version changed since. When an in-place op is itself recorded
(``y += x`` on a tensor in the graph), the tensor's old value and history move to a hidden
tensor kept in ``tensor._history`` under the old version, and ops recorded before the change
are routed to it (``resolve``), so they still see the value they read.
"""

from .tensor import Tensor
from .versions import note_inplace_change

MODIFIED_INPLACE = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: {what} of {node} (shape {shape}, dtype {dtype}) is at version {now}; expected "
    "version {then} instead. Compute the in-place change on a copy (y = x + 1 instead of x += 1), "
    "or do it after backward."
)


def record_inplace(tensor, result):
    """``tensor`` becomes ``result`` (the recorded out-of-place form of an in-place op on it).

    Its old value and history move to a hidden tensor stored in ``tensor._history`` under the
    last version it covered. Ops recorded earlier that read ``tensor`` keep seeing the old one:
    those the new op depends on are re-pointed to it now (otherwise ``tensor`` would sit on a
    reference cycle through its own history), the others are routed to it by ``resolve``.
    """
    version = tensor._vc[0]
    if tensor._history is None:
        tensor._history = {}
        tensor._born = tensor.grad_fn.seq if tensor.grad_fn is not None else 0
    old = Tensor._wrap(tensor._data)
    old._vc, old.grad_fn, old._requires_grad, old.name = tensor._vc, tensor.grad_fn, tensor._requires_grad, tensor.name
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
    from .collector import track_graph

    track_graph((tensor,))  # an older tensor now leads to newer ops: a cycle through them must be seen


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


def check_versions(node, inputs):
    """Raise if an array the op saved was changed in place since it was recorded."""
    if node.saves_inputs:
        for i, (t, then) in enumerate(zip(inputs, node.versions)):
            if t._vc[0] != then:
                raise RuntimeError(
                    MODIFIED_INPLACE.format(
                        what=f"input {i}", node=repr(node)[1:-1], shape=t.shape, dtype=t.dtype, now=t._vc[0], then=then
                    )
                )
    if node.saves_output and node._output_counter[0] != node.output_version:
        out = node.saved_output
        raise RuntimeError(
            MODIFIED_INPLACE.format(
                what="output 0",
                node=repr(node)[1:-1],
                shape=out.shape,
                dtype=out.dtype,
                now=node._output_counter[0],
                then=node.output_version,
            )
        )


def inputs_for_backward(node):
    """The op's inputs for its rule, checked: called when something changed in place after the op was recorded."""
    inputs = node.inputs
    for x, then in zip(inputs, node.versions):
        if x._vc[0] != then or x._history is not None:
            inputs = graph_inputs(node)
            check_versions(node, inputs)
            return inputs
    if node.saves_output and node._output_counter[0] != node.output_version:
        check_versions(node, inputs)
    return inputs


def graph_nodes(roots, since=0):
    """Every recorded op the ``roots`` depend on (created after the op numbered ``since``), latest first.

    Creation order is a topological order (an op can only read tensors that
    already exist), so sorting by it replaces a depth-first search: no recursion,
    whatever the depth.
    """
    stack = [r.grad_fn for r in roots if r.grad_fn is not None and r.grad_fn.seq > since]
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
            if up is not None and up not in seen and up.seq > since:
                seen.add(up)
                stack.append(up)
    nodes.sort(key=_creation, reverse=True)
    return nodes


def _creation(node):
    return node.seq
