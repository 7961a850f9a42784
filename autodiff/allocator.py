"""glibc's malloc settings for a loop that frees and remakes the same arrays (Linux only).

glibc serves a block larger than its mmap threshold with its own ``mmap``, and gives
the top of its heap back to the system once more than its trim threshold is free
there. Both thresholds start at 128 KiB and follow the largest block freed so far
(the trim threshold at twice it). A training step makes and frees the same arrays
every time, so when they are a few hundred KiB, each step returns the heap's top to
the system and touches it again: every page of it comes back as a page fault,
zero-filled by the kernel. An SGD step of an MLP 256-256-128-10 with batch 128 takes
about 290 page faults and 1.0 ms that way, and none and 0.7 ms with the settings below
(``python tests/test_allocator.py`` shows both). Whether it happens depends on what
else the process did earlier: hand-written numpy reuses its buffers, and a larger
array freed once, by anything, raises both thresholds.

``tune_allocator()`` (``autodiff.tune_allocator``) fixes the thresholds: arrays up to
16 MiB come from the heap, and up to 32 MiB of free heap stay with the process. It is
opt-in: it changes malloc for the whole process, which a library should not do on its
own. Call it once at the start of a training script, or set ``AUTODIFF_TUNE_MALLOC=1``
to have it run when autodiff is imported. glibc's own ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` in the environment win: then it changes nothing.
"""

import os
import sys

MMAP_THRESHOLD = 16 << 20
TRIM_THRESHOLD = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
_OWN_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

tuned = False
"""Whether ``tune_allocator()`` changed the settings in this process."""


def tune_allocator(environ=os.environ):
    """Fix glibc's mmap and trim thresholds for training loops (see the module's text); True when set.

    Does nothing (False) off Linux/glibc, or when the environment sets glibc's own thresholds.
    """
    global tuned
    if any(k in environ for k in _OWN_SETTINGS) or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (ImportError, OSError, AttributeError):  # no ctypes, or not glibc (musl's mallopt does nothing)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned


def tune_on_import(environ=os.environ):
    """``tune_allocator()`` if the environment asks for it with ``AUTODIFF_TUNE_MALLOC=1``."""
    if environ.get("AUTODIFF_TUNE_MALLOC", "").strip().lower() in ("1", "true", "yes", "on"):
        return tune_allocator(environ)
    return False
