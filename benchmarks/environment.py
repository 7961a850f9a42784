"""The peers (installing the missing ones), BLAS threads, and a description of the machine."""

import datetime
import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
import sys
import tarfile

from .timing import ROOT

# peer name in the table -> module to import
PEER_MODULES = {
    "numpy": "numpy",  # the hand-written backprop: always there
    "torch": "torch",
    "autograd": "autograd",  # HIPS autograd
    "mygrad": "mygrad",
    "micrograd": "micrograd",
    "sklearn": "sklearn",
}

# Used when pyproject.toml cannot be read (Python 3.10 has no tomllib): keep in step with its bench extra.
FALLBACK_BENCH_EXTRA = [
    "torch==2.13.0",
    "autograd==1.9.1",
    "mygrad==2.5.0",
    "micrograd==0.1.0",
    "scikit-learn>=1.2",
    "threadpoolctl>=3",
]


def available(peer):
    module = PEER_MODULES.get(peer, peer)
    return importlib.util.find_spec(module) is not None


def bench_requirements():
    """The ``bench`` extra of pyproject.toml: {distribution name: requirement}."""
    reqs = FALLBACK_BENCH_EXTRA
    try:
        import tomllib

        with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
            reqs = tomllib.load(f)["project"]["optional-dependencies"]["bench"]
    except (ImportError, OSError, KeyError):
        pass
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower(): r for r in reqs}


def ensure_peers(quiet=False):
    """pip-install (into this interpreter's environment) the bench extra's packages that are missing.

    Only the missing requirements are installed, one pip call, never the project
    itself (an editable install of this tree would re-point the environment's autodiff).
    Returns the list of requirements it tried, and whether pip succeeded.
    """
    missing = []
    for dist, req in bench_requirements().items():
        module = {"scikit-learn": "sklearn"}.get(dist, dist)
        if importlib.util.find_spec(module) is None:
            missing.append(req)
    if not missing:
        return [], True
    if not quiet:
        print(f"installing missing benchmark peers: {' '.join(missing)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing]).returncode == 0
    importlib.invalidate_caches()
    return missing, done


# --------------------------------------------------------------------------- threads

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n):
    """Give every library the same number of BLAS / OpenMP threads: ``n``.

    Environment variables (for child processes and libraries loaded later),
    threadpoolctl for the BLAS already loaded (numpy's OpenBLAS), and
    ``torch.set_num_threads`` when torch is imported (``torch_threads``).
    """
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(n)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def threads():
    """The thread count every peer should use (what ``set_threads`` set; default: every CPU)."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def torch_threads(torch):
    """Call after ``import torch`` in a peer: same intra-op threads as numpy's BLAS."""
    torch.set_num_threads(threads())
    return torch


# --------------------------------------------------------------------------- the machine


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pool(p):
    """'openblas 0.3.31 of numpy: 2 threads', from a threadpoolctl record."""
    owner = re.search(r"site-packages[/\\]([A-Za-z0-9_]+?)(?:\.libs)?[/\\]", p.get("filepath", ""))
    version = f" {p['version']}" if p.get("version") else ""
    return f"{p['internal_api']}{version}{f' of {owner.group(1)}' if owner else ''}: {p['num_threads']} threads"


def machine():
    """CPU, cores, versions and thread settings, for the report."""
    import numpy as np

    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "threads": threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "malloc": ", ".join(
            f"{k}={os.environ[k]}" for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if k in os.environ
        )
        or "glibc's defaults",
    }
    for dist in ("torch", "autograd", "mygrad", "micrograd", "scikit-learn"):
        info[dist] = _version(dist)
    try:
        import threadpoolctl

        info["blas"] = [_pool(p) for p in threadpoolctl.threadpool_info()]
    except ImportError:
        info["blas"] = ["threadpoolctl not installed"]
    if "autodiff" in sys.modules:
        info["autodiff_from"] = os.path.dirname(os.path.dirname(sys.modules["autodiff"].__file__))
    if "torch" in sys.modules:
        info["torch_threads"] = sys.modules["torch"].get_num_threads()
    return info


def revision():
    """The commit the benchmarks and the engine come from (``git rev-parse --short HEAD``), with
    " + uncommitted changes" when ``autodiff``, ``nn`` or ``benchmarks`` differ from it (but the results kept
    in ``benchmarks/results``, which a run before this one may have just written); None outside git."""
    git = ["git", "-C", ROOT]
    paths = ["autodiff", "nn", "benchmarks", ":(exclude)benchmarks/results"]
    try:
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        changed = subprocess.run(git + ["status", "--porcelain", "--", *paths], capture_output=True, text=True)
    except OSError:  # no git
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + (" + uncommitted changes" if changed.stdout.strip() else "")


def engine_tree(rev, path):
    """Write revision ``rev``'s ``autodiff`` and ``nn`` (``git archive``) into the directory ``path``."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", rev, "autodiff", "nn"], capture_output=True)
    if archive.returncode:
        sys.exit(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
    os.makedirs(path, exist_ok=True)
    tar_path = os.path.join(path, "tree.tar")
    with open(tar_path, "wb") as f:
        f.write(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(path)
    os.remove(tar_path)
