"""Guidance: transfer arcs, the passively safe ellipse, the escape burn, and the mode manager."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gnc.config import AbortConfig, ApproachPhase, ControlConfig, FlightConfig, HoldPhase, MissionConfig, NavConfig, VehicleConfig
from gnc.guidance.modes import MissionManager, Mode
from gnc.guidance.safety import drift_min_clearance, drift_position_covs, escape_burn, free_drift_min_range
from gnc.guidance.trajectories import ellipse_state, hcw_transfer_velocity
from gnc.models.hcw import hcw_continuous, hcw_stm

N = 1.1068e-3


@settings(max_examples=50, deadline=None)
@given(st.floats(-3000, 3000), st.floats(-6000, 6000), st.floats(-500, 500), st.floats(600, 5000))
def test_transfer_arc_reaches_its_target(x, y, z, T):
    r0, rf = np.array([x, y, z]), np.array([0.0, -1000.0, 0.0])
    v0 = hcw_transfer_velocity(N, r0, rf, T)
    if abs(math.sin(N * T)) < 0.05 or abs(4 * math.sin(N * T) - 3 * N * T) < 0.05:
        return  # near-singular timing: least-squares answer, not exact
    xf = hcw_stm(N, T) @ np.concatenate([r0, v0])
    assert np.allclose(xf[:3], rf, atol=1e-6 * max(1.0, np.abs(r0).max()))


@settings(max_examples=100, deadline=None)
@given(st.floats(10, 1000), st.floats(10, 1000), st.floats(-10, 10))
def test_ellipse_is_a_closed_hcw_orbit_with_rn_separation(A, B, theta):
    x = ellipse_state(N, A, B, theta)
    A_c, _ = hcw_continuous(N)
    dx_num = (ellipse_state(N, A, B, theta + 1e-6) - ellipse_state(N, A, B, theta - 1e-6)) / (2e-6) * N
    assert np.allclose(A_c @ x, dx_num, rtol=1e-5, atol=1e-9 * max(A, B))
    assert np.allclose(hcw_stm(N, 2 * math.pi / N) @ x, x, atol=1e-6 * max(A, B))
    assert math.hypot(x[0], x[2]) >= min(A, B) * (1 - 1e-12)


def test_ellipse_free_drift_never_closer_than_its_rn_separation():
    x = ellipse_state(N, 200.0, 200.0, 0.3)
    assert free_drift_min_range(N, x, 86400.0, 5.0) >= 200.0 - 1e-6


@settings(max_examples=30, deadline=None)
@given(st.floats(-400, 400), st.floats(-400, 400), st.floats(-100, 100),
       st.floats(-0.3, 0.3), st.floats(-0.3, 0.3), st.floats(-0.1, 0.1))
def test_escape_burn_leaves_a_passively_safe_drift(x, y, z, vx, vy, vz):
    x0 = np.array([x, y, z, vx, vy, vz])
    if np.linalg.norm(x0[:3]) < 130:
        return
    dv, min_r = escape_burn(N, x0, np.zeros((6, 6)), 3.0, 120.0, 0.5, 86400.0)
    x1 = x0.copy()
    x1[3:] += dv
    assert np.linalg.norm(dv) <= 0.5 + 1e-12
    # re-check independently with a finer sampling of the same free drift
    assert math.isclose(free_drift_min_range(N, x1, 86400.0, 20.0), min_r, rel_tol=1e-9)
    if min_r >= 120.0:
        assert free_drift_min_range(N, x1, 86400.0, 2.0) >= 110.0




@settings(max_examples=30, deadline=None)
@given(st.floats(-60, 60), st.floats(-110, -20), st.floats(-30, 30),
       st.floats(-0.1, 0.1), st.floats(-0.1, 0.1), st.floats(-0.05, 0.05))
def test_an_escape_from_inside_keep_out_never_comes_closer_than_it_started(x, y, z, vx, vy, vz):
    """A docking abort starts inside keep-out + margin: the escape leaves a drift that does not come back
    closer than the abort point within 24 h (the burn cannot move the chaser, only where it goes)."""
    x0 = np.array([x, y, z, vx, vy, vz])
    r0 = np.linalg.norm(x0[:3])
    dv, clear = escape_burn(N, x0, np.zeros((6, 6)), 3.0, 120.0, 0.5, 86400.0)
    x1 = x0.copy()
    x1[3:] += dv
    if clear >= r0 - 1e-9:
        assert free_drift_min_range(N, x1, 86400.0, 20.0) >= r0 - 1e-9

def _dispersed_min_ranges(x, P, horizon_s=86400.0, sample_s=20.0, n=4000):
    """Minimum range (m) of each of n draws from N(x, P), free-drifting under the HCW equations propagated
    with scipy's matrix exponential (independent of gnc.models.hcw)."""
    from scipy.linalg import expm

    A = np.zeros((6, 6))
    A[:3, 3:] = np.eye(3)
    A[3, 0], A[3, 4], A[4, 3], A[5, 2] = 3 * N**2, 2 * N, -2 * N, -(N**2)
    Phi = expm(A * sample_s)
    X = np.random.default_rng(1).multivariate_normal(x, P, size=n)
    best = np.linalg.norm(X[:, :3], axis=1)
    for _ in range(int(horizon_s / sample_s)):
        X = X @ Phi.T
        best = np.minimum(best, np.linalg.norm(X[:, :3], axis=1))
    return best


def test_the_escape_clears_keep_out_for_the_estimates_dispersion_not_just_its_mean():
    """A drift whose mean passes 400 m from the target, known to 2 mm/s: a third of the states the estimate
    allows come within 120 m in 24 h (Monte Carlo on scipy's HCW), so the 3-sigma check calls it unsafe and
    the escape burns; afterwards none of 4000 draws comes within 120 m."""
    P = np.diag([1.0, 4.0, 1.0, 4e-6, 4e-6, 4e-6])
    x = np.array([0.0, -400.0, 0.0, 0.02, 0.0, 0.0])
    assert free_drift_min_range(N, x, 86400.0, 20.0) >= 399.0
    assert np.mean(_dispersed_min_ranges(x, P) < 120.0) > 0.2
    dv, clear = escape_burn(N, x, P, 3.0, 120.0, 0.2, 86400.0)
    assert np.linalg.norm(dv) > 0 and clear >= 120.0
    x1 = x.copy()
    x1[3:] += dv
    assert np.mean(_dispersed_min_ranges(x1, P) < 120.0) <= 0.001
    # with a perfectly known state the same drift needs no burn
    dv0, _ = escape_burn(N, x, np.zeros((6, 6)), 3.0, 120.0, 0.2, 86400.0)
    assert not np.any(dv0)


@settings(max_examples=40, deadline=None)
@given(st.floats(-400, 400), st.floats(-1500, 1500), st.floats(-100, 100),
       st.floats(-0.05, 0.05), st.floats(-0.05, 0.05), st.floats(-0.05, 0.05),
       st.floats(0.0, 10.0), st.floats(0.0, 3e-3), st.floats(0.0, 4.0))
def test_drift_clearance_is_the_min_range_less_a_sigma_margin(x, y, z, vx, vy, vz, sp, sv, k):
    """k = 0 or P = 0: the plain free-drift minimum range; otherwise smaller, and not increasing in k."""
    x0 = np.array([x, y, z, vx, vy, vz])
    P = np.diag([sp**2] * 3 + [sv**2] * 3)
    covs = drift_position_covs(N, P, 20000.0, 20.0)
    plain = free_drift_min_range(N, x0, 20000.0, 20.0)
    assert math.isclose(drift_min_clearance(N, x0, 1000, 20.0, covs, 0.0), plain, rel_tol=1e-12, abs_tol=1e-9)
    c_k = drift_min_clearance(N, x0, 1000, 20.0, covs, k)
    assert c_k <= plain + 1e-9
    assert drift_min_clearance(N, x0, 1000, 20.0, covs, k + 1.0) <= c_k + 1e-9
    assert c_k <= np.linalg.norm(x0[:3]) - k * sp + 1e-9  # at the start the line-of-sight sigma is sp exactly

def _flight(phases):
    return FlightConfig(
        n_rad_s=N, vehicle=VehicleConfig(mass_kg=100.0, max_thrust_N=0.5),
        nav=NavConfig(period_s=1, q_psd_m2_s3=1e-9, range_sigma_m=0.5, angle_sigma_rad=1e-3, gate_chi2=16,
                      init_pos_sigma_m=1, init_vel_sigma_m_s=0.01),
        control=ControlConfig(period_s=10, horizon_steps=10, keep_out_radius_m=100, closing_speed_min_m_s=0.02,
                              closing_speed_gain_per_s=0.002, budget_s=1),
        mission=MissionConfig(phases=tuple(phases), abort=AbortConfig(
            nav_pos_sigma_max_m=20, sensor_timeout_s=60, mpc_fail_limit=3, keep_out_margin_m=20,
            escape_dv_m_s=0.2, safe_drift_s=86400)))


def test_mode_manager_transitions_and_abort():
    phases = [ApproachPhase(kind="approach", name="a", to_H_m=(0, -1000, 0), transfer_s=100, arrive_pos_tol_m=3,
                            arrive_vel_tol_m_s=0.01),
              HoldPhase(kind="hold", name="h", at_H_m=(0, -1000, 0), duration_s=50)]
    g = MissionManager(_flight(phases), 0)
    P = np.eye(6)
    x = np.array([0, -2000.0, 0, 0, 0, 0])
    out = g.update(0, x, P, 0, 0, math.inf, 10, 10.0)
    assert out.mode == Mode.APPROACH and out.xref_H.shape == (11, 6)
    assert np.allclose(out.xref_H[-1], [0, -1000, 0, 0, 0, 0])  # arc ends by t = 100 s
    # not arrived yet: stays in approach after its time
    assert g.update(110 * 10**9, x, P, 110 * 10**9, 0, math.inf, 10, 10.0).mode == Mode.APPROACH
    x_arr = np.array([0, -1001.0, 0, 0, 0.001, 0])
    assert g.update(120 * 10**9, x_arr, P, 120 * 10**9, 0, math.inf, 10, 10.0).mode == Mode.HOLD
    assert g.update(171 * 10**9, x_arr, P, 171 * 10**9, 0, math.inf, 10, 10.0).mode == Mode.DONE
    assert g.success and g.phases_completed == ["a", "h"]
    # a stale sensor aborts with a passively safe escape
    g2 = MissionManager(_flight(phases), 0)
    g2.update(0, x, P, 0, 0, math.inf, 10, 10.0)
    out = g2.update(61 * 10**9, x, P, 0, 0, math.inf, 10, 10.0)
    assert out.mode == Mode.ABORT and out.escape_dv_H is not None
    assert "no relative measurement" in g2.events[-1].text
    # and an estimate inside the keep-out margin aborts
    g3 = MissionManager(_flight(phases), 0)
    out = g3.update(0, np.array([0, -110.0, 0, 0, 0.05, 0]), P, 0, 0, math.inf, 10, 10.0)
    assert out.mode == Mode.ABORT
    x_esc = np.array([0, -110.0, 0, 0, 0.05, 0])
    x_esc[3:] += out.escape_dv_H
    assert free_drift_min_range(N, x_esc, 86400.0, 5.0) >= 100.0


def test_closing_law_approach_follows_its_speed_law_to_contact():
    from gnc.guidance.trajectories import ClosingLawApproach

    arc = ClosingLawApproach(np.array([0.0, -2.0, 0.0]), 2.0, 248.0, 0.03, 5e-4)
    assert np.allclose(arc.state(0.0), [0, -250.0, 0, 0, 0.03 + 5e-4 * 248.0, 0])
    for t in (10.0, 500.0, 2000.0, arc.T - 1.0):
        x = arc.state(t)
        s = -x[1] - 2.0
        dsdt = (arc.distance_to_contact(t + 1e-3) - arc.distance_to_contact(t - 1e-3)) / 2e-3
        assert math.isclose(-dsdt, 0.03 + 5e-4 * s, rel_tol=1e-6)  # closing speed = v_c + k s
        assert math.isclose(x[4], 0.03 + 5e-4 * s, rel_tol=1e-12)
    assert arc.distance_to_contact(arc.T) == 0.0 and np.allclose(arc.state(arc.T + 5), [0, -1.85, 0, 0, 0.03, 0])


def test_dock_mode_aborts_outside_the_cone_and_not_for_the_keep_out_sphere():
    from gnc.config import DockPhase

    dock = DockPhase(kind="dock", name="d", axis_H=(0, -1, 0), contact_m=2.0, cone_half_angle_deg=15.0,
                     contact_speed_m_s=0.03, closing_speed_gain_per_s=5e-4, contact_pos_tol_m=0.2)
    P = np.eye(6) * 1e-4
    g = MissionManager(_flight([dock]), 0)
    x = np.array([0.0, -50.0, 0.0, 0.0, 0.05, 0.0])  # inside keep-out (100 m), on axis, closing 5 cm/s
    assert g.update(0, x, P, 0, 0, 0.0, 10, 10.0).mode == Mode.DOCK
    assert g.update(10 * 10**9, x, P, 10 * 10**9, 0, 0.0, 10, 10.0).mode == Mode.DOCK
    off = np.array([15.0, -50.0, 0.0, 0.0, 0.05, 0.0])  # 15 m off axis at 48 m from the port: > tan 15 deg
    out = g.update(20 * 10**9, off, P, 20 * 10**9, 0, 0.0, 10, 10.0)
    assert out.mode == Mode.ABORT and "approach cone" in g.events[-1].text
    g2 = MissionManager(_flight([dock]), 0)
    g2.update(0, x, P, 0, 0, 0.0, 10, 10.0)
    assert g2.update(10**10, np.array([0.0, -2.05, 0.0, 0.0, 0.03, 0.0]), P, 10**10, 0, 0.0, 10, 10.0).mode == Mode.DONE
    assert g2.phases_completed == ["d"]


def test_transfers_fly_the_fuel_optimal_plan_once_the_estimate_is_good():
    """control.reference = fuel_optimal: coast (free drift, no feedforward) while the velocity sigma is above
    plan_vel_sigma_m_s, then the plan from the estimate: its first state is the estimate, its thrust the
    feedforward, and it ends at rest at the phase's point; re-planned every replan_s."""
    phases = [ApproachPhase(kind="approach", name="a", to_H_m=(0, -1000, 0), transfer_s=3000, arrive_pos_tol_m=3,
                            arrive_vel_tol_m_s=0.01)]
    g = MissionManager(_flight(phases), 0)
    assert g.cfg.control.reference == "fuel_optimal" and set(g.planners) == {0}
    x = np.array([0, -3000.0, 0, 0, 0.002, 0])
    out = g.update(0, x, np.eye(6), 0, 0, math.inf, 10, 10.0)
    assert not np.any(out.uref_H)
    np.testing.assert_allclose(out.xref_H[5], hcw_stm(N, 50.0) @ x, atol=1e-9)
    P = np.diag([1.0, 1.0, 1.0, 1e-6, 1e-6, 1e-6])   # 1.7 mm/s
    out = g.update(20 * 10**9, x, P, 20 * 10**9, 0, math.inf, 10, 10.0)
    np.testing.assert_allclose(out.xref_H[0], x, atol=1e-9)
    assert np.max(np.abs(out.uref_H[0])) > 0.5 * g.cfg.vehicle.max_accel_m_s2   # it starts with a burn
    ref = g._ref
    np.testing.assert_allclose(ref.state(3000.0), [0, -1000, 0, 0, 0, 0], atol=1e-6)
    assert "fuel-optimal plan of phase 0" in g.events[-1].text
    g.update(30 * 10**9, x, P, 30 * 10**9, 0, math.inf, 10, 10.0)
    assert g._ref is ref                                       # not due yet
    g.update(320 * 10**9, ref.state(320.0), P, 320 * 10**9, 0, math.inf, 10, 10.0)
    assert g._ref is not ref                                   # replan_s = 300 s later


def test_a_transfer_past_its_plan_tracks_the_end_point_without_the_plan_price():
    """After the planned transfer time a chaser still short of the point (a disturbance late in the transfer:
    a stuck-on thruster) gets no input reference, so the MPC tracks the point with its quadratic cost
    (fuel_weight) instead of the plan's L1 price on corrections (plan_fuel_weight), whose dead band left it
    4-7 m short for good (measured on scenarios/fdir_quick.toml, thruster 0 stuck on at 600 s)."""
    phases = [ApproachPhase(kind="approach", name="a", to_H_m=(0, -1000, 0), transfer_s=3000, arrive_pos_tol_m=3,
                            arrive_vel_tol_m_s=0.01)]
    g = MissionManager(_flight(phases), 0)
    P = np.diag([1.0, 1.0, 1.0, 1e-6, 1e-6, 1e-6])
    x = np.array([0, -3000.0, 0, 0, 0.002, 0])
    assert g.update(0, x, P, 0, 0, math.inf, 10, 10.0).uref_H is not None
    near = np.array([0, -2990.0 + 2000.0 * 2900.0 / 3000.0, 0, 0, 0.0, 0])
    assert g.update(2900 * 10**9, near, P, 2900 * 10**9, 0, math.inf, 10, 10.0).uref_H is not None  # plan still on
    short = np.array([0.0, -1006.0, 0, 0, 0.0, 0])  # 6 m short at the end of the transfer: not arrived
    for t in (3000, 3050):
        out = g.update(t * 10**9, short, P, t * 10**9, 0, math.inf, 10, 10.0)
        assert out.mode == Mode.APPROACH and out.uref_H is None
        np.testing.assert_allclose(out.xref_H[:, :3], np.tile([0, -1000.0, 0], (11, 1)), atol=1e-6)


def test_the_abort_rechecks_its_drift_and_burns_again_when_it_turns_unsafe():
    """Run 107 of the issue-8 fault campaign: an abort left a drift that HCW called safe (153 m), which
    differential drag and J2 bent into the target (4 m) hours later. After the abort the manager re-checks
    the drift every recheck_s while the estimate is trusted, and burns again when it is unsafe."""
    phases = [HoldPhase(kind="hold", name="h", at_H_m=(0, -1000, 0), duration_s=5000)]
    g = MissionManager(_flight(phases), 0)
    P = np.diag([0.01, 0.04, 0.01, 1e-8, 1e-8, 1e-8])
    safe = ellipse_state(N, 200.0, 200.0, 0.3)
    unsafe = np.array([-10.0, -600.0, 0.0, 0.0, 0.0, 0.0])  # drifts along V-bar through the target
    assert g.update(0, safe, P, 0, 0, math.inf, 10, 10.0).mode == Mode.HOLD
    out = g.update(61 * 10**9, safe, P, 0, 0, math.inf, 10, 10.0)  # stale sensor: abort
    assert out.mode == Mode.ABORT and not np.any(out.escape_dv_H)
    t = 61 + 30
    assert g.update(t * 10**9, unsafe, P, t * 10**9, 0, math.inf, 10, 10.0).escape_dv_H is None  # not due
    t = 61 + 60
    stale = g.update(t * 10**9, unsafe, P, (t - 61) * 10**9, 0, math.inf, 10, 10.0)
    assert stale.escape_dv_H is None  # the estimate is not trusted (no measurement for 61 s): no burn on it
    out = g.update(t * 10**9, unsafe, P, t * 10**9, 0, math.inf, 10, 10.0)
    assert out.mode == Mode.ABORT and np.linalg.norm(out.escape_dv_H) > 0
    assert "re-checked" in g.events[-1].text
    after = unsafe.copy()
    after[3:] += out.escape_dv_H
    assert _dispersed_min_ranges(after, P).min() >= 120.0
    t += 60
    assert g.update(t * 10**9, after, P, t * 10**9, 0, math.inf, 10, 10.0).escape_dv_H is None  # now safe
