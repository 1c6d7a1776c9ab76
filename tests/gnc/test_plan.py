"""Open-loop fuel-optimal transfers (gnc.guidance.plan) against closed forms of the HCW model."""

import math

import numpy as np
import pytest

from gnc.guidance.plan import fuel_optimal_delta_v, mission_transfers, optimality_summary, plan_mission, \
    two_impulse_delta_v
from tests.gnc.test_guidance import _flight

N = 1.1e-3  # rad/s


def test_out_of_plane_rest_to_rest_meets_the_phase_plane_bound():
    """z'' = -n^2 z: an impulse dv moves (z, z'/n) by dv/n in the phase plane, so moving Z at rest to
    rest costs at least n Z; over a quarter period one impulse n Z does it (z = (n Z / n) sin(n t) arrives
    with z' = 0). A burn held over a step of dt acts at the step's middle: burns in the first and last
    steps make a two-impulse transfer of T - dt, n Z (1 + cos n(T - dt)) / sin n(T - dt) ~ n Z (1 + n dt),
    an upper bound of the ZOH optimum."""
    Z, T = 100.0, math.pi / (2 * N)
    dt = T / 143    # ~10 s, the quarter period in whole steps
    dv, status = fuel_optimal_delta_v(N, dt, 1.0, np.zeros(6), np.array([0, 0, Z, 0, 0, 0.0]), T)
    assert status == "optimal"
    assert N * Z * (1 - 1e-6) <= dv <= N * Z * (1 + math.cos(N * (T - dt))) / math.sin(N * (T - dt))
    assert two_impulse_delta_v(N, np.zeros(6), np.array([0, 0, Z, 0, 0, 0.0]), T) == pytest.approx(N * Z, rel=1e-12)


def test_two_impulse_transfer_bounds_the_optimum_and_thrust_limits_cost():
    """V-bar to V-bar, 4 km in 0.8 orbit: with impulsive-grade thrust the optimum is at most the two-impulse
    arc's delta-v over T - dt (burns in the first and last steps act at their middles; to (n dt)^2), and
    it grows (finite-burn losses) as the thrust bound falls."""
    x0, xf, T = np.array([0, -5000.0, 0, 0, 0, 0]), np.array([0, -1000.0, 0, 0, 0, 0]), 4570.0
    two = two_impulse_delta_v(N, x0, xf, T - 10.0)
    costs = [fuel_optimal_delta_v(N, 10.0, a, x0, xf, T)[0] for a in (1.0, 3e-3, 1e-3)]
    assert costs[0] <= two * (1 + (N * 10.0) ** 2)
    assert costs[0] <= costs[1] <= costs[2]
    assert math.isnan(fuel_optimal_delta_v(N, 10.0, 1e-6, x0, xf, T)[0])  # not reachable: NaN, not a number


def test_mission_transfers_chain_phases_and_ratio():
    from gnc.config import ApproachPhase, HoldPhase, InspectPhase

    phases = [ApproachPhase(kind="approach", name="a", to_H_m=(0, -1000.0, 0), transfer_s=4000.0,
                            arrive_pos_tol_m=1.0, arrive_vel_tol_m_s=0.01),
              HoldPhase(kind="hold", name="h", at_H_m=(0, -1000.0, 0), duration_s=100.0),
              InspectPhase(kind="inspect", name="i", radial_amp_m=200.0, cross_amp_m=200.0, min_distance_m=150.0,
                           orbits=1.0, entry_s=1500.0)]
    cfg = _flight(phases)
    x0 = (0.0, -3000.0, 0.0, 0.0, 0.0, 0.0)
    ts = mission_transfers(cfg, np.array(x0))
    assert [t.phase for t in ts] == ["a", "i"]
    assert np.allclose(ts[1].x0_H, [0, -1000.0, 0, 0, 0, 0])
    assert np.allclose(ts[1].xf_H[:3], [0.0, -400.0, 200.0])  # the ellipse entered at theta = pi/2
    plans = plan_mission(cfg, x0)
    flown = {"a": 2 * plans[0].delta_v_m_s, "i": plans[1].delta_v_m_s, "h": 5.0}
    s = optimality_summary(plans, flown)
    best = plans[0].delta_v_m_s + plans[1].delta_v_m_s
    assert s["delta_v_ratio_to_optimal"] == pytest.approx((best + plans[0].delta_v_m_s) / best)
    assert optimality_summary(plans, {"a": 1.0})["delta_v_ratio_to_optimal"] is None  # 'i' not flown


def _expm_plant(n, dt):
    """Exact ZOH discretisation of HCW by scipy's matrix exponential (independent of gnc.models)."""
    import scipy.linalg as sla

    A = np.zeros((6, 6))
    A[0:3, 3:6] = np.eye(3)
    A[3, 0], A[3, 4], A[4, 3], A[5, 2] = 3 * n * n, 2 * n, -2 * n, -n * n
    M = np.zeros((9, 9))
    M[:6, :6], M[:6, 6:] = A, np.vstack([np.zeros((3, 3)), np.eye(3)])
    E = sla.expm(M * dt)
    return E[:6, :6], E[:6, 6:]


def test_planner_reaches_the_end_state_and_replanning_on_the_plan_changes_nothing():
    """The plan's inputs, flown on an independently discretised plant, reach xf; re-solving from a state on the
    plan at step k costs what the plan had left (Bellman: the tail of an optimum is optimal)."""
    from gnc.guidance.plan import TransferPlanner

    dt, a_max, steps = 10.0, 3e-3, 400
    x0, xf = np.array([50.0, -4000.0, 30.0, 0.0, 0.01, 0.0]), np.array([0.0, -1000.0, 0.0, 0.0, 0.0, 0.0])
    planner = TransferPlanner(N, dt, a_max, steps)
    plan = planner.solve(x0, xf)
    assert plan.ok and plan.u_H.shape == (steps, 3) and np.all(np.abs(plan.u_H) <= a_max * (1 + 1e-9))
    A, B = _expm_plant(N, dt)
    x = x0.copy()
    for k in range(steps):
        x = A @ x + B @ plan.u_H[k]
        np.testing.assert_allclose(x, plan.x_H[k + 1], atol=1e-6)
    assert np.all(np.abs(x - xf) <= [1e-3, 1e-3, 1e-3, 1e-6, 1e-6, 1e-6])   # m, m/s
    k = 150
    tail = float(np.sum(np.linalg.norm(plan.u_H[k:], axis=1))) * dt
    again = planner.solve(plan.x_H[k], xf, k)
    assert again.ok and again.u_H.shape == (steps - k, 3)
    assert again.delta_v_m_s == pytest.approx(tail, rel=1e-5, abs=1e-7)
    assert not planner.solve(x0, np.array([0.0, 5000.0, 0, 0, 0, 0]), steps - 2).ok   # 6 km in 20 s: infeasible


def test_planned_arc_is_the_plan_on_its_grid_and_hcw_flow_between():
    from gnc.guidance.plan import TransferPlanner
    from gnc.guidance.trajectories import PlannedArc, TransferArc

    dt = 10.0
    plan = TransferPlanner(N, dt, 3e-3, 100).solve(np.array([0, -1300.0, 0, 0, 0, 0]), np.array([0, -1000.0, 0, 0, 0, 0]))
    assert plan.ok
    after = TransferArc(N, np.array([0, -1000.0, 0]), np.array([0, -1000.0, 0]), 1.0)
    arc = PlannedArc(N, dt, 20.0, plan.x_H, plan.u_H, after)   # the plan starts 20 s into the phase
    for k in (0, 1, 57, 99):
        np.testing.assert_allclose(arc.state(20.0 + k * dt), plan.x_H[k], atol=1e-9)
        np.testing.assert_array_equal(arc.accel(20.0 + k * dt), plan.u_H[k])
    A, B = _expm_plant(N, 3.0)
    np.testing.assert_allclose(arc.state(20.0 + 5 * dt + 3.0), A @ plan.x_H[5] + B @ plan.u_H[5], atol=1e-9)
    np.testing.assert_allclose(arc.state(20.0 + 100 * dt + 5.0), [0, -1000.0, 0, 0, 0, 0])   # handed over
    assert not np.any(arc.accel(20.0 + 100 * dt)) and not np.any(arc.accel(10.0))
