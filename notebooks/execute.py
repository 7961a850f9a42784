"""Execute the notebooks top to bottom and store their outputs (run before committing a notebook).

    .venv/bin/python notebooks/execute.py                 # every notebook, in place
    .venv/bin/python notebooks/execute.py 02_*.ipynb      # some of them

A notebook's numerical claims are ``assert`` statements in its cells, so a wrong number stops the
run on any machine. The test suite executes every notebook again and compares the committed text
outputs with fresh ones: the words exactly, the numbers with a tolerance (the last digits of
round-off depend on the CPU's BLAS kernels). Cells tagged "varies" (timings, memory) are exempt.
"""

import math
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent
RTOL, ATOL = 1e-6, 1e-9


def execute(path, timeout=300):
    """Run ``path`` in a fresh kernel (working directory: the notebooks folder); return the executed notebook and its seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(HERE)}}
    ).execute()
    return nb, time.perf_counter() - start


def text_outputs(nb):
    """Per code cell not tagged "varies": its text outputs (stream, text/plain of results without a picture, errors)."""
    result = []
    for index, cell in enumerate(nb.cells):
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
        result.append((index, "".join(texts)))
    return result


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")


def tokens(text):
    """``text`` as words and numbers: whitespace dropped (numpy pads columns to the widest value), numbers as floats."""
    result, position = [], 0
    for match in _NUMBER.finditer(text):
        result.extend(text[position : match.start()].split())
        result.append(float(match.group()))
        position = match.end()
    result.extend(text[position:].split())
    return result


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b))
    return a == b


def differences(committed, executed):
    """Where the outputs of two runs of one notebook disagree beyond round-off: ``(cell index, committed, fresh)`` each."""
    found = []
    for (index, old), (_, new) in zip(text_outputs(committed), text_outputs(executed)):
        a, b = tokens(old), tokens(new)
        if len(a) != len(b) or not all(_same(x, y) for x, y in zip(a, b)):
            found.append((index, old, new))
    return found


def main(names):
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("[0-9]*.ipynb"))
    for path in paths:
        nb, seconds = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: {seconds:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
