"""Nonlinear equations of relative motion (two-body) about a Keplerian target orbit, in Hill axes.

State x = [r_CT_H (m), v_CT_H (m/s)] (Hill frame of ``gnc.frames``, rotating-frame velocity).
Target: gravitational parameter mu (m^3/s^2), mean motion n (rad/s), eccentricity e, true anomaly
theta (rad); r_T = p / (1 + e cos theta), theta_dot = h / r_T^2, theta_ddot = -2 r_T_dot theta_dot / r_T.
With R = [r_T + x, y, z] the chaser's position from the Earth's centre (Hill axes):
    x'' = 2 td y' + tdd y + td^2 x - mu (r_T + x) / |R|^3 + mu / r_T^2 + ux
    y'' = -2 td x' - tdd x + td^2 y - mu y / |R|^3 + uy
    z'' = -mu z / |R|^3 + uz
(e.g. Alfriend et al., Spacecraft Formation Flying, 2010, sec. 4.2). Exact for two-body motion at any
separation; linearised it gives Yamanaka-Ankersen (``gnc.models.ya``) and, for e = 0, HCW.
Integrated by classical RK4 with the target's true anomaly from Kepler's equation at each stage.
"""

import numpy as np
from numba import njit

from gnc.models.ya import mean_from_true, true_from_mean


@njit(cache=True)
def nerm_deriv(x, u, mu, n, e, theta):
    """dx/dt (6,) of the relative state x with chaser acceleration u (m/s^2, H) at target anomaly theta."""
    a = (mu / (n * n)) ** (1.0 / 3.0)
    p = a * (1.0 - e * e)
    h = np.sqrt(mu * p)
    rT = p / (1.0 + e * np.cos(theta))
    td = h / (rT * rT)
    rTd = mu / h * e * np.sin(theta)
    tdd = -2.0 * rTd * td / rT
    X, Y, Z = rT + x[0], x[1], x[2]
    g = mu / (X * X + Y * Y + Z * Z) ** 1.5
    d = np.empty(6)
    d[0], d[1], d[2] = x[3], x[4], x[5]
    d[3] = 2 * td * x[4] + tdd * x[1] + td * td * x[0] - g * X + mu / (rT * rT) + u[0]
    d[4] = -2 * td * x[3] - tdd * x[0] + td * td * x[1] - g * Y + u[1]
    d[5] = -g * Z + u[2]
    return d


@njit(cache=True)
def nerm_propagate(x0, u, mu, n, e, theta0, dt, max_step):
    """(x1, theta1): relative state after dt (s) from target anomaly theta0 (rad) under constant u
    (m/s^2, H), RK4 with equal steps no longer than max_step (s)."""
    m = max(1, int(np.ceil(abs(dt) / max_step)))
    h = dt / m
    M0 = mean_from_true(theta0, e)
    x = x0.copy()
    for k in range(m):
        t = k * h
        th0 = true_from_mean(M0 + n * t, e)
        th1 = true_from_mean(M0 + n * (t + 0.5 * h), e)
        th2 = true_from_mean(M0 + n * (t + h), e)
        k1 = nerm_deriv(x, u, mu, n, e, th0)
        k2 = nerm_deriv(x + 0.5 * h * k1, u, mu, n, e, th1)
        k3 = nerm_deriv(x + 0.5 * h * k2, u, mu, n, e, th1)
        k4 = nerm_deriv(x + h * k3, u, mu, n, e, th2)
        x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x, true_from_mean(M0 + n * dt, e)


@njit(cache=True)
def nerm_propagate_points(X, u, mu, n, e, theta0, dt, max_step):
    """Each row of X (k, 6) propagated by ``nerm_propagate``; returns (k, 6)."""
    Y = np.empty_like(X)
    for i in range(X.shape[0]):
        Y[i], _ = nerm_propagate(X[i].copy(), u, mu, n, e, theta0, dt, max_step)
    return Y
