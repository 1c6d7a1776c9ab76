"""Nonlinear relative motion under point-mass + J2 gravity, in the Hill frame of the J2-perturbed target.

State x = [r_CT_H (m), v_CT_H (m/s)] (Hill frame of ``gnc.frames`` attached to the target's actual,
perturbed orbit; rotating-frame velocity, frame rate with the J2 out-of-plane term). The target is
propagated with its own J2 acceleration (its orbit plane precesses, its perigee and argument of
latitude drift), and the chaser's offset from it in the inertial frame N:
    d'' = g(r_T + d) - g(r_T) + C_NH u,   g(r) = -mu r / |r|^3 + a_J2(r),
    a_J2(r) = -(3/2) J2 mu R^2 / |r|^5 [(1 - 5 z^2 / |r|^2) r + 2 z k],  z = r . k,
k the Earth's spin axis (N's z). u (m/s^2) is held constant along the target's Hill axes of each
instant. No linearisation and no mean-element averaging: the only approximations are the
gravity model (no J3+, drag, third bodies) and classical RK4 with steps no longer than max_step.
The J2 field is symmetric about k, so the right ascension of the node does not matter: the
target's initial state is built in a node-aligned N (RAAN = 0) from its osculating elements.
Constants: WGS 84 GM and equatorial radius, J2 = -sqrt(5) C20bar of EGM96 (the values of sim.gravity).
"""

import numpy as np
from numba import njit

from gnc.frames import eci_to_hill, hill_dcm_and_rate, hill_to_eci

MU_EARTH = 3.986004418e14  # m^3/s^2
R_EARTH = 6378137.0  # m, J2 reference radius
J2_EARTH = 1.08262668e-3  # -


@njit(cache=True)
def _grav(x, y, z, mu, j2, re):
    """Point-mass + J2 acceleration (m/s^2, N) at (x, y, z) (m, N; z along the Earth's spin axis), a tuple."""
    r2 = x * x + y * y + z * z
    rn = np.sqrt(r2)
    k = 1.5 * j2 * mu * re * re / (r2 * r2 * rn)
    f = -mu / (r2 * rn) - k * (1.0 - 5.0 * z * z / r2)
    return f * x, f * y, (f - 2.0 * k) * z


@njit(cache=True)
def gravity_j2(r, mu, j2, re):
    """Point-mass + J2 acceleration (m/s^2, N) at r (m, N; z along the Earth's spin axis), (3,)."""
    a = np.empty(3)
    a[0], a[1], a[2] = _grav(r[0], r[1], r[2], mu, j2, re)
    return a


@njit(cache=True)
def _target_steps(y, mu, j2, re, h, m, S):
    """In place: y (6,) [r_TN_N, v_TN_N] advanced by m RK4 steps of h (s). S: None, or (m, 4, >= 9) that
    receives each stage's [position, velocity, gravity] (for the chaser's offset)."""
    k = np.empty((4, 6))
    ys = np.empty(6)
    for s in range(m):
        for j in range(4):
            c = 0.0 if j == 0 else (h if j == 3 else 0.5 * h)
            for i in range(6):
                ys[i] = y[i] + c * k[j - 1, i] if j > 0 else y[i]
            gx, gy, gz = _grav(ys[0], ys[1], ys[2], mu, j2, re)
            k[j, 0], k[j, 1], k[j, 2], k[j, 3], k[j, 4], k[j, 5] = ys[3], ys[4], ys[5], gx, gy, gz
            if S is not None:
                for i in range(6):
                    S[s, j, i] = ys[i]
                S[s, j, 6], S[s, j, 7], S[s, j, 8] = gx, gy, gz
        for i in range(6):
            y[i] += h / 6.0 * (k[0, i] + 2.0 * k[1, i] + 2.0 * k[2, i] + k[3, i])


@njit(cache=True)
def target_propagate(yT, mu, j2, re, dt, max_step):
    """Target state [r_TN_N m, v_TN_N m/s] after dt (s), RK4 with equal steps no longer than max_step (s)."""
    m = max(1, int(np.ceil(abs(dt) / max_step)))
    y = yT.copy()
    _target_steps(y, mu, j2, re, dt / m, m, None)
    return y


@njit(cache=True)
def nerm_j2_propagate_points(X, u, mu, j2, re, yT0, dt, max_step):
    """Rows of X (k, 6) [r_CT_H, v_CT_H] propagated over dt (s) with u (m/s^2, H) held, the target
    starting at yT0 = [r_TN_N, v_TN_N]; returns (Y (k, 6), target state after dt).

    One RK4 of the coupled (target, offset) system per row; the target's stage states, gravity and
    Hill axes are computed once for all rows."""
    m = max(1, int(np.ceil(abs(dt) / max_step)))
    h = dt / m
    S = np.empty((m, 4, 12))  # per RK4 stage: target position, velocity, gravity, u in N
    y = yT0.copy()
    _target_steps(y, mu, j2, re, h, m, S)
    zero = np.zeros(3)
    for s in range(m):
        for j in range(4):
            C, _ = hill_dcm_and_rate(S[s, j, :3].copy(), S[s, j, 3:6].copy(), zero)
            S[s, j, 9:] = C.T @ u
    a0 = gravity_j2(yT0[:3], mu, j2, re)
    a1 = gravity_j2(y[:3], mu, j2, re)
    Y = np.empty_like(X)
    d = np.empty(6)
    k = np.empty((4, 6))
    for i in range(X.shape[0]):
        rC, vC = hill_to_eci(yT0[:3], yT0[3:], X[i, :3], X[i, 3:], a0)
        for q in range(3):
            d[q], d[q + 3] = rC[q] - yT0[q], vC[q] - yT0[q + 3]
        for s in range(m):
            for j in range(4):
                c = 0.0 if j == 0 else (h if j == 3 else 0.5 * h)
                dx, dy, dz = d[0], d[1], d[2]
                if j > 0:
                    dx, dy, dz = dx + c * k[j - 1, 0], dy + c * k[j - 1, 1], dz + c * k[j - 1, 2]
                    for q in range(3):
                        k[j, q] = d[q + 3] + c * k[j - 1, q + 3]
                else:
                    k[j, 0], k[j, 1], k[j, 2] = d[3], d[4], d[5]
                T = S[s, j]
                gx, gy, gz = _grav(T[0] + dx, T[1] + dy, T[2] + dz, mu, j2, re)
                k[j, 3], k[j, 4], k[j, 5] = gx - T[6] + T[9], gy - T[7] + T[10], gz - T[8] + T[11]
            for q in range(6):
                d[q] += h / 6.0 * (k[0, q] + 2.0 * k[1, q] + 2.0 * k[2, q] + k[3, q])
        r, v = eci_to_hill(y[:3], y[3:], y[:3] + d[:3], y[3:] + d[3:], a1)
        Y[i, :3], Y[i, 3:] = r, v
    return Y, y
