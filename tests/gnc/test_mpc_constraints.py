"""Optional MPC constraints and checks: the line-of-sight cone (parameters, off by default) on both solve
paths against Clarabel and in closed loop, and the passive-safety check of every planned state against
an independent free drift (scipy's matrix exponential)."""

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
