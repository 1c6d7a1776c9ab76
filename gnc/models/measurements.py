"""Measurement models shared by the EKF and the UKF: predicted measurement, Jacobian, wrapped component.

State x = [r_CT_H (m), v_CT_H (m/s)] (6,), with a range-bias state [r_CT_H, v_CT_H, b_r (m)] (7,), or with
range- and angle-bias states [r_CT_H, v_CT_H, b_r (m), b_az (rad), b_el (rad)] (9,) (the RAE sensor's
biases); Hill axes of ``gnc.frames``. Kinds (integer codes, numba-friendly):

MEAS_RAE     z = [range + b_r (m), azimuth + b_az (rad), elevation + b_el (rad)] of the target seen from
             the chaser (``gnc.models.rae``); each bias is 0 when the state has no such element.
MEAS_ANGLES  z = [azimuth (rad), elevation (rad)]: a camera's line of sight, rotated into H with the
             known attitude (angles-only navigation).
MEAS_RELPOS  z = r_CT_H (m): relative position from differenced GNSS solutions (the cooperative
             target's crosslink), rotated into H.

Azimuth wraps at +-pi: ``meas_wrap_index`` names the component to wrap (-1: none).
"""

import numpy as np
from numba import njit

from gnc.models.rae import rae_from_rel, rae_jacobian

MEAS_RAE = 0
MEAS_ANGLES = 1
MEAS_RELPOS = 2
# The azimuth needs the horizontal distance to exceed this many horizontal position sigmas.
_AZ_MIN_SIGMAS = 3.0


@njit(cache=True)
def meas_dim(kind):
    """Number of components of a measurement of this kind."""
    return 2 if kind == MEAS_ANGLES else 3


@njit(cache=True)
def meas_wrap_index(kind):
    """Index of the azimuth component (wrapped to [-pi, pi)), -1 when none."""
    if kind == MEAS_RAE:
        return 1
    if kind == MEAS_ANGLES:
        return 0
    return -1


@njit(cache=True)
def meas_predict_into(kind, x, out):
    """out (meas_dim(kind),) <- predicted measurement h(x) for the 6-, 7- or 9-state x (see module doc)."""
    if kind == MEAS_RELPOS:
        out[:] = x[:3]
        return
    rae = rae_from_rel(x[:3])
    if kind == MEAS_ANGLES:
        out[:] = rae[1:]
        return
    if x.shape[0] > 6:
        rae[0] += x[6]
    if x.shape[0] > 8:
        rae[1] += x[7]
        rae[2] += x[8]
    out[:] = rae


@njit(cache=True)
def meas_predict(kind, x):
    """Predicted measurement h(x) (meas_dim(kind),) for the 6-, 7- or 9-state x (see module doc)."""
    out = np.empty(meas_dim(kind))
    meas_predict_into(kind, x, out)
    return out


@njit(cache=True)
def meas_jacobian_into(kind, x, H):
    """H (meas_dim(kind) x len(x)) <- dh/dx at x."""
    m, nx = H.shape
    for i in range(m):
        for j in range(nx):
            H[i, j] = 0.0
    if kind == MEAS_RELPOS:
        H[0, 0] = H[1, 1] = H[2, 2] = 1.0
        return
    J = rae_jacobian(x[:6])
    r0 = 1 if kind == MEAS_ANGLES else 0  # angles: the azimuth and elevation rows
    for i in range(m):
        for j in range(6):
            H[i, j] = J[r0 + i, j]
    if kind == MEAS_RAE and nx > 6:
        H[0, 6] = 1.0
    if kind == MEAS_RAE and nx > 8:
        H[1, 7] = H[2, 8] = 1.0


@njit(cache=True)
def meas_jacobian(kind, x):
    """dh/dx (meas_dim(kind) x len(x)) at x."""
    H = np.empty((meas_dim(kind), x.shape[0]))
    meas_jacobian_into(kind, x, H)
    return H


@njit(cache=True)
def meas_geometry_ok(kind, x, P):
    """False when the azimuth of an angle measurement is ill-defined: the horizontal distance
    sqrt(x0^2 + x1^2) (m) is not above 3 sqrt(P00 + P11) (line of sight near the orbit normal)."""
    if kind == MEAS_RELPOS:
        return True
    h2 = x[0] * x[0] + x[1] * x[1]
    return h2 > _AZ_MIN_SIGMAS * _AZ_MIN_SIGMAS * (P[0, 0] + P[1, 1])
