"""Measurement models shared by the EKF and the UKF: predicted measurement, Jacobian, wrapped component.

State x = [r_CT_H (m), v_CT_H (m/s)] (6,), then the optional states in this order: the RAE sensor's biases
b_r (m) (, b_az, b_el (rad)) at x[6:6 + n_bias], a thrust-scale error s (-) (true acceleration (1 + s) u), an
unmodelled acceleration d (m/s^2, H, 3). Hill axes of ``gnc.frames``. Where they sit is in one place:
``state_layout`` gives the layout vector (numba-friendly float64) the models take:
lay[LAY_N_BIAS] = n_bias (0, 1, 3), lay[LAY_I_SCALE] = index of s (-1: none), lay[LAY_I_ACCEL] = index of d[0]
(-1: none), lay[LAY_U:LAY_U + 3] = the known commanded specific force u (m/s^2, H) of a MEAS_ACCEL sample.
The layout-free forms (``meas_predict``, ``meas_jacobian``) infer the bias states from len(x) (6, 7, 9 or
10 with s) and have no d. Kinds (integer codes, numba-friendly):

MEAS_RAE     z = [range + b_r (m), azimuth + b_az (rad), elevation + b_el (rad)] of the target seen from
             the chaser (``gnc.models.rae``); each bias is 0 when the state has no such element.
MEAS_ANGLES  z = [azimuth (rad), elevation (rad)]: a camera's line of sight, rotated into H with the
             known attitude (angles-only navigation).
MEAS_RELPOS  z = r_CT_H (m): relative position from differenced GNSS solutions (the cooperative
             target's crosslink), rotated into H.
MEAS_ACCEL   z = the chaser accelerometer's mean specific force over a nav period, rotated into H
             (m/s^2): h(x) = (1 + s) u + d, u the commanded specific force of the same samples (layout).

Azimuth wraps at +-pi: ``meas_wrap_index`` names the component to wrap (-1: none).
"""

import numpy as np
from numba import njit

from gnc.jit import kernel
from gnc.models.rae import rae_jacobian_into, rae_tuple

MEAS_RAE = 0
MEAS_ANGLES = 1
MEAS_RELPOS = 2
MEAS_ACCEL = 3
LAY_N_BIAS, LAY_I_SCALE, LAY_I_ACCEL, LAY_U = 0, 1, 2, 3
LAYOUT_LEN = 6
# The azimuth needs the horizontal distance to exceed this many horizontal position sigmas.
_AZ_MIN_SIGMAS = 3.0


def state_layout(n_bias, scale_state, accel_state):
    """(nx, layout (LAYOUT_LEN,)) of a state with n_bias (0, 1, 3) RAE bias states, a thrust-scale state s
    (bool) and an unmodelled-acceleration state d (bool), in the order of the module doc; u = 0."""
    if n_bias not in (0, 1, 3):
        raise ValueError(f"state_layout: n_bias must be 0, 1 or 3, got {n_bias}")
    nx, lay = 6 + n_bias, np.zeros(LAYOUT_LEN)
    lay[LAY_N_BIAS], lay[LAY_I_SCALE], lay[LAY_I_ACCEL] = n_bias, -1.0, -1.0
    if scale_state:
        lay[LAY_I_SCALE], nx = nx, nx + 1
    if accel_state:
        lay[LAY_I_ACCEL], nx = nx, nx + 3
    return nx, lay


@njit(cache=True)
def default_layout(nx):
    """The layout of an nx-state without d: 0, 1 or 3 bias states (nx 6, 7, 9), s at x[9] when nx = 10."""
    lay = np.zeros(LAYOUT_LEN)
    lay[LAY_N_BIAS] = 0.0 if nx == 6 else (1.0 if nx == 7 else 3.0)
    lay[LAY_I_SCALE] = 9.0 if nx == 10 else -1.0
    lay[LAY_I_ACCEL] = -1.0
    return lay


@kernel()
def meas_dim(kind):
    """Number of components of a measurement of this kind."""
    return 2 if kind == MEAS_ANGLES else 3


@kernel()
def meas_wrap_index(kind):
    """Index of the azimuth component (wrapped to [-pi, pi)), -1 when none."""
    if kind == MEAS_RAE:
        return 1
    if kind == MEAS_ANGLES:
        return 0
    return -1


@kernel()
def meas_predict_into(kind, x, lay, out):
    """out (meas_dim(kind),) <- predicted measurement h(x) of the state x with layout lay (see module doc)."""
    if kind == MEAS_ACCEL:
        i_s, i_d = int(lay[LAY_I_SCALE]), int(lay[LAY_I_ACCEL])
        g = 1.0 + x[i_s] if i_s >= 0 else 1.0
        for k in range(3):
            out[k] = g * lay[LAY_U + k] + (x[i_d + k] if i_d >= 0 else 0.0)
        return
    if kind == MEAS_RELPOS:
        for k in range(3):
            out[k] = x[k]
        return
    rng, az, el = rae_tuple(x)
    if kind == MEAS_ANGLES:
        out[0], out[1] = az, el
        return
    nb = lay[LAY_N_BIAS]
    if nb > 0.0:
        rng += x[6]
    if nb > 1.0:
        az += x[7]
        el += x[8]
    out[0], out[1], out[2] = rng, az, el


@njit(cache=True)
def meas_predict_layout(kind, x, lay):
    """Predicted measurement h(x) (meas_dim(kind),) of the state x with layout lay."""
    out = np.empty(meas_dim(kind))
    meas_predict_into(kind, x, lay, out)
    return out


@njit(cache=True)
def meas_predict(kind, x):
    """Predicted measurement h(x) (meas_dim(kind),) for the 6-, 7-, 9- or 10-state x (``default_layout``)."""
    return meas_predict_layout(kind, x, default_layout(x.shape[0]))


@kernel()
def meas_jacobian_into(kind, x, lay, H):
    """H (meas_dim(kind) x len(x)) <- dh/dx at x (layout lay)."""
    m, nx = H.shape
    for i in range(m):
        for j in range(nx):
            H[i, j] = 0.0
    if kind == MEAS_ACCEL:
        i_s, i_d = int(lay[LAY_I_SCALE]), int(lay[LAY_I_ACCEL])
        for k in range(3):
            if i_s >= 0:
                H[k, i_s] = lay[LAY_U + k]
            if i_d >= 0:
                H[k, i_d + k] = 1.0
        return
    if kind == MEAS_RELPOS:
        H[0, 0] = H[1, 1] = H[2, 2] = 1.0
        return
    rae_jacobian_into(x, H, 1 if kind == MEAS_ANGLES else 0)  # angles: the azimuth and elevation rows
    nb = lay[LAY_N_BIAS]
    if kind == MEAS_RAE and nb > 0.0:
        H[0, 6] = 1.0
    if kind == MEAS_RAE and nb > 1.0:
        H[1, 7] = H[2, 8] = 1.0


@njit(cache=True)
def meas_jacobian_layout(kind, x, lay):
    """dh/dx (meas_dim(kind) x len(x)) at x (layout lay)."""
    H = np.empty((meas_dim(kind), x.shape[0]))
    meas_jacobian_into(kind, x, lay, H)
    return H


@njit(cache=True)
def meas_jacobian(kind, x):
    """dh/dx (meas_dim(kind) x len(x)) at x (``default_layout``)."""
    return meas_jacobian_layout(kind, x, default_layout(x.shape[0]))


@kernel()
def meas_geometry_ok(kind, x, P):
    """False when the azimuth of an angle measurement is ill-defined: the horizontal distance
    sqrt(x0^2 + x1^2) (m) is not above 3 sqrt(P00 + P11) (line of sight near the orbit normal)."""
    if kind == MEAS_RELPOS or kind == MEAS_ACCEL:
        return True
    h2 = x[0] * x[0] + x[1] * x[1]
    return h2 > _AZ_MIN_SIGMAS * _AZ_MIN_SIGMAS * (P[0, 0] + P[1, 1])
