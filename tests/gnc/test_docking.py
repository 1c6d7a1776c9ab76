"""Docking: the final-approach MPC (cone with its apex at the port, closing law from the contact point,
steps past contact left unconstrained) against Clarabel, and the dock monitor's figures on hand-made
state sequences."""

import math

import numpy as np
import pytest

from gnc.config import DockPhase
from gnc.control.mpc import docking_mpc
from gnc.guidance.docking import DockMonitor
from gnc.guidance.modes import DOCK_SPEED_MARGIN, Mode, dock_cone
from gnc.guidance.trajectories import ClosingLawApproach
from tests.gnc.test_mpc import A_MAX, A_PLANT, B_PLANT, DT, HORIZON, N_LEO
from tests.gnc.test_mpc_fast import assert_same_solution

DOCK = DockPhase(kind="dock", name="dock", axis_H=(0.0, -1.0, 0.0), contact_m=2.0, cone_half_angle_deg=15.0,
                 contact_speed_m_s=0.03, closing_speed_gain_per_s=5e-4, contact_pos_tol_m=0.1)
NS = 1_000_000_000


def _mpc(path):
    return docking_mpc(N_LEO, DT, HORIZON, A_MAX, DOCK.contact_m, DOCK.contact_speed_m_s,
                       DOCK.closing_speed_gain_per_s, path=path, fuel_weight=0.0)


def test_final_approach_plans_stay_in_the_cone_and_agree_with_clarabel():
    """From 60 m out and 8 m off the axis (inside the 15 deg cone), on the plant, to the port: every plan
    keeps inside the inscribed pyramid with zero slack, closes no faster than the law from the contact
    point, and the fast path's solution is Clarabel's."""
    mpc, ref = _mpc("fast"), _mpc("cvxpy")
    axis = np.array(DOCK.axis_H)
    arc = ClosingLawApproach(axis, DOCK.contact_m, 60.0, DOCK.contact_speed_m_s, DOCK.closing_speed_gain_per_s)
    x = np.array([8.0, -62.0, 0.0, 0.0, 0.0, 0.0])
    tan = math.tan(math.radians(DOCK.cone_half_angle_deg))
    for k in range(int(arc.T / DT) + 5):
        xref = np.array([arc.state((k + j) * DT) for j in range(HORIZON + 1)])
        cone, active = dock_cone(DOCK, xref)
        mpc.set_cone(cone, active)
        res = mpc.solve(x, xref)
        assert res.ok and res.max_slack < 1e-6, (k, res.status, res.max_slack)
        r = res.x_plan[1:, :3]
        along = r @ axis - DOCK.contact_m
        lateral = np.linalg.norm(r - np.outer(r @ axis, axis), axis=1)
        assert np.all(lateral[active] <= tan * along[active] + 1e-6)
        rng = np.linalg.norm(r, axis=1)
        closing = -np.sum(res.x_plan[1:, 3:] * r / rng[:, None], axis=1)
        limit = DOCK.contact_speed_m_s + DOCK.closing_speed_gain_per_s * np.maximum(rng - DOCK.contact_m, 0.0)
        assert np.all(closing <= limit + 1e-4)  # the limit is linearised about the previous plan's ranges
        if k % 40 == 0:
            ref.set_cone(cone, active)
            assert_same_solution(res, ref, mpc.last_parameters)
        x = A_PLANT @ x + B_PLANT @ res.u0_H
        if x[:3] @ axis <= DOCK.contact_m:
            break
    along, lateral = x[:3] @ axis - DOCK.contact_m, np.linalg.norm(x[[0, 2]])
    assert along <= 0.0 and lateral < DOCK.contact_pos_tol_m
    assert 0.5 * DOCK.contact_speed_m_s < -x[3:] @ axis <= DOCK_SPEED_MARGIN * DOCK.contact_speed_m_s


def test_set_cone_active_mask_is_checked():
    mpc = _mpc("fast")
    with pytest.raises(ValueError, match="active"):
        mpc.set_cone((np.array(DOCK.axis_H), np.zeros(3), 0.2), np.ones(HORIZON - 1, dtype=bool))


def _feed(monitor, samples):
    for t_s, mode, x in samples:
        monitor.add(round(t_s * NS), mode, 0 if mode == Mode.DOCK else -1, np.array(x, dtype=float))


def test_monitor_counts_cone_violation_and_finds_contact():
    m = DockMonitor((DOCK,))
    _feed(m, [(0, Mode.DOCK, [0, -50, 0, 0, 0.05, 0]),
              (10, Mode.DOCK, [14, -48, 0, 0, 0.05, 0]),    # 14 m off axis at 46 m: cone allows 12.4 m
              (20, Mode.DOCK, [0, -2.5, 0, 0, 0.03, 0]),
              (30, Mode.DONE, [0.05, -1.98, 0, 0, 0.03, 0])])
    assert m.cone_violation_s == 10.0 and not m.keep_out_applies and not m.ok
    assert m.contact == {"t_s": 30.0, "closing_speed_m_s": 0.03, "lateral_miss_m": 0.05,
                         "speed_limit_m_s": pytest.approx(DOCK_SPEED_MARGIN * 0.03), "lateral_tol_m": 0.1}


@pytest.mark.parametrize("contact_x, ok", [([0.05, -1.99, 0, 0, 0.03, 0], True),
                                           ([0.2, -1.99, 0, 0, 0.03, 0], False),      # off the port
                                           ([0.0, -1.99, 0, 0, 0.05, 0], False)])     # too fast
def test_monitor_contact_condition(contact_x, ok):
    m = DockMonitor((DOCK,))
    _feed(m, [(0, Mode.DOCK, [0, -50, 0, 0, 0.05, 0]), (10, Mode.DOCK, contact_x)])
    assert m.ok is ok and m.contact["t_s"] == 10.0


def test_monitor_without_a_dock_phase_or_without_contact():
    m = DockMonitor((DOCK,))
    assert m.ok and m.keep_out_applies and m.summary() == {"dock_cone_violation_s": None, "dock_contact": None}
    _feed(m, [(0, Mode.DOCK, [0, -50, 0, 0, 0.05, 0]), (10, Mode.ABORT, [0, -60, 0, 0, -0.1, 0])])
    assert not m.ok and m.keep_out_applies and m.contact is None
