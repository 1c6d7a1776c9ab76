"""Attitude loop: points the relative sensors' boresight (+X_B) at the target and turns the held
Hill-frame acceleration command plus the attitude torque into thruster on-times.

Estimation: q_BH (scalar-first, ``gnc.frames``; v_B = C_BH v_H) is the star tracker's attitude (already
referred to the target's Hill frame, ``gnc.ports.AttitudeMeasurement``), propagated between fixes with the
gyro's omega_BN_B less the Hill frame's rate (0, 0, n) in H (circular-orbit rate). Control: quaternion
feedback with rate damping (Wie 2008, Space Vehicle Dynamics and Control, sec. 7.3),
tau = -J (wn^2 theta + 2 zeta wn (omega_BN_B - C_BH (0, 0, n))) + omega x J omega, theta = 2 q_err[1:4]
the rotation from the desired to the estimated attitude (B). The desired attitude has +X_B along the
pointing vector and +Z_B as close to the orbit normal as it allows.
"""

import math

import numpy as np
from numba import njit

from gnc.config import FlightConfig
from gnc.control.allocation import allocate_thrusters, wrench_matrix
from gnc.frames import dcm_from_quat, quat_from_dcm, quat_mult
from gnc.ports import AttitudeMeasurement, ImuSample

NS = 1_000_000_000


@njit(cache=True)
def pointing_dcm_BH(point_H):
    """C_BH with +X_B along point_H (H, any length) and +Z_B nearest the orbit normal z_H (x_H if parallel)."""
    x = point_H / np.sqrt(point_H @ point_H)
    ref = np.array([0.0, 0.0, 1.0]) if abs(x[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    z = ref - (ref @ x) * x
    z /= np.sqrt(z @ z)
    C = np.empty((3, 3))
    C[0], C[2] = x, z
    C[1] = np.array([z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]])
    return C


@njit(cache=True)
def attitude_error(C_BH, C_des_BH):
    """theta (rad, B): rotation vector (small-angle, 2 q_err[1:4], shortest way) from C_des_BH to C_BH."""
    q = quat_from_dcm(C_BH @ C_des_BH.T)
    return 2.0 * q[1:4]


@njit(cache=True)
def pd_torque(theta_B, omega_err_B, omega_BN_B, J, wn, zeta):
    """Quaternion-feedback torque (N m, B): -J (wn^2 theta + 2 zeta wn omega_err) + omega x J omega."""
    Jw = J @ omega_BN_B
    gyro = np.array([omega_BN_B[1] * Jw[2] - omega_BN_B[2] * Jw[1], omega_BN_B[2] * Jw[0] - omega_BN_B[0] * Jw[2],
                     omega_BN_B[0] * Jw[1] - omega_BN_B[1] * Jw[0]])
    return -J @ (wn * wn * theta_B + 2.0 * zeta * wn * omega_err_B) + gyro


@njit(cache=True)
def wrench_command(q_BH, omega_BN_B, point_H, accel_H, n_rad_s, J, wn, zeta, mass_kg):
    """([force N; torque N m] in B, theta_B rad): force mass x accel_H (m/s^2, H) and the quaternion-feedback
    torque turning +X_B toward point_H, with the Hill rate (0, 0, n_rad_s) as the reference rate."""
    C_BH = dcm_from_quat(q_BH)
    theta = attitude_error(C_BH, pointing_dcm_BH(point_H))
    tau = pd_torque(theta, omega_BN_B - n_rad_s * C_BH[:, 2], omega_BN_B, J, wn, zeta)
    wrench = np.empty(6)
    wrench[:3] = mass_kg * (C_BH @ accel_H)
    wrench[3:] = tau
    return wrench, theta


@njit(cache=True)
def propagate_quat(q_BH, omega_BH_B, dt_s):
    """q_BH after dt_s (s) at the constant body rate omega_BH_B (rad/s, B): q (x) [cos(a/2), sin(a/2) e]."""
    w = np.sqrt(omega_BH_B @ omega_BH_B)
    if w * dt_s < 1e-15:
        return q_BH.copy()
    h = 0.5 * w * dt_s
    dq = np.empty(4)
    dq[0] = math.cos(h)
    dq[1:] = math.sin(h) * omega_BH_B / w
    q = quat_mult(q_BH, dq)
    return q / np.sqrt(q @ q)


class AttitudeLoop:
    """Estimator, controller and thruster allocation of the 6-DOF chaser (see module doc).

    cfg: FlightConfig with thrusters and attitude. q0_BH: initial attitude estimate. Attributes: q_BH
    (estimate), omega_BN_B (last gyro rate, rad/s), healthy (per thruster; ``mark_failed``), stuck (1 for a
    thruster stuck open: its wrench is a known disturbance the others counter; ``mark_stuck_on``), use_gyro
    (False once the IMU is declared failed: the rate is then the star tracker's, differenced), torque_B (last
    torque command, N m), theta_B (last pointing error estimate, rad).
    """

    def __init__(self, cfg: FlightConfig, q0_BH, t0_ns: int):
        a, th = cfg.attitude, cfg.thrusters
        self.n, self.mass = cfg.n_rad_s, cfg.vehicle.mass_kg
        self.period_s = a.period_s
        self.J = np.array(a.inertia_B_kg_m2, dtype=np.float64)
        self.wn, self.zeta = a.bandwidth_rad_s, a.damping
        self.A = wrench_matrix(th.position_B_m, th.direction_B, th.max_thrust_N)
        n_thr = self.A.shape[1]
        self.min_on_s = np.full(n_thr, th.min_impulse_bit_Ns / th.max_thrust_N)
        self.healthy = np.ones(n_thr, dtype=np.bool_)
        self.stuck = np.zeros(n_thr)
        self.use_gyro = True
        self._last_fix = None  # (t_ns, q_BH) of the last star-tracker fix, for its differenced rate
        self.force_scale, self.torque_scale = cfg.vehicle.max_thrust_N, a.torque_scale_Nm
        self.q_BH = np.asarray(q0_BH, dtype=np.float64).copy()
        self.omega_BN_B = np.zeros(3)
        self.t_ns = t0_ns
        self.torque_B = np.zeros(3)
        self.theta_B = np.zeros(3)

    def mark_failed(self, i: int) -> None:
        """Thruster i is off limits from now on; allocation re-solves without it."""
        self.healthy[i] = False

    def mark_stuck_on(self, i: int) -> None:
        """Thruster i is open for good: not commanded, and its full wrench is subtracted from every demand."""
        self.healthy[i] = False
        self.stuck[i] = 1.0

    def counterable(self, i: int, tol: float = 1e-3) -> bool:
        """Whether the thrusters still healthy (i excluded) can cancel thruster i's full wrench within full duty."""
        healthy = self.healthy.copy()
        healthy[i] = False
        w = -self.A[:, i] - self.A @ self.stuck
        on = allocate_thrusters(self.A, w, self.period_s, np.zeros_like(self.min_on_s), healthy, self.force_scale,
                                self.torque_scale, 1e-10)
        err = self.A @ (on / self.period_s) - w
        return bool(np.abs(err[:3]).max() <= tol * self.force_scale
                    and np.abs(err[3:]).max() <= tol * self.torque_scale)

    def _omega_BH(self, q_BH):
        return self.omega_BN_B - dcm_from_quat(q_BH) @ np.array([0.0, 0.0, self.n])

    def propagate_to(self, t_ns: int) -> None:
        """Carry the estimate forward to t_ns (ns) with the last gyro rate; earlier times are ignored."""
        if t_ns > self.t_ns:
            self.q_BH = propagate_quat(self.q_BH, self._omega_BH(self.q_BH), (t_ns - self.t_ns) / NS)
            self.t_ns = t_ns

    def measure(self, m) -> None:
        """Take an ImuSample (its gyro rate from its time on) or an AttitudeMeasurement (reset to it, carried
        forward to the estimate's time if it arrives late)."""
        if isinstance(m, ImuSample):
            if self.use_gyro:
                self.propagate_to(m.t_ns)
                self.omega_BN_B = np.array(m.omega_BN_B, dtype=np.float64)
        elif isinstance(m, AttitudeMeasurement):
            q = np.array(m.q_BH, dtype=np.float64)
            if not self.use_gyro:  # rate from successive fixes: omega_BH = 2 vec(q0^-1 q1) / dt, plus the Hill rate
                if self._last_fix is not None and m.t_ns > self._last_fix[0]:
                    q0 = self._last_fix[1]
                    d = quat_mult(np.array([q0[0], -q0[1], -q0[2], -q0[3]]), q)
                    omega_BH = 2.0 * np.sign(d[0]) * d[1:] / ((m.t_ns - self._last_fix[0]) / NS)
                    self.omega_BN_B = omega_BH + dcm_from_quat(q) @ np.array([0.0, 0.0, self.n])
                self._last_fix = (m.t_ns, q)
            dt = (self.t_ns - m.t_ns) / NS
            if dt >= 0:
                self.q_BH = propagate_quat(q, self._omega_BH(q), dt)
            else:
                self.q_BH, self.t_ns = q, m.t_ns

    def step(self, t_ns: int, accel_H, point_H) -> tuple[float, ...]:
        """On-times (s) of the thrusters from t_ns for one period: mean force mass x accel_H (m/s^2, H) and
        the torque that turns +X_B toward point_H (H)."""
        self.propagate_to(t_ns)
        wrench, self.theta_B = wrench_command(self.q_BH, self.omega_BN_B, np.asarray(point_H, dtype=np.float64),
                                              np.asarray(accel_H, dtype=np.float64), self.n, self.J, self.wn,
                                              self.zeta, self.mass)
        self.torque_B = wrench[3:]
        demand = wrench - self.A @ self.stuck  # a stuck thruster's full wrench is countered by the others
        on = allocate_thrusters(self.A, demand, self.period_s, self.min_on_s, self.healthy, self.force_scale,
                                self.torque_scale, 1e-10)
        return tuple(on.tolist())
