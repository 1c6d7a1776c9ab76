"""sim.forces.earth, .ephemeris and .perturbations against ERFA (pyerfa: the IAU SOFA algorithms) and
closed forms: Earth Rotation Angle, TT, WGS 84 geodetic coordinates, Sun and Moon positions, conical
shadow, SRP and third-body magnitudes."""

import math

import erfa
import numpy as np
import pytest

from sim.forces import Epoch
from sim.forces.earth import OMEGA_EARTH, ecef_from_geodetic, geodetic_from_ecef
from sim.forces.ephemeris import moon_position, sun_position
from sim.forces.perturbations import (AU, GM_MOON, GM_SUN, P_SUN_1AU, R_EARTH_SHADOW, R_SUN, srp, sunlit_fraction,
                                      third_body)

DJ00 = 2451545.0


def _jd_utc(epoch: Epoch) -> tuple[float, float]:
    """The epoch as a two-part Julian date (UTC): J2000 + whole days, and the fraction of a day."""
    ns = int((epoch.datetime64 - np.datetime64("2000-01-01T12:00:00", "ns")) / np.timedelta64(1, "ns"))
    days, rest = divmod(ns, 86_400_000_000_000)
    return DJ00 + days, rest / 86_400e9


@pytest.mark.parametrize("iso", ["2000-01-01T12:00:00Z", "2025-09-04T00:00:00Z", "2031-03-17T18:45:12.25Z"])
def test_era_and_tt_match_erfa(iso):
    """ERA: IERS Conventions 2010 eq. 5.15 (erfa.era00) with UT1 = UTC; TT = UTC + 69.184 s after 2017."""
    ep = Epoch(iso)
    jd1, jd2 = _jd_utc(ep)
    assert ep.era_rad == pytest.approx(erfa.era00(jd1, jd2), abs=1e-12)
    if np.datetime64("2017-01-01") <= ep.datetime64 < np.datetime64("2027-01-01"):  # erfa's leap-second table
        tai1, tai2 = erfa.utctai(jd1, jd2)
        tt1, tt2 = erfa.taitt(tai1, tai2)
        assert ep.t_tt_centuries == pytest.approx(((tt1 - DJ00) + tt2) / 36525.0, abs=1e-14)
    assert OMEGA_EARTH == pytest.approx(erfa.era00(DJ00, 1.0 / 86400.0) - erfa.era00(DJ00, 0.0), rel=1e-9)


def test_geodetic_inverts_erfa_wgs84():
    """erfa.gd2gc (WGS 84 geodetic -> Earth-fixed) as the reference forward map; geodetic_from_ecef must
    invert it (measured 1e-15 rad, where erfa's own inverse gc2gd reaches 3e-11 rad)."""
    rng = np.random.default_rng(7)
    for _ in range(500):
        lat, lon = rng.uniform(-math.pi / 2, math.pi / 2), rng.uniform(-math.pi, math.pi)
        h = rng.uniform(-5e3, 4e7)
        r = np.asarray(erfa.gd2gc(1, lon, lat, h))  # 1 = WGS 84
        np.testing.assert_allclose(ecef_from_geodetic(lat, lon, h), r, rtol=0, atol=1e-7)
        lat2, lon2, h2 = geodetic_from_ecef(r)
        assert abs(lat2 - lat) < 1e-13 and abs(math.remainder(lon2 - lon, 2 * math.pi)) < 1e-13 and abs(h2 - h) < 1e-5


def test_sun_and_moon_match_erfa_2020_2030():
    """Montenbruck & Gill's low-precision series against ERFA's epv00 (VSOP87-based Earth) and moon98
    (Meeus' ELP-2000/82 truncation). M&G's Sun has its perigee fixed at J2000, so its direction error
    grows by 0.32 deg per century; measured here: Sun 0.09 deg / 8e-5 relative distance, Moon 0.06 deg /
    460 km over 2022-2027."""
    worst = np.zeros(4)
    for jd in np.linspace(DJ00 + 7300.0, DJ00 + 11000.0, 400):
        T = (jd - DJ00) / 36525.0
        s, m = np.array(sun_position(T)), np.array(moon_position(T))
        pvh, _ = erfa.epv00(jd, 0.0)
        s_ref = -np.asarray(pvh["p"]) * AU
        m_ref = np.asarray(erfa.moon98(jd, 0.0)["p"]) * AU
        angle = lambda a, b: math.degrees(math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))  # noqa: E731
        worst = np.maximum(worst, [angle(s, s_ref), abs(np.linalg.norm(s) / np.linalg.norm(s_ref) - 1),
                                   angle(m, m_ref), abs(np.linalg.norm(m) - np.linalg.norm(m_ref))])
    assert worst[0] < 0.12 and worst[1] < 2e-4, worst
    assert worst[2] < 0.1 and worst[3] < 600e3, worst


def test_conical_shadow_full_sun_umbra_and_penumbra():
    """M&G sec. 3.4.2. A 500 km orbit crosses the penumbra in about 8 s (Sun's apparent radius 0.267 deg
    and the Earth's 68 deg: width ~ 2 x 0.267 deg of the 0.0011 rad/s orbit rate, projected)."""
    s = np.array([AU, 0.0, 0.0])
    r = 6878137.0
    assert sunlit_fraction(r, 0.0, 0.0, *s) == 1.0
    assert sunlit_fraction(-r, 0.0, 0.0, *s) == 0.0
    assert sunlit_fraction(0.0, r, 0.0, *s) == 1.0
    # walk into the shadow along the orbit: nu falls monotonically from 1 to 0 through a penumbra
    ang = np.radians(np.linspace(80.0, 120.0, 40001))
    nu = np.array([sunlit_fraction(r * math.cos(a), r * math.sin(a), 0.0, *s) for a in ang])
    assert np.all(np.diff(nu) <= 1e-12) and nu[0] == 1.0 and nu[-1] == 0.0
    partial = ang[(nu > 0) & (nu < 1)]
    width_s = (partial[-1] - partial[0]) / math.sqrt(3.986004418e14 / r**3)
    assert 6.0 < width_s < 12.0, width_s
    # the shadow's edge: where the Earth's limb (apparent radius b) meets the Sun's centre, nu ~ 1/2 (the
    # limb's curvature and the Sun's 5e-5 rad parallax, 1 % of its radius, move it by ~1 %)
    b = math.asin(R_EARTH_SHADOW / r)
    a_mid = math.pi / 2 + (math.pi / 2 - b)
    assert sunlit_fraction(r * math.cos(a_mid), r * math.sin(a_mid), 0.0, *s) == pytest.approx(0.5, abs=1e-2)
    assert R_SUN / AU == pytest.approx(math.radians(0.2666), rel=2e-3)


def test_srp_and_third_body_magnitudes():
    r = np.array([6878137.0, 0.0, 0.0])
    s = np.array([AU, 0.0, 0.0])
    a = np.array(srp(*r, *s, 0.02))  # Cr A/m = 0.02 m^2/kg, fully lit, about 1 AU away
    np.testing.assert_allclose(a, [-P_SUN_1AU * 0.02 * (AU / (AU - r[0])) ** 2, 0, 0], rtol=1e-14)
    # sub-lunar point: tidal acceleration ~ 2 GM r / d^3 (1 + 3/2 r/d) to first order in r/d
    d = 3.844e8
    t = np.array(third_body(*r, d, 0.0, 0.0, GM_MOON))
    assert t[0] == pytest.approx(2 * GM_MOON * r[0] / d**3 * (1 + 1.5 * r[0] / d), rel=1e-3) and t[1] == 0.0
    t = np.array(third_body(*r, AU, 0.0, 0.0, GM_SUN))
    assert t[0] == pytest.approx(2 * GM_SUN * r[0] / AU**3, rel=1e-4)
