"""gnc.control.allocation.allocate_thrusters: the delivered wrench against the demand, against scipy's
bounded least squares (BVLS, an independent solver: feasibility), minimum impulse bits, saturation and
failed thrusters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog, lsq_linear

from gnc.control.allocation import allocate_thrusters, wrench_matrix
from sim.scenario import load_scenario

from tests.sim.test_truth import ROOT

TH = load_scenario(ROOT / "scenarios" / "inspection.toml").thruster_config
A = wrench_matrix(TH.position_B_m, TH.direction_B, TH.max_thrust_N)
N = A.shape[1]
T = 1.0
MIN_ON = np.full(N, TH.min_impulse_bit_Ns / TH.max_thrust_N)
ALL = np.ones(N, dtype=bool)
W = np.array([1 / 0.5] * 3 + [1 / 0.05] * 3)


def alloc(wrench, healthy=ALL, min_on=MIN_ON):
    return allocate_thrusters(A, np.asarray(wrench, float), T, min_on, healthy, 0.5, 0.05, 1e-10)


wrenches = st.tuples(*[st.floats(-0.4, 0.4)] * 3, *[st.floats(-0.02, 0.02)] * 3)  # inside the reach


@settings(max_examples=60, deadline=None)
@given(wrenches)
def test_feasible_wrench_is_delivered_with_pulses_the_valves_can_make(w):
    on = alloc(w)
    assert np.all((on == 0) | ((on >= MIN_ON - 1e-15) & (on <= T)))
    delivered = A @ on / T
    # the minimum impulse bit quantises: the error is within one MIB per axis-worth of thrusters
    assert np.all(np.abs(W * (delivered - w)) < 0.05)


@settings(max_examples=30, deadline=None)
@given(wrenches)
def test_without_minimum_bit_the_wrench_is_exact_and_matches_scipy_bvls(w):
    on = alloc(w, min_on=np.zeros(N))
    np.testing.assert_allclose(A @ on / T, w, atol=1e-6)
    ref = lsq_linear(W[:, None] * A, W * np.asarray(w), bounds=(0, 1), method="bvls", tol=1e-12)
    assert np.linalg.norm(ref.fun) < 1e-6  # the independent solver also finds the demand feasible


def test_saturated_demand_is_scaled_down_along_its_own_direction():
    w = np.array([3.0, -0.2, 0.1, 0.0, 0.3, 0.0])  # beyond 4 x 0.25 N along +X_B and beyond the torque
    on = alloc(w, min_on=np.zeros(N))
    delivered = A @ on / T
    lam = delivered @ w / (w @ w)
    np.testing.assert_allclose(delivered, lam * w, atol=1e-9)
    assert 0 < lam < 1 and on.max() == pytest.approx(T)
    # the largest deliverable multiple of w, by scipy's LP (HiGHS): max lam s.t. A u = lam w, 0 <= u <= 1
    lp = linprog(np.r_[np.zeros(N), -1.0], A_eq=np.c_[A, -w], b_eq=np.zeros(6), bounds=[(0, 1)] * N + [(0, None)])
    lam_max = lp.x[-1]
    assert lam <= lam_max + 1e-9 and lam >= 0.6 * lam_max  # scaling the min-norm duties keeps >= 60 % of the reach


@pytest.mark.parametrize("failed", [0, 5, 13, 22])
def test_one_failed_thruster_stays_off_and_the_force_is_still_delivered(failed):
    healthy = ALL.copy()
    healthy[failed] = False
    # the largest force along the failed thruster's own direction the default set promises (0.5 N)
    w = np.concatenate([0.5 * A[:3, failed] / np.linalg.norm(A[:3, failed]), [0.01, -0.005, 0.0]])
    on = alloc(w, healthy)
    assert on[failed] == 0.0
    np.testing.assert_allclose(A @ on / T, w, atol=2e-3)
    on_all = alloc(w)
    assert on_all[failed] > 0  # the healthy solution used it


def test_zero_and_non_finite_demands_fire_nothing_and_results_are_deterministic():
    assert np.all(alloc(np.zeros(6)) == 0)
    assert np.all(alloc([np.nan, np.inf, 0, 0, 0, 0]) == 0)
    w = [0.1, 0.2, -0.3, 0.01, 0.02, -0.01]
    np.testing.assert_array_equal(alloc(w), alloc(w))
