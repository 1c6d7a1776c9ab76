"""Hill-Clohessy-Wiltshire (HCW) relative motion about a circular target orbit.

State x = [r_CT_H (m), v_CT_H (m/s)] in the Hill frame of ``gnc.frames`` (x radial, y along-track,
z orbit normal; velocity is the rotating-frame derivative). Input u = chaser acceleration in H (m/s^2).
Equations (Clohessy & Wiltshire 1960; Vallado, Fundamentals of Astrodynamics, 4th ed., sec. 6.8):
    x'' = 3 n^2 x + 2 n y' + ux,   y'' = -2 n x' + uy,   z'' = -n^2 z + uz
The closed-form state transition matrix and its zero-order-hold input integral are exact for this
linear model; tests check them against scipy's matrix exponential.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def hcw_continuous(n):
    """Continuous A (6x6) and B (6x3) for mean motion n (rad/s)."""
    A = np.zeros((6, 6))
    A[0, 3] = A[1, 4] = A[2, 5] = 1.0
    A[3, 0] = 3 * n * n
    A[3, 4] = 2 * n
    A[4, 3] = -2 * n
    A[5, 2] = -n * n
    B = np.zeros((6, 3))
    B[3, 0] = B[4, 1] = B[5, 2] = 1.0
    return A, B


@njit(cache=True)
def _one_minus_cos(x):
    """1 - cos(x) without cancellation for small x."""
    return 2.0 * np.sin(0.5 * x) ** 2


@njit(cache=True)
def _x_minus_sin(x):
    """x - sin(x) without cancellation for small x (Taylor series below 0.1 rad)."""
    if abs(x) < 0.1:
        x2 = x * x
        return x * x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0)))
    return x - np.sin(x)


@njit(cache=True)
def hcw_stm(n, dt):
    """State transition matrix Phi(dt) (6x6) of the free HCW motion; n rad/s, dt s."""
    c, s, nt = np.cos(n * dt), np.sin(n * dt), n * dt
    omc = _one_minus_cos(nt)
    return np.array([
        [1 + 3 * omc, 0, 0, s / n, 2 * omc / n, 0],
        [-6 * _x_minus_sin(nt), 1, 0, -2 * omc / n, (4 * s - 3 * nt) / n, 0],
        [0, 0, c, 0, 0, s / n],
        [3 * n * s, 0, 0, c, 2 * s, 0],
        [-6 * n * (1 - c), 0, 0, -2 * s, 4 * c - 3, 0],
        [0, 0, -n * s, 0, 0, c],
    ])


@njit(cache=True)
def hcw_input_matrix(n, dt):
    """Gamma(dt) (6x3): state change from a constant acceleration held over dt (zero-order hold)."""
    s, T = np.sin(n * dt), dt
    omc = _one_minus_cos(n * dt)
    tms = _x_minus_sin(n * dt) / n  # T - sin(nT)/n
    return np.array([
        [omc / n**2, 2 * tms / n, 0],
        [-2 * tms / n, 4 * omc / n**2 - 1.5 * T * T, 0],
        [0, 0, omc / n**2],
        [s / n, 2 * omc / n, 0],
        [-2 * omc / n, 4 * s / n - 3 * T, 0],
        [0, 0, s / n],
    ])


@njit(cache=True)
def hcw_propagate(n, dt, x0, u):
    """State after dt (s) from x0 under constant acceleration u (m/s^2, H)."""
    return hcw_stm(n, dt) @ x0 + hcw_input_matrix(n, dt) @ u
