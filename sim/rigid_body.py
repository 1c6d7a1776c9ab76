"""The chaser as a rigid body driven by body-mounted thrusters: numba kernels.

Attitude state x (13,): q_BN (scalar-first, ``gnc.frames``: v_B = C_BN v_N), omega_BN_B (rad/s), then the
thrust's velocity and position increments dv_N (m/s), dr_N (m) accumulated over the interval being
integrated (zero at its start). Dynamics: q' = q (x) [0, omega] / 2; J omega' = tau - omega x J omega with
tau = thruster torque + gravity-gradient torque 3 mu / r^5 (r_B x J r_B) (Wertz 1978, eq. 17-24; Markley &
Crassidis 2014, eq. 3.155); dv' = C_NB F_B / m, dr' = dv.

Thrusters (``thruster_table``) are rows of TH_* columns. Each valve is open on [t_on, t_off) (s since the
epoch; a failed-off thruster is shut and a stuck-on one open from its onset on). The thrust level L in [0, 1]
follows the valve at a constant rate: 0 -> 1 in rise_s, 1 -> 0 in fall_s (0: instantly), so between events
(valve edges, onsets, L reaching 0 or 1) the thrust is linear in time and the kernel integrates each such
segment exactly with one step of the DOP853 8th-order formula (``sim.integrator``). A pulse of on-time
t >= rise_s thus delivers F (t + (fall_s - rise_s) / 2). Column TH_LEVEL_INT accumulates the integral of L
over time (s), segment by segment as the integrator applies it (L dt + slope dt^2 / 2), until its user
(``sim.truth.TruthWorld.mean_specific_force_B``) zeroes it.

Coupling with the translation (``propagate_6dof``): over each truth step [t, t + h] the attitude kernel
runs first with the chaser's position taken as r + v (s - t) for the gravity-gradient torque, then the
translational RK8 step runs with gravity and the other forces, and the thrust's exact increments
(dv_N, dr_N) in a uniform field are added. The neglected coupling, gravity gradient x thrust displacement,
is below n^2 a h^3 ~ 4e-9 m per 1 s step at 3.3 mm/s^2 in LEO.
"""

import math

import numpy as np
from numba import njit

from sim.integrator import _C, rhs, rk8_step, rk8_workspace, stage_state, step_start
from sim.forces.model import P_MU

TH_P, TH_D, TH_M, TH_F, TH_RISE, TH_FALL, TH_MIN_ON, TH_FAIL, TH_ONSET, TH_T_ON, TH_T_OFF, TH_LEVEL, TH_LEVEL_INT, \
    TH_SIZE = 0, 3, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19
FAIL_NONE, FAIL_OFF, FAIL_STUCK_ON = 0, 1, 2
B_MASS, B_J, B_JINV, B_SIZE = 0, 1, 10, 19
# Segment inputs: thrust force (N, B) and torque (N m, B) as value + slope, then the chaser's position and
# velocity at SG_T (for the gravity-gradient torque) and mu.
SG_F0, SG_F1, SG_T0, SG_T1, SG_R, SG_V, SG_T, SG_MU, SG_SIZE = 0, 3, 6, 9, 12, 15, 18, 19, 20
_EPS_T = 1e-12  # s: events closer than this to the current time are taken as reached


def thruster_table(pos_B_m, dir_B, max_thrust_N, rise_s, fall_s, min_on_s, fail_mode, onset_s):
    """(n, TH_SIZE) table of n thrusters; directions are normalised, the valves shut at t = 0, levels and their
    integrals zero."""
    pos = np.asarray(pos_B_m, dtype=np.float64).reshape(-1, 3)
    d = np.asarray(dir_B, dtype=np.float64).reshape(-1, 3)
    d = d / np.linalg.norm(d, axis=1)[:, None]
    n = pos.shape[0]
    th = np.zeros((n, TH_SIZE))
    th[:, TH_P:TH_P + 3], th[:, TH_D:TH_D + 3], th[:, TH_M:TH_M + 3] = pos, d, np.cross(pos, d)
    for col, v in ((TH_F, max_thrust_N), (TH_RISE, rise_s), (TH_FALL, fall_s), (TH_MIN_ON, min_on_s),
                   (TH_FAIL, fail_mode), (TH_ONSET, onset_s)):
        th[:, col] = np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
    if (th[:, TH_F] <= 0).any() or (th[:, TH_RISE] < 0).any() or (th[:, TH_FALL] < 0).any():
        raise ValueError("thrusters need max_thrust_N > 0 and rise_s, fall_s >= 0")
    th[:, TH_T_ON] = th[:, TH_T_OFF] = -1.0
    return th


def body_array(mass_kg, J_B_kg_m2):
    """(B_SIZE,) mass (kg), inertia about the centre of mass (kg m^2, B, row-major) and its inverse."""
    J = np.asarray(J_B_kg_m2, dtype=np.float64).reshape(3, 3)
    if not (mass_kg > 0 and np.allclose(J, J.T) and (np.linalg.eigvalsh(J) > 0).all()):
        raise ValueError("need mass_kg > 0 and a symmetric positive-definite inertia")
    return np.concatenate([[float(mass_kg)], J.ravel(), np.linalg.inv(J).ravel()])


@njit(cache=True)
def command_thrusters(th, t_s, on_time_s):
    """Open each valve at t_s (s) for on_time_s[i] (s); a command shorter than its TH_MIN_ON leaves it shut.

    A valve still open from the previous command stays open without a new rise."""
    for i in range(th.shape[0]):
        t_on = on_time_s[i] if on_time_s[i] >= th[i, TH_MIN_ON] and on_time_s[i] > 0.0 else 0.0
        th[i, TH_T_ON], th[i, TH_T_OFF] = t_s, t_s + t_on


@njit(cache=True)
def valve_open_s(th, t0_s, t1_s):
    """Time (s) each valve of the thruster table th was open during [t0_s, t1_s] (s): its command's
    interval (after the minimum on-time rule) and, from a failure's onset, stuck on (all) or failed off
    (none)."""
    out = np.empty(th.shape[0])
    for i in range(th.shape[0]):
        t_on, t_off = th[i, TH_T_ON], th[i, TH_T_OFF]
        if th[i, TH_FAIL] == FAIL_NONE:
            out[i] = max(min(t_off, t1_s) - max(t_on, t0_s), 0.0)
        else:
            onset = min(max(th[i, TH_ONSET], t0_s), t1_s)
            after = t1_s - onset if th[i, TH_FAIL] == FAIL_STUCK_ON else 0.0
            out[i] = max(min(t_off, onset) - max(t_on, t0_s), 0.0) + after
    return out


@njit(cache=True, inline="always")
def _valve_open(th, i, t):
    if th[i, TH_FAIL] != FAIL_NONE and t >= th[i, TH_ONSET]:
        return th[i, TH_FAIL] == FAIL_STUCK_ON
    return th[i, TH_T_ON] <= t < th[i, TH_T_OFF]


@njit(cache=True, inline="always")
def _next_edge(th, i, t):
    """Earliest valve event after t: command edges and the failure onset."""
    e = math.inf
    for c in (TH_T_ON, TH_T_OFF):
        if th[i, c] > t + _EPS_T:
            e = min(e, th[i, c])
    if th[i, TH_FAIL] != FAIL_NONE and th[i, TH_ONSET] > t + _EPS_T:
        e = min(e, th[i, TH_ONSET])
    return e


@njit(cache=True, inline="always")
def gravity_gradient_torque(mu, rx, ry, rz, J):
    """3 mu / r^5 (r x J r) (N m, B) for the position r (m, B) of the centre of mass from the Earth's centre."""
    r2 = rx * rx + ry * ry + rz * rz
    k = 3.0 * mu / (r2 * r2 * math.sqrt(r2))
    jx = J[0] * rx + J[1] * ry + J[2] * rz
    jy = J[3] * rx + J[4] * ry + J[5] * rz
    jz = J[6] * rx + J[7] * ry + J[8] * rz
    return k * (ry * jz - rz * jy), k * (rz * jx - rx * jz), k * (rx * jy - ry * jx)


@njit(cache=True)
def attitude_rhs(t, x, seg, body, out):
    """Write dx/dt of the 13-state x at t (s) into out (see module doc); seg: SG_* inputs."""
    q0, q1, q2, q3 = x[0], x[1], x[2], x[3]
    wx, wy, wz = x[4], x[5], x[6]
    out[0] = 0.5 * (-q1 * wx - q2 * wy - q3 * wz)
    out[1] = 0.5 * (q0 * wx + q2 * wz - q3 * wy)
    out[2] = 0.5 * (q0 * wy - q1 * wz + q3 * wx)
    out[3] = 0.5 * (q0 * wz + q1 * wy - q2 * wx)
    # C_BN rows (gnc.frames.dcm_from_quat), inline
    c00, c01, c02 = q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2 * (q1 * q2 + q0 * q3), 2 * (q1 * q3 - q0 * q2)
    c10, c11, c12 = 2 * (q1 * q2 - q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2 * (q2 * q3 + q0 * q1)
    c20, c21, c22 = 2 * (q1 * q3 + q0 * q2), 2 * (q2 * q3 - q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3
    s = t - seg[SG_T]
    rx, ry, rz = seg[SG_R] + s * seg[SG_V], seg[SG_R + 1] + s * seg[SG_V + 1], seg[SG_R + 2] + s * seg[SG_V + 2]
    J = body[B_J:B_J + 9]
    gx, gy, gz = gravity_gradient_torque(seg[SG_MU], c00 * rx + c01 * ry + c02 * rz, c10 * rx + c11 * ry + c12 * rz,
                                         c20 * rx + c21 * ry + c22 * rz, J)
    tx = gx + seg[SG_T0] + s * seg[SG_T1] - (wy * (J[6] * wx + J[7] * wy + J[8] * wz) - wz * (J[3] * wx + J[4] * wy + J[5] * wz))
    ty = gy + seg[SG_T0 + 1] + s * seg[SG_T1 + 1] - (wz * (J[0] * wx + J[1] * wy + J[2] * wz) - wx * (J[6] * wx + J[7] * wy + J[8] * wz))
    tz = gz + seg[SG_T0 + 2] + s * seg[SG_T1 + 2] - (wx * (J[3] * wx + J[4] * wy + J[5] * wz) - wy * (J[0] * wx + J[1] * wy + J[2] * wz))
    Ji = body[B_JINV:B_JINV + 9]
    out[4] = Ji[0] * tx + Ji[1] * ty + Ji[2] * tz
    out[5] = Ji[3] * tx + Ji[4] * ty + Ji[5] * tz
    out[6] = Ji[6] * tx + Ji[7] * ty + Ji[8] * tz
    m = body[B_MASS]
    fx, fy, fz = seg[SG_F0] + s * seg[SG_F1], seg[SG_F0 + 1] + s * seg[SG_F1 + 1], seg[SG_F0 + 2] + s * seg[SG_F1 + 2]
    out[7] = (c00 * fx + c10 * fy + c20 * fz) / m
    out[8] = (c01 * fx + c11 * fy + c21 * fz) / m
    out[9] = (c02 * fx + c12 * fy + c22 * fz) / m
    out[10], out[11], out[12] = x[7], x[8], x[9]


@njit(cache=True)
def _attitude_rk8(t, x, h, seg, body, k, xs):
    """One DOP853 8th-order step of h (s) of the 13-state x, in place; quaternion renormalised."""
    attitude_rhs(t, x, seg, body, k[0])
    for s in range(1, 12):
        stage_state(x, k, s, h, xs)
        attitude_rhs(t + _C[s] * h, xs, seg, body, k[s])
    stage_state(x, k, 12, h, xs)  # row 12 of the tableau: the 8th-order weights
    for i in range(x.size):
        x[i] = xs[i]
    qn = math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2] + x[3] * x[3])
    for i in range(4):
        x[i] /= qn


@njit(cache=True)
def attitude_advance(x, t0, t1, th, body, r_N, v_N, mu, h_max):
    """Integrate the 13-state x in place from t0 to t1 (s), the thrusters' levels and their integrals with it
    (see module doc).

    r_N (m), v_N (m/s): the chaser's position and velocity at t0 (the gravity-gradient torque uses
    r_N + v_N (t - t0)). Segments longer than h_max (s) are cut into equal steps. Returns the number of
    thrust segments.
    """
    n = th.shape[0]
    slope = np.zeros(n)
    seg = np.zeros(SG_SIZE)
    k = np.empty((12, x.size))
    xs = np.empty(x.size)
    for c in range(3):
        seg[SG_R + c], seg[SG_V + c] = r_N[c], v_N[c]
    seg[SG_T], seg[SG_MU] = t0, mu
    t = t0
    n_seg = 0
    while t < t1 - _EPS_T:
        t_next = t1
        for c in range(12):
            seg[c] = 0.0
        for i in range(n):
            lvl = th[i, TH_LEVEL]
            rate = 0.0
            t_ev = _next_edge(th, i, t)
            if _valve_open(th, i, t):
                if (1.0 - lvl) * th[i, TH_RISE] <= _EPS_T:  # full thrust reached (or rise_s = 0), up to rounding
                    lvl = 1.0
                else:
                    rate = 1.0 / th[i, TH_RISE]
                    t_ev = min(t_ev, t + (1.0 - lvl) * th[i, TH_RISE])
            elif lvl * th[i, TH_FALL] <= _EPS_T:
                lvl = 0.0
            else:
                rate = -1.0 / th[i, TH_FALL]
                t_ev = min(t_ev, t + lvl * th[i, TH_FALL])
            th[i, TH_LEVEL] = lvl
            slope[i] = rate
            t_next = min(t_next, t_ev)
            f, df = th[i, TH_F] * lvl, th[i, TH_F] * rate
            for c in range(3):
                seg[SG_F0 + c] += f * th[i, TH_D + c]
                seg[SG_F1 + c] += df * th[i, TH_D + c]
                seg[SG_T0 + c] += f * th[i, TH_M + c]
                seg[SG_T1 + c] += df * th[i, TH_M + c]
        # the slopes act from t: re-base the linear thrust on the segment start
        for c in range(3):
            seg[SG_F0 + c] -= (t - t0) * seg[SG_F1 + c]
            seg[SG_T0 + c] -= (t - t0) * seg[SG_T1 + c]
        dt = t_next - t
        m = max(1, int(math.ceil(dt / h_max - 1e-9)))
        for j in range(m):
            _attitude_rk8(t + j * dt / m, x, dt / m, seg, body, k, xs)
        for i in range(n):
            th[i, TH_LEVEL_INT] += (th[i, TH_LEVEL] + 0.5 * slope[i] * dt) * dt
            th[i, TH_LEVEL] = min(1.0, max(0.0, th[i, TH_LEVEL] + slope[i] * dt))
        t = t_next
        n_seg += 1
    return n_seg


@njit(cache=True)
def propagate_6dof(state, att, t0, h, n_steps, p, G, th, body, dv_N):
    """n_steps truth steps of h (s) from t0 (s): 12-state (target, chaser; ``sim.integrator``) and the
    chaser's attitude att (7,) = [q_BN, omega_BN_B], both in place; thrusters th as ``attitude_advance``;
    the thrust's velocity increments (m/s, N) are added to dv_N (3,). Returns the largest local truncation
    error estimate of the translation (m)."""
    x = np.zeros(13)
    zero = np.zeros(3)
    k, y_stage, y_new = rk8_workspace(state, t0, h, zero, p, G)
    err_max = 0.0
    for step in range(n_steps):
        t = step_start(p, t0, step, h)
        for i in range(7):
            x[i] = att[i]
        for i in range(7, 13):
            x[i] = 0.0
        attitude_advance(x, t, t + h, th, body, state[6:9], state[9:12], p[P_MU], h)
        err_max = max(err_max, rk8_step(t, state, zero, h, p, G, k, y_stage, y_new))
        for i in range(12):
            state[i] = y_new[i]
        kicked = False
        for c in range(3):
            state[6 + c] += x[10 + c]
            state[9 + c] += x[7 + c]
            dv_N[c] += x[7 + c]
            kicked = kicked or x[7 + c] != 0.0
        for i in range(7):
            att[i] = x[i]
        if kicked:  # the chaser's state moved: f at the step's end is stale
            rhs(t + h, state, zero, p, G, k, 0)
        else:
            for i in range(12):
                k[0, i] = k[12, i]
    return err_max
