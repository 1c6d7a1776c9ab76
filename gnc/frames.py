"""Frame transforms: ECI <-> Hill (RIC), quaternions and direction-cosine matrices.

Frames
------
N  Earth-centred inertial. Realisation: a true-of-date-like equatorial frame whose z axis is the
   Earth's spin axis; precession and nutation are neglected (the J2 field is symmetric about N's z).
H  Hill frame of the target T, right-handed, centred on T:
   x radial (r_T / |r_T|, outward), z orbit normal (h_T / |h_T|, h_T = r_T x v_T), y = z x x
   (along-track, in the direction of motion for a circular orbit). Never call it "LVLH" without
   these axes.
B  chaser body frame.

Relative velocity convention
----------------------------
``v_CT_H`` is the derivative of ``r_CT`` taken in the ROTATING frame H, expressed in H:
``v_CT_H = C_HN (v_C_N - v_T_N) - omega_HN_H x r_CT_H``. This is the velocity the HCW equations use.
The frame rate is omega_HN_H = [r |h|^-1 (a_T . z_hat), 0, |h| / r^2]: the radial term (orbit-plane
rotation from out-of-plane acceleration, e.g. J2) is included when the target's inertial
acceleration is passed, otherwise it is the two-body rate.

Quaternions are scalar-first [q0, q1, q2, q3] (Hamilton product); ``q_BN`` maps N components to B
components: ``v_B = dcm_from_quat(q_BN) @ v_N``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


@njit(cache=True)
def hill_dcm_and_rate(r_TN_N, v_TN_N, a_TN_N):
    """C_HN (3x3, rows are the H axes in N) and omega_HN_H (rad/s) for the target's state.

    a_TN_N: the target's inertial acceleration (m/s^2); zeros give the two-body frame rate.
    """
    h = _cross(r_TN_N, v_TN_N)
    r = np.sqrt(r_TN_N @ r_TN_N)
    hn = np.sqrt(h @ h)
    x_hat = r_TN_N / r
    z_hat = h / hn
    y_hat = _cross(z_hat, x_hat)
    C_HN = np.empty((3, 3))
    C_HN[0, :] = x_hat
    C_HN[1, :] = y_hat
    C_HN[2, :] = z_hat
    omega_HN_H = np.array([r * (a_TN_N @ z_hat) / hn, 0.0, hn / (r * r)])
    return C_HN, omega_HN_H


@njit(cache=True)
def eci_to_hill(r_TN_N, v_TN_N, r_CN_N, v_CN_N, a_TN_N):
    """Chaser state relative to target in H: returns (r_CT_H m, v_CT_H m/s, rotating-frame derivative)."""
    C_HN, w = hill_dcm_and_rate(r_TN_N, v_TN_N, a_TN_N)
    r_CT_H = C_HN @ (r_CN_N - r_TN_N)
    v_CT_H = C_HN @ (v_CN_N - v_TN_N) - _cross(w, r_CT_H)
    return r_CT_H, v_CT_H


@njit(cache=True)
def hill_to_eci(r_TN_N, v_TN_N, r_CT_H, v_CT_H, a_TN_N):
    """Inverse of eci_to_hill: returns the chaser's (r_CN_N m, v_CN_N m/s) in N."""
    C_HN, w = hill_dcm_and_rate(r_TN_N, v_TN_N, a_TN_N)
    r_CN_N = r_TN_N + C_HN.T @ r_CT_H
    v_CN_N = v_TN_N + C_HN.T @ (v_CT_H + _cross(w, r_CT_H))
    return r_CN_N, v_CN_N


@njit(cache=True)
def quat_mult(p, q):
    """Hamilton product p * q of scalar-first quaternions."""
    p0, p1, p2, p3 = p[0], p[1], p[2], p[3]
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    return np.array([
        p0 * q0 - p1 * q1 - p2 * q2 - p3 * q3,
        p0 * q1 + p1 * q0 + p2 * q3 - p3 * q2,
        p0 * q2 - p1 * q3 + p2 * q0 + p3 * q1,
        p0 * q3 + p1 * q2 - p2 * q1 + p3 * q0,
    ])


@njit(cache=True)
def dcm_from_quat(q_BN):
    """C_BN (v_B = C_BN v_N) from the unit quaternion q_BN (scalar-first, passive)."""
    q0, q1, q2, q3 = q_BN[0], q_BN[1], q_BN[2], q_BN[3]
    return np.array([
        [q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2 * (q1 * q2 + q0 * q3), 2 * (q1 * q3 - q0 * q2)],
        [2 * (q1 * q2 - q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2 * (q2 * q3 + q0 * q1)],
        [2 * (q1 * q3 + q0 * q2), 2 * (q2 * q3 - q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3],
    ])


@njit(cache=True)
def quat_from_dcm(C_BN):
    """Unit quaternion q_BN (scalar-first, q0 >= 0) from C_BN, by Shepperd's method."""
    tr = C_BN[0, 0] + C_BN[1, 1] + C_BN[2, 2]
    b2 = np.array([(1 + tr) / 4, (1 + 2 * C_BN[0, 0] - tr) / 4,
                   (1 + 2 * C_BN[1, 1] - tr) / 4, (1 + 2 * C_BN[2, 2] - tr) / 4])
    i = np.argmax(b2)
    q = np.empty(4)
    if i == 0:
        q[0] = np.sqrt(b2[0])
        q[1] = (C_BN[1, 2] - C_BN[2, 1]) / (4 * q[0])
        q[2] = (C_BN[2, 0] - C_BN[0, 2]) / (4 * q[0])
        q[3] = (C_BN[0, 1] - C_BN[1, 0]) / (4 * q[0])
    elif i == 1:
        q[1] = np.sqrt(b2[1])
        q[0] = (C_BN[1, 2] - C_BN[2, 1]) / (4 * q[1])
        q[2] = (C_BN[0, 1] + C_BN[1, 0]) / (4 * q[1])
        q[3] = (C_BN[2, 0] + C_BN[0, 2]) / (4 * q[1])
    elif i == 2:
        q[2] = np.sqrt(b2[2])
        q[0] = (C_BN[2, 0] - C_BN[0, 2]) / (4 * q[2])
        q[1] = (C_BN[0, 1] + C_BN[1, 0]) / (4 * q[2])
        q[3] = (C_BN[1, 2] + C_BN[2, 1]) / (4 * q[2])
    else:
        q[3] = np.sqrt(b2[3])
        q[0] = (C_BN[0, 1] - C_BN[1, 0]) / (4 * q[3])
        q[1] = (C_BN[2, 0] + C_BN[0, 2]) / (4 * q[3])
        q[2] = (C_BN[1, 2] + C_BN[2, 1]) / (4 * q[3])
    if q[0] < 0:
        q = -q
    return q / np.sqrt(q @ q)


@njit(cache=True)
def kepler_to_eci(mu, a, e, inc, raan, argp, nu):
    """Position (m) and velocity (m/s) in N from classical elements (m, -, rad)."""
    p = a * (1 - e * e)
    r = p / (1 + e * np.cos(nu))
    r_pf = np.array([r * np.cos(nu), r * np.sin(nu), 0.0])
    v_pf = np.array([-np.sin(nu), e + np.cos(nu), 0.0]) * np.sqrt(mu / p)
    cO, sO, ci, si, cw, sw = np.cos(raan), np.sin(raan), np.cos(inc), np.sin(inc), np.cos(argp), np.sin(argp)
    R = np.array([
        [cO * cw - sO * sw * ci, -cO * sw - sO * cw * ci, sO * si],
        [sO * cw + cO * sw * ci, -sO * sw + cO * cw * ci, -cO * si],
        [sw * si, cw * si, ci],
    ])
    return R @ r_pf, R @ v_pf
