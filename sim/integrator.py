"""Fixed-step Dormand-Prince 5(4) propagation of target and chaser in the inertial frame N.

State y (12,) = [r_T_N (m), v_T_N (m/s), r_C_N (m), v_C_N (m/s)], N as in ``gnc.frames``. Both
vehicles feel point-mass + J2 gravity (``sim.gravity``); the chaser also feels a thrust acceleration
accel_H (m/s^2) given in the TARGET's Hill axes and held constant over a call (ideal attitude), rotated
to N with the Hill DCM of the stage state at every stage.
Tableau: Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19-26. The step advances the 5th-order
solution; the 5th-minus-4th-order difference is the local error estimate.
"""

import numpy as np
from numba import njit

from gnc.frames import hill_dcm_and_rate
from sim.gravity import J2_EARTH, MU_EARTH, R_EARTH, accel_twobody_j2

# Row s holds the coefficients of stage s+1 (row 6 = 5th-order weights, whose stage is FSAL).
_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0],
    [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
])
# 5th- minus 4th-order weights.
_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])
_POS = np.array([0, 1, 2, 6, 7, 8])


@njit(cache=True)
def _rhs(y, accel_H, j2, out):
    """Write dy/dt of the 12-state into out."""
    a_T = accel_twobody_j2(y[0:3], MU_EARTH, j2, R_EARTH)
    a_C = accel_twobody_j2(y[6:9], MU_EARTH, j2, R_EARTH)
    # Only C_HN is used; it does not depend on the acceleration argument.
    C_HN, _ = hill_dcm_and_rate(y[0:3], y[3:6], a_T)
    for i in range(3):
        out[i] = y[3 + i]
        out[3 + i] = a_T[i]
        out[6 + i] = y[9 + i]
        out[9 + i] = a_C[i] + C_HN[0, i] * accel_H[0] + C_HN[1, i] * accel_H[1] + C_HN[2, i] * accel_H[2]


@njit(cache=True)
def _step_into(y, accel_H, h, j2, k, y_new):
    """One step of h (s) from y; k (7, 12) must hold f(y) in k[0].

    Writes the 5th-order state into y_new and f(y_new) into k[6]; returns the local error estimate
    (max abs over the six position components, m).
    """
    n = y.size
    for s in range(1, 7):
        for i in range(n):
            acc = 0.0
            for j in range(s):
                acc += _A[s, j] * k[j, i]
            y_new[i] = y[i] + h * acc
        _rhs(y_new, accel_H, j2, k[s])
    err = 0.0
    for i in _POS:
        e = 0.0
        for j in range(7):
            e += _E[j] * k[j, i]
        err = max(err, abs(h * e))
    return err


@njit(cache=True)
def dp54_step(y, accel_H, h, j2_on):
    """One Dormand-Prince step of h (s): returns (new 12-state, local position error estimate m)."""
    j2 = J2_EARTH if j2_on else 0.0
    k = np.empty((7, y.size))
    y_new = np.empty(y.size)
    _rhs(y, accel_H, j2, k[0])
    err = _step_into(y, accel_H, h, j2, k, y_new)
    return y_new, err


@njit(cache=True)
def propagate(state, accel_H, dt_total, h_max, j2_on):
    """Propagate the 12-state by exactly dt_total (s) in equal steps no longer than h_max (s).

    accel_H: chaser thrust acceleration (m/s^2, target Hill axes), constant over dt_total.
    Returns (new state, max local position error estimate over the steps, m). dt_total = 0 returns a copy.
    """
    if dt_total < 0.0 or h_max <= 0.0:
        raise ValueError("propagate needs dt_total >= 0 and h_max > 0")
    y = state.copy()
    if dt_total == 0.0:
        return y, 0.0
    j2 = J2_EARTH if j2_on else 0.0
    n_steps = max(1, int(np.ceil(dt_total / h_max - 1e-9)))
    h = dt_total / n_steps
    k = np.empty((7, y.size))
    y_new = np.empty(y.size)
    _rhs(y, accel_H, j2, k[0])
    err_max = 0.0
    for _ in range(n_steps):
        err_max = max(err_max, _step_into(y, accel_H, h, j2, k, y_new))
        y[:] = y_new
        k[0] = k[6]
    return y, err_max
