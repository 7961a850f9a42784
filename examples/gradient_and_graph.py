"""A first gradient: f(x1, x2) = x1·x2 + sin(x2), its value, its gradients checked by hand, and its graph.

Run with ``python examples/gradient_and_graph.py [out_dir]``; with ``out_dir`` the graph
is drawn to ``out_dir/f_x1_x2.svg`` (Graphviz's ``dot`` renders it; without ``dot``, its DOT
source is written to ``out_dir/f_x1_x2.dot`` instead). ``make demo``
(``examples/digits.py``) runs it first.
"""

import math
import os
import sys

import autodiff as ad
from autodiff.draw import GraphvizNotFoundError


def main(out=None):
    x1 = ad.Tensor(2.0, requires_grad=True, name="x1")
    x2 = ad.Tensor(3.0, requires_grad=True, name="x2")
    f = x1 * x2 + ad.sin(x2)
    f.name = "f"
    f.backward(retain_graph=True)  # keep the graph so the picture shows every node's gradient
    print(f"f(x1, x2) = x1·x2 + sin(x2) at x1 = 2, x2 = 3: {f.item():.6f}")
    print(f"∂f/∂x1 = x2             = {x1.grad.item():.6f}  (expected {3.0:.6f})")
    print(f"∂f/∂x2 = x1 + cos(x2)   = {x2.grad.item():.6f}  (expected {2 + math.cos(3.0):.6f})")
    if out is not None:
        os.makedirs(out, exist_ok=True)
        print(f"wrote {save_graph(ad.draw_graph(f), os.path.join(out, 'f_x1_x2.svg'))}")


def save_graph(graph, path):
    """Render ``graph`` to the SVG file ``path``; without Graphviz's ``dot``, write its DOT source
    beside it (``.dot``) and say so. The path written."""
    try:
        return graph.save(path)
    except GraphvizNotFoundError:
        source = graph.save(os.path.splitext(path)[0] + ".dot")
        print(f"Graphviz's dot is not installed (apt-get install graphviz): writing the DOT source {source} instead")
        return source


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
