"""Extended Kalman filter kernels: linear(ised) prediction, HCW process noise, gated Joseph-form updates.

State x = [r_CT_H (m), v_CT_H (m/s)] (6,), optionally with a range bias b_r (m) as x[6]; Hill axes of
``gnc.frames`` (x radial, y along-track, z orbit normal; rotating-frame velocity). Covariance P (nxn)
in the same units. Measurements: the kinds of ``gnc.models.measurements`` (range/azimuth/elevation,
angles-only, relative position).

All kernels but ``ekf_cycle_inplace`` are pure: they never modify their inputs and return new arrays
(a rejected update returns the input x and P themselves). ``ekf_cycle_inplace`` is the filter class's
hot path: the same pure kernels composed, on one work buffer, so that a cycle costs one numba call.
"""

import numpy as np
from numba import njit

from gnc.models.hcw import hcw_input_matrix, hcw_stm
from gnc.models.measurements import (
    MEAS_RAE,
    meas_dim,
    meas_geometry_ok,
    meas_jacobian,
    meas_predict,
    meas_wrap_index,
)
from gnc.models.rae import wrap_angle
from gnc.nav.linalg import mm, mm_bt, spd_inverse_nis, symmetrise_inplace

# 8-point Gauss-Legendre rule on [-1, 1] (constants; exact for polynomials of degree <= 15).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
# Longest quadrature panel, in radians of orbital phase n*h. With 8 nodes the rule's remainder on a
# panel is below ~1e-22 relative for these trigonometric-polynomial integrands (see hcw_process_noise).
_GL_MAX_PANEL_RAD = 1.0


@njit(cache=True)
def ekf_predict(x, P, Phi, Gam, u, Q):
    """Linear prediction x+ = Phi x + Gam u, P+ = Phi P Phi' + Q (symmetrised).

    x (n,), P (n,n), Phi (n,n), Gam (n,m), u (m,), Q (n,n); units as the model's. Returns (x+, P+).
    For HCW: Phi = hcw_stm(n, dt), Gam = hcw_input_matrix(n, dt), u = acceleration (m/s^2, H)
    held over dt, Q = hcw_process_noise(n, dt, q_psd).
    """
    nx = x.shape[0]
    nu = u.shape[0]
    xn = np.empty(nx)
    for i in range(nx):
        acc = 0.0
        for j in range(nx):
            acc += Phi[i, j] * x[j]
        for j in range(nu):
            acc += Gam[i, j] * u[j]
        xn[i] = acc
    Pn = mm_bt(mm(Phi, P), Phi)
    for i in range(nx):
        for j in range(nx):
            Pn[i, j] += Q[i, j]
    symmetrise_inplace(Pn)
    return xn, Pn


@njit(cache=True)
def hcw_process_noise(n, dt, q_psd):
    """Discrete process noise Q (6x6) of the HCW model over dt for white acceleration noise.

    n: mean motion (rad/s, > 0). dt: interval (s, >= 0). q_psd: power spectral density of the
    acceleration noise on each Hill axis (m^2/s^3), independent axes.
    Q = q_psd * int_0^dt Phi(s) G G' Phi(s)' ds with G = [0; I3] (6x3), Phi = hcw_stm.
    Computed by composite 8-point Gauss-Legendre quadrature on panels of at most 1 rad of orbital
    phase (n*h <= 1). The integrand is a polynomial of degree <= 2 in s times sin/cos(k n s),
    k <= 2, so the rule's remainder on a panel is below ~1e-22 relative: the result is exact to
    rounding (measured 2e-16 to 6e-14 of sqrt(Q_ii Q_jj) against a brute-force integral, dt from 0.1 s to
    several orbits); for dt -> 0 it tends to the double-integrator form
    q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]].
    """
    if dt < 0.0:
        raise ValueError("hcw_process_noise: dt must be >= 0")
    m = max(1, int(np.ceil(n * dt / _GL_MAX_PANEL_RAD)))
    h = dt / m
    Q = np.zeros((6, 6))
    for p in range(m):
        a = p * h
        for k in range(_GL_NODES.shape[0]):
            s = a + 0.5 * h * (_GL_NODES[k] + 1.0)
            w = 0.5 * h * _GL_WEIGHTS[k]
            Phi = hcw_stm(n, s)
            for i in range(6):
                for j in range(i + 1):
                    Q[i, j] += w * (Phi[i, 3] * Phi[j, 3] + Phi[i, 4] * Phi[j, 4] + Phi[i, 5] * Phi[j, 5])
    for i in range(6):
        for j in range(i + 1):
            v = q_psd * Q[i, j]
            Q[i, j] = v
            Q[j, i] = v
    return Q


@njit(cache=True)
def ekf_update(x, P, z, R, gate_chi2, kind):
    """EKF update with one measurement of ``kind`` (``gnc.models.measurements``), chi-square gated,
    Joseph-form covariance.

    x (n,) [m, m/s(, m)], P (nxn), z (m,) in the kind's units, R (mxm) measurement covariance,
    gate_chi2: NIS threshold (e.g. chi2.ppf(0.9973, m); np.inf disables it).
    Innovation y = z - h(x), azimuth component wrapped to [-pi, pi); S = H P H' + R with H = dh/dx;
    NIS = y' S^-1 y. The update is applied only if NIS <= gate_chi2 (a NaN NIS or a non
    positive-definite S rejects); then K = P H' S^-1, x+ = x + K y,
    P+ = (I - K H) P (I - K H)' + K R K' (symmetrised).
    Geometry guard (angle kinds): if the horizontal distance is not above 3 horizontal position sigmas
    (``meas_geometry_ok``) the measurement is rejected with y, S = NaN and nis = inf.
    Returns (x+, P+, y (m,), S (mxm), nis, accepted); when rejected x+, P+ are the inputs x, P.
    """
    m = meas_dim(kind)
    if not meas_geometry_ok(kind, x, P):
        return x, P, np.full(m, np.nan), np.full((m, m), np.nan), np.inf, False
    zhat = meas_predict(kind, x)
    y = np.empty(m)
    for i in range(m):
        y[i] = z[i] - zhat[i]
    iw = meas_wrap_index(kind)
    if iw >= 0:
        y[iw] = wrap_angle(y[iw])
    H = meas_jacobian(kind, x)
    PHt = mm_bt(P, H)  # n x m
    S = mm(H, PHt)
    for i in range(m):
        for j in range(m):
            S[i, j] += R[i, j]
    symmetrise_inplace(S)
    Si, nis, ok = spd_inverse_nis(S, y)
    if not (ok and nis <= gate_chi2):
        return x, P, y, S, nis, False
    K = mm(PHt, Si)  # n x m
    nx = x.shape[0]
    xn = x.copy()
    for i in range(nx):
        for j in range(m):
            xn[i] += K[i, j] * y[j]
    IKH = -mm(K, H)
    for i in range(nx):
        IKH[i, i] += 1.0
    Pn = mm_bt(mm(IKH, P), IKH)
    KRKt = mm_bt(mm(K, R), K)
    for i in range(nx):
        for j in range(nx):
            Pn[i, j] += KRKt[i, j]
    symmetrise_inplace(Pn)
    return xn, Pn, y, S, nis, True


@njit(cache=True)
def ekf_update_rae(x, P, z, R, gate_chi2):
    """``ekf_update`` with a range/azimuth/elevation measurement z (3,) [m, rad, rad]."""
    return ekf_update(x, P, z, R, gate_chi2, MEAS_RAE)


@njit(cache=True)
def rel_from_rae_jacobian(z):
    """d r_CT_H / d[range, az, el] (3x3) at z = [range m, az rad, el rad]; see rel_from_rae."""
    rng, az, el = z[0], z[1], z[2]
    ca, sa, ce, se = np.cos(az), np.sin(az), np.cos(el), np.sin(el)
    J = np.empty((3, 3))
    J[0, 0], J[1, 0], J[2, 0] = -ce * ca, -ce * sa, -se
    J[0, 1], J[1, 1], J[2, 1] = rng * ce * sa, -rng * ce * ca, 0.0
    J[0, 2], J[1, 2], J[2, 2] = rng * se * ca, rng * se * sa, -rng * ce
    return J


@njit(cache=True)
def hcw_predict_matrices(n, dt, q_psd):
    """(Phi, Gam, Q) of the HCW model over dt (s): hcw_stm, hcw_input_matrix, hcw_process_noise."""
    return hcw_stm(n, dt), hcw_input_matrix(n, dt), hcw_process_noise(n, dt, q_psd)


def work_size(n):
    """Length of the work buffer of ``ekf_cycle_inplace`` for an n-state filter."""
    return n + n * n + 3 + n * n + 3 * n + n * n + 3 + 9


@njit(cache=True)
def work_views(w, n):
    """Views (x, P, u, Phi, Gam, Q, y, S) into the work buffer w (1-D, ``work_size(n)``).

    x (n,), P (nxn): the estimate. u (3,): acceleration held over the interval (m/s^2, H).
    Phi (nxn), Gam (nx3), Q (nxn): the discrete model of the next prediction interval.
    y (3,), S (3x3): innovation and its covariance of the last update (leading m entries).
    """
    o = 0
    x = w[o:o + n]
    o += n
    P = w[o:o + n * n].reshape((n, n))
    o += n * n
    u = w[o:o + 3]
    o += 3
    Phi = w[o:o + n * n].reshape((n, n))
    o += n * n
    Gam = w[o:o + 3 * n].reshape((n, 3))
    o += 3 * n
    Q = w[o:o + n * n].reshape((n, n))
    o += n * n
    y = w[o:o + 3]
    o += 3
    S = w[o:o + 9].reshape((3, 3))
    return x, P, u, Phi, Gam, Q, y, S


@njit(cache=True)
def ekf_cycle_inplace(w, n, do_predict, R, z0, z1, z2, gate_chi2, kind):
    """One filter cycle in place on the work buffer w (see ``work_views``): if do_predict,
    ``ekf_predict`` with the (Phi, Gam, u, Q) stored in w; then, if kind >= 0, ``ekf_update`` of
    z = [z0, z1, z2][:meas_dim(kind)] with covariance R, storing y and S (NaN-padded) in w.
    Returns (nis, accepted); (nan, False) when kind < 0 (predict only)."""
    x, P, u, Phi, Gam, Q, yw, Sw = work_views(w, n)
    if do_predict:
        xn, Pn = ekf_predict(x, P, Phi, Gam, u, Q)
        x[:] = xn
        P[:, :] = Pn
    if kind < 0:
        return np.nan, False
    m = meas_dim(kind)
    z = np.array((z0, z1, z2))[:m]
    xn, Pn, y, S, nis, accepted = ekf_update(x.copy(), P.copy(), z, R, gate_chi2, kind)
    yw[:] = np.nan
    Sw[:, :] = np.nan
    yw[:m] = y
    Sw[:m, :m] = S
    if accepted:
        x[:] = xn
        P[:, :] = Pn
    return nis, accepted
