"""Analytic low-precision Sun and Moon positions, geocentric, in N (GCRF / EME2000 axes).

Montenbruck & Gill, Satellite Orbits (2000), sec. 3.3.2: the Sun from a Keplerian orbit with the
equation of centre (eqs. 3.43-3.46; about 0.1-1 % in distance, 1 arcmin in direction), the Moon from
the leading terms of Brown's lunar theory (eqs. 3.47-3.49; a few arcmin, about 500 km). Both are
referred to the ecliptic and equinox of J2000 and rotated to the equator by the J2000 obliquity.
T: Julian centuries of TT since J2000.0 (``sim.forces.earth.Epoch``).
"""

import math

from numba import njit

OBLIQUITY_J2000 = math.radians(23.43929111)
_ARCSEC = math.pi / (180.0 * 3600.0)
_DEG = math.pi / 180.0


@njit(cache=True)
def _ecliptic_to_N(lon, lat, dist):
    cb = math.cos(lat)
    x, y, z = dist * cb * math.cos(lon), dist * cb * math.sin(lon), dist * math.sin(lat)
    ce, se = math.cos(OBLIQUITY_J2000), math.sin(OBLIQUITY_J2000)
    return x, ce * y - se * z, se * y + ce * z


@njit(cache=True)
def sun_position(T):
    """(x, y, z): the Sun's geocentric position (m, N) at T (Julian centuries of TT since J2000)."""
    M = (357.5256 + 35999.049 * T) * _DEG
    lon = 282.9400 * _DEG + M + (6892.0 * math.sin(M) + 72.0 * math.sin(2.0 * M)) * _ARCSEC
    dist = (149.619 - 2.499 * math.cos(M) - 0.021 * math.cos(2.0 * M)) * 1e9
    return _ecliptic_to_N(lon, 0.0, dist)


@njit(cache=True)
def moon_position(T):
    """(x, y, z): the Moon's geocentric position (m, N) at T (Julian centuries of TT since J2000)."""
    L0 = (218.31617 + 481267.88088 * T - 1.3972 * T) * _DEG
    l = (134.96292 + 477198.86753 * T) * _DEG  # noqa: E741 (M&G's name: the Moon's mean anomaly)
    lp = (357.52543 + 35999.04944 * T) * _DEG
    F = (93.27283 + 483202.01873 * T) * _DEG
    D = (297.85027 + 445267.11135 * T) * _DEG
    lon = L0 + _ARCSEC * (
        22640.0 * math.sin(l) + 769.0 * math.sin(2 * l) - 4586.0 * math.sin(l - 2 * D) + 2370.0 * math.sin(2 * D)
        - 668.0 * math.sin(lp) - 412.0 * math.sin(2 * F) - 212.0 * math.sin(2 * l - 2 * D)
        - 206.0 * math.sin(l + lp - 2 * D) + 192.0 * math.sin(l + 2 * D) - 165.0 * math.sin(lp - 2 * D)
        + 148.0 * math.sin(l - lp) - 125.0 * math.sin(D) - 110.0 * math.sin(l + lp) - 55.0 * math.sin(2 * F - 2 * D))
    lat = _ARCSEC * (
        18520.0 * math.sin(F + lon - L0 + _ARCSEC * (412.0 * math.sin(2 * F) + 541.0 * math.sin(lp)))
        - 526.0 * math.sin(F - 2 * D) + 44.0 * math.sin(l + F - 2 * D) - 31.0 * math.sin(-l + F - 2 * D)
        - 25.0 * math.sin(-2 * l + F) - 23.0 * math.sin(lp + F - 2 * D) + 21.0 * math.sin(-l + F)
        + 11.0 * math.sin(-lp + F - 2 * D))
    dist = (385000.0 - 20905.0 * math.cos(l) - 3699.0 * math.cos(2 * D - l) - 2956.0 * math.cos(2 * D)
            - 570.0 * math.cos(2 * l) + 246.0 * math.cos(2 * l - 2 * D) - 205.0 * math.cos(lp - 2 * D)
            - 171.0 * math.cos(l + 2 * D) - 152.0 * math.cos(l + lp - 2 * D)) * 1e3
    return _ecliptic_to_N(lon, lat, dist)
