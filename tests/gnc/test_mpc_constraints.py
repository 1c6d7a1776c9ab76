"""Optional MPC constraints and checks: the line-of-sight cone (parameters, off by default) on both solve
paths against Clarabel and in closed loop, the terminal set (its invariance, binding, closed loop), the
approach ellipsoid and its corridor (binding, closed loop), and the passive-safety check of every planned
state against an independent free drift (scipy's matrix exponential)."""

import numpy as np
import pytest
import scipy.linalg as sla

from gnc.models.hcw import hcw_continuous
from tests.gnc.test_mpc import A_PLANT, B_PLANT, HOLD, HORIZON, N_LEO, make_mpc
from tests.gnc.test_mpc_fast import assert_same_solution

AXIS = np.array([0.0, -1.0, 0.0])       # docking axis: V-bar, behind the target
APEX = np.array([0.0, -10.0, 0.0])      # m
HALF = np.radians(15.0)


def lateral_and_along(r):
    """(distance from the axis, distance along it from the apex), m, for positions (..., 3)."""
    p = r - APEX
    along = p @ AXIS
    return np.linalg.norm(p - along[..., None] * AXIS, axis=-1), along


@pytest.mark.parametrize("path", ["fast", "cvxpy"])
def test_cone_keeps_plan_and_flight_inside(path):
    """The reference is a hold 50 m off the axis, where the 15 deg cone allows 24 m: with the cone the
    chaser stops at the inscribed pyramid's face, without it the chaser leaves the cone."""
    kw = dict(q_pos=1.0, fuel_weight=0.0, cone_faces=8)
    mpc, ref = make_mpc(path=path, **kw), make_mpc(path="cvxpy", **kw)
    goal = np.array([50.0, -100.0, 0.0, 0.0, 0.0, 0.0])
    xref = np.tile(goal, (HORIZON + 1, 1))
    for cone in ((AXIS, APEX, HALF), None):
        mpc.set_cone(cone)
        mpc.reset()
        x = np.array([0.0, -200.0, 0.0, 0.0, 0.0, 0.0])
        for k in range(200):
            res = mpc.solve(x, xref)
            assert res.ok, res.status
            if cone is not None:
                lat, along = lateral_and_along(res.x_plan[1:, :3])
                assert np.all(lat <= np.tan(HALF) * np.cos(np.pi / 8) * along + 1e-3)
                assert res.max_slack < 1e-6
                if k % 50 == 0:
                    ref.set_cone(cone)
                    assert_same_solution(res, ref, mpc.last_parameters)
            x = A_PLANT @ x + B_PLANT @ res.u0_H
        lat, along = lateral_and_along(x[:3])
        if cone is not None:
            assert lat <= np.tan(HALF) * along and lat > 0.9 * np.tan(HALF) * np.cos(np.pi / 8) * along
        else:                                   # heading for the reference: the plan leaves the cone
            lat, along = lateral_and_along(res.x_plan[:, :3])
            assert np.max(lat - np.tan(HALF) * along) > 1.0


def test_cone_arguments_are_checked():
    with pytest.raises(ValueError):
        make_mpc(cone_faces=2)
    with pytest.raises(ValueError):
        make_mpc().set_cone((AXIS, APEX, HALF))
    with pytest.raises(ValueError):
        make_mpc(cone_faces=4).set_cone((AXIS, APEX, np.pi / 2))


def test_passive_safety_check_of_every_planned_state():
    horizon_s, sample_s = 6000.0, 20.0
    mpc = make_mpc(path="fast", passive_safety_s=horizon_s)
    x0 = np.array([0.0, -300.0, 40.0, 0.05, 0.0, 0.0])
    res = mpc.solve(x0, np.tile(HOLD, (HORIZON + 1, 1)))
    Ac, _ = hcw_continuous(N_LEO)
    Phi = sla.expm(Ac * sample_s)
    expected = np.inf
    for x in res.x_plan:
        for _ in range(int(horizon_s / sample_s) + 1):
            expected = min(expected, np.linalg.norm(x[:3]))
            x = Phi @ x
    assert res.passive_min_range_m == pytest.approx(expected, rel=1e-9)
    assert np.isnan(make_mpc(path="fast").solve(x0, np.tile(HOLD, (HORIZON + 1, 1))).passive_min_range_m)


# ---------------------------------------------------------------- terminal set and approach ellipsoid
AE = np.array([200.0, 400.0, 200.0])     # m, approach-ellipsoid semi-axes (R, V, H), scaled-down ISS shape


def ae_level(r):
    """r'Er for positions (..., 3): < 1 inside the approach ellipsoid."""
    return np.sum(r ** 2 / AE ** 2, axis=-1)


def test_terminal_box_is_inside_an_invariant_ellipsoid_that_respects_the_bound():
    """The box's vertices are in {z'Pz <= c}; from random points of that set the saturation-free LQR step
    stays in it and within the thrust bound (an independent check of the invariance the box relies on)."""
    from gnc.control.mpc import terminal_box
    mpc = make_mpc(terminal_set=True)
    K, P, t = mpc.K_scaled, mpc.P_scaled, mpc.terminal_box_scaled
    c = 1.0 / np.max(np.einsum("ij,jk,ik->i", K, np.linalg.inv(P), K))
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * 6)).reshape(6, -1).T * t
    assert np.max(np.einsum("ij,jk,ik->i", corners, P, corners)) <= c * (1 + 1e-9)
    np.testing.assert_allclose(terminal_box(K, P), t)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2000, 6))
    z *= np.sqrt(c / np.einsum("ij,jk,ik->i", z, P, z))[:, None] * rng.uniform(0, 1, (2000, 1))
    A, B = mpc.A_scaled, mpc.B_scaled
    u = -z @ K.T
    assert np.max(np.abs(u)) <= 1.0 + 1e-9
    z1 = z @ (A - B @ K).T
    assert np.all(np.einsum("ij,jk,ik->i", z1, P, z1) <= np.einsum("ij,jk,ik->i", z, P, z) + 1e-12)


@pytest.mark.parametrize("path", ["fast", "cvxpy"])
def test_terminal_set_binds_and_holds_in_closed_loop(path):
    """With a large fuel weight the plan ends far from a hold point 30 m away (it saves thrust for later); the
    terminal set pulls the last planned state into its box (zero slack: reachable in 300 s at the thrust
    bound), and the closed loop on the exact plant reaches the box with every plan ending in it."""
    free, term = (make_mpc(path=path, fuel_weight=5.0, terminal_set=ts) for ts in (False, True))
    t = term.terminal_box_scaled * term._D
    xref = np.tile(HOLD, (HORIZON + 1, 1))
    x0 = np.array([0.0, -130.0, 0.0, 0.0, 0.0, 0.0])
    assert np.any(np.abs(free.solve(x0, xref).x_plan[-1] - HOLD) > t)
    x = x0
    for k in range(120):
        res = term.solve(x, xref)
        assert res.ok and res.terminal_slack <= 1e-6, (k, res.terminal_slack)
        assert np.all(np.abs(res.x_plan[-1] - HOLD) <= t * (1 + 1e-4) + 1e-6)
        x = A_PLANT @ x + B_PLANT @ res.u0_H
    assert np.all(np.abs(x - HOLD) <= t * (1 + 1e-3))   # the flown state ends in the set (the fuel term idles there)


@pytest.mark.parametrize("path", ["fast", "cvxpy"])
def test_approach_ellipsoid_keeps_out_unless_on_the_corridor(path):
    """A transfer to a hold point outside the approach ellipsoid whose straight path cuts through it: without
    the AE the chaser enters it, with it plans and the closed loop on the exact plant stay outside (to a few
    cm: where the rotating tangent plane turns, the exact penalty leaves ~1 cm of slack)."""
    xref = np.tile([250.0, 0.0, 0.0, 0.0, 0.0, 0.0], (HORIZON + 1, 1))
    for ae in (None, AE):
        mpc = make_mpc(path=path, fuel_weight=0.0, approach_ellipsoid_m=ae, corridor_half_width_m=20.0)
        x, worst = np.array([0.0, -500.0, 0.0, 0.0, 0.0, 0.0]), np.inf
        for k in range(150):
            res = mpc.solve(x, xref)
            assert res.ok, res.status
            x = A_PLANT @ x + B_PLANT @ res.u0_H
            worst = min(worst, ae_level(x[:3]))
            if ae is not None:
                assert res.max_approach_ellipsoid_slack_m <= 0.05   # m
                assert np.min(ae_level(res.x_plan[1:, :3])) >= 1.0 - 1e-3
        assert np.linalg.norm(x[:3] - xref[0, :3]) < 200.0   # from 559 m: on its way round
        assert (worst < 0.9) if ae is None else (worst >= 1.0 - 1e-3), worst


@pytest.mark.parametrize("path", ["fast", "cvxpy"])
def test_corridor_holds_the_chaser_near_the_declared_path_inside(path):
    """Inside the ellipsoid (a declared straight approach to a hold point inside it) a radial velocity kick
    would carry an unconstrained plan far off the path; the corridor keeps every planned position within
    its half-width of the reference."""
    w = 1.0
    t = np.arange(HORIZON + 1) * 10.0
    start, goal = np.array([0.0, -350.0, 0.0]), np.array([0.0, -300.0, 0.0])
    xref = np.zeros((HORIZON + 1, 6))
    xref[:, :3] = start + np.outer(t / t[-1], goal - start)
    xref[:, 3:] = (goal - start) / t[-1]
    x0 = np.concatenate([start, xref[0, 3:] + [0.05, 0.0, 0.0]])   # stoppable within 0.7 m
    dev = {}
    for ae in (None, AE):
        res = make_mpc(path=path, q_pos=0.01, fuel_weight=0.0, approach_ellipsoid_m=ae,
                       corridor_half_width_m=w).solve(x0, xref)
        assert res.ok
        dev[ae is None] = np.max(np.abs(res.x_plan[1:, :3] - xref[1:, :3]))
    assert dev[True] > 2 * w and dev[False] <= w * (1 + 1e-4), dev


def test_control_config_keys_of_the_new_constraints():
    """[control] approach_ellipsoid_m (all zero: none), terminal_set, model: one clear error naming the field."""
    from gnc.config import ControlConfig
    from gnc.schema import ConfigError, load
    base = dict(period_s=10.0, horizon_steps=30, keep_out_radius_m=100.0, closing_speed_min_m_s=0.02,
                closing_speed_gain_per_s=0.002, budget_s=2.0)
    c = load(ControlConfig, base, "control")
    assert c.approach_ellipsoid is None and not c.terminal_set and c.model == "hcw"
    c = load(ControlConfig, base | dict(approach_ellipsoid_m=[1000.0, 2000.0, 1000.0], terminal_set=True,
                                        model="ya"), "control")
    assert c.approach_ellipsoid == (1000.0, 2000.0, 1000.0) and c.terminal_set and c.model == "ya"
    for bad in (dict(approach_ellipsoid_m=[1000.0, 0.0, 1000.0]), dict(model="cw"), dict(terminal_set=1)):
        with pytest.raises(ConfigError) as err:
            load(ControlConfig, base | bad, "control")
        assert err.value.path == f"control.{next(iter(bad))}"
