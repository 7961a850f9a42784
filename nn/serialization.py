"""Checkpoints: state dicts in ``.npz`` or ``.safetensors`` files, written atomically, loaded without pickle.

The format follows the file name: ``*.safetensors`` is the safetensors format
(read by ``safetensors.torch.load_file`` and every runtime that takes Hugging
Face checkpoints), anything else an ``.npz``. An ``.npz`` checkpoint is a zip of
``.npy`` arrays, one per parameter, plus a ``__format__`` entry naming this
format, so files written by anything else are recognised. Loading never
unpickles (``allow_pickle=False``; safetensors holds raw numbers only), so
opening a file cannot run code.

safetensors is read and written here, with no extra package: an 8-byte
little-endian header length, a JSON header {name: {"dtype", "shape",
"data_offsets"}} (plus "__metadata__"), then the raw little-endian bytes of
every tensor, back to back.
"""

import json
import math
import os
import struct
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


def atomic_write(path, write):
    """Call ``write(f)`` on a new binary file beside ``path``, flush it to disk, then rename it over ``path``.

    A crash or an exception mid-write leaves whatever ``path`` held before
    whole, and no temporary file behind. Returns ``path`` (as a str).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode())  # mkstemp makes it private (0600); give it a normal file's mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _is_safetensors(path):
    return os.fspath(path).lower().endswith(".safetensors")


def save(model_or_state, path):
    """Write ``model.state_dict()`` (or a dict of name → array) to ``path``, atomically.

    A name ending in ``.safetensors`` gets the safetensors format (keys are the
    state dict's names, so ``safetensors.torch.load_file`` gives a state dict
    that ``nn.to_torch(model)`` loads); any other name an ``.npz`` checkpoint
    (the name is used as given: no ``.npz`` is appended). The file is written
    under a temporary name in the same directory and then renamed over
    ``path``: a crash mid-save leaves any earlier checkpoint whole. Returns ``path``.
    """
    arrays = _arrays(model_or_state)
    if _is_safetensors(path):
        header, arrays = _safetensors_header(arrays)
        return atomic_write(path, lambda f: _write_safetensors(f, header, arrays))
    arrays[FORMAT_KEY] = np.array(FORMAT)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def _entry(npz, key, path):
    """``npz[key]``, refusing pickled object arrays and members that are not arrays with a CheckpointError."""
    try:
        value = npz[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise CheckpointError(
                f"{path}: entry {key!r} holds pickled Python objects; refusing to load it (nn.load never unpickles)"
            ) from None
        raise
    if not isinstance(value, np.ndarray):  # numpy hands back members not named *.npy as raw bytes
        raise CheckpointError(f"{path}: entry {key!r} is not a .npy array, so this is not an nn checkpoint")
    return value


# What reading a damaged zip can raise: zipfile reports a mangled header as an unsupported
# feature (NotImplementedError: "zip file version 16.0", "compression method") or as an
# encrypted member (RuntimeError), numpy a bad .npy header as ValueError.
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    OSError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
)


def load(path):
    """Read a checkpoint written by ``save``: a dict of name → numpy array, in saved order.

    A name ending in ``.safetensors`` is read as safetensors (from ``save`` or any
    other writer, e.g. ``safetensors.torch.save_file``), any other as an ``.npz``.
    Raises ``CheckpointError`` for a file that is not such a checkpoint (a pickle,
    another ``.npz``, a directory), is truncated or corrupt, or holds pickled object
    arrays; a missing file is a ``FileNotFoundError``.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a directory, not an nn checkpoint file")
    with open(path, "rb") as f:
        head = f.read(9)
    if not head:
        raise CheckpointError(f"{path} is empty, not an nn checkpoint (was its writing interrupted?)")
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"{path} looks like a Python pickle, not an nn checkpoint; nn.load never unpickles "
            "(unpickling can run arbitrary code)"
        )
    if _is_safetensors(path):
        if head[:4] == b"PK\x03\x04":
            raise CheckpointError(f"{path} is an .npz (zip) file, not safetensors: rename it to end in .npz to load it")
        return _load_safetensors(path)
    if head[:4] != b"PK\x03\x04":
        hint = " (it looks like safetensors: rename it to end in .safetensors)" if head[8:9] == b"{" else ""
        raise CheckpointError(
            f"{path} is not an nn checkpoint: not an .npz (zip) file (it starts with {head[:4]!r}){hint}"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            if FORMAT_KEY not in npz.files:
                raise CheckpointError(
                    f"{path} is an .npz file but not an nn checkpoint (no {FORMAT_KEY!r} entry; "
                    "was it written by nn.save?)"
                )
            fmt = _entry(npz, FORMAT_KEY, path)
            if fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
                raise CheckpointError(f"{path} has unsupported format {str(fmt)!r} (this version reads {FORMAT!r})")
            return {key: _entry(npz, key, path) for key in npz.files if key != FORMAT_KEY}
    except CheckpointError:
        raise
    except MemoryError as error:  # a damaged header can declare an absurd shape
        raise CheckpointError(
            f"{path}: an entry declares an array too large to load ({error}); "
            "the file is corrupt or not meant for this machine"
        ) from None
    except _DAMAGED as error:
        raise CheckpointError(
            f"{path} is truncated or corrupt ({type(error).__name__}: {error}); it cannot be read as an nn checkpoint"
        ) from error


# -- safetensors -------------------------------------------------------------------------------

# The format's dtype names; BF16 and the F8 types have no numpy dtype, complex numbers no safetensors one.
_SAFETENSORS_DTYPES = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "U16": np.uint16,
    "I16": np.int16,
    "U32": np.uint32,
    "I32": np.int32,
    "U64": np.uint64,
    "I64": np.int64,
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
}
_NOT_IN_NUMPY = ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")
_SAFETENSORS_NAMES = {np.dtype(dtype): name for name, dtype in _SAFETENSORS_DTYPES.items()}
_METADATA = "__metadata__"
_MAX_HEADER = 100_000_000  # the reference implementation's limit


def _safetensors_header(arrays):
    """(header bytes, arrays as little-endian contiguous arrays in file order) for ``_write_safetensors``.

    Wider dtypes come first and the header is padded with spaces to 8 bytes, as
    the reference writer does, so every tensor starts aligned to its item size;
    within one item size the state dict's order is kept (the reference sorts by name).
    """
    entries, offset = {_METADATA: {"format": "pt"}}, 0
    ordered = {}
    for key, array in sorted(arrays.items(), key=lambda item: -item[1].dtype.itemsize):
        if key == _METADATA:
            raise ValueError(f"cannot save entry {key!r} as safetensors: the format reserves that name")
        name = _SAFETENSORS_NAMES.get(array.dtype.newbyteorder("="))
        if name is None:
            raise ValueError(
                f"cannot save entry {key!r} as safetensors: the format has no {array.dtype} dtype "
                "(save it to an .npz file instead)"
            )
        array = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
        entries[key] = {"dtype": name, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        ordered[key] = array
        offset += array.nbytes
    header = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
    header += b" " * (-len(header) % 8)
    return header, ordered


def _write_safetensors(f, header, arrays):
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for array in arrays.values():
        f.write(array.tobytes())


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate names {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _naturals(values):
    return isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def _load_safetensors(path):
    """The tensors of a safetensors file as {name: numpy array}, in file order; CheckpointError if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[8:9] != b"{":
        raise CheckpointError(
            f"{path} is not a safetensors file: it should start with an 8-byte header length and a "
            f"JSON header, but it starts with {data[:9]!r}"
        )
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8 or length > _MAX_HEADER:
        raise CheckpointError(
            f"{path} is truncated or corrupt: its safetensors header claims {length} bytes but the file "
            f"holds {len(data) - 8} after the length (was its writing interrupted?)"
        )
    try:
        header = json.loads(data[8 : 8 + length].decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(
            f"{path} is truncated or corrupt: its safetensors header is not valid JSON ({error})"
        ) from None
    body = len(data) - 8 - length
    metadata = header.pop(_METADATA, {})  # a dict: the header starts with "{" and parsed
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(
            f"{path} is corrupt: its safetensors header must be a JSON object whose {_METADATA!r} maps names to strings"
        )
    spans = []
    for key, entry in header.items():
        spans.append((*_span(path, key, entry, body), key))
    spans.sort(key=lambda span: span[:2])
    end = 0
    for begin, stop, _dtype, _shape, key in spans:
        if begin != end:
            raise CheckpointError(
                f"{path} is corrupt: safetensors entry {key!r} starts at byte {begin} of the data, "
                f"but the previous tensor ends at {end} (the tensors must tile the data without gaps)"
            )
        end = stop
    if end != body:
        raise CheckpointError(
            f"{path} is corrupt: its tensors take {end} bytes but the data holds {body} "
            "(extra bytes after the last tensor)"
        )
    start = 8 + length
    return {
        key: np.frombuffer(data, dtype, math.prod(shape), start + begin).reshape(shape).astype(dtype.newbyteorder("="))
        for begin, stop, dtype, shape, key in spans
    }


def _span(path, key, entry, body):
    """(begin, end, little-endian dtype, shape) of one header entry, checked against the data's size."""

    def corrupt(problem):
        return CheckpointError(f"{path} is corrupt: safetensors entry {key!r} {problem}")

    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise corrupt("must be an object with 'dtype', 'shape' and 'data_offsets'")
    name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(name, str) or name not in _SAFETENSORS_DTYPES:
        if name in _NOT_IN_NUMPY:
            raise CheckpointError(
                f"{path}: entry {key!r} has dtype {name}, which numpy cannot hold; convert it before "
                "saving (in PyTorch: {k: v.float() for k, v in state_dict.items()})"
            )
        raise corrupt(f"has unknown dtype {name!r}")
    if not (_naturals(shape) and _naturals(offsets) and len(offsets) == 2):
        raise corrupt(
            f"needs a list of non-negative ints for 'shape' (got {shape!r}) "
            f"and two for 'data_offsets' (got {offsets!r})"
        )
    dtype = np.dtype(_SAFETENSORS_DTYPES[name]).newbyteorder("<")
    begin, end = offsets
    if end > body:
        raise CheckpointError(
            f"{path} is truncated or corrupt: safetensors entry {key!r} ends at byte {end} of the data, "
            f"but the file holds {body} (was its writing interrupted?)"
        )
    if end - begin != math.prod(shape) * dtype.itemsize:
        raise corrupt(
            f"spans bytes {begin}..{end}, but shape {tuple(shape)} of {name} takes {math.prod(shape) * dtype.itemsize}"
        )
    return begin, end, dtype, tuple(shape)
