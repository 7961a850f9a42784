"""Pictures of computation graphs: ``draw_graph(loss)``, tensors as boxes and ops as ellipses.

Data flows left to right (``direction="backward"`` draws the gradient flow
instead). Each ``autodiff.scope`` block, so each ``nn.Module`` call, is a
cluster. A graph over ``max_nodes`` first collapses modules into one node each,
then elides the middle of long chains. The result shows inline in Jupyter;
``.save("g.svg")`` renders it with Graphviz's ``dot``, and ``.source`` is the DOT
text, which needs no ``dot``.
"""

import html
import math
from collections import deque
from pathlib import Path

import numpy as np

from . import autograd
from .tensor import Constant, Tensor

try:
    import graphviz
except ImportError:  # the engine works without it; only drawing needs it
    graphviz = None

__all__ = ["draw_graph", "Graph", "GraphvizNotFoundError"]

DOT_MISSING = (
    "Graphviz's `dot` was not found on PATH: install the graphviz system package "
    "(apt-get install graphviz / brew install graphviz / conda install graphviz). "
    "Without it, `.source` still gives the DOT text."
)

SMALL = 4  # tensors with at most this many elements show their values, bigger ones a summary
FONT = "Helvetica"
ROLES = {  # role: (fill, border colour, extra node attributes, legend text)
    "param": ("#dbeafe", "#1d4ed8", {"penwidth": "2"}, "parameter: leaf that requires grad (bold border)"),
    "input": ("#f3f4f6", "#6b7280", {"style": "filled,dashed"}, "input / constant: no grad (dashed border)"),
    "output": ("#fde68a", "#b45309", {"penwidth": "2", "peripheries": "2"}, "output (double border)"),
    "intermediate": ("#ffffff", "#374151", {}, "intermediate tensor"),
}
OP_FILL, MODULE_FILL, ELIDED_FILL = "#ede9fe", "#dcfce7", "#f3f4f6"
PALETTE = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"]
NO_GRAD_FILL = "#e5e7eb"


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, which is not installed."""


# --------------------------------------------------------------------------- the graph


class _Walk:
    """The tensors and ops the roots depend on, each once, found without recursion.

    Per op ``j``: ``inputs[j]`` and ``outputs[j]`` (tensor indices, inputs in
    order and with repeats). Per tensor ``i``: ``producer[i]`` (op index or None)
    and ``consumers[i]`` (op indices, each once).
    """

    def __init__(self, roots):
        self.tensors, self.ops, self.inputs, self.outputs = [], [], [], []
        self.producer, self.consumers = [], []
        index, op_index, stack = {}, {}, list(reversed(roots))
        while stack:
            t = stack.pop()
            if id(t) in index:
                continue
            i = index[id(t)] = len(self.tensors)
            self.tensors.append(t)
            self.producer.append(None)
            self.consumers.append([])
            op = t.grad_fn
            if op is None:
                continue
            j = op_index.get(id(op))
            if j is None:
                j = op_index[id(op)] = len(self.ops)
                self.ops.append(op)
                self.outputs.append([])
                self.inputs.append(op.input_tensors)
                stack.extend(x for x in reversed(self.inputs[j]) if type(x) is not Constant)
            self.outputs[j].append(i)
            self.producer[i] = j
        for j, inputs in enumerate(self.inputs):
            self.inputs[j] = [self._add_constant(x) if type(x) is Constant else index[id(x)] for x in inputs]
            for i in dict.fromkeys(self.inputs[j]):
                self.consumers[i].append(j)
        self.roots = list(dict.fromkeys(index[id(r)] for r in roots))

    def _add_constant(self, c):
        """A shared constant (the 2 of ``x * 2``) is drawn once per use."""
        self.tensors.append(c)
        self.producer.append(None)
        self.consumers.append([])
        return len(self.tensors) - 1


def _gradients(walk, roots):
    """∂root/∂t per tensor while the graph is alive and root is one number; else what ``.grad`` holds."""
    held = [None if t._grad is None else np.asarray(t._grad_tensor().data) for t in walk.tensors]
    root = roots[0]
    if len(roots) > 1 or not root.requires_grad or root.size != 1 or any(op.released for op in walk.ops):
        return held
    wanted = [i for i, t in enumerate(walk.tensors) if t.requires_grad]
    try:
        found = autograd.grad(root, [walk.tensors[i] for i in wanted], retain_graph=True, allow_unused=True)
    except RuntimeError:  # e.g. a saved value changed in place since the forward
        return held
    for i, g in zip(wanted, found):
        held[i] = None if g is None else np.asarray(g.data)
    return held


# --------------------------------------------------------------------------- fitting under max_nodes


class _Layout:
    """What is drawn once each op is assigned the node that shows it (``place[j]``).

    A node key is ``("op", j)``, ``("module", path)`` or ``("elided", k)``. A
    tensor is drawn unless everything touching it sits inside one module or
    elided node, which then absorbs it; data fed into a module (a leaf with more
    than one element that needs no grad) stays drawn.
    """

    def __init__(self, walk, place, backward):
        self.place = place
        roots = set(walk.roots)
        self.shown = []
        for i, t in enumerate(walk.tensors):
            users = {place[j] for j in walk.consumers[i]}
            p = walk.producer[i]
            if i in roots:
                shown = True
            elif backward and not t.requires_grad:
                shown = False  # no gradient flows to it
            elif p is not None:
                shown = place[p][0] == "op" or bool(users - {place[p]})
            else:  # a leaf used by one module node only is one of its parameters or constants
                user = next(iter(users)) if len(users) == 1 else ("op",)
                shown = user[0] == "op" or (user[0] == "module" and not t.requires_grad and t.size > 1)
            self.shown.append(shown)
        self.edges, seen = [], set()  # (from key, to key, tensor index), in data-flow direction
        for j, node in enumerate(place):
            for i in walk.inputs[j]:
                p = walk.producer[i]
                if not self.shown[i] or (node[0] != "op" and p is not None and place[p] == node):
                    continue
                if node[0] == "op":
                    self.edges.append((("t", i), node, i))
                elif (i, node) not in seen:
                    seen.add((i, node))
                    self.edges.append((("t", i), node, i))
            self.edges.extend((node, ("t", i), i) for i in walk.outputs[j] if self.shown[i])
        self.nodes = [("t", i) for i, s in enumerate(self.shown) if s] + list(dict.fromkeys(place))


def _by_module(walk, depth):
    """Ops whose scope is at least ``depth`` deep go into their module's node at that depth."""
    return [
        ("module", op.scope[:depth]) if depth and len(op.scope) >= depth else ("op", j) for j, op in enumerate(walk.ops)
    ]


def _elide(walk, place, keep, merge):
    """Replace the units (nodes of ``place``) with ``keep[unit]`` False by elided nodes.

    Connected elided units share one node (all of them with ``merge``).
    """
    parent = {}

    def find(u):
        while parent.setdefault(u, u) != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    if not merge:
        for i, p in enumerate(walk.producer):
            if p is not None and not keep[place[p]]:
                for j in walk.consumers[i]:
                    if not keep[place[j]]:
                        parent[find(place[j])] = find(place[p])
    names = {}
    return [u if keep[u] else ("elided", 0 if merge else names.setdefault(find(u), len(names))) for u in place]


def _distances(walk, place):
    """The units (distinct nodes of ``place``); per unit, the fewest steps to a root and from the leaves."""
    succ, pred = {u: set() for u in place}, {u: set() for u in place}
    for i, p in enumerate(walk.producer):
        if p is not None:
            for j in walk.consumers[i]:
                if place[j] != place[p]:
                    succ[place[p]].add(place[j])
                    pred[place[j]].add(place[p])

    def bfs(starts, nexts):
        dist, queue = {u: 0 for u in starts}, deque(starts)
        while queue:
            u = queue.popleft()
            for v in nexts[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    queue.append(v)
        return [dist.get(u, len(place)) for u in succ]

    roots = list(dict.fromkeys(place[walk.producer[r]] for r in walk.roots if walk.producer[r] is not None))
    return list(succ), bfs(roots, pred), bfs([u for u in succ if not pred[u]], succ)


def _fit(walk, max_nodes, group_modules, backward):
    """The most detailed layout within ``max_nodes`` nodes: modules collapsed, then long chains elided."""
    depths = [None]
    if group_modules:
        depths += sorted({len(op.scope) for op in walk.ops if op.scope}, reverse=True)
    for depth in depths:
        layout = _Layout(walk, _by_module(walk, depth), backward)
        if len(layout.nodes) <= max_nodes:
            return layout
    place = layout.place
    units, to_root, from_leaves = _distances(walk, place)
    both = [min(a, b) for a, b in zip(to_root, from_leaves)]
    best = None
    # Keep the units within k steps of both ends (a chain loses its middle), or of the output
    # only (a wide graph has too many starts); the elided units make one node per connected
    # piece, or one in all when the pieces are too many.
    for dist, merge in ((both, False), (to_root, False), (both, True), (to_root, True)):
        lo, hi = 0, max(dist, default=0)
        while lo <= hi:  # the largest k that fits
            k = (lo + hi) // 2
            keep = {u: d < k for u, d in zip(units, dist)}
            candidate = _Layout(walk, _elide(walk, place, keep, merge), backward)
            if len(candidate.nodes) <= max_nodes:
                lo = k + 1
                if best is None or len(candidate.nodes) > len(best.nodes):
                    best = candidate
            else:
                hi = k - 1
        if best is not None and 2 * len(best.nodes) >= max_nodes:
            break
    return best or candidate  # (even the roots alone may exceed max_nodes)


# --------------------------------------------------------------------------- labels


def _esc(text):
    return html.escape(str(text)).replace("\n", "<BR/>")


def _num(x):
    """micrograd's 4 decimals, or exponent form where 4 decimals would hide the number."""
    x = float(x) + 0.0  # no "-0.0000"
    if x == 0 or not math.isfinite(x) or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


def _values(a):
    if a.ndim == 0:
        return _num(a) if a.dtype.kind == "f" else _esc(a.item())
    text = np.array2string(a, separator=", ", formatter={"float_kind": _num}, max_line_width=80)
    return "<BR/>".join(_esc(line) for line in text.splitlines())


def _summary(a):
    if a.size == 0:
        return "empty"
    a = a.astype(np.float64) + 0.0  # no "-0"
    with np.errstate(all="ignore"):
        return f"mean {a.mean():.4g}<BR/>min {a.min():.4g}  max {a.max():.4g}"


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _index(index):
    """An index as it is written between brackets: ``0, 1:``."""

    def one(i):
        if isinstance(i, slice):
            text = ":".join("" if v is None else str(v) for v in (i.start, i.stop, i.step))
            return text[:-1] if i.step is None else text
        if i is Ellipsis:
            return "..."
        if isinstance(i, np.ndarray):
            return f"array{_shape(i.shape)}"
        return str(i)

    return ", ".join(one(i) for i in (index if isinstance(index, tuple) else (index,)))


def _op_details(op):
    """The op's arguments worth reading (not ``input_shape``: the input box shows it already)."""
    parts = []
    for key, value in op.params.items():
        if key == "input_shape" or value is None or value is False:
            continue
        text = f"[{_index(value)}]" if key == "index" else f"{key}={value}"
        parts.append(text if len(text) <= 28 else text[:27] + "…")
    return ", ".join(parts)


def _table(rows):
    """An HTML-like label: rows of cells separated by rules (micrograd's ``data | grad`` record)."""
    width = max(len(row) for row in rows)
    body = "<HR/>".join(
        "<TR>"
        + "<VR/>".join(f'<TD COLSPAN="{width}">{c}</TD>' if len(row) < width else f"<TD>{c}</TD>" for c in row)
        + "</TR>"
        for row in rows
    )
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3">{body}</TABLE>>'


def _tensor_label(t, grad, show_data, show_grad, fontcolor):
    if t.name:
        title = f"<B>{_esc(t.name)}</B>"
    elif t.grad_fn is not None:
        title = f"<I>{_esc(t.grad_fn.name)}</I>"
    else:
        title = "<I>leaf</I>" if t.requires_grad else "<I>const</I>" if t.size == 1 else "<I>input</I>"
    grey = "#d1d5db" if fontcolor == "white" else "#4b5563"
    head = f'{title} <FONT POINT-SIZE="9" COLOR="{grey}">{_shape(t.shape)} {t.dtype}</FONT>'
    cells = []
    if show_data:
        if t._freed:
            cells.append("<I>values freed by backward()</I>")
        else:
            data = np.asarray(t.data)
            cells.append(("data " + _values(data)) if data.size <= SMALL else _summary(data))
    if show_grad and grad is not None:
        if grad.size <= SMALL:
            cells.append("grad " + _values(grad))
        else:
            with np.errstate(all="ignore"):
                cells.append(f"‖grad‖ {np.linalg.norm(grad.astype(np.float64).ravel()):.4g}")
    if fontcolor == "white":
        head = f'<FONT COLOR="white">{head}</FONT>'
        cells = [f'<FONT COLOR="white">{c}</FONT>' for c in cells]
    return _table([[head]] + ([cells] if cells else []))


def _rms(g):
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.mean(np.square(g.astype(np.float64))))) if g.size else 0.0


class _GradColours:
    """Gradient RMS ‖g‖₂/√n on a log scale, mapped to a light-to-dark palette."""

    def __init__(self, values):
        logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
        self.lo, self.hi = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def index(self, value):
        if not (value > 0 and math.isfinite(value)):
            return None
        if self.hi - self.lo < 1e-12:
            return len(PALETTE) // 2
        return round((math.log10(value) - self.lo) / (self.hi - self.lo) * (len(PALETTE) - 1))

    def legend_row(self):
        cells = [f'<TD ALIGN="RIGHT">grad RMS ‖g‖₂/√n (log scale)  {10**self.lo:.2e}</TD>']
        cells += [f'<TD BGCOLOR="{c}" WIDTH="14"> </TD>' for c in PALETTE]
        cells += [f'<TD ALIGN="LEFT">{10**self.hi:.2e}</TD>', f'<TD BGCOLOR="{NO_GRAD_FILL}">no gradient / 0</TD>']
        return "".join(cells)


def _legend(backward, colours, notes):
    rows = [
        f'<TD BGCOLOR="{"#ffffff" if colours else fill}" COLOR="{border}" BORDER="1">{_esc(text)}</TD>'
        for fill, border, _, text in ROLES.values()
    ]
    rows.append(f'<TD BGCOLOR="{OP_FILL}" COLOR="#6d28d9" BORDER="1">op (ellipse)</TD>')
    rows = ["".join(rows)]
    if backward:
        rows.append("<TD>arrows: gradient flow from the output, labelled with the gradient's shape</TD>")
    if colours is not None:
        rows.append(colours.legend_row())
    rows += [f"<TD>{_esc(n)}</TD>" for n in notes]
    body = "".join(f'<TR><TD BORDER="0"><TABLE BORDER="0" CELLSPACING="2"><TR>{r}</TR></TABLE></TD></TR>' for r in rows)
    return f'<<TABLE BORDER="0" CELLSPACING="0"><TR><TD ALIGN="LEFT"><B>legend</B></TD></TR>{body}</TABLE>>'


# --------------------------------------------------------------------------- drawing


def draw_graph(
    root,
    *,
    show_data=True,
    show_grad=True,
    rankdir="LR",
    max_nodes=200,
    group_modules=True,
    direction="forward",
    color_by=None,
    legend=True,
):
    """Draw the graph that produced ``root`` (a Tensor or a list of them): a :class:`Graph`.

    Tensors are boxes (name, shape, dtype; values and gradients when they have at
    most 4 elements, otherwise mean/min/max and the gradient's L2 norm), ops are
    ellipses, arrows follow the data. The gradient shown is ∂root/∂tensor,
    computed while the graph is alive and ``root`` is a single number; after a
    ``backward()`` that released the graph, it is what ``.grad`` holds.

    ``direction="backward"`` reverses the arrows (the gradient flow, each
    labelled with the gradient's shape). ``color_by="grad"`` fills tensors by the
    RMS of their gradient on a log scale. ``group_modules`` draws each
    ``autodiff.scope`` block (``nn.Module`` call) as a cluster; past ``max_nodes``
    the modules collapse to one node each, then the middles of long chains are
    elided into "… N ops …" nodes.
    """
    if graphviz is None:
        raise ImportError("drawing graphs needs the graphviz Python package: pip install graphviz")
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError("draw_graph takes a Tensor or a non-empty list of Tensors")
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    if color_by not in (None, "grad"):
        raise ValueError(f"color_by must be None or 'grad', got {color_by!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be positive, got {max_nodes}")
    backward = direction == "backward"

    walk = _Walk(roots)
    grads = _gradients(walk, roots) if show_grad or color_by else [None] * len(walk.tensors)
    layout = _fit(walk, max_nodes, group_modules, backward)
    place, shown = layout.place, layout.shown
    roots_set = set(walk.roots)

    ops_in, params_in = {}, {}
    for node in place:
        ops_in[node] = ops_in.get(node, 0) + 1
    for i, t in enumerate(walk.tensors):
        users = {place[j] for j in walk.consumers[i]}
        if not shown[i] and walk.producer[i] is None and t.requires_grad and len(users) == 1:
            node = users.pop()
            params_in[node] = params_in.get(node, 0) + t.size

    def cluster_of(key):
        if not group_modules:
            return ()
        kind, ref = key
        if kind == "op":
            return walk.ops[ref].scope
        if kind == "module":
            return ref[:-1]
        if kind == "elided":
            return ()
        p = walk.producer[ref]
        if p is not None:
            return cluster_of(place[p])
        t = walk.tensors[ref]
        if not walk.consumers[ref] or not (t.requires_grad or t.size == 1):
            return ()  # data fed into the model stays outside its modules
        paths = [cluster_of(place[j]) for j in walk.consumers[ref]]
        common = paths[0]
        for path in paths[1:]:
            n = 0
            while n < min(len(common), len(path)) and common[n] == path[n]:
                n += 1
            common = common[:n]
        return common

    colours = None
    if color_by == "grad":
        rms = {i: _rms(grads[i]) for i, s in enumerate(shown) if s and grads[i] is not None}
        colours = _GradColours(rms.values())

    names, clusters = {}, {(): []}
    for key in layout.nodes:
        names[key] = f"{key[0][0]}{len(names)}"
        path = cluster_of(key)
        for n in range(len(path) + 1):
            clusters.setdefault(path[:n], [])
        clusters[path].append(
            (names[key], _node_attrs(key, walk, grads, show_data, show_grad, colours, roots_set, ops_in, params_in))
        )

    dot = graphviz.Digraph(
        "autodiff",
        graph_attr={
            "rankdir": rankdir,
            "fontname": FONT,
            "fontsize": "10",
            "nodesep": "0.25",
            "ranksep": "0.35",
            "labeljust": "l",
        },
        node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.04,0.03"},
        edge_attr={"fontname": FONT, "fontsize": "9", "color": "#4b5563", "arrowsize": "0.7"},
    )
    _emit(dot, (), clusters)
    for src, dst, i in layout.edges:
        attrs = {}
        if backward:
            src, dst = dst, src
            attrs = {"label": _shape(walk.tensors[i].shape), "color": "#b91c1c", "fontcolor": "#b91c1c"}
        dot.edge(names[src], names[dst], **attrs)

    if legend:
        notes, hidden = [], {"module": 0, "elided": 0, "op": 0}
        for node in place:
            hidden[node[0]] += 1
        where = [
            f"{n:,} ops {text}"
            for n, text in (
                (hidden["module"], "in collapsed modules (green boxes)"),
                (hidden["elided"], "in elided chains"),
            )
            if n
        ]
        if where:
            notes.append(
                f"{len(walk.ops) + len(walk.tensors):,} nodes in the graph, drawn as "
                f"{len(layout.nodes)} (max_nodes={max_nodes}): " + ", ".join(where)
            )
        dot.attr(label=_legend(backward, colours, notes), labelloc="b")
    return Graph(dot, len(layout.nodes), len(layout.edges))


def _node_attrs(key, walk, grads, show_data, show_grad, colours, roots, ops_in, params_in):
    kind, ref = key
    if kind == "op":
        op = walk.ops[ref]
        details = _op_details(op)
        label = f"<B>{_esc(op.name)}</B>"
        if details:
            label += f'<BR/><FONT POINT-SIZE="9">{_esc(details)}</FONT>'
        return {
            "label": f"<{label}>",
            "shape": "ellipse",
            "style": "filled",
            "fillcolor": OP_FILL,
            "color": "#6d28d9",
            "class": "op",
        }
    if kind == "module":
        count = f"{ops_in[key]:,} op{'s' if ops_in[key] != 1 else ''}"
        params = params_in.get(key, 0)
        detail = count + (f" · {params:,} params" if params else "")
        return {
            "label": _table([[f"<B>{_esc(ref[-1].name)}</B>"], [detail]]),
            "shape": "box3d",
            "style": "filled",
            "fillcolor": MODULE_FILL,
            "color": "#15803d",
            "class": "module",
        }
    if kind == "elided":
        return {
            "label": f"… {ops_in[key]:,} ops …",
            "shape": "box",
            "style": "filled,dashed,rounded",
            "fillcolor": ELIDED_FILL,
            "color": "#6b7280",
            "class": "elided",
        }
    t = walk.tensors[ref]
    role = (
        "output"
        if ref in roots
        else "intermediate"
        if t.grad_fn is not None
        else "param"
        if t.requires_grad
        else "input"
    )
    fill, border, extra, _ = ROLES[role]
    fontcolor = "black"
    if colours is not None:
        index = colours.index(_rms(grads[ref])) if grads[ref] is not None else None
        fill = NO_GRAD_FILL if index is None else PALETTE[index]
        fontcolor = "white" if index is not None and index >= 6 else "black"
    attrs = {
        "label": _tensor_label(t, grads[ref], show_data, show_grad, fontcolor),
        "shape": "box",
        "style": "filled",
        "fillcolor": fill,
        "color": border,
        "class": f"tensor {role}",
    }
    attrs.update(extra)
    return attrs


def _emit(graph, path, clusters, ids=None):
    """Write the nodes of cluster ``path`` and, nested inside it, its sub-clusters (one per module call)."""
    ids = {} if ids is None else ids
    for name, attrs in clusters[path]:
        graph.node(name, **attrs)
    children = [p for p in clusters if len(p) == len(path) + 1 and p[: len(path)] == path]
    for child in children:
        base = "cluster_" + "/".join(frame.name for frame in child)
        ids[base] = ids.get(base, 0) + 1  # a module called twice: cluster_x, cluster_x~2
        with graph.subgraph(name=base if ids[base] == 1 else f"{base}~{ids[base]}") as sub:
            sub.attr(
                label=graphviz.escape(child[-1].name),
                style="rounded,dashed",
                color="#9ca3af",
                fontcolor="#374151",
                labeljust="l",
            )
            _emit(sub, child, clusters, ids)


# --------------------------------------------------------------------------- the result


class Graph:
    """A drawn computation graph: SVG inline in Jupyter, ``save(path)`` to a file, ``source`` as DOT.

    ``digraph`` is the underlying ``graphviz.Digraph``; ``num_nodes`` and
    ``num_edges`` count what is drawn.
    """

    def __init__(self, digraph, num_nodes, num_edges):
        self.digraph, self.num_nodes, self.num_edges = digraph, num_nodes, num_edges
        self._svg = None

    @property
    def source(self):
        """The DOT text (no Graphviz install needed)."""
        return self.digraph.source

    def pipe(self, format="svg"):
        """The picture rendered by ``dot``, as bytes."""
        try:
            return self.digraph.pipe(format=format)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError(DOT_MISSING) from error

    def save(self, path, format=None):
        """Render to ``path`` in the format its suffix names (svg, png, pdf...; .dot/.gv: the source)."""
        path = Path(path)
        format = (format or path.suffix.lstrip(".")).lower()
        if not format:
            raise ValueError(f"cannot tell the format of {str(path)!r}: give it a suffix (.svg, .png, .pdf)")
        if format in ("dot", "gv"):
            path.write_text(self.source, encoding="utf-8")
        else:
            path.write_bytes(self.svg().encode() if format == "svg" else self.pipe(format))
        return path

    def render(self, *args, **kwargs):
        """``graphviz.Digraph.render``: writes the DOT file and the rendered one next to it."""
        try:
            return self.digraph.render(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFoundError(DOT_MISSING) from error

    def svg(self):
        """The SVG text."""
        if self._svg is None:
            self._svg = self.pipe("svg").decode("utf-8")
        return self._svg

    def _repr_svg_(self):
        try:
            return self.svg()
        except GraphvizNotFoundError:
            return None

    def _repr_mimebundle_(self, include=None, exclude=None):
        try:
            return {"image/svg+xml": self.svg()}
        except GraphvizNotFoundError:
            return {"text/plain": f"{DOT_MISSING}\n\n{self.source}"}

    def __repr__(self):
        return f"<autodiff Graph: {self.num_nodes} nodes, {self.num_edges} edges>"
