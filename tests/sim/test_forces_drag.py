"""Atmospheric drag: the NRLMSIS 2.1 density as sampled by the truth against the model's published
reference output, the drag kernel against its formula, and differential drag between chaser and target
against the Clohessy-Wiltshire response to the same differential acceleration."""

import math

import numpy as np
import pytest

from gnc.frames import hill_dcm_and_rate, kepler_to_eci
from sim.forces import Epoch, ForceModel
from sim.forces.atmosphere import NrlmsisDensity
from sim.forces.earth import ecef_from_geodetic, rot_z
from sim.forces.perturbations import drag
from sim.gravity import MU_EARTH, R_EARTH
from sim.truth import TruthWorld

# NRLMSIS 2.1 reference output distributed with the model by NRL (Emmert et al., Earth and Space Science
# 2022; file msis2.1_test_ref_dp.txt, also in pymsis' test suite): iyd (YYDDD), UT s, geodetic altitude
# km, latitude deg, longitude deg, F10.7a, F10.7, Ap, total mass density g/cm^3 (4 digits).
NRLMSIS21_REFERENCE = [
    (89039, 31499, 500.0, 42.6, -71.5, 225.1, 216.4, 14.0, 0.1034e-14),
    (3128, 34273, 500.0, 6.5, 96.0, 125.8, 110.2, 39.0, 0.1017e-14),
    (6257, 18301, 500.0, -47.6, 125.3, 77.6, 82.9, 4.0, 0.1879e-15),
    (6022, 4328, 500.0, 22.0, 130.3, 82.1, 93.9, 6.0, 0.1339e-15),
    (9051, 37540, 318.9, 28.8, 55.6, 69.7, 69.0, 5.0, 0.6509e-14),
    (81306, 49104, 322.0, -55.0, 94.3, 221.5, 225.9, 5.0, 0.3174e-13),
    (78279, 63960, 379.2, -8.1, 14.2, 156.5, 138.7, 4.0, 0.6206e-14),
]


@pytest.mark.parametrize("iyd, sec, alt_km, lat, lon, f107a, f107, ap, rho_cgs", NRLMSIS21_REFERENCE)
def test_density_matches_nrlmsis21_reference_output(iyd, sec, alt_km, lat, lon, f107a, f107, ap, rho_cgs):
    """The truth's path: a position in N at t = 0 -> ERA rotation -> WGS 84 geodetic -> NRLMSIS 2.1."""
    yy, doy = divmod(iyd, 1000)
    year = 1900 + yy if yy > 60 else 2000 + yy
    t = np.datetime64(f"{year}-01-01") + np.timedelta64(doy - 1, "D") + np.timedelta64(sec, "s")
    epoch = Epoch(f"{t}Z")
    r_E = ecef_from_geodetic(math.radians(lat), math.radians(lon), alt_km * 1e3)
    r_N = np.empty(3)
    rot_z(-epoch.era_rad, r_E, r_N)
    rho = NrlmsisDensity(epoch, f107, f107a, ap).density(0.0, [r_N])[0]
    assert rho == pytest.approx(rho_cgs * 1e3, rel=2e-3)


def test_scale_height_sample_reproduces_nearby_density():
    epoch = Epoch("2025-09-04T00:00:00Z")
    atm = NrlmsisDensity(epoch, 150.0, 150.0, 15.0)
    r = np.array([6878137.0, 0.0, 0.0])
    rho0, h = atm.sample(0.0, [r])
    assert 30e3 < h[0] < 120e3
    for dh in (-800.0, 300.0, 800.0):
        rho = atm.density(0.0, [r * (1 + dh / np.linalg.norm(r))])[0]
        assert rho0[0] * math.exp(-dh / h[0]) == pytest.approx(rho, rel=2e-4)



@pytest.mark.parametrize("epoch_utc", ["2025-09-04T00:00:00Z", "2024-12-31T23:58:30.25Z"])
def test_fast_path_matches_pymsis_calculate(epoch_utc):
    """The sampler's direct call of the compiled model gives exactly what ``pymsis.calculate`` gives for the
    same instants and places (geodetic from the independent-per-point ``geodetic`` path), across a new
    year, at two heights per spacecraft; other switches set in between by pymsis users are undone."""
    import pymsis

    epoch = Epoch(epoch_utc)
    atm = NrlmsisDensity(epoch, 150.0, 140.0, 15.0)
    rng = np.random.default_rng(7)
    for k in range(40):
        t = float(k) if k % 2 else rng.uniform(0.0, 2e5)
        pos = [v / np.linalg.norm(v) * rng.uniform(6.6e6, 7.2e6) for v in rng.standard_normal((2, 3))]
        geo = [atm.geodetic(t, r) for r in pos]
        dates = np.full(4, epoch.datetime64 + np.timedelta64(round(t * 1e9), "ns"))
        lat, lon, h = (np.array(c) for c in zip(*[(a, b, c + dh) for a, b, c in geo for dh in (0.0, 1e3)]))
        ref = pymsis.calculate(dates, lon, lat, h / 1e3, np.full(4, 150.0), np.full(4, 140.0),
                               np.full((4, 7), 15.0), version=2.1)[:, pymsis.Variable.MASS_DENSITY]
        if k == 5:  # another user of pymsis with other switches: the sampler must restore its own
            pymsis.calculate(dates[:1], lon[:1], lat[:1], h[:1] / 1e3, [150.0], [140.0], [[15.0] * 7],
                             options=[0.0] * 25)
        rho0, scale_h = atm.sample(t, pos)
        np.testing.assert_array_equal(rho0, ref[0::2])
        np.testing.assert_array_equal(scale_h, 1e3 / np.log(ref[0::2].astype(np.float64) / ref[1::2]))
        np.testing.assert_array_equal(atm.density(t, pos), ref[0::2])

def test_drag_kernel_opposes_velocity_relative_to_the_rotating_atmosphere():
    r, v = np.array([7e6, 1e6, -5e5]), np.array([-1000.0, 7400.0, 900.0])
    omega, rho, k = 7.292115e-5, 3e-12, 0.015
    a = np.array(drag(*r, *v, rho, k, omega))
    v_rel = v - np.cross([0.0, 0.0, omega], r)
    np.testing.assert_allclose(a, -0.5 * rho * k * np.linalg.norm(v_rel) * v_rel, rtol=1e-14)


def _hcw_response(ts, f_H, n, T):
    """r_CT_H at T from the HCW Green's function driven by the differential acceleration f_H(t) (m/s^2, H)
    (Clohessy & Wiltshire 1960: impulse responses x = sin(ns)/n dvx + 2(1 - cos ns)/n dvy, y = -2(1 - cos ns)/n
    dvx + (4 sin(ns)/n - 3s) dvy, z = sin(ns)/n dvz), trapezoid rule on the 1 s samples."""
    s = T - ts
    sn, cn = np.sin(n * s), np.cos(n * s)
    fx, fy, fz = f_H[:, 0], f_H[:, 1], f_H[:, 2]
    kernels = (sn / n * fx + 2 * (1 - cn) / n * fy, -2 * (1 - cn) / n * fx + (4 * sn / n - 3 * s) * fy, sn / n * fz)
    return np.array([np.trapezoid(k, ts) for k in kernels])


@pytest.mark.parametrize("cda_m_chaser, bound_m", [(0.0088, 1e-3), (0.0188, None)])
def test_differential_drag_matches_hcw_response(cda_m_chaser, bound_m):
    """Chaser and target start together on a circular 400 km orbit, point-mass gravity; only Cd A/m
    differs. The relative motion after one orbit must be the HCW response to the differential drag
    acceleration recorded along the way (measured: 4 mm of a 44 m displacement); with equal Cd A/m it must
    stay below a millimetre."""
    epoch = Epoch("2025-09-04T00:00:00Z")
    atm = NrlmsisDensity(epoch, 150.0, 150.0, 15.0)
    cda = (0.0088, cda_m_chaser)
    fm = ForceModel(epoch=epoch, j2=False, drag=(True, True), cd_area_per_mass=cda, atmosphere=atm)
    gravity_only = ForceModel.point_mass_j2(False)
    a = R_EARTH + 400e3
    n = math.sqrt(MU_EARTH / a**3)
    T = round(2 * math.pi / n)
    r0, v0 = kepler_to_eci(MU_EARTH, a, 0.0, math.radians(51.6), 0.3, 0.0, 0.0)
    w = TruthWorld(r0, v0, r0, v0, 1.0, fm, 0.0)
    pm = gravity_only.kernel_arrays()
    ts, f_H = [], []
    for k in range(T + 1):
        if k:
            w.advance_to(k * 1_000_000_000, np.zeros(3))
        y, t = w.state, k * 1.0
        a_drag = [w.accel_N(i) - gravity_only.accel_N(i, t, y[6 * i:6 * i + 3], y[6 * i + 3:6 * i + 6], *pm)
                  for i in (0, 1)]
        C_HN, _ = hill_dcm_and_rate(y[0:3], y[3:6], np.zeros(3))
        ts.append(t)
        f_H.append(C_HN @ (a_drag[1] - a_drag[0]))
    r_CT_H, _ = w.relative_state()
    predicted = _hcw_response(np.array(ts), np.array(f_H), n, float(T))
    if bound_m is not None:
        assert np.linalg.norm(r_CT_H) < bound_m, r_CT_H
        return
    # the draggier chaser sinks and so moves ahead (x = 2 f T / n < 0, y = -3/2 f T^2 > 0 for f < 0)
    assert r_CT_H[0] < -5.0 and r_CT_H[1] > 20.0, r_CT_H
    assert np.linalg.norm(r_CT_H - predicted) < 1e-3 * np.linalg.norm(predicted), (r_CT_H, predicted)


def test_density_track_between_samples_matches_nrlmsis_every_step():
    """DensityTrack (NRLMSIS every 20 s, extrapolated between) against NRLMSIS sampled at every 1 s step, over
    one orbit of the default scenario's 500 km orbit (both spacecraft), through the drag kernel itself:
    the relative error of the drag acceleration is that of the density (same state, same Cd A/m)."""
    from sim.forces.density import DensityTrack
    from sim.forces.model import surface_accel
    from sim.integrator import propagate

    epoch = Epoch("2025-09-04T00:00:00Z")
    fm = ForceModel(epoch=epoch, drag=(True, True), cd_area_per_mass=(0.0088, 0.0188),
                    atmosphere=NrlmsisDensity(epoch, 150.0, 150.0, 15.0))
    r, v = kepler_to_eci(MU_EARTH, R_EARTH + 500e3, 0.001, math.radians(51.6), 0.3, 0.5, 0.0)
    y = np.concatenate([r, v, r, v])
    y[6:9] += 5e3 * v / np.linalg.norm(v)  # the chaser 5 km along track
    p, G = fm.kernel_arrays()
    p_ref = p.copy()
    j2, _ = ForceModel.point_mass_j2(True).kernel_arrays()
    track = DensityTrack(fm)
    errs, errs_hold = [], []
    n = 5677
    for k in range(n):
        t = float(k)
        track.update(t, y, p)
        fm.sample_density(t, y, p_ref)
        for i in range(2):
            a = np.array(surface_accel(i, t, y, 6 * i, p))
            a_ref = np.array(surface_accel(i, t, y, 6 * i, p_ref))
            errs.append(np.linalg.norm(a - a_ref) / np.linalg.norm(a_ref))
        y, _ = propagate(y, t, np.zeros(3), 1.0, 1, j2, G)
    assert track.n_samples < 3 * 20 + n / 20  # warm-up at every step, then every 20 s
    # measured 1.4e-4 at most (RMS 2e-5); holding the sample (scale height only) errs by 2 %
    assert max(errs) < 3e-4, max(errs)
    assert max(errs[4 * 20 * 2:]) > 1e-6  # the extrapolation does act: not a sample every step
