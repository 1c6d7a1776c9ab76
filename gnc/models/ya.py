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



_HZ_NODES, _HZ_WEIGHTS = np.polynomial.legendre.leggauss(4)


@njit(cache=True)
def _solve4(F, rhs):
    """Solution of F w = rhs for a 4x4 F and rhs (4, m), Gaussian elimination with partial pivoting."""
    M = np.empty((4, 4 + rhs.shape[1]))
    M[:, :4] = F
    M[:, 4:] = rhs
    for col in range(4):
        piv = col
        for r in range(col + 1, 4):
            if abs(M[r, col]) > abs(M[piv, col]):
                piv = r
        for j in range(M.shape[1]):
            M[col, j], M[piv, j] = M[piv, j], M[col, j]
        for r in range(col + 1, 4):
            f = M[r, col] / M[col, col]
            for j in range(col, M.shape[1]):
                M[r, j] -= f * M[col, j]
    W = np.empty((4, rhs.shape[1]))
    for j in range(rhs.shape[1]):
        for i in range(3, -1, -1):
            acc = M[i, 4 + j]
            for k in range(i + 1, 4):
                acc -= M[i, k] * W[k, j]
            W[i, j] = acc / M[i, i]
    return W


@njit(cache=True)
def _mm(A, B):
    """A @ B by loops (small matrices: cheaper than a BLAS call from numba)."""
    C = np.zeros((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for k in range(A.shape[1]):
            a = A[i, k]
            if a != 0.0:
                for j in range(B.shape[1]):
                    C[i, j] += a * B[k, j]
    return C


_YA_OF = np.array([1, 0, 3, 2])           # Hill tilde in-plane index [x~, y~, x~', y~'] -> YA index
_YA_SIGN = np.array([-1.0, 1.0, -1.0, 1.0])  # YA = [y~, -x~, y~', -x~']
_HILL_INPLANE = np.array([0, 1, 3, 4])


@njit(cache=True)
def ya_horizon_matrices(n, e, theta0, dt, steps, Phi, Gam):
    """Fill Phi (steps, 6, 6) and Gam (steps, 6, 3) with the YA discretisation of ``steps`` consecutive steps
    of dt (s) from the target's true anomaly theta0 (rad): x_{k+1} = Phi[k] x_k + Gam[k] u_k, u_k the
    acceleration (m/s^2, H) held over step k. Returns the true anomaly after the last step (rad).

    Same model as ya_predict_matrices (no noise integral), computed for a whole horizon at once: with the
    time origin of J at theta0, the in-plane STM of step k is F(t_k+1) F(t_k)^-1 (the fundamental matrix at
    each grid time computed and factorised once), and Gam by 4-point Gauss-Legendre quadrature per step
    (panels of at most 0.5 rad of mean anomaly) of F(t_k+1) F(s)^-1 [tilde input columns] / (k^2 rho(s)).
    """
    k2 = n / (1.0 - e * e) ** 1.5
    M0 = mean_from_true(theta0, e)
    panels = max(1, int(np.ceil(n * dt / 0.5)))
    h = dt / panels
    # columns of the YA in-plane state [x~, z~, x~', z~'] fed by a unit Hill tilde-rate x~' (-> -z~') and y~' (-> x~')
    Ein = np.zeros((4, 2))
    Ein[3, 0] = -1.0
    Ein[2, 1] = 1.0
    eye4 = np.eye(4)
    th_prev = theta0
    Finv_prev = _solve4(_fundamental_inplane(e, theta0, 0.0), eye4)
    for k in range(steps):
        t1 = (k + 1) * dt
        th1 = true_from_mean(M0 + n * t1, e)
        F1 = _fundamental_inplane(e, th1, k2 * t1)
        # in-plane STM in YA tilde axes, then to Hill tilde [x~, y~, x~', y~'] (YA = [y~, -x~, y~', -x~'])
        S = _mm(F1, Finv_prev)
        G = np.zeros((4, 2))   # int F(t1) F(s)^-1 Ein / (k^2 rho(s)) ds, YA axes
        Gz = np.zeros(2)       # out of plane: int [sin(th1 - th_s), cos(th1 - th_s)] / (k^2 rho(s)) ds
        for p in range(panels):
            for q in range(_HZ_NODES.shape[0]):
                s = k * dt + p * h + 0.5 * h * (_HZ_NODES[q] + 1.0)
                w = 0.5 * h * _HZ_WEIGHTS[q]
                ths = true_from_mean(M0 + n * s, e)
                c = w / (k2 * (1.0 + e * np.cos(ths)))
                G += c * _solve4(_fundamental_inplane(e, ths, k2 * s), Ein)
                Gz[0] += c * np.sin(th1 - ths)
                Gz[1] += c * np.cos(th1 - ths)
        G = _mm(F1, G)
        Finv_prev = _solve4(F1, eye4)
        # assemble in tilde Hill coordinates [x~, y~, z~, x~', y~', z~'], then back to [r, v]
        Pt = np.zeros((6, 6))
        Gt = np.zeros((6, 3))
        ya_of, sg, hid = _YA_OF, _YA_SIGN, _HILL_INPLANE
        for a in range(4):
            for b in range(4):
                Pt[hid[a], hid[b]] = sg[a] * sg[b] * S[ya_of[a], ya_of[b]]
            Gt[hid[a], 0] = sg[a] * G[ya_of[a], 0]
            Gt[hid[a], 1] = sg[a] * G[ya_of[a], 1]
        d = th1 - th_prev
        Pt[2, 2], Pt[2, 5], Pt[5, 2], Pt[5, 5] = np.cos(d), np.sin(d), -np.sin(d), np.cos(d)
        Gt[2, 2], Gt[5, 2] = Gz[0], Gz[1]
        Tf = _from_tilde(e, k2, th1)
        Phi[k] = _mm(_mm(Tf, Pt), _to_tilde(e, k2, th_prev))
        Gam[k] = _mm(Tf, Gt)
        th_prev = th1
    return th_prev
