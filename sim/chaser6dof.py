"""The 6-DOF chaser of a scenario: true thrusters (with their drawn errors and declared failures), rigid body,
IMU and star tracker, attached to a ``sim.truth.TruthWorld``."""

import math

import numpy as np

from gnc.control.attitude import pointing_dcm_BH
from gnc.frames import quat_from_dcm
from sim.imu import Imu, ImuChannel
from sim.rigid_body import FAIL_NONE, FAIL_OFF, FAIL_STUCK_ON, body_array, thruster_table
from sim.star_tracker import StarTracker

NS = 1_000_000_000


def true_thrusters(scn, rng: np.random.Generator) -> np.ndarray:
    """``sim.rigid_body.thruster_table`` of the true thrusters: each direction tilted by a small rotation of
    N(0, misalignment_sigma^2) per axis, each thrust x (1 + N(0, scale_error_sigma^2)) x truth.thrust_scale;
    valves shut below min_impulse_bit / max_thrust. Draws 3 n + n normals, always."""
    T, tr = scn.thruster_config, scn.truth.thrusters
    n = len(T.position_B_m)
    d = np.array(T.direction_B, dtype=np.float64)
    d /= np.linalg.norm(d, axis=1)[:, None]
    tilt = math.radians(tr.misalignment_sigma_deg) * rng.standard_normal((n, 3))
    scale = 1.0 + tr.scale_error_sigma * rng.standard_normal(n)
    fail, onset = np.full(n, FAIL_NONE), np.zeros(n)
    for f in scn.truth.thruster_failures:
        fail[f.index] = FAIL_OFF if f.mode == "failed_off" else FAIL_STUCK_ON
        onset[f.index] = f.onset_s
    return thruster_table(T.position_B_m, d + np.cross(tilt, d), T.max_thrust_N * scale * scn.truth.thrust_scale,
                          tr.rise_s, tr.fall_s, T.min_impulse_bit_Ns / T.max_thrust_N, fail, onset)


def _channel(c, dt_s, rng):
    return ImuChannel(dt_s, c.noise_density, c.bias_sigma, c.bias_instability, c.bias_corr_time_s,
                      c.scale_error_sigma, c.misalignment_sigma_rad, c.quantum, c.full_scale, rng)


def attach_chaser(scn, world, rng: np.random.Generator):
    """Make world's chaser the scenario's rigid body, pointing +X_B at the target and turning with the Hill
    frame; returns (Imu, StarTracker)."""
    thr_rng, gyro_rng, acc_rng, st_rng = rng.spawn(4)
    r0 = world.relative_state()[0]
    C_BH = pointing_dcm_BH(-r0)
    C_HN = world.hill_dcm()
    omega_B = C_BH @ np.array([0.0, 0.0, math.sqrt(world.forces.mu / np.linalg.norm(world.r_T_N) ** 3)])
    world.attach_rigid_body(quat_from_dcm(C_BH @ C_HN), omega_B,
                            body_array(scn.vehicle.mass_kg + scn.truth.mass_error_kg, scn.attitude_config.inertia_B_kg_m2),
                            true_thrusters(scn, thr_rng))
    i, s = scn.imu_config, scn.star_tracker_config
    imu = Imu(round(i.period_s * NS), _channel(i.gyro, i.period_s, gyro_rng), _channel(i.accel, i.period_s, acc_rng),
              i.accel_output)
    st = StarTracker(round(s.period_s * NS), s.cross_sigma_rad, s.roll_sigma_rad, s.availability,
                     round(s.latency_s * NS), 0, st_rng)
    return imu, st
