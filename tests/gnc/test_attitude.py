"""gnc.control.attitude: the attitude loop flying the rigid-body truth (sim.rigid_body) through the default
scenario's thrusters; quaternion-error and pointing kernels against their definitions."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnc.control.attitude import AttitudeLoop, attitude_error, pointing_dcm_BH
from gnc.frames import dcm_from_quat, quat_from_dcm
from gnc.ports import AttitudeMeasurement, ImuSample
from sim.rigid_body import FAIL_OFF, attitude_advance, body_array, thruster_table
from sim.scenario import load_scenario

from tests.sim.test_truth import ROOT

SCN = load_scenario(ROOT / "scenarios" / "inspection.toml")
NS = 10**9


def rot(axis, ang):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(ang) * K + (1 - np.cos(ang)) * K @ K  # Rodrigues, active


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1),
       st.floats(-0.5, 0.5))
def test_pointing_dcm_points_x_and_error_is_the_rotation_vector(p, ang):
    C = pointing_dcm_BH(np.array(p))
    np.testing.assert_allclose(C.T @ [1, 0, 0], np.array(p) / np.linalg.norm(p), atol=1e-12)
    np.testing.assert_allclose(C @ C.T, np.eye(3), atol=1e-12)
    # actual = desired rotated by ang about body y: passive C_BH = R^T C_des
    C_act = rot([0, 1, 0], ang).T @ C
    np.testing.assert_allclose(attitude_error(C_act, C), 2 * np.sin(ang / 2) * np.array([0, 1, 0]), atol=1e-12)


def fly(failed=None, t_end=300, err0_deg=30.0):
    """Close the loop on the rigid body with perfect gyro and star tracker, inertial frame = Hill frame (n = 0);
    returns the pointing error (deg) every second."""
    cfg = dataclasses.replace(SCN.flight(), n_rad_s=0.0)
    th_cfg = SCN.thruster_config
    fail = np.zeros(len(th_cfg.position_B_m))
    if failed is not None:
        fail[failed] = FAIL_OFF
    th = thruster_table(th_cfg.position_B_m, th_cfg.direction_B, th_cfg.max_thrust_N, 0.005, 0.005,
                        th_cfg.min_impulse_bit_Ns / th_cfg.max_thrust_N, fail, 0.0)
    body = body_array(SCN.vehicle.mass_kg, SCN.attitude_config.inertia_B_kg_m2)
    point = np.array([0.0, 1.0, 0.0])
    C0 = rot([0.3, 0.2, 1.0], np.radians(err0_deg)).T @ pointing_dcm_BH(point)
    x = np.concatenate([quat_from_dcm(C0), [0.002, -0.003, 0.001], np.zeros(6)])
    loop = AttitudeLoop(cfg, x[:4], 0)
    if failed is not None:
        loop.mark_failed(failed)
    errs = []
    for k in range(t_end):
        t = k * NS
        loop.measure(ImuSample(t, tuple(x[4:7]), (0.0, 0.0, 0.0)))
        loop.measure(AttitudeMeasurement(t, tuple(x[:4])))
        on = loop.step(t, np.zeros(3), point)
        th[:, 15], th[:, 16] = float(k), k + np.array(on)  # TH_T_ON, TH_T_OFF: fire as the vehicle would
        attitude_advance(x, float(k), k + 1.0, th, body, np.array([7e6, 0, 0]), np.zeros(3), 0.0, 1.0)
        b = dcm_from_quat(x[:4]).T @ [1, 0, 0]
        errs.append(np.degrees(np.arccos(np.clip(b @ point, -1, 1))))
    return np.array(errs), x


@pytest.mark.parametrize("failed", [None, 2])
def test_attitude_loop_acquires_the_target_with_pulsed_thrusters(failed):
    errs, x = fly(failed)
    wn, zeta = SCN.attitude_config.bandwidth_rad_s, SCN.attitude_config.damping
    settle = int(4.6 / (zeta * wn))  # 1 % settling time of the second-order loop
    assert errs[0] > 25
    assert errs[settle:].max() < 0.02 * 30 + 0.05  # within 1 % of the step plus the pulse-quantisation floor
    # deadband of the minimum impulse bit: a couple of two shortest pulses, rounded to 0 below half of it
    th = SCN.thruster_config
    tau_half = th.min_impulse_bit_Ns * 0.4 / SCN.attitude_config.period_s  # 2 pulses x arm 0.4 m / 2
    theta_db = np.degrees(tau_half / (min(np.diag(SCN.attitude_config.inertia_B_kg_m2)) * wn**2))
    assert errs[-60:].max() < theta_db  # 0.19 deg
    assert np.linalg.norm(x[4:7]) < 1e-4  # rad/s, at rest
    # the free drift with the vehicle's thrust off is not what brings it there
    assert errs[settle // 2] < errs[0] * np.exp(-zeta * wn * settle / 2) * 3
