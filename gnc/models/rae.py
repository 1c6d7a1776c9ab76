"""Range / azimuth / elevation of the target seen from the chaser, and its Jacobian.

The line of sight is rho = r_TC_H = -r_CT_H (m), in Hill axes (the chaser's attitude is known, so a
body-frame measurement is rotated into H before it reaches navigation).
    range = |rho| (m),  azimuth = atan2(rho_y, rho_x) (rad, in (-pi, pi]),
    elevation = asin(rho_z / |rho|) (rad, in [-pi/2, pi/2]).
Azimuth wraps at +-pi (target straight below the chaser); innovations go through ``wrap_angle``.
"""

import numpy as np
from numba import njit

from gnc.jit import kernel


@njit(cache=True)
def wrap_angle(a):
    """Angle (rad) wrapped to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


@kernel()
def rae_tuple(r_CT_H):
    """(range m, azimuth rad, elevation rad) of the target seen from the chaser at r_CT_H (m, H); a tuple
    (no allocation)."""
    rx, ry, rz = -r_CT_H[0], -r_CT_H[1], -r_CT_H[2]
    rng = np.sqrt(rx * rx + ry * ry + rz * rz)
    return rng, np.arctan2(ry, rx), np.arcsin(rz / rng)


@njit(cache=True)
def rae_from_rel(r_CT_H):
    """[range m, azimuth rad, elevation rad] of the target seen from the chaser at r_CT_H (m, H)."""
    rng, az, el = rae_tuple(r_CT_H)
    return np.array([rng, az, el])


@njit(cache=True)
def rel_from_rae(z):
    """r_CT_H (m) from [range m, azimuth rad, elevation rad]; inverse of rae_from_rel."""
    rng, az, el = z[0], z[1], z[2]
    return -rng * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


@kernel()
def rae_jacobian_into(x, H, r0):
    """H[:3 - r0, :3] <- rows r0.. of d[range, az, el]/d[r_CT_H] at x (r0 = 1: the two angle rows); the
    derivatives with respect to v_CT_H are zero (H's other columns are left alone)."""
    rx, ry, rz = -x[0], -x[1], -x[2]
    rho2 = rx * rx + ry * ry + rz * rz
    rng = np.sqrt(rho2)
    h2 = rx * rx + ry * ry
    h = np.sqrt(h2)
    # derivatives with respect to rho, then chain rule d rho / d r_CT_H = -I
    i = 0
    if r0 == 0:
        H[0, 0], H[0, 1], H[0, 2] = -rx / rng, -ry / rng, -rz / rng
        i = 1
    H[i, 0], H[i, 1], H[i, 2] = ry / h2, -rx / h2, 0.0
    H[i + 1, 0], H[i + 1, 1], H[i + 1, 2] = rx * rz / (rho2 * h), ry * rz / (rho2 * h), -h / rho2


@njit(cache=True)
def rae_jacobian(x):
    """d[range, az, el]/d[r_CT_H, v_CT_H] (3x6) at the 6-state x."""
    H = np.zeros((3, 6))
    rae_jacobian_into(x, H, 0)
    return H
