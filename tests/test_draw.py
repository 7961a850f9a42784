"""draw_graph: what the DOT source says always; what ``dot`` renders when it is installed."""

import math
import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff.draw import PALETTE, GraphvizNotFoundError

SVG = "{http://www.w3.org/2000/svg}"
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def named(tensor, name):
    tensor.name = name
    return tensor


def svg_tree(graph):
    """The rendered SVG, parsed (skips the test when Graphviz's ``dot`` is missing)."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz): rendering not checked")
    return ET.fromstring(graph.svg())


def svg_nodes(tree):
    """{node name: (class, its label's text)} for the drawn nodes."""
    nodes = {}
    for g in tree.iter(SVG + "g"):
        cls = g.get("class", "").split()
        if cls and cls[0] == "node":
            text = " ".join(" ".join("".join(t.itertext()) for t in g.iter(SVG + "text")).split())
            nodes[g.find(SVG + "title").text] = (" ".join(cls[1:]), text)
    return nodes


def count_ops(root):
    """The number of distinct ops ``root`` depends on."""
    seen, stack = set(), [root]
    while stack:
        op = stack.pop().grad_fn
        if op is not None and id(op) not in seen:
            seen.add(id(op))
            stack.extend(op.input_tensors)
    return len(seen)


def svg_edges(tree):
    return [g.find(SVG + "title").text.split("->") for g in tree.iter(SVG + "g") if g.get("class") == "edge"]


def source_nodes(graph):
    """{node name: its attribute text} from the DOT source."""
    found = re.findall(r"^\t+(\w+) \[(.*)\]$", graph.source, flags=re.M)
    return {name: attrs for name, attrs in found if name not in ("graph", "node", "edge")}


def source_edges(graph):
    return re.findall(r"^\t+(\w+) -> (\w+)", graph.source, flags=re.M)


def node_named(nodes, text):
    """The one node whose label contains ``text``."""
    found = [name for name, attrs in nodes.items() if text in (attrs if isinstance(attrs, str) else attrs[1])]
    assert len(found) == 1, (text, found)
    return found[0]


def f_x1_x2():
    x1 = ad.Tensor(2.0, requires_grad=True, name="x1")
    x2 = ad.Tensor(3.0, requires_grad=True, name="x2")
    return x1, x2, named(x1 * x2 + ad.sin(x2), "f")


def one_hidden_layer(lam=0.01):
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.normal(size=3), name="x")
    y = ad.Tensor([1.0, 0.0], name="y")
    W1 = ad.Tensor(rng.normal(size=(4, 3)), requires_grad=True, name="W1")
    W2 = ad.Tensor(rng.normal(size=(2, 4)), requires_grad=True, name="W2")
    z = named(W1 @ x, "z")
    h = named(ad.relu(z), "h")
    o = named(W2 @ h, "o")
    L = named(0.5 * ((o - y) ** 2).sum(), "L")
    s = named(lam / 2 * ((W1**2).sum() + (W2**2).sum()), "s")
    return W1, W2, named(L + s, "J")


def scoped_mlp(batch=64, widths=(3, 8, 8, 2)):
    """A 3-layer MLP whose layers run in ``autodiff.scope`` blocks, as ``nn.Module`` calls do."""
    rng = np.random.default_rng(0)
    params = []
    h = ad.Tensor(rng.normal(size=(batch, widths[0])), name="x")
    with ad.scope("MLP"):
        for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            W = ad.Tensor(rng.normal(size=(n_out, n_in)), requires_grad=True, name=f"layers.{k}.weight")
            b = ad.Tensor(np.zeros(n_out), requires_grad=True, name=f"layers.{k}.bias")
            params.append((W, b))
            with ad.scope(f"layers.{k}"):
                h = h @ W.T + b
            if k < len(widths) - 2:
                h = ad.relu(h)
    return params, named((h**2).mean(), "loss")


def chain(n_pairs):
    """sin and mul alternating: 2·n_pairs ops in a line, each mul with its own constant."""
    t = ad.Tensor(0.5, requires_grad=True, name="t")
    y = t
    for _ in range(n_pairs):
        y = ad.sin(y) * 1.0001
    return t, y


# --------------------------------------------------------------------------- the f(x1, x2) example and d2l's network


def test_f_x1_x2_source_has_every_node_edge_and_micrograd_label():
    x1, x2, f = f_x1_x2()
    g = ad.draw_graph(f)
    nodes, edges = source_nodes(g), source_edges(g)
    # tensors x1, x2, x1·x2, sin(x2), f; ops mul, sin, add
    assert len(nodes) == g.num_nodes == 8
    assert len(edges) == g.num_edges == 8
    assert sum("class=op" in a for a in nodes.values()) == 3
    # the graph is alive, so every node shows ∂f/∂node: ∂f/∂x1 = x2, ∂f/∂x2 = x1 + cos x2
    assert "data 2.0000</TD><VR/><TD>grad 3.0000" in nodes[node_named(nodes, "<B>x1</B>")]
    assert f"grad {2 + math.cos(3.0):.4f}" in nodes[node_named(nodes, "<B>x2</B>")]
    assert f"data {6 + math.sin(3.0):.4f}</TD><VR/><TD>grad 1.0000" in nodes[node_named(nodes, "<B>f</B>")]
    assert "() float64" in g.source


def test_f_x1_x2_svg_parses_with_labels_and_counts():
    x1, x2, f = f_x1_x2()
    tree = svg_tree(ad.draw_graph(f))
    nodes, edges = svg_nodes(tree), svg_edges(tree)
    assert len(nodes) == 8 and len(edges) == 8
    classes = sorted(cls for cls, _ in nodes.values())
    assert classes == ["op"] * 3 + ["tensor intermediate"] * 2 + ["tensor output"] + ["tensor param"] * 2
    text = " ".join(t for _, t in nodes.values())
    for label in ("x1", "x2", "mul", "sin", "add", "data 2.0000", "grad 3.0000", "() float64"):
        assert label in text
    ops = {text: name for name, (cls, text) in nodes.items() if cls == "op"}
    assert sorted(ops) == ["add", "mul", "sin"]
    x2 = node_named(nodes, "x2 ()")
    assert sorted(dst for src, dst in edges if src == x2) == sorted([ops["mul"], ops["sin"]])


def test_after_a_releasing_backward_only_stored_gradients_show():
    x1, x2, f = f_x1_x2()
    f.backward()
    nodes = source_nodes(ad.draw_graph(f))
    assert "grad 3.0000" in nodes[node_named(nodes, "<B>x1</B>")]
    intermediate = [a for a in nodes.values() if "tensor intermediate" in a]
    assert len(intermediate) == 2 and not any("grad" in a for a in intermediate)


def test_one_hidden_layer_names_values_and_summaries():
    W1, W2, J = one_hidden_layer()
    J.backward(retain_graph=True)
    g = ad.draw_graph(J)
    # ops: matmul relu matmul sub pow sum mul | pow sum pow sum add mul | add      = 14
    # tensors: x W1 z h W2 o y, o−y 2 (o−y)² Σ 0.5 L, 2 W1² Σ 2 W2² Σ + λ/2 s, J  = 23
    assert g.num_nodes == 37 and len(source_nodes(g)) == 37
    assert g.num_edges == 38 and len(source_edges(g)) == 38  # each op: its inputs and its output
    for name in ("x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J"):
        assert g.source.count(f"<B>{name}</B>") == 1, name
    tree = svg_tree(g)
    nodes = svg_nodes(tree)
    assert len(nodes) == 37 and len(svg_edges(tree)) == 38
    for name in ("x", "W1", "z", "h", "W2", "o", "y", "L", "s", "J"):
        assert sum(text.split()[0] == name for _, text in nodes.values()) == 1, name
    w1 = nodes[node_named(nodes, "W1 (4, 3)")][1]
    assert f"‖grad‖ {np.linalg.norm(W1.grad.data):.4g}" in w1
    assert f"mean {W1.data.mean():.4g}" in w1 and f"max {W1.data.max():.4g}" in w1
    assert "data [1.0000, 0.0000]" in nodes[node_named(nodes, "y (2,)")][1]
    assert nodes[node_named(nodes, "W1 (4, 3)")][0] == "tensor param"
    assert nodes[node_named(nodes, "y (2,)")][0] == "tensor input"


def test_committed_pictures_show_the_f_x1_x2_example_and_d2ls_network():
    f = ET.parse(IMG / "f_x1_x2.svg").getroot()
    text = " ".join(f.itertext())
    assert len(svg_nodes(f)) == 8 and len(svg_edges(f)) == 8
    for label in ("x1", "x2", "data 2.0000", "grad 3.0000", f"grad {2 + math.cos(3.0):.4f}"):
        assert label in text
    mlp = ET.parse(IMG / "one_hidden_layer.svg").getroot()
    assert len(svg_nodes(mlp)) == 37 and len(svg_edges(mlp)) == 38
    assert {"W1", "W2", "J", "L", "s"} <= set(" ".join(mlp.itertext()).split())


# --------------------------------------------------------------------------- structure


def test_shared_tensor_is_drawn_once_with_an_edge_per_use():
    x = ad.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = named(ad.sin(x) + x * x, "y")  # x feeds sin once and mul twice
    g = ad.draw_graph(y)
    nodes, edges = source_nodes(g), source_edges(g)
    xs = node_named(nodes, "<B>x</B>")
    out = [dst for src, dst in edges if src == xs]
    assert len(out) == 3 and len(set(out)) == 2
    tree = svg_tree(g)
    assert sum(src == xs for src, _ in svg_edges(tree)) == 3
    assert sum(text.split()[0] == "x" for _, text in svg_nodes(tree).values()) == 1


def test_leaf_root_is_one_node():
    g = ad.draw_graph(ad.Tensor([1.0, 2.0], requires_grad=True, name="w"))
    assert (g.num_nodes, g.num_edges) == (1, 0)
    assert "tensor output" in g.source and "data [1.0000, 2.0000]" in g.source


def test_several_outputs_share_one_picture():
    x = ad.Tensor(2.0, requires_grad=True, name="x")
    a, b = named(x * 3.0, "a"), named(ad.sin(x), "b")
    g = ad.draw_graph([a, b])
    nodes = source_nodes(g)
    assert g.num_nodes == 6  # x, 3.0, a, b, mul, sin
    assert sum("tensor output" in attrs for attrs in nodes.values()) == 2
    assert sum("<B>x</B>" in attrs for attrs in nodes.values()) == 1


def test_constants_are_inputs_and_op_arguments_are_shown():
    x = ad.Tensor(np.ones((2, 3)), requires_grad=True, name="x")
    y = (x[0, 1:] * 2.0).sum(axis=0)
    nodes = source_nodes(ad.draw_graph(y))
    assert "tensor input" in nodes[node_named(nodes, "<I>const</I>")]
    assert "data 2.0000" in nodes[node_named(nodes, "<I>const</I>")]
    assert "[0, 1:]" in nodes[node_named(nodes, "<B>getitem</B>")]
    assert "axis=0" in nodes[node_named(nodes, "<B>sum</B>")]


def test_special_characters_in_names_are_escaped():
    weird = 'a<b>&{c}|"d"\\e'
    x = ad.Tensor(1.0, requires_grad=True, name=weird)
    with ad.scope("<lambda>\\n"):
        y = named(x * 2.0, "out][")
    g = ad.draw_graph(y)
    assert "a&lt;b&gt;&amp;{c}|&quot;d&quot;\\e" in g.source
    tree = svg_tree(g)
    texts = " ".join(t for _, t in svg_nodes(tree).values())
    assert weird in texts and "out][" in texts
    (cluster,) = [c for c in tree.iter(SVG + "g") if c.get("class") == "cluster"]
    assert "".join(cluster.find(SVG + "text").itertext()) == "<lambda>\\n"


def test_show_data_and_show_grad_switch_cells_off():
    x1, x2, f = f_x1_x2()
    source = ad.draw_graph(f, show_grad=False).source
    assert "<TD>grad " not in source and "<TD>data 2.0000</TD></TR>" in source
    source = ad.draw_graph(f, show_data=False).source
    assert "<TD>data " not in source and "<TD>grad 3.0000</TD></TR>" in source


def test_bad_arguments():
    x = ad.Tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="direction"):
        ad.draw_graph(x, direction="sideways")
    with pytest.raises(ValueError, match="color_by"):
        ad.draw_graph(x, color_by="data")
    with pytest.raises(TypeError):
        ad.draw_graph([1.0])


# --------------------------------------------------------------------------- directions and colours


def test_backward_direction_reverses_edges_and_labels_gradient_shapes():
    W1, W2, J = one_hidden_layer()
    forward, backward = ad.draw_graph(J), ad.draw_graph(J, direction="backward")
    fnodes, bnodes = source_nodes(forward), source_nodes(backward)
    # x, y and the five constants get no gradient: not drawn
    assert len(bnodes) == 37 - 7 and not any("tensor input" in a for a in bnodes.values())
    w1 = node_named(bnodes, "<B>W1</B>")
    into_w1 = re.findall(rf"^\t+(\w+) -> {w1} \[(.*)\]$", backward.source, flags=re.M)
    assert len(into_w1) == 2 and all('label="(4, 3)"' in attrs for _, attrs in into_w1)  # from matmul and pow
    assert {bnodes[src] for src, _ in into_w1} <= {a for a in bnodes.values() if "class=op" in a}
    j = node_named(fnodes, "<B>J</B>")
    assert not any(src == j for src, _ in source_edges(forward))
    assert sum(src == node_named(bnodes, "<B>J</B>") for src, _ in source_edges(backward)) == 1
    tree = svg_tree(backward)
    assert len(svg_nodes(tree)) == 30 and "(4, 3)" in " ".join(tree.itertext())


def deep_sigmoid(depth=6):
    rng = np.random.default_rng(0)
    h = ad.Tensor(rng.normal(size=(16, 8)), name="x")
    for k in range(depth):
        W = ad.Tensor(rng.normal(size=(8, 8)) / np.sqrt(8), requires_grad=True, name=f"W{k}")
        h = ad.sigmoid(h @ W)
    return (h**2).mean()


def test_color_by_grad_shows_vanishing_gradients():
    g = ad.draw_graph(deep_sigmoid(), color_by="grad")
    nodes = source_nodes(g)
    fills = [re.search(r'fillcolor="(#\w+)"', nodes[node_named(nodes, f"<B>W{k}</B>")]).group(1) for k in range(6)]
    shade = [PALETTE.index(fill) for fill in fills]
    assert shade == sorted(shade) and shade[0] < shade[-1]  # lighter towards the input
    assert "grad RMS ‖g‖₂/√n (log scale)" in g.source
    low, high = re.search(r"log scale\)  (\S+)</TD>.*?<TD ALIGN=\"LEFT\">(\S+)</TD>", g.source).groups()
    assert float(low) < float(high)
    assert any("#ffffff" in a or "#e5e7eb" in a for a in nodes.values())  # the input x: no gradient
    svg_tree(g)


# --------------------------------------------------------------------------- modules and big graphs


def test_scopes_are_nested_clusters():
    _, loss = scoped_mlp()
    g = ad.draw_graph(loss)
    assert g.num_nodes == len(source_nodes(g))
    assert sorted(re.findall(r'subgraph "?(cluster_[^"\s]+)"? \{', g.source)) == [
        "cluster_MLP",
        "cluster_MLP/layers.0",
        "cluster_MLP/layers.1",
        "cluster_MLP/layers.2",
    ]
    flat = ad.draw_graph(loss, group_modules=False)
    assert "cluster" not in flat.source and flat.num_nodes == g.num_nodes
    tree = svg_tree(g)
    clusters = {
        c.find(SVG + "title").text: " ".join(c.find(SVG + "text").itertext())
        for c in tree.iter(SVG + "g")
        if c.get("class") == "cluster"
    }
    assert clusters == {
        "cluster_MLP": "MLP",
        "cluster_MLP/layers.0": "layers.0",
        "cluster_MLP/layers.1": "layers.1",
        "cluster_MLP/layers.2": "layers.2",
    }


def test_over_max_nodes_modules_collapse_with_op_and_parameter_counts():
    params, loss = scoped_mlp(batch=64)
    full = ad.draw_graph(loss)
    g = ad.draw_graph(loss, max_nodes=full.num_nodes - 1)
    nodes = source_nodes(g)
    assert g.num_nodes <= full.num_nodes - 1
    modules = {name: a for name, a in nodes.items() if "class=module" in a}
    assert len(modules) == 3
    for k, (W, b) in enumerate(params):  # each layer: transpose, matmul, add
        assert (
            f"<B>layers.{k}</B></TD></TR><HR/><TR><TD>3 ops · {W.size + b.size:,} params"
            in modules[node_named(modules, f"layers.{k}<")]
        )
    assert not any(f"layers.{k}.weight" in g.source for k in range(3))  # absorbed into their modules
    assert "<B>x</B>" in g.source  # the data fed in stays outside
    edges = source_edges(g)
    assert len(edges) == len(set(edges)) == g.num_edges
    relu_outputs = [n for n, a in nodes.items() if "<I>relu</I>" in a]
    assert len(relu_outputs) == 2
    for out in relu_outputs:  # layer k → add → relu → its output → layer k+1
        (dst,) = [dst for src, dst in edges if src == out]
        assert dst in modules
    whole = ad.draw_graph(loss, max_nodes=12)  # x, MLP, its output, then pow and mean: fewer than 12 nodes
    total = sum(W.size + b.size for W, b in params)
    assert f"<B>MLP</B></TD></TR><HR/><TR><TD>11 ops · {total:,} params" in whole.source
    tree = svg_tree(g)
    assert len(svg_nodes(tree)) == g.num_nodes and len(svg_edges(tree)) == g.num_edges


def test_nn_mlp_on_a_batch_of_64_collapses_into_its_layers():
    nn = pytest.importorskip("nn")
    model = nn.MLP(3, [16, 16, 2], rng=0)
    x = ad.Tensor(np.random.default_rng(0).normal(size=(64, 3)), name="x")
    loss = (model(x) ** 2).mean()
    assert ad.draw_graph(loss, max_nodes=22).num_nodes == 22  # fits: 22 nodes when nothing collapses
    g = ad.draw_graph(loss, max_nodes=20)
    assert g.num_nodes <= 20
    for name, param in model.named_parameters():
        assert name not in g.source  # inside the collapsed layers
    sizes = {}
    for name, param in model.named_parameters():
        layer = name.rsplit(".", 1)[0]
        sizes[layer] = sizes.get(layer, 0) + param.size
    for layer, size in sizes.items():
        assert f"<B>{layer}</B></TD></TR><HR/><TR><TD>" in g.source and f"{size:,} params" in g.source
    svg_tree(g)


def test_a_10000_op_chain_is_elided_under_max_nodes_and_renders_in_seconds():
    t, y = chain(5000)
    start = time.perf_counter()
    g = ad.draw_graph(y)
    tree = svg_tree(g) if shutil.which("dot") else None
    elapsed = time.perf_counter() - start
    assert elapsed < 30  # generous: the machine is shared; typically about a second
    nodes = source_nodes(g)
    assert g.num_nodes == len(nodes) <= 200
    elided = [
        int(re.search(r"… ([\d,]+) ops …", a).group(1).replace(",", "")) for a in nodes.values() if "class=elided" in a
    ]
    drawn_ops = sum("class=op" in a for a in nodes.values())
    assert len(elided) == 1 and drawn_ops + elided[0] == 10_000
    assert "<B>t</B>" in g.source and "tensor output" in g.source  # both ends stay
    if tree is not None:
        assert len(svg_nodes(tree)) == g.num_nodes


@pytest.mark.parametrize("combine", ["stack", "add"])
def test_wide_and_deep_graphs_fit_with_every_op_accounted_for(combine):
    x = ad.Tensor(0.5, requires_grad=True, name="x")
    branches = []
    for k in range(60):
        h = x * float(k)
        for _ in range(30):
            h = ad.sin(h)
        branches.append(h)
    y = ad.stack(branches).sum() if combine == "stack" else sum(branches[1:], branches[0])
    g = ad.draw_graph(y, max_nodes=100)
    nodes = source_nodes(g)
    assert 20 <= g.num_nodes == len(nodes) <= 100
    elided = [
        int(re.search(r"… ([\d,]+) ops …", a).group(1).replace(",", "")) for a in nodes.values() if "class=elided" in a
    ]
    drawn = sum("class=op" in a for a in nodes.values())
    assert elided and drawn and sum(elided) + drawn == count_ops(y)
    edges = source_edges(g)
    assert all(src in nodes and dst in nodes for src, dst in edges)


# --------------------------------------------------------------------------- Jupyter and files


def test_jupyter_displays_svg():
    _, _, f = f_x1_x2()
    g = ad.draw_graph(f)
    svg_tree(g)
    bundle = g._repr_mimebundle_()
    assert ET.fromstring(bundle["image/svg+xml"]).tag == SVG + "svg"
    assert ET.fromstring(g._repr_svg_()).tag == SVG + "svg"
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _ = formatters.DisplayFormatter().format(g)
    assert "<svg" in data["image/svg+xml"]


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_save_picks_the_format_from_the_suffix(tmp_path, suffix, magic):
    _, _, f = f_x1_x2()
    g = ad.draw_graph(f)
    svg_tree(g)
    path = g.save(tmp_path / f"graph{suffix}")
    assert path.read_bytes().startswith(magic)


def test_without_dot_the_source_still_works_and_rendering_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot to be found
    _, _, f = f_x1_x2()
    g = ad.draw_graph(f)
    assert "digraph" in g.source and "x1" in g.source
    with pytest.raises(GraphvizNotFoundError, match=r"apt-get install graphviz"):
        g.save(tmp_path / "graph.svg")
    with pytest.raises(GraphvizNotFoundError, match="graphviz system package"):
        g.pipe("png")
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and "apt-get install graphviz" in bundle["text/plain"]
    assert g.source in bundle["text/plain"]
    assert g._repr_svg_() is None
    assert g.save(tmp_path / "graph.dot").read_text() == g.source


def test_each_call_of_a_module_is_its_own_cluster():
    W = ad.Tensor(np.ones((2, 2)), requires_grad=True, name="W")
    h = ad.Tensor(np.ones((3, 2)), name="x")
    for _ in range(2):  # the same "layer" applied twice (shared weights)
        with ad.scope("layer"):
            h = (h @ W).tanh()
    g = ad.draw_graph(h.sum())
    assert sorted(re.findall(r'subgraph "?(cluster_[^"\s]+)"? \{', g.source)) == ["cluster_layer", "cluster_layer~2"]


def test_after_a_plain_backward_intermediates_are_drawn_without_values():
    x = ad.Tensor(np.ones(10_000), requires_grad=True, name="x")
    h = (x * 3).exp()
    loss = h.sum()
    loss.backward()
    g = ad.draw_graph(loss)
    assert g.source.count("values freed by backward()") == 2  # the mul and exp results (80 KB each)
    assert "‖grad‖ 6026" in g.source  # the leaf still shows its ‖x.grad‖ = 3e³·√10000
    small = ad.Tensor([1.0, 2.0], requires_grad=True)
    tiny_loss = (small * 3).exp().sum()
    tiny_loss.backward()
    assert "values freed" not in ad.draw_graph(tiny_loss).source  # small intermediates are kept
    assert g.num_nodes == len(source_nodes(g))


def test_a_number_used_twice_is_drawn_twice_although_its_constant_is_shared():
    x = ad.Tensor(np.ones(2), requires_grad=True, name="x")
    y = (x * 2.5 + x * 2.5).sum()
    assert (
        y.grad_fn.input_tensors[0].grad_fn.input_tensors[0].grad_fn.input_tensors[1]
        is y.grad_fn.input_tensors[0].grad_fn.input_tensors[1].grad_fn.input_tensors[1]
    )
    g = ad.draw_graph(y)
    assert g.num_nodes == 11  # x, two constants 2.5, mul, mul, add, sum: 7 tensors + 4 ops
    assert g.num_edges == 11  # 7 into ops, 4 out of them
