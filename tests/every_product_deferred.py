"""A pytest plugin: every product waits to be read, and every leaf gradient c·x to be added, whatever its size
(``-p tests.every_product_deferred``).

``tests/test_deferred.py`` runs the graph, in-place and property suites under it, so that the
deferred products meet every op, in-place change and reader those suites make."""

from autodiff import deferred, ops

deferred.FROM_ELEMENTS = 1
ops.SCALED_FROM = 1
