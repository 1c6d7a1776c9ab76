"""Time scales, Earth rotation and the WGS 84 ellipsoid used by the force models.

Frames. N is the project's inertial frame (``gnc.frames``), realised as the GCRF (J2000) axes: the
analytic Sun and Moon ephemerides (``sim.forces.ephemeris``) are given in them. E is Earth-fixed:
r_E = R3(theta) r_N, theta = Earth Rotation Angle (IERS Conventions 2010, eq. 5.15), i.e. the Earth
spins about N's z axis. Neglected: precession-nutation of the pole since J2000 (0.15 deg by 2025),
polar motion (< 2e-6 rad) and UT1 - UTC (< 0.9 s, i.e. < 6.6e-5 rad of rotation): UT1 = UTC.

Time. t (s) counts from the scenario epoch, a UTC instant. TT = UTC + 69.184 s (TAI - UTC = 37 s,
in force since 2017-01-01, plus TT - TAI = 32.184 s); the offset is applied to any epoch.
"""

import datetime as dt
import math

import numpy as np
from numba import njit

OMEGA_EARTH = 2.0 * math.pi * 1.00273781191135448 / 86400.0  # rad/s, rate of the ERA (IERS 2010, eq. 5.15)
TT_MINUS_UTC_S = 69.184
WGS84_A = 6378137.0  # m
WGS84_F = 1.0 / 298.257223563
_J2000_UTC = dt.datetime(2000, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


class Epoch:
    """A UTC instant and the angles the force models need at it.

    Attributes: iso (the ISO 8601 text), datetime64 (numpy, UTC, ns), era_rad (Earth Rotation Angle at
    the epoch, rad, UT1 = UTC), t_tt_centuries (Julian centuries of TT since J2000.0).
    """

    def __init__(self, epoch_utc: str):
        t = dt.datetime.fromisoformat(epoch_utc.replace("Z", "+00:00"))
        if t.tzinfo is None:
            raise ValueError(f"epoch {epoch_utc!r} must state UTC, e.g. 2025-09-04T00:00:00Z")
        t = t.astimezone(dt.timezone.utc)
        self.iso = epoch_utc
        self.datetime64 = np.datetime64(t.replace(tzinfo=None), "ns")
        d = t - _J2000_UTC  # exact: whole days and the seconds of the day apart
        self.era_rad = era_rad(d.days, (d.seconds + d.microseconds * 1e-6) / 86400.0)
        days = d.days + (d.seconds + d.microseconds * 1e-6 + TT_MINUS_UTC_S) / 86400.0
        self.t_tt_centuries = days / 36525.0


def era_rad(days_whole: float, days_frac: float) -> float:
    """Earth Rotation Angle (rad, in [0, 2 pi)) at UT1 = J2000.0 + days_whole + days_frac days.

    IERS Conventions 2010 eq. 5.15: ERA = 2 pi (0.7790572732640 + 1.00273781191135448 Du); the date is
    split so the whole turns drop out before rounding.
    """
    du = days_whole + days_frac
    turns = (days_whole % 1.0) + (days_frac % 1.0) + 0.7790572732640 + 0.00273781191135448 * du
    return 2.0 * math.pi * (turns % 1.0)


@njit(cache=True)
def geodetic_from_ecef(r_E):
    """(latitude rad, longitude rad, height m) on the WGS 84 ellipsoid of an Earth-fixed position r_E (m).

    Fixed-point iteration on the latitude (Bowring's start); five passes reach < 1e-12 rad for heights
    from -10 km to 1e5 km.
    """
    e2 = WGS84_F * (2.0 - WGS84_F)
    x, y, z = r_E[0], r_E[1], r_E[2]
    p = math.sqrt(x * x + y * y)
    lat = math.atan2(z, p * (1.0 - e2))
    h = 0.0
    for _ in range(5):
        s = math.sin(lat)
        n = WGS84_A / math.sqrt(1.0 - e2 * s * s)
        c = math.cos(lat)
        h = p / c - n if abs(c) > 1e-9 else abs(z) - n * (1.0 - e2)
        lat = math.atan2(z, p * (1.0 - e2 * n / (n + h)))
    return lat, math.atan2(y, x), h


@njit(cache=True)
def ecef_from_geodetic(lat, lon, h):
    """Earth-fixed position (m) of geodetic latitude, longitude (rad) and height (m) on WGS 84."""
    e2 = WGS84_F * (2.0 - WGS84_F)
    s = math.sin(lat)
    n = WGS84_A / math.sqrt(1.0 - e2 * s * s)
    out = np.empty(3)
    out[0] = (n + h) * math.cos(lat) * math.cos(lon)
    out[1] = (n + h) * math.cos(lat) * math.sin(lon)
    out[2] = (n * (1.0 - e2) + h) * s
    return out


@njit(cache=True)
def rot_z(theta, v, out):
    """out = R3(theta) v: the components in a frame turned by theta (rad) about z of the vector v."""
    c, s = math.cos(theta), math.sin(theta)
    x, y = v[0], v[1]
    out[0] = c * x + s * y
    out[1] = -s * x + c * y
    out[2] = v[2]
