"""gnc.control.lqr, the LQR baseline: its gain against python-control's dlqr, the law and its plan
against an independent roll-out, feedforward on forced and natural references, saturation, the
identity with the MPC when no constraint is active, and its selection by the executive."""

import dataclasses
from pathlib import Path

import control
import numpy as np
import pytest

from gnc.control.lqr import LqrController
from gnc.control.mpc import RelativeMPC
from gnc.executive import Executive
from sim.scenario import load_scenario
from tests.gnc.test_mpc import A_MAX, A_PLANT, B_PLANT, DT, GAIN, HOLD, HORIZON, N_LEO, R_KO, V_MIN

SCN = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "inspection.toml")
ARGS = dict(n=N_LEO, dt_s=DT, horizon=HORIZON, a_max=A_MAX, keep_out_radius_m=R_KO,
            closing_speed_min_m_s=V_MIN, closing_speed_gain_per_s=GAIN, q_pos=2.0, q_vel=1.0, r_u=0.5)


@pytest.fixture(scope="module")
def lqr():
    return LqrController(**ARGS)


def dlqr_si(c):
    """python-control's dlqr on the same cost written in SI units, on the expm-discretised plant."""
    D = np.array([c.length_scale_m] * 3 + [c.velocity_scale_m_s] * 3)
    K, _, _ = control.dlqr(A_PLANT, B_PLANT, c.Q_scaled / np.outer(D, D), c.R_scaled / c.a_max**2)
    return K


def test_gain_is_python_controls_dlqr(lqr):
    K = dlqr_si(lqr)
    np.testing.assert_allclose(lqr.K_H, K, rtol=1e-6, atol=1e-9 * np.abs(K).max())


def test_law_and_plan_against_an_independent_roll_out(lqr):
    """Hold reference (an HCW equilibrium: no feedforward); the plan is the closed loop under the
    saturated law on the expm plant with python-control's gain."""
    x0 = np.array([40.0, -130.0, 10.0, 0.02, -0.01, 0.0])
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    res = lqr.solve(x0, xref)
    K = dlqr_si(lqr)
    x = x0.copy()
    for k in range(HORIZON):
        u = np.clip(-K @ (x - HOLD), -A_MAX, A_MAX)
        np.testing.assert_allclose(res.u_plan[k], u, rtol=1e-6, atol=1e-12)
        x = A_PLANT @ x + B_PLANT @ u
        np.testing.assert_allclose(res.x_plan[k + 1], x, rtol=1e-6, atol=1e-6)
    assert res.ok and res.status == "lqr" and np.max(np.abs(res.u_plan)) <= A_MAX


def test_feedforward_keeps_forced_and_natural_references():
    c = LqrController(**{**ARGS, "a_max": 1.0})       # no saturation
    rng = np.random.default_rng(5)
    a = rng.uniform(-1e-3, 1e-3, (HORIZON, 3))
    forced = np.empty((HORIZON + 1, 6))
    forced[0] = [100.0, -500.0, 20.0, 0.1, 0.0, -0.05]
    for k in range(HORIZON):
        forced[k + 1] = A_PLANT @ forced[k] + B_PLANT @ a[k]
    res = c.solve(forced[0], forced)
    np.testing.assert_allclose(res.u_plan, a, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.x_plan, forced, rtol=0, atol=1e-6)
    natural = np.empty((HORIZON + 1, 6))
    natural[0] = forced[0]
    for k in range(HORIZON):
        natural[k + 1] = A_PLANT @ natural[k]
    assert np.max(np.abs(c.solve(natural[0], natural).u_plan)) < 1e-10


def test_saturates_and_converges_on_the_plant(lqr):
    """From 500 m off the hold the law saturates, then converges (from 1.5 km, with this gain and
    bound, the saturated law diverges: the baseline has no notion of its bound, the MPC does)."""
    x = np.array([200.0, -600.0, 50.0, 0.0, 0.0, 0.0])
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    first = lqr.solve(x, xref)
    assert np.any(np.abs(first.u0_H) == A_MAX)
    for _ in range(600):
        res = lqr.solve(x, xref)
        x = A_PLANT @ x + B_PLANT @ res.u0_H
    assert np.linalg.norm(x[:3] - HOLD[:3]) < 0.1 and np.linalg.norm(x[3:]) < 1e-4


def test_equals_the_mpc_when_no_constraint_is_active():
    """Finite horizon with the Riccati terminal cost = infinite-horizon LQR (Bellman): with the
    keep-out sphere off, a closing-speed limit far away and no input at its bound, the MPC's first
    control is the LQR's."""
    args = {**ARGS, "keep_out_radius_m": 0.0, "closing_speed_min_m_s": 100.0}
    mpc = RelativeMPC(**args, fuel_weight=0.0, path="fast")
    lqr = LqrController(**args)
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    for x0 in (np.array([-20.0, -90.0, 3.0, 0.001, 0.0, 0.0]), np.array([0.0, -95.0, -1.0, 0.0, -1e-4, 1e-4])):
        res_l = lqr.solve(x0, xref)
        assert np.max(np.abs(res_l.u_plan)) < 0.9 * A_MAX
        np.testing.assert_allclose(mpc.solve(x0, xref).u0_H, res_l.u0_H, rtol=0, atol=1e-6 * A_MAX)


def test_plan_figures_flag_keep_out_and_closing_speed(lqr):
    """A reference straight through the target: the law follows it into the sphere, and the result
    says by how much (the executive's abort checks read the plan)."""
    t = np.arange(HORIZON + 1) * DT
    xref = np.zeros((HORIZON + 1, 6))
    xref[:, 1] = -150.0 + 1.0 * t
    xref[:, 4] = 1.0
    res = lqr.solve(xref[0], xref)
    rng = np.linalg.norm(res.x_plan[1:, :3], axis=1)
    assert res.max_keep_out_slack_m == pytest.approx(R_KO - rng.min())
    closing = -np.sum(res.x_plan[1:, :3] * res.x_plan[1:, 3:], axis=1) / rng
    assert res.max_closing_slack_m_s == pytest.approx(np.max(closing - (V_MIN + GAIN * np.maximum(rng - R_KO, 0))))
    assert res.max_keep_out_slack_m > 40.0 and res.max_closing_slack_m_s > 0.5


def test_bad_inputs(lqr):
    res = lqr.solve(np.array([np.nan, 0, 0, 0, 0, 0]), np.tile(HOLD, (HORIZON + 1, 1)))
    assert not res.ok and res.status == "invalid_input" and np.all(res.u0_H == 0.0)
    with pytest.raises(ValueError):
        lqr.solve(np.zeros(6), np.zeros((HORIZON, 6)))
    with pytest.raises(ValueError):
        LqrController(**{**ARGS, "r_u": 0.0})


@pytest.mark.parametrize("control_kw, kind, path", [({}, RelativeMPC, "fast"),
                                                    ({"mpc_path": "cvxpy"}, RelativeMPC, "cvxpy"),
                                                    ({"controller": "lqr"}, LqrController, None)])
def test_executive_selects_the_configured_controller(control_kw, kind, path):
    f = SCN.flight()
    flight = dataclasses.replace(f, control=dataclasses.replace(f.control, **control_kw))

    class IO:
        def now_ns(self):
            return 0

    exe = Executive(flight, IO(), np.array([0.0, -5000.0, 0.0, 0.0, 0.0, 0.0]), np.eye(6), lambda: 0)
    assert type(exe.mpc) is kind and getattr(exe.mpc, "path", None) == path
