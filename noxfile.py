"""The supported range, tested at its two corners (``make matrix``, or ``nox -s oldest``):

- ``oldest``: the oldest Python and the oldest numpy that ``pyproject.toml`` admits;
- ``newest``: the newest Python on this machine and the newest numpy released for it.

Both run the test suite without the notebooks (their outputs are checked by ``make test``, on the
development versions). The interpreters are found on PATH or in pyenv; nothing is downloaded but
packages from PyPI.
"""

import glob
import os
import re
import shutil
import subprocess

import nox

nox.options.default_venv_backend = "venv"
nox.options.download_python = "never"
nox.options.sessions = ["oldest", "newest"]

OLDEST_PYTHON, OLDEST_NUMPY = "3.10", "1.24.4"
NEWEST_PYTHON = "3.13"


def interpreter(version):
    """``pythonX.Y`` from PATH when it runs, else pyenv's newest X.Y.z (pyenv's shims refuse versions not selected)."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return version
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    installed = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}"))
    patch = lambda path: int(re.search(rf"{re.escape(version)}\.(\d+)", path).group(1))  # noqa: E731
    return max(installed, key=patch) if installed else version


def _run_tests(session, numpy_requirement):
    session.install("-e", ".[test]", numpy_requirement)
    session.run(
        "python", "-c", "import sys, numpy; print('Python', sys.version.split()[0], '| numpy', numpy.__version__)"
    )
    session.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/test_notebooks.py", *session.posargs
    )


@nox.session(python=interpreter(OLDEST_PYTHON))
def oldest(session):
    """The oldest supported Python with the oldest supported numpy."""
    _run_tests(session, f"numpy=={OLDEST_NUMPY}")


@nox.session(python=interpreter(NEWEST_PYTHON))
def newest(session):
    """The newest Python with the newest numpy."""
    _run_tests(session, "numpy")
