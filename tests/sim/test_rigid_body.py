"""sim.rigid_body: Euler's equations against their closed forms, the gravity-gradient torque against point
masses summed independently, thruster pulses against thrust x on-time."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnc.frames import dcm_from_quat
from sim.gravity import MU_EARTH
from sim.rigid_body import (FAIL_NONE, FAIL_OFF, FAIL_STUCK_ON, attitude_advance, body_array, command_thrusters,
                            gravity_gradient_torque, thruster_table)

NO_THRUSTERS = np.zeros((0, 18))
R0 = np.array([7.0e6, 0.0, 0.0])


def advance(x, t0, t1, th, body, mu=0.0, h=1.0):
    attitude_advance(x, t0, t1, th, body, R0, np.zeros(3), mu, h)
    return x


def test_torque_free_body_keeps_momentum_energy_and_the_axisymmetric_nutation():
    """Axisymmetric body (I_t, I_t, I_a): omega_3 constant and (omega_1 + i omega_2) turns at
    lambda = (I_a - I_t) / I_t omega_3 (Markley & Crassidis 2014, sec. 3.3.5.1); H_N and T constant."""
    It, Ia = 10.0, 16.0
    J = np.diag([It, It, Ia])
    body = body_array(100.0, J)
    w0 = np.array([0.05, 0.0, 0.2])
    q0 = np.array([np.cos(0.3), 0.2, -0.3, 0.5])
    q0 /= np.linalg.norm(q0)
    x = np.concatenate([q0, w0, np.zeros(6)])
    H0 = dcm_from_quat(q0).T @ J @ w0
    T0 = 0.5 * w0 @ J @ w0
    lam = (Ia - It) / It * w0[2]
    for t in (100.0, 1000.0):
        advance(x, t - (100.0 if t == 100.0 else 900.0), t, NO_THRUSTERS, body)
        w = x[4:7]
        np.testing.assert_allclose(w, [0.05 * np.cos(lam * t), 0.05 * np.sin(lam * t), 0.2], atol=1e-12)
        np.testing.assert_allclose(dcm_from_quat(x[:4]).T @ J @ w, H0, rtol=0, atol=1e-12 * np.linalg.norm(H0))
        assert 0.5 * w @ J @ w == pytest.approx(T0, rel=1e-13)


def test_triaxial_torque_free_body_conserves_momentum_and_energy():
    J = np.array([[12.0, 0.4, -0.2], [0.4, 9.0, 0.3], [-0.2, 0.3, 15.0]])
    body = body_array(100.0, J)
    w0 = np.array([0.1, -0.15, 0.05])  # near the intermediate axis: tumbling
    x = np.concatenate([[1.0, 0, 0, 0], w0, np.zeros(6)])
    H0 = J @ w0
    advance(x, 0.0, 2000.0, NO_THRUSTERS, body, h=0.5)
    w = x[4:7]
    np.testing.assert_allclose(dcm_from_quat(x[:4]).T @ J @ w, H0, atol=1e-10 * np.linalg.norm(H0))
    assert 0.5 * w @ J @ w == pytest.approx(0.5 * w0 @ J @ w0, rel=1e-11)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1),
       st.lists(st.floats(5, 50), min_size=3, max_size=3), st.floats(-2, 2), st.floats(6.6e6, 4.2e7))
def test_gravity_gradient_torque_is_the_closed_form(u, d, off, r):
    J = np.diag(d) + off * (np.ones((3, 3)) - np.eye(3)) * 0.1
    rv = r * np.asarray(u) / np.linalg.norm(u)
    tau = np.array(gravity_gradient_torque(MU_EARTH, *rv, J.ravel()))
    ref = 3 * MU_EARTH / r**3 * np.cross(rv / r, J @ rv / r)
    np.testing.assert_allclose(tau, ref, rtol=0, atol=1e-12 * 3 * MU_EARTH / r**3 * np.abs(J).sum())


def test_gravity_gradient_torque_matches_point_masses_summed():
    """A rigid body of point masses: sum of r_i x m_i g(R + r_i) over the masses, Newton's gravity only,
    against 3 mu / R^3 (R_hat x J R_hat); agreement to the first neglected order, (size / R)."""
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(40, 3)) * [1.5, 0.8, 0.5]
    m = rng.uniform(1, 3, 40)
    pts -= (m[:, None] * pts).sum(0) / m.sum()  # centre of mass at the origin
    J = sum(mi * (p @ p * np.eye(3) - np.outer(p, p)) for mi, p in zip(m, pts))
    R = np.array([4.0e6, -3.0e6, 4.5e6])
    g = -MU_EARTH * (R + pts) / np.linalg.norm(R + pts, axis=1)[:, None] ** 3
    tau_sum = np.cross(pts, m[:, None] * g).sum(0)
    tau = np.array(gravity_gradient_torque(MU_EARTH, *R, J.ravel()))
    assert np.linalg.norm(tau - tau_sum) < 1e-5 * np.linalg.norm(tau)


def one_thruster(rise=0.02, fall=0.02, min_on=0.05, fail=FAIL_NONE, onset=0.0, pos=(0.0, 0.0, 0.0), F=0.5):
    return thruster_table([pos], [(1.0, 0.0, 0.0)], F, rise, fall, min_on, fail, onset)


@pytest.mark.parametrize("on", [0.05, 0.3, 0.7777, 2.5])
def test_pulse_impulse_is_thrust_times_on_time_above_the_minimum(on):
    th, body = one_thruster(), body_array(100.0, np.eye(3))
    command_thrusters(th, 10.0, np.array([on]))
    x = advance(np.array([1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 9.5, 14.0, th, body)
    assert x[7] * 100.0 == pytest.approx(0.5 * on, rel=1e-13)  # rise = fall: the ramps cancel
    # position increment at 14 s: sum of F/m (14 - t) dt over the trapezoid, in closed form
    t_mid = 10.0 + on / 2 + 0.0  # centroid of a symmetric trapezoid shifted by the common ramp
    assert x[10] == pytest.approx(0.5 / 100.0 * on * (14.0 - t_mid - 0.01), rel=1e-12)
    assert np.all(x[8:10] == 0) and np.all(x[4:7] == 0)


def test_pulse_below_the_minimum_fires_nothing_and_unequal_ramps_shift_the_impulse():
    th, body = one_thruster(), body_array(100.0, np.eye(3))
    command_thrusters(th, 1.0, np.array([0.049]))
    x = advance(np.array([1.0] + [0.0] * 12), 0.0, 3.0, th, body)
    assert x[7] == 0.0
    th = one_thruster(rise=0.03, fall=0.08, min_on=0.03)
    command_thrusters(th, 1.0, np.array([0.4]))
    x = advance(np.array([1.0] + [0.0] * 12), 0.0, 3.0, th, body)
    assert x[7] * 100 == pytest.approx(0.5 * (0.4 + (0.08 - 0.03) / 2), rel=1e-13)


def test_failed_off_and_stuck_on_thrusters_and_offset_torque():
    body = body_array(100.0, np.diag([10.0, 20.0, 30.0]))
    th = one_thruster(fail=FAIL_OFF, onset=1.2)
    command_thrusters(th, 1.0, np.array([0.5]))
    x = advance(np.array([1.0] + [0.0] * 12), 0.0, 3.0, th, body)
    assert x[7] * 100 == pytest.approx(0.5 * 0.2, rel=1e-12)  # valve 1.0 to 1.2 (failed), equal ramps
    th = one_thruster(rise=0.0, fall=0.0, fail=FAIL_STUCK_ON, onset=2.0, pos=(0.0, 0.3, 0.0))
    x = advance(np.array([1.0] + [0.0] * 12), 0.0, 2.1, th, body)  # 0.1 s: the rotation stays tiny
    assert x[7] * 100 == pytest.approx(0.05, rel=1e-5)
    # torque (0, 0.3, 0) x (0.5, 0, 0) = -0.15 N m about z, 0.1 s, I_z = 30
    assert x[6] == pytest.approx(-0.15 * 0.1 / 30.0, rel=1e-12)
