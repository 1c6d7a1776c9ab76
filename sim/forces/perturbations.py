"""Third-body gravity, solar radiation pressure with a conical Earth shadow, and atmospheric drag.

Kernels on scalars, returning (ax, ay, az) (m/s^2, N) so the integrator's inner loop allocates nothing;
positions (m) and velocities (m/s) in N, Earth-centred. References: Montenbruck & Gill, Satellite Orbits
(2000), eqs. 3.37 (third body), 3.75 and 3.79-3.85 (cannonball SRP, conical shadow), 3.97-3.98
(cannonball drag in an atmosphere co-rotating with the Earth).
"""

import math

from numba import njit

GM_SUN = 1.32712440041e20  # m^3/s^2, DE430 (Folkner et al. 2014)
GM_MOON = 4.902800066e12  # m^3/s^2, DE430
AU = 149597870700.0  # m, IAU 2012
P_SUN_1AU = 4.560e-6  # N/m^2, solar radiation pressure at 1 AU (M&G sec. 3.4.1)
R_SUN = 6.96e8  # m (M&G)
R_EARTH_SHADOW = 6378137.0  # m, spherical Earth for the shadow


@njit(cache=True)
def third_body(x, y, z, sx, sy, sz, gm):
    """GM (s - r)/|s - r|^3 - GM s/|s|^3: a point mass gm (m^3/s^2) at s (m) acting on r in an Earth-centred frame."""
    dx, dy, dz = sx - x, sy - y, sz - z
    d3 = (dx * dx + dy * dy + dz * dz) ** 1.5
    s3 = (sx * sx + sy * sy + sz * sz) ** 1.5
    return gm * (dx / d3 - sx / s3), gm * (dy / d3 - sy / s3), gm * (dz / d3 - sz / s3)


@njit(cache=True)
def sunlit_fraction(x, y, z, sx, sy, sz):
    """Visible fraction (0..1) of the solar disc at r (m) with the Sun at s (m); conical shadow of a spherical Earth.

    M&G sec. 3.4.2: apparent radii a (Sun), b (Earth) and separation c of their centres, then full
    light, umbra, annular or partial occultation (overlap area of two discs).
    """
    dx, dy, dz = sx - x, sy - y, sz - z
    d = math.sqrt(dx * dx + dy * dy + dz * dz)
    rn = math.sqrt(x * x + y * y + z * z)
    a = math.asin(min(1.0, R_SUN / d))
    b = math.asin(min(1.0, R_EARTH_SHADOW / rn))
    c = math.acos(max(-1.0, min(1.0, -(x * dx + y * dy + z * dz) / (rn * d))))
    if c >= a + b:
        return 1.0
    if c <= b - a:
        return 0.0
    if c <= a - b:
        return 1.0 - (b * b) / (a * a)
    p = (c * c + a * a - b * b) / (2.0 * c)
    q = math.sqrt(max(0.0, a * a - p * p))
    area = a * a * math.acos(max(-1.0, min(1.0, p / a))) + b * b * math.acos(max(-1.0, min(1.0, (c - p) / b))) - c * q
    return 1.0 - area / (math.pi * a * a)


@njit(cache=True)
def srp(x, y, z, sx, sy, sz, cr_area_per_mass):
    """Cannonball SRP (M&G eq. 3.75) at r with the Sun at s, times the sunlit fraction; Cr A/m in m^2/kg."""
    nu = sunlit_fraction(x, y, z, sx, sy, sz)
    if nu == 0.0:
        return 0.0, 0.0, 0.0
    dx, dy, dz = x - sx, y - sy, z - sz
    d2 = dx * dx + dy * dy + dz * dz
    k = nu * P_SUN_1AU * cr_area_per_mass * AU * AU / (d2 * math.sqrt(d2))
    return k * dx, k * dy, k * dz


@njit(cache=True)
def drag(x, y, z, vx, vy, vz, rho, cd_area_per_mass, omega):
    """-1/2 rho Cd A/m |v_r| v_r with v_r = v - omega z x r (M&G eqs. 3.97-3.98).

    rho: density (kg/m^3); cd_area_per_mass = Cd A/m (m^2/kg); omega: the atmosphere's spin rate (rad/s)
    about N's z axis (the Earth's).
    """
    ux, uy = vx + omega * y, vy - omega * x
    k = -0.5 * rho * cd_area_per_mass * math.sqrt(ux * ux + uy * uy + vz * vz)
    return k * ux, k * uy, k * vz
