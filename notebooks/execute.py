"""Execute the notebooks top to bottom and store their outputs (run before committing a notebook).

    .venv/bin/python notebooks/execute.py                 # every notebook, in place
    .venv/bin/python notebooks/execute.py 02_*.ipynb      # some of them

The test suite executes every notebook again and checks that the committed text outputs are the
ones execution produces (cells tagged "varies", e.g. timings, are exempt from the comparison).
"""
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent


def execute(path, timeout=300):
    """Run ``path`` in a fresh kernel (working directory: the notebooks folder); return the executed notebook and its seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nb, time.perf_counter() - start


# Round-off (an e-notation number below 1e-12, e.g. "2.2e-19") depends on the CPU's BLAS kernels,
# so the comparison sees every such number as the same word.
_ROUNDOFF = re.compile(r"[-+]?\d+(?:\.\d+)?e-(?:1[2-9]|[2-9]\d|\d{3})\b")


def text_outputs(nb):
    """What the comparison looks at: per code cell not tagged "varies", its text outputs, round-off masked."""
    result = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "varies" in cell.metadata.get("tags", []):
            continue
        texts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type in ("execute_result", "display_data") and "text/plain" in out.data:
                if not any(k.startswith("image/") for k in out.data):
                    texts.append(out.data["text/plain"])
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
        result.append(_ROUNDOFF.sub("<round-off>", "".join(texts)))
    return result


def main(names):
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("[0-9]*.ipynb"))
    for path in paths:
        nb, seconds = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {seconds:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
