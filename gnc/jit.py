"""numba compilation options shared by the flight code's kernels."""

from numba import njit


def kernel(**options):
    """``njit(cache=True, **options)`` without numba's reference counting (its ``_nrt=False`` option), for
    functions that allocate nothing and only work on arrays their caller passes in and keeps alive.

    With reference counting, every array argument of a compiled function costs an atomic increment and
    decrement of its owner's count at each call, and the call from Python a heap allocation for each array
    argument: about a fifth of the navigation step (``gnc bench nav``). Without it, a function that allocates
    (or returns a new array) does not compile, so the option cannot hide a leak."""
    return njit(cache=True, _nrt=False, **options)
