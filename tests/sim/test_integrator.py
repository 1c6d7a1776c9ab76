"""sim.integrator's fixed-step RK8 (DOP853 coefficients): its tableau, its order on the Kepler problem, its
truncation error estimate, its exact landing on the requested times, and the full force model against
scipy's adaptive DOP853 on the same right-hand side with exact (not interpolated) Sun and Moon."""

import math
import re

import llvmlite.binding
import numpy as np
import pytest
import scipy.integrate._ivp.dop853_coefficients as ref
from numba import njit
from scipy.integrate import solve_ivp

from gnc.frames import hill_to_eci, kepler_to_eci
from sim.forces import Epoch, ForceModel
from sim.forces.model import accel_spacecraft, egm2008, set_ephemeris
from sim.gravity import MU_EARTH
from sim.integrator import (_A, _B, _C, _E3, _E5, _propagate_j2, propagate, propagate_forces, rk8_step, rk8_workspace,
                            step_plan)

A_ECC, ECC = 7.5e6, 0.1
PERIOD_ECC = 2 * math.pi * math.sqrt(A_ECC**3 / MU_EARTH)


def _kepler_state():
    r0, v0 = kepler_to_eci(MU_EARTH, A_ECC, ECC, 0.9, 0.4, 0.2, 0.3)
    return np.concatenate([r0, v0, r0, v0])


def test_tableau_is_dop853_and_satisfies_the_quadrature_conditions():
    """Hairer, Norsett & Wanner (1993), sec. II.10; scipy's copy of dop853.f's coefficients as the reference."""
    np.testing.assert_array_equal(_C[:12], ref.C[:12])
    assert _C[12] == 1.0
    np.testing.assert_array_equal(_A[:12], ref.A[:12, :12])
    np.testing.assert_array_equal(_B, ref.B)
    np.testing.assert_array_equal(_E5, ref.E5[:12])
    np.testing.assert_array_equal(_E3, ref.E3[:12])
    assert ref.E5[12] == ref.E3[12] == 0.0  # the error estimate needs no 13th evaluation
    np.testing.assert_allclose(_A[:12].sum(axis=1), _C[:12], atol=1e-15)  # row sums = nodes
    for k in range(8):  # sum b c^k = 1/(k+1): exact integration of t^k, k <= 7
        assert _B @ _C[:12]**k == pytest.approx(1.0 / (k + 1), abs=1e-15)


def test_global_error_falls_as_the_eighth_power_of_the_step():
    """One period of an e = 0.1 Kepler orbit returns to the initial state exactly (two-body closed form)."""
    y0 = _kepler_state()
    fm = ForceModel.point_mass_j2(False)
    errs = []
    for n in (24, 48, 96):
        y, _ = propagate_forces(fm, y0, 0.0, np.zeros(3), PERIOD_ECC, PERIOD_ECC / n * (1 + 1e-12))
        errs.append(np.abs(y[:3] - y0[:3]).max())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    # measured: 0.023 m, 9.7e-5 m, 3.6e-7 m: orders 7.9 and 8.1
    assert np.all((7.5 < orders) & (orders < 8.5)), (errs, orders)


def test_local_error_estimate_bounds_the_true_one_step_error():
    """DOP853's estimate h|e5|^2/sqrt(|e5|^2 + 0.01|e3|^2) against the error of one step, the reference being
    the same step taken as 64 sub-steps (error 64^8 times smaller). Below 120 s the true error of this orbit
    sinks under the reference's rounding (~5e-9 m); above, the estimate is a conservative bound."""
    fm = ForceModel.point_mass_j2(False)
    p, G = fm.kernel_arrays()
    ratios = []
    for nu in (0.3, 1.5, 3.0):
        r0, v0 = kepler_to_eci(MU_EARTH, A_ECC, ECC, 0.9, 0.4, 0.2, nu)
        y0 = np.concatenate([r0, v0, r0, v0])
        for h in (120.0, 240.0, 480.0):
            y1, est = propagate(y0, 0.0, np.zeros(3), h, 1, p, G)
            y_ref, _ = propagate(y0, 0.0, np.zeros(3), h / 64, 64, p, G)
            ratios.append(est / np.linalg.norm(y1[:3] - y_ref[:3]))
    # measured: 9 to 200 times the true error (43 at 480 s near apogee, 9 at 480 s near perigee)
    assert 1.0 < min(ratios) and max(ratios) < 1000.0, ratios



@pytest.mark.parametrize("j2, accel_H", [(True, (0.0, 0.0, 0.0)), (False, (0.0, 0.0, 0.0)),
                                        (True, (1e-3, -2e-3, 5e-4))])
def test_point_mass_fast_path_matches_the_general_step_to_rounding(j2, accel_H):
    """propagate's unrolled point-mass (+ J2) kernel (fused multiply-adds, its own gravity arithmetic) against
    rk8_step on the general force model (strict IEEE), step by step: equal to rounding."""
    y0 = _kepler_state()
    y0[6:9] += 100.0
    a = np.array(accel_H)
    p, G = ForceModel.point_mass_j2(j2).kernel_arrays()
    n, h = 300, 7.0
    y_fast, err_fast = propagate(y0, 0.0, a, h, n, p, G)
    y = y0.copy()
    k, y_stage, y_new = rk8_workspace(y, 0.0, h, a, p, G)
    err = 0.0
    for step in range(n):
        err = max(err, rk8_step(step * h, y, a, h, p, G, k, y_stage, y_new))
        y[:] = y_new
        k[0] = k[12]
    # measured 2.2e-8 m and 1.7e-11 m/s after 300 steps of 7 s (3e-15 of |r|); a wrong coefficient or
    # force term would be off by metres
    np.testing.assert_allclose(y_fast[[0, 1, 2, 6, 7, 8]], y[[0, 1, 2, 6, 7, 8]], rtol=0, atol=1e-7)
    np.testing.assert_allclose(y_fast[[3, 4, 5, 9, 10, 11]], y[[3, 4, 5, 9, 10, 11]], rtol=0, atol=1e-10)
    # the estimate is a difference of nearly equal stage sums, itself rounding-sensitive: 3-8 % apart, measured
    assert err > 0.0 and err_fast == pytest.approx(err, rel=0.2)

@pytest.mark.slow  # ~70 s of compilation (loaded)
def test_point_mass_fast_path_stage_sums_compile_to_vector_fmas():
    """_propagate_j2's stage sums loop over a trip count LLVM does not know, so its loop vectoriser makes 4-wide
    FMAs of them (``gnc bench sim``'s speed rests on it); with a constant trip count LLVM unrolls them into
    scalar FMAs (numba's SLP vectoriser is off), as the previous kernel had: none 4-wide. Compiled afresh:
    numba cannot show the assembly of cached code."""
    features = llvmlite.binding.get_host_cpu_features().flatten()
    if "+avx2" not in features or "+fma" not in features:
        pytest.skip("host CPU without AVX2 and FMA")
    options = {k: v for k, v in _propagate_j2.targetoptions.items() if k != "cache"}
    fresh = njit(**options)(_propagate_j2.py_func)
    p, _ = ForceModel.point_mass_j2(True).kernel_arrays()
    fresh(_kepler_state(), np.zeros(3), 1.0, 1, p)
    asm = "".join(fresh.inspect_asm().values())
    n_vector_fma = len(re.findall(r"vfn?m(?:add|sub)\d+pd\s[^\n]*%ymm", asm))
    # measured: 232 (both copies of the loop, with and without thrust)
    assert n_vector_fma >= 100, n_vector_fma


def test_steps_land_exactly_on_the_requested_time():
    assert step_plan(25.0, 10.0) == (25.0 / 3, 3)
    assert step_plan(30.0, 10.0) == (10.0, 3)  # no sliver step from rounding
    assert step_plan(0.0, 10.0) == (0.0, 0)
    with pytest.raises(ValueError):
        step_plan(-1.0, 10.0)
    fm = ForceModel.point_mass_j2(True)
    p, G = fm.kernel_arrays()
    y0 = _kepler_state()
    a = np.array([1e-4, 0.0, 0.0])
    y_one, _ = propagate_forces(fm, y0, 100.0, a, 25.0, 10.0, (p, G))
    y_manual = y0
    for k in range(3):
        y_manual, _ = propagate(y_manual, 100.0 + k * 25.0 / 3, a, 25.0 / 3, 1, p, G)
    np.testing.assert_array_equal(y_one, y_manual)
    y_zero, err = propagate_forces(fm, y0, 0.0, a, 0.0, 10.0)
    np.testing.assert_array_equal(y_zero, y0)
    assert err == 0.0


def test_full_force_model_matches_scipy_dop853_with_exact_ephemerides():
    """EGM2008 20x20, Sun, Moon and SRP (no drag: its density is resampled per step by design) over one
    orbit: our fixed 1 s RK8 with Sun and Moon interpolated within each step, against scipy's DOP853
    (rtol 1e-12) calling the same acceleration kernel with Sun and Moon computed at every call. scipy's
    step is capped at 2 s: the conical shadow's penumbra lasts ~8 s and an adaptive step left free strides
    over it (measured: 0.1 m off with no cap, 5 mm with a 30 s cap)."""
    epoch = Epoch("2025-09-04T00:00:00Z")
    fm = ForceModel(epoch=epoch, field=egm2008(20), third_body=True, srp=(True, True),
                    cr_area_per_mass=(0.005, 0.03))
    p, G = fm.kernel_arrays()
    a = 6878137.0
    r_T, v_T = kepler_to_eci(fm.mu, a, 0.001, math.radians(51.6), 0.4, 0.2, 0.3)
    r_C, v_C = hill_to_eci(r_T, v_T, np.array([0.0, -200.0, 30.0]), np.zeros(3), np.zeros(3))
    y0 = np.concatenate([r_T, v_T, r_C, v_C])
    T = 2 * math.pi * math.sqrt(a**3 / fm.mu)

    def rhs(t, y):
        q = p.copy()
        set_ephemeris(q, t, t)
        out = np.empty(12)
        for i in (0, 1):
            out[6 * i:6 * i + 3] = y[6 * i + 3:6 * i + 6]
            out[6 * i + 3:6 * i + 6] = accel_spacecraft(i, t, y, 6 * i, q, G)
        return out

    sol = solve_ivp(rhs, (0.0, T), y0, method="DOP853", rtol=1e-12, atol=1e-9, max_step=2.0).y[:, -1]
    y, est = propagate_forces(fm, y0, 0.0, np.zeros(3), T, 1.0, (p, G))
    err_abs = np.abs(y - sol)[[0, 1, 2, 6, 7, 8]].max()
    err_rel = np.abs((y[6:9] - y[0:3]) - (sol[6:9] - sol[0:3])).max()
    # measured: 1.2e-6 m absolute, 1.6e-6 m chaser relative to target (scipy's tolerance level)
    assert err_abs < 5e-5 and err_rel < 5e-6 and est < 1e-9, (err_abs, err_rel, est)
