"""Earth gravity: point mass plus the J2 zonal harmonic, in the inertial frame N of ``gnc.frames``.

Constants (SI):
    MU_EARTH  GM = 3.986004418e14 m^3/s^2 (WGS 84; the same value is adopted by EGM2008).
    R_EARTH   6378137.0 m, WGS 84 semi-major axis, used as the J2 reference radius.
    J2_EARTH  1.08262668e-3 = -sqrt(5) * C20bar of EGM96 (-0.484165371736e-3). EGM2008's tide-free
              C20bar (-0.484165143790815e-3) gives 1.0826261739e-3, 5e-7 relative to this value;
              the difference is far below what a J2-only truth model resolves.
"""

import numpy as np
from numba import njit

MU_EARTH = 3.986004418e14
R_EARTH = 6378137.0
J2_EARTH = 1.08262668e-3


@njit(cache=True)
def accel_twobody_j2_xyz(x, y, z, mu, j2, r_eq):
    """``accel_twobody_j2`` on scalars: (ax, ay, az) (m/s^2, N) at (x, y, z) (m, N), no allocation."""
    r2 = x * x + y * y + z * z
    k = -mu / (r2 * np.sqrt(r2))
    f = 1.5 * j2 * r_eq * r_eq / r2
    s = 5.0 * z * z / r2
    return k * x * (1.0 + f * (1.0 - s)), k * y * (1.0 + f * (1.0 - s)), k * z * (1.0 + f * (3.0 - s))


@njit(cache=True)
def accel_twobody_j2(r_N, mu, j2, r_eq):
    """Inertial acceleration (m/s^2, N) at r_N (m, N) of a point mass mu (m^3/s^2) plus J2.

    The J2 symmetry axis is N's z axis; r_eq (m) is the reference radius of j2. j2 = 0 gives two-body.
    """
    a = np.empty(3)
    a[0], a[1], a[2] = accel_twobody_j2_xyz(r_N[0], r_N[1], r_N[2], mu, j2, r_eq)
    return a
