"""Version counters and creation order: what tensors, the engine and in-place tracking share.

Every tensor carries a version counter that in-place writes bump (PyTorch's ``_version``);
every recorded op remembers its inputs' versions, and backward refuses a saved value
whose version moved. Every recorded op also draws a creation number from ``sequence``:
an op can only read tensors that already exist, so creation order is a topological
order of the graph. Nothing in autodiff is imported here.
"""

import itertools

UNCHANGED = (0,)
"""The version counter of every tensor that was never changed in place and shares its counter
with nothing: one immutable object instead of a list per tensor (a long graph then holds fewer
objects for the cyclic garbage collector). ``version_counter`` and ``bump_version`` give a tensor
its own list when it first needs one; writing into UNCHANGED itself fails loudly (a tuple)."""

sequence = itertools.count(1)
"""Creation numbers of recorded ops: ``next(sequence)``."""

last_change = [0]
"""The creation number drawn at the latest in-place change of any tensor. Ops created before it
must check their inputs' versions in backward; ops created after it saw the new values."""


def note_inplace_change():
    """Called wherever a version counter moves."""
    last_change[0] = next(sequence)


def version_counter(t):
    """``t``'s version counter as a list that views and ops may share, made on first need."""
    vc = t._vc
    if type(vc) is tuple:  # UNCHANGED (or an equal tuple from an old pickle)
        vc = t._vc = [vc[0]]
    return vc


def bump_version(t):
    """Count one in-place change of ``t``'s data (seen by every tensor and op sharing its counter)."""
    vc = t._vc
    if type(vc) is tuple:
        t._vc = [vc[0] + 1]
    else:
        vc[0] += 1
    note_inplace_change()
