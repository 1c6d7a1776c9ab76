"""gnc.control.mpc: DPP structure, terminal Riccati weight against scipy/python-control, closed loop on
an HCW plant discretised independently with scipy's matrix exponential, keep-out and closing-speed
constraints, CLARABEL/OSQP agreement and the failure paths."""

import cvxpy as cp
import control
import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnc.control.mpc import (MpcResult, RelativeMPC, closing_speed_limit, keep_out_normals,
                             solve_dare)
from gnc.models.hcw import hcw_continuous

MU_EARTH = 3.986004418e14          # m^3/s^2 (EGM96 / WGS-84 value)
N_LEO = np.sqrt(MU_EARTH / (6378137.0 + 400e3) ** 3)   # rad/s, 400 km circular orbit
DT = 10.0                           # s
HORIZON = 30
A_MAX = 2e-3                        # m/s^2 per axis
R_KO = 50.0                         # m
V_MIN = 0.02                        # m/s
GAIN = 2e-3                         # 1/s
HOLD = np.array([0.0, -100.0, 0.0, 0.0, 0.0, 0.0])   # V-bar hold point (an HCW equilibrium)


def make_mpc(**kw):
    args = dict(n=N_LEO, dt_s=DT, horizon=HORIZON, a_max=A_MAX, keep_out_radius_m=R_KO,
                closing_speed_min_m_s=V_MIN, closing_speed_gain_per_s=GAIN)
    args.update(kw)
    return RelativeMPC(**args)


def plant(dt):
    """Exact ZOH discretisation of HCW via expm of the augmented matrix (independent of gnc.models)."""
    Ac, Bc = hcw_continuous(N_LEO)
    M = np.zeros((9, 9))
    M[:6, :6], M[:6, 6:] = Ac, Bc
    E = sla.expm(M * dt)
    return E[:6, :6], E[:6, 6:]


A_PLANT, B_PLANT = plant(DT)
A_SUB, B_SUB = plant(DT / 10)


def closing_speed(x):
    """Closing speed (m/s) along the line of sight for states (..., 6)."""
    r = x[..., :3]
    return -np.sum(r * x[..., 3:], axis=-1) / np.linalg.norm(r, axis=-1)


@pytest.fixture(scope="module")
def mpc():
    return make_mpc()


def test_problem_is_dpp(mpc):
    assert mpc.problem.is_dcp(dpp=True)
    assert mpc.problem.is_dpp()
    assert {p.name() for p in mpc.problem.parameters()} == {"x0", "xref", "uref", "fuel_weight", "normals", "vmax",
                                                            "ref_cost", "fuel_epigraph_offset_hi",
                                                            "fuel_epigraph_offset_lo"}


@pytest.mark.parametrize("path", ["cvxpy", "fast"])
def test_a_plan_the_state_is_on_is_followed_exactly(path):
    """Fed a fuel-optimal plan (gnc.guidance.plan) as state and input reference from a state on it, the MPC's
    optimum is the plan itself at zero cost, whatever the fuel weights; off the plan it corrects."""
    from gnc.guidance.plan import TransferPlanner

    plan = TransferPlanner(N_LEO, DT, A_MAX, 200).solve(np.array([0.0, -3000.0, 0, 0, 0, 0]), HOLD * 10)
    assert plan.ok and np.max(np.abs(plan.u_H[:5])) > 0.9 * A_MAX   # the horizon starts with a burn
    m = make_mpc(path=path, fuel_weight=0.0, plan_fuel_weight=2.0)
    res = m.solve(plan.x_H[0], plan.x_H[:HORIZON + 1], plan.u_H[:HORIZON])
    assert res.ok, res.status
    np.testing.assert_allclose(res.u_plan, plan.u_H[:HORIZON], rtol=0, atol=1e-4 * A_MAX)
    assert abs(res.cost) <= 1e-8 * m.last_parameters["ref_cost"]   # zero, to the expanded form's cancellation
    off = m.solve(plan.x_H[0] + np.array([0, 0, 0, 0, 0, 0.05]), plan.x_H[:HORIZON + 1], plan.u_H[:HORIZON])
    assert off.ok and off.u0_H[2] < plan.u_H[0, 2] - 0.5 * A_MAX   # 5 cm/s too fast out of plane: brakes


@pytest.mark.parametrize("kw", [dict(), dict(dt_s=60.0, horizon=10, a_max=1e-4, q_pos=1.0, r_u=100.0),
                                dict(dt_s=1.0, a_max=1e-2, q_pos=[1.0, 5.0, 2.0], q_vel=0.3, r_u=1e-3)])
def test_terminal_weight_is_dare_solution(kw):
    m = make_mpc(**kw)
    # Scaled problem: scipy's DARE solver on the same scaled matrices.
    P_ref = sla.solve_discrete_are(m.A_scaled, m.B_scaled, m.Q_scaled, m.R_scaled)
    np.testing.assert_allclose(m.P_scaled, P_ref, rtol=1e-9, atol=1e-9 * np.abs(P_ref).max())
    # SI: the same cost written in SI units, solved by python-control's dlqr.
    D = np.array([m.length_scale_m] * 3 + [m.velocity_scale_m_s] * 3)
    Q_si = m.Q_scaled / np.outer(D, D)
    R_si = m.R_scaled / m.a_max**2
    K, S, E = control.dlqr(m.A_H, m.B_H, Q_si, R_si)
    np.testing.assert_allclose(m.lqr_gain(), K, rtol=1e-7, atol=1e-7 * np.abs(K).max())
    np.testing.assert_allclose(m.terminal_cost_matrix(), S, rtol=1e-7, atol=1e-7 * np.abs(S).max())
    assert np.max(np.abs(np.linalg.eigvals(m.A_H - m.B_H @ m.lqr_gain()))) < 1.0


def test_solve_dare_rejects_unstabilisable():
    with pytest.raises(ValueError):
        solve_dare(np.diag([1.1, 0.5]), np.array([[0.0], [1.0]]), np.eye(2), np.eye(1))


def test_approach_from_1km_and_hold(mpc):
    mpc.reset()
    x = np.array([200.0, -1000.0, 50.0, 0.0, 0.0, 0.0])
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    xs, us, plan_ratio = [x], [], 0.0
    for _ in range(450):
        res = mpc.solve(x, xref)
        assert res.ok, res.status
        assert np.all(np.isfinite(res.u0_H)) and np.max(np.abs(res.u0_H)) <= A_MAX
        assert np.max(np.abs(res.u_plan)) <= A_MAX
        assert res.max_slack < 1e-5
        # Closing-speed limit in the plan, at the plan's own range and line of sight.
        p = res.x_plan[1:]
        rng = np.linalg.norm(p[:, :3], axis=1)
        vmax = closing_speed_limit(rng, R_KO, V_MIN, GAIN)
        assert np.all(closing_speed(p) <= vmax + 1e-3)
        plan_ratio = max(plan_ratio, np.max(closing_speed(p) / vmax))
        x = A_PLANT @ x + B_PLANT @ res.u0_H
        xs.append(x)
        us.append(res.u0_H)
    xs = np.array(xs)
    rng = np.linalg.norm(xs[:, :3], axis=1)
    assert plan_ratio > 0.99                       # the limit was active: the check is not vacuous
    assert np.all(closing_speed(xs[1:]) <= closing_speed_limit(rng[1:], R_KO, V_MIN, GAIN) + 1e-3)
    assert rng.min() > R_KO
    # Converged to the hold point and held it for the last 100 steps (1000 s).
    assert np.all(np.linalg.norm(xs[-100:, :3] - HOLD[:3], axis=1) < 1.0)
    assert np.all(np.linalg.norm(xs[-100:, 3:], axis=1) < 2e-3)
    assert np.max(np.abs(us)) <= A_MAX


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(r=st.lists(st.floats(-3000.0, 3000.0), min_size=3, max_size=3),
       v=st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3),
       warm=st.booleans())
def test_command_always_finite_and_bounded(mpc, r, v, warm):
    if not warm:
        mpc.reset()
    res = mpc.solve(np.array(r + v), np.tile(HOLD, (HORIZON + 1, 1)))
    assert isinstance(res, MpcResult)
    assert res.u0_H.shape == (3,) and np.all(np.isfinite(res.u0_H))
    assert np.max(np.abs(res.u0_H)) <= A_MAX
    if res.ok:
        assert np.max(np.abs(res.u_plan)) <= A_MAX
        x0 = np.array(r + v)
        assert np.all(np.abs(res.x_plan[0] - x0) <= 1e-6 * (1.0 + np.abs(x0)))
    else:
        assert np.all(res.u0_H == 0.0)


def test_keep_out_plan_with_reference_through_target(mpc):
    mpc.reset()
    x0 = np.array([0.0, -300.0, 0.0, 0.0, 0.0, 0.0])
    # Straight-line reference from x0 through the target to +300 m along V-bar at constant speed.
    t = np.arange(HORIZON + 1) * DT
    speed = 600.0 / t[-1]
    xref = np.zeros((HORIZON + 1, 6))
    xref[:, 1] = -300.0 + speed * t
    xref[:, 4] = speed
    res = mpc.solve(x0, xref)
    assert res.ok, res.status
    assert np.min(np.linalg.norm(res.x_plan[:, :3], axis=1)) >= R_KO - 1e-3
    assert res.max_keep_out_slack_m < 1e-3


@pytest.mark.parametrize("goal", [[0.0, 200.0, 0.0], [20.0, 200.0, 0.0]])
def test_keep_out_closed_loop(mpc, goal):
    """Goal on the far side of the target: the chaser must go around, never through, the sphere."""
    mpc.reset()
    x = np.array([0.0, -300.0, 0.0, 0.0, 0.0, 0.0])
    xref = np.tile(np.array(goal + [0.0, 0.0, 0.0]), (HORIZON + 1, 1))
    min_range = np.inf
    for _ in range(250):
        res = mpc.solve(x, xref)
        assert res.ok, res.status
        assert np.min(np.linalg.norm(res.x_plan[:, :3], axis=1)) >= R_KO - 1e-3
        for _ in range(10):                  # check between control samples too
            x = A_SUB @ x + B_SUB @ res.u0_H
            min_range = min(min_range, np.linalg.norm(x[:3]))
    assert min_range >= 0.98 * R_KO
    assert x[1] > 0.0                         # it did get round to the far side


def test_clarabel_and_osqp_agree():
    """Default settings of both solvers; the first and third starts have the closing limit active."""
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    for x0 in (np.array([150.0, -800.0, 30.0, 0.0, 0.3, 0.0]),
               np.array([100.0, -200.0, 0.0, 0.05, 0.1, 0.0]),
               np.array([0.0, -300.0, 0.0, 0.0, 0.2, 0.0])):
        u = {}
        for solver in ("CLARABEL", "OSQP"):
            res = make_mpc(solver=solver).solve(x0, xref)
            assert res.ok, (solver, res.status)
            u[solver] = res.u0_H
        np.testing.assert_allclose(u["CLARABEL"], u["OSQP"], rtol=0, atol=1e-3 * A_MAX)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_returns_safe_command(mpc, bad):
    x0 = np.array([bad, -500.0, 0.0, 0.0, 0.0, 0.0])
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    res = mpc.solve(x0, xref)
    assert not res.ok and res.status == "invalid_input"
    assert np.all(res.u0_H == 0.0)
    xref_bad = xref.copy()
    xref_bad[5, 2] = bad
    res = mpc.solve(np.array([0.0, -500.0, 0.0, 0.0, 0.0, 0.0]), xref_bad)
    assert not res.ok and np.all(res.u0_H == 0.0)


def test_solver_exception_returns_safe_command(monkeypatch):
    m = make_mpc()

    def boom(*args, **kwargs):
        raise cp.error.SolverError("forced failure")

    monkeypatch.setattr(m.problem, "solve", boom)
    res = m.solve(np.array([0.0, -500.0, 0.0, 0.0, 0.0, 0.0]), np.tile(HOLD, (HORIZON + 1, 1)))
    assert not res.ok and res.status.startswith("solver_error")
    assert np.all(res.u0_H == 0.0) and np.all(np.isfinite(res.x_plan))


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_iteration_limit_returns_safe_command_then_recovers():
    m = make_mpc(solver="OSQP", solver_options={"max_iter": 1, "polishing": False})
    x0 = np.array([150.0, -800.0, 30.0, 0.0, 0.3, 0.0])
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    res = m.solve(x0, xref)
    assert not res.ok and np.all(res.u0_H == 0.0)
    m.solver_options.update(max_iter=20000)
    res = m.solve(x0, xref)
    assert res.ok and np.max(np.abs(res.u0_H)) > 0.0


def test_result_is_read_only(mpc):
    mpc.reset()
    res = mpc.solve(np.array([0.0, -500.0, 0.0, 0.0, 0.0, 0.0]), np.tile(HOLD, (HORIZON + 1, 1)))
    with pytest.raises(ValueError):
        res.u0_H[0] = 1.0
    # solve_ms is the solver's own figure; compute_ms needs an injected clock (NaN without one)
    assert res.solve_ms > 0.0 and np.isnan(res.compute_ms)
    ticks = iter(range(0, 10**9, 3_000_000))  # a fake clock advancing 3 ms per reading
    timed = make_mpc(clock_ns=lambda: next(ticks))
    assert timed.solve(np.array([0.0, -500.0, 0.0, 0.0, 0.0, 0.0]), np.tile(HOLD, (HORIZON + 1, 1))).compute_ms == 3.0


def test_bad_shapes_and_configuration_raise(mpc):
    with pytest.raises(ValueError):
        mpc.solve(np.zeros(5), np.zeros((HORIZON + 1, 6)))
    with pytest.raises(ValueError):
        mpc.solve(np.zeros(6), np.zeros((HORIZON, 6)))
    for kw in (dict(a_max=0.0), dict(horizon=0), dict(r_u=0.0), dict(q_pos=-1.0),
               dict(solver="NOT_A_SOLVER"), dict(n=-1.0)):
        with pytest.raises(ValueError):
            make_mpc(**kw)


def test_keep_out_normals_hold_through_target():
    r0 = np.array([0.0, -300.0, 0.0])
    guess = np.array([[0.0, -100.0, 0.0], [0.0, -10.0, 0.0], [0.0, 100.0, 0.0], [0.0, 300.0, 0.0]])
    e, rng = keep_out_normals(r0, guess, R_KO)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0)
    np.testing.assert_allclose(e, np.tile([0.0, -1.0, 0.0], (4, 1)))
    np.testing.assert_allclose(rng, [100.0, R_KO, R_KO, R_KO])
    # A guess going round the sphere keeps its own normals.
    ang = np.linspace(0.2, 1.2, 5)
    guess = 60.0 * np.stack([np.sin(ang), -np.cos(ang), 0 * ang], axis=1)
    e, rng = keep_out_normals(np.array([0.0, -60.0, 0.0]), guess, R_KO)
    np.testing.assert_allclose(e, guess / 60.0)
    np.testing.assert_allclose(rng, 60.0)
