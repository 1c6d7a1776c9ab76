"""Unscented Kalman filter kernels (additive noise, scaled sigma points of van der Merwe).

State x (n,) and covariance P (nxn) as in ``gnc.nav.ekf_kernels``; measurements are the kinds of
``gnc.models.measurements`` (the models the EKF linearises, used here unlinearised).
Sigma points (2n+1, n): X0 = x, X(1+i) = x + L[:, i], X(1+n+i) = x - L[:, i], L L' = (n + lam) P
(lower Cholesky), lam = alpha^2 (n + kappa) - n. Weights: Wm0 = lam / (n + lam),
Wc0 = Wm0 + 1 - alpha^2 + beta, Wm_i = Wc_i = 1 / (2 (n + lam)) (Julier & Uhlmann 2004;
van der Merwe 2004, as filterpy's MerweScaledSigmaPoints).
The update draws fresh sigma points from the predicted (x, P), so additive process noise is seen
by the measurement transform. Azimuth means are circular: Z0 + sum Wm_i wrap(Z_i - Z0).
"""

import numpy as np
from numba import njit

from gnc.models.measurements import default_layout, meas_dim, meas_geometry_ok, meas_predict_layout, meas_wrap_index
from gnc.models.rae import wrap_angle
from gnc.nav.linalg import cholesky, mm, mm_bt, spd_inverse_nis, symmetrise_inplace


@njit(cache=True)
def ukf_weights(n, alpha, beta, kappa):
    """(Wm (2n+1,), Wc (2n+1,), lam) of the scaled unscented transform for an n-state."""
    lam = alpha * alpha * (n + kappa) - n
    Wm = np.full(2 * n + 1, 0.5 / (n + lam))
    Wc = Wm.copy()
    Wm[0] = lam / (n + lam)
    Wc[0] = Wm[0] + 1.0 - alpha * alpha + beta
    return Wm, Wc, lam


@njit(cache=True)
def ukf_sigma_points(x, P, lam):
    """(X (2n+1, n), ok) sigma points of (x, P); ok=False when (n + lam) P is not positive definite."""
    n = x.shape[0]
    L, ok = cholesky((n + lam) * P)
    X = np.empty((2 * n + 1, n))
    for j in range(n):
        X[0, j] = x[j]
    for i in range(n):
        for j in range(n):
            X[1 + i, j] = x[j] + L[j, i]
            X[1 + n + i, j] = x[j] - L[j, i]
    return X, ok


@njit(cache=True)
def ukf_moments(Y, Wm, Wc, Q):
    """Weighted mean (n,) and covariance sum Wc (Y_i - mean)(Y_i - mean)' + Q (nxn, symmetrised) of the
    propagated sigma points Y (2n+1, n) (no angle components)."""
    k, n = Y.shape
    x = np.zeros(n)
    for i in range(k):
        for j in range(n):
            x[j] += Wm[i] * Y[i, j]
    P = Q.copy()
    for i in range(k):
        for a in range(n):
            da = Wc[i] * (Y[i, a] - x[a])
            for b in range(n):
                P[a, b] += da * (Y[i, b] - x[b])
    symmetrise_inplace(P)
    return x, P


@njit(cache=True)
def ukf_predict_linear(x, P, Phi, Gam, u, Q, Wm, Wc, lam):
    """Unscented prediction through the linear model X_i+ = Phi X_i + Gam u; returns (x+, P+, ok).
    Phi (nxn), Gam (nx3), u (3,) (m/s^2, H), Q (nxn) as ``ekf_kernels.ekf_predict`` (to which it is
    equal up to rounding: the unscented transform is exact for linear maps)."""
    X, ok = ukf_sigma_points(x, P, lam)
    if not ok:
        return x, P, False
    Gu = mm(Gam, u.reshape((-1, 1)))
    Y = mm_bt(X, Phi)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] += Gu[j, 0]
    xn, Pn = ukf_moments(Y, Wm, Wc, Q)
    return xn, Pn, True


@njit(cache=True)
def ukf_update(x, P, z, R, gate_chi2, kind, Wm, Wc, lam):
    """``ukf_update_layout`` with the layout inferred from len(x) (``measurements.default_layout``)."""
    return ukf_update_layout(x, P, z, R, gate_chi2, kind, Wm, Wc, lam, default_layout(x.shape[0]))


@njit(cache=True)
def ukf_update_layout(x, P, z, R, gate_chi2, kind, Wm, Wc, lam, lay):
    """Unscented update with one measurement of ``kind`` of the state with layout lay
    (``measurements.state_layout``), chi-square gated.

    x (n,), P (nxn), z (m,), R (mxm), gate_chi2: NIS threshold (np.inf disables it).
    Z_i = h(X_i); zbar = weighted (circular for the azimuth) mean; S = sum Wc dZ dZ' + R;
    Pxz = sum Wc dX dZ'; y = z - zbar (azimuth wrapped); NIS = y' S^-1 y; if NIS <= gate_chi2:
    K = Pxz S^-1, x+ = x + K y, P+ = P - K S K' (symmetrised). Same geometry guard as the EKF.
    Returns (x+, P+, y, S, nis, accepted); when rejected x+, P+ are the inputs x, P.
    """
    m = meas_dim(kind)
    X, ok = ukf_sigma_points(x, P, lam)
    if not (ok and meas_geometry_ok(kind, x, P)):
        return x, P, np.full(m, np.nan), np.full((m, m), np.nan), np.inf, False
    k, n = X.shape
    iw = meas_wrap_index(kind)
    Z = np.empty((k, m))
    for i in range(k):
        Z[i, :] = meas_predict_layout(kind, X[i], lay)
    zbar = np.zeros(m)
    for i in range(k):
        for j in range(m):
            d = Z[i, j] - Z[0, j]
            if j == iw:
                d = wrap_angle(d)
            zbar[j] += Wm[i] * d
    for j in range(m):
        zbar[j] += Z[0, j]
    if iw >= 0:
        zbar[iw] = wrap_angle(zbar[iw])
    dZ = np.empty((k, m))
    for i in range(k):
        for j in range(m):
            dZ[i, j] = Z[i, j] - zbar[j]
        if iw >= 0:
            dZ[i, iw] = wrap_angle(dZ[i, iw])
    S = R.copy()
    Pxz = np.zeros((n, m))
    for i in range(k):
        for a in range(m):
            wa = Wc[i] * dZ[i, a]
            for b in range(m):
                S[a, b] += wa * dZ[i, b]
            for b in range(n):
                Pxz[b, a] += wa * (X[i, b] - x[b])
    symmetrise_inplace(S)
    y = np.empty(m)
    for j in range(m):
        y[j] = z[j] - zbar[j]
    if iw >= 0:
        y[iw] = wrap_angle(y[iw])
    Si, nis, ok = spd_inverse_nis(S, y)
    if not (ok and nis <= gate_chi2):
        return x, P, y, S, nis, False
    K = mm(Pxz, Si)
    xn = x.copy()
    for i in range(n):
        for j in range(m):
            xn[i] += K[i, j] * y[j]
    Pn = P - mm_bt(mm(K, S), K)
    symmetrise_inplace(Pn)
    return xn, Pn, y, S, nis, True
