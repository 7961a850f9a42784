"""Checkpoints: state dicts in ``.npz`` files that are written atomically and loaded without pickle.

A checkpoint is a zip of ``.npy`` arrays, one per parameter, plus a
``__format__`` entry naming this format, so files written by anything else are
recognised. Loading never unpickles (``allow_pickle=False``), so opening a file
cannot run code.
"""
import os
import tempfile
import zipfile
import zlib

import numpy as np

import autodiff as ad

FORMAT_KEY = "__format__"
FORMAT = "autodiff.nn state_dict v1"


class CheckpointError(ValueError):
    """A file is not a readable nn checkpoint (foreign, truncated, corrupt or holding pickled objects)."""


def _arrays(model_or_state):
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str) or key == FORMAT_KEY:
            raise ValueError(f"cannot save entry {key!r}: names must be strings other than {FORMAT_KEY!r}")
        array = np.asarray(value.data if isinstance(value, ad.Tensor) else value)
        if array.dtype.kind not in "biufc":
            raise ValueError(f"cannot save entry {key!r}: dtype {array.dtype} is not numeric")
        arrays[key] = array
    return arrays


def _file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save(model_or_state, path):
    """Write ``model.state_dict()`` (or a dict of name → array) to ``path`` as an ``.npz`` file.

    The file is written under a temporary name in the same directory and then
    renamed over ``path``: a crash mid-save leaves any earlier checkpoint whole.
    The name is used as given (no ``.npz`` is appended). Returns ``path``.
    """
    arrays = _arrays(model_or_state)
    arrays[FORMAT_KEY] = np.array(FORMAT)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode())  # mkstemp makes it private (0600); give it a normal file's mode
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _entry(npz, key, path):
    """``npz[key]``, refusing pickled object arrays and members that are not arrays with a CheckpointError."""
    try:
        value = npz[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise CheckpointError(
                f"{path}: entry {key!r} holds pickled Python objects; refusing to load it "
                "(nn.load never unpickles)") from None
        raise
    if not isinstance(value, np.ndarray):  # numpy hands back members not named *.npy as raw bytes
        raise CheckpointError(f"{path}: entry {key!r} is not a .npy array, so this is not an nn checkpoint")
    return value


# What reading a damaged zip can raise: zipfile reports a mangled header as an unsupported
# feature (NotImplementedError: "zip file version 16.0", "compression method") or as an
# encrypted member (RuntimeError), numpy a bad .npy header as ValueError.
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, KeyError,
            NotImplementedError, RuntimeError, zlib.error)


def load(path):
    """Read a checkpoint written by ``save``: a dict of name → numpy array, in saved order.

    Raises ``CheckpointError`` for a file that is not such a checkpoint (a pickle,
    another ``.npz``, a directory), is truncated or corrupt, or holds pickled object
    arrays; a missing file is a ``FileNotFoundError``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a directory, not an nn checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointError(f"{path} is empty, not an nn checkpoint (was its writing interrupted?)")
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"{path} looks like a Python pickle, not an nn checkpoint; nn.load never unpickles "
            "(unpickling can run arbitrary code)")
    if head != b"PK\x03\x04":
        raise CheckpointError(f"{path} is not an nn checkpoint: not an .npz (zip) file (it starts with {head!r})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if FORMAT_KEY not in npz.files:
                raise CheckpointError(
                    f"{path} is an .npz file but not an nn checkpoint (no {FORMAT_KEY!r} entry; "
                    "was it written by nn.save?)")
            fmt = _entry(npz, FORMAT_KEY, path)
            if fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
                raise CheckpointError(
                    f"{path} has unsupported format {str(fmt)!r} (this version reads {FORMAT!r})")
            return {key: _entry(npz, key, path) for key in npz.files if key != FORMAT_KEY}
    except CheckpointError:
        raise
    except MemoryError as error:  # a damaged header can declare an absurd shape
        raise CheckpointError(
            f"{path}: an entry declares an array too large to load ({error}); "
            "the file is corrupt or not meant for this machine") from None
    except _DAMAGED as error:
        raise CheckpointError(
            f"{path} is truncated or corrupt ({type(error).__name__}: {error}); "
            "it cannot be read as an nn checkpoint") from error
