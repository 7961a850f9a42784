"""``python -m benchmarks``: see ``benchmarks/run.py``.

Every benchmark process, this one and its children, runs with the malloc settings of
``autodiff.tune_allocator()`` given to glibc itself (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``), so every peer gets the same allocator whether or not it imports
autodiff: set them yourself to compare other settings.
"""

import os
import sys

from benchmarks.timing import MALLOC_SETTINGS

if any(k not in os.environ for k in MALLOC_SETTINGS):  # glibc reads them when a process starts: start again
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]], {**MALLOC_SETTINGS, **os.environ})

from benchmarks.run import main  # noqa: E402

main()
