"""Yamanaka-Ankersen (YA) linear relative motion about an eccentric Keplerian target orbit.

Reference: K. Yamanaka and F. Ankersen, "New state transition matrix for relative motion on an
arbitrary elliptical orbit", J. Guidance, Control, and Dynamics 25(1), 60-66, 2002 (the fundamental
matrix of the Tschauner-Hempel equations, their eqs. 80-83, written here in Hill axes).

State x = [r_CT_H (m), v_CT_H (m/s)] in the Hill frame of ``gnc.frames`` (x radial, y along-track,
z orbit normal; rotating-frame velocity), the same as ``gnc.models.hcw``; for e = 0 the STM equals
``hcw_stm``. Target orbit: mean motion n (rad/s), eccentricity e (0 <= e < 1), true anomaly theta (rad).
YA's own frame (x along-track, y = -orbit normal, z radial inward) is mapped onto H inside.
Transformed variables: rho = 1 + e cos theta, x~ = rho x, x~' = d x~/d theta
= -e sin(theta) x + xdot / (k^2 rho), k^2 = n / (1 - e^2)^1.5 (so theta_dot = k^2 rho^2).
Input u = chaser acceleration (m/s^2, H); Gam and the process noise Q are integrals of the STM,
computed by Gauss-Legendre quadrature on panels of at most 1 rad of mean anomaly.
"""

import numpy as np
from numba import njit

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
_GL_MAX_PANEL_RAD = 1.0


@njit(cache=True)
def true_from_mean(M, e):
    """True anomaly (rad) from mean anomaly M (rad) by Newton on Kepler's equation (e < 1)."""
    Mw = (M + np.pi) % (2 * np.pi) - np.pi
    E = Mw if e < 0.8 else np.pi * np.sign(Mw)
    for _ in range(50):
        dE = (E - e * np.sin(E) - Mw) / (1.0 - e * np.cos(E))
        E -= dE
        if abs(dE) < 1e-15:
            break
    theta = 2.0 * np.arctan2(np.sqrt(1.0 + e) * np.sin(0.5 * E), np.sqrt(1.0 - e) * np.cos(0.5 * E))
    return theta + (M - Mw)


@njit(cache=True)
def mean_from_true(theta, e):
    """Mean anomaly (rad) from true anomaly theta (rad), in the same revolution."""
    tw = (theta + np.pi) % (2 * np.pi) - np.pi
    E = 2.0 * np.arctan2(np.sqrt(1.0 - e) * np.sin(0.5 * tw), np.sqrt(1.0 + e) * np.cos(0.5 * tw))
    return E - e * np.sin(E) + (theta - tw)


@njit(cache=True)
def _fundamental_inplane(e, theta, J):
    """YA fundamental matrix (4x4) of the in-plane TH equations, YA axes, state [x~, z~, x~', z~']."""
    rho = 1.0 + e * np.cos(theta)
    s, c = rho * np.sin(theta), rho * np.cos(theta)
    sp = np.cos(theta) + e * np.cos(2 * theta)
    cp = -(np.sin(theta) + e * np.sin(2 * theta))
    F = np.empty((4, 4))
    F[0, 0], F[0, 1], F[0, 2], F[0, 3] = 1.0, -c * (1 + 1 / rho), s * (1 + 1 / rho), 3 * rho * rho * J
    F[1, 0], F[1, 1], F[1, 2], F[1, 3] = 0.0, s, c, 2 - 3 * e * s * J
    F[2, 0], F[2, 1], F[2, 2], F[2, 3] = 0.0, 2 * s, 2 * c - e, 3 * (1 - 2 * e * s * J)
    F[3, 0], F[3, 1], F[3, 2], F[3, 3] = 0.0, sp, cp, -3 * e * (sp * J + s / (rho * rho))
    return F


@njit(cache=True)
def _inv4(A):
    """Inverse of a 4x4 matrix by Gauss-Jordan elimination with partial pivoting."""
    M = np.zeros((4, 8))
    M[:, :4] = A
    for i in range(4):
        M[i, 4 + i] = 1.0
    for col in range(4):
        piv = col
        for r in range(col + 1, 4):
            if abs(M[r, col]) > abs(M[piv, col]):
                piv = r
        if piv != col:
            for j in range(8):
                M[col, j], M[piv, j] = M[piv, j], M[col, j]
        d = M[col, col]
        for j in range(8):
            M[col, j] /= d
        for r in range(4):
            if r != col:
                f = M[r, col]
                for j in range(8):
                    M[r, j] -= f * M[col, j]
    return M[:, 4:].copy()


@njit(cache=True)
def _to_tilde(e, k2, theta):
    """T (6x6): [x~ (m), x~' (m/rad)] = T [r_CT_H, v_CT_H], per Hill axis."""
    rho = 1.0 + e * np.cos(theta)
    T = np.zeros((6, 6))
    for i in range(3):
        T[i, i] = rho
        T[3 + i, i] = -e * np.sin(theta)
        T[3 + i, 3 + i] = 1.0 / (k2 * rho)
    return T


@njit(cache=True)
def _from_tilde(e, k2, theta):
    """Inverse of ``_to_tilde``: r = x~ / rho, v = k^2 (rho x~' + e sin(theta) x~)."""
    rho = 1.0 + e * np.cos(theta)
    T = np.zeros((6, 6))
    for i in range(3):
        T[i, i] = 1.0 / rho
        T[3 + i, i] = k2 * e * np.sin(theta)
        T[3 + i, 3 + i] = k2 * rho
    return T


@njit(cache=True)
def ya_stm(n, e, theta0, dt):
    """(Phi (6x6), theta1): YA state transition matrix of the free motion from true anomaly theta0
    (rad) over dt (s), and the target's true anomaly theta1 (rad) at the end. n: mean motion (rad/s)."""
    k2 = n / (1.0 - e * e) ** 1.5
    theta1 = true_from_mean(mean_from_true(theta0, e) + n * dt, e)
    J = k2 * dt
    # in-plane Hill tilde state [x~, y~, x~', y~'] -> YA [x~, z~, x~', z~'] = [y~, -x~, y~', -x~']
    E = np.zeros((4, 4))
    E[0, 1] = E[2, 3] = 1.0
    E[1, 0] = E[3, 2] = -1.0
    F = _fundamental_inplane(e, theta1, J) @ _inv4(_fundamental_inplane(e, theta0, 0.0))
    Fh = E.T @ F @ E
    Pt = np.zeros((6, 6))
    idx = np.array([0, 1, 3, 4])
    for a in range(4):
        for b in range(4):
            Pt[idx[a], idx[b]] = Fh[a, b]
    # out of plane: z~'' + z~ = 0
    d = theta1 - theta0
    Pt[2, 2], Pt[2, 5], Pt[5, 2], Pt[5, 5] = np.cos(d), np.sin(d), -np.sin(d), np.cos(d)
    return _from_tilde(e, k2, theta1) @ Pt @ _to_tilde(e, k2, theta0), theta1


@njit(cache=True)
def ya_predict_matrices(n, e, theta0, dt, q_psd):
    """(Phi, Gam, Q, theta1) of the YA model over dt (s) from true anomaly theta0 (rad).

    Phi = ya_stm; Gam (6x3) = int_0^dt Phi(t1, t0+s) B ds (acceleration u in m/s^2, H, held);
    Q (6x6) = q_psd int_0^dt Phi(t1, t0+s) B B' Phi(t1, t0+s)' ds for white acceleration noise of
    PSD q_psd (m^2/s^3) per Hill axis; B = [0; I3]. Composite 8-point Gauss-Legendre quadrature.
    """
    Phi, theta1 = ya_stm(n, e, theta0, dt)
    m = max(1, int(np.ceil(n * dt / _GL_MAX_PANEL_RAD)))
    h = dt / m
    M0 = mean_from_true(theta0, e)
    Gam = np.zeros((6, 3))
    Q = np.zeros((6, 6))
    for p in range(m):
        for k in range(_GL_NODES.shape[0]):
            s = p * h + 0.5 * h * (_GL_NODES[k] + 1.0)
            w = 0.5 * h * _GL_WEIGHTS[k]
            Ps, _ = ya_stm(n, e, true_from_mean(M0 + n * s, e), dt - s)
            for i in range(6):
                for j in range(3):
                    Gam[i, j] += w * Ps[i, 3 + j]
                for j in range(i + 1):
                    Q[i, j] += w * (Ps[i, 3] * Ps[j, 3] + Ps[i, 4] * Ps[j, 4] + Ps[i, 5] * Ps[j, 5])
    for i in range(6):
        for j in range(i + 1):
            Q[i, j] *= q_psd
            Q[j, i] = Q[i, j]
    return Phi, Gam, Q, theta1
