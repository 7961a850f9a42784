"""autodiff's benchmark suite: ``python -m benchmarks --help``.

``run`` is the command line and the table, ``timing`` the shared helpers
(interleaved timing, memory readings, child processes), ``environment`` the peers,
threads and machine, and ``workloads`` one module per workload.
"""
