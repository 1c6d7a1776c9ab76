"""Allocation of a commanded Hill-frame acceleration to the chaser's 3-axis thrust capability."""

import numpy as np
from numba import njit


@njit(cache=True)
def allocate_accel(a_cmd_H, a_max):
    """Per-axis saturated acceleration (m/s^2, H); a non-finite component becomes 0 (thruster off)."""
    out = np.zeros(3)
    for i in range(3):
        a = a_cmd_H[i]
        if np.isfinite(a):
            out[i] = min(max(a, -a_max), a_max)
    return out
