"""Extended Kalman filter kernels: linear(ised) prediction, HCW process noise, thrust execution noise and
thrust-scale state, gated Joseph-form updates.

State x = [r_CT_H (m), v_CT_H (m/s)] (6,), optionally with the RAE sensor's biases [b_r (m)(, b_az, b_el
(rad))] as x[6:], then a thrust-scale error s (-), then an unmodelled acceleration d (m/s^2, 3), placed by
``gnc.models.measurements.state_layout``; Hill axes of ``gnc.frames`` (x radial, y along-track, z orbit
normal; rotating-frame velocity). Covariance P (nxn) in the same units.
Measurements: the kinds of ``gnc.models.measurements`` (range/azimuth/elevation, angles-only, relative
position, specific force).

``ekf_predict`` and ``ekf_update`` are pure: they never modify their inputs and return new arrays (a
rejected update returns the input x and P themselves). They wrap the allocation-free
``ekf_predict_inplace`` / ``ekf_update_inplace``, which ``ekf_step`` composes on the filter class's
work buffer (``work_views``) so that a whole cycle is one numba call that allocates (almost) nothing.
"""

import numpy as np
from numba import njit

from gnc.jit import kernel
from gnc.models.hcw import hcw_input_matrix, hcw_stm
from gnc.models.measurements import (
    LAY_I_SCALE,
    LAY_U,
    LAYOUT_LEN,
    MEAS_ACCEL,
    MEAS_RAE,
    default_layout,
    meas_dim,
    meas_geometry_ok,
    meas_jacobian_into,
    meas_predict_into,
    meas_wrap_index,
)
from gnc.models.rae import wrap_angle
from gnc.nav.linalg import cholesky_into, mm_into

# 8-point Gauss-Legendre rule on [-1, 1] (constants; exact for polynomials of degree <= 15).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
# Longest quadrature panel, in radians of orbital phase n*h. With 8 nodes the rule's remainder on a
# panel is below ~1e-22 relative for these trigonometric-polynomial integrands (see hcw_process_noise).
_GL_MAX_PANEL_RAD = 1.0
_EYE3 = np.eye(3)  # the input matrix that turns ``thrust_noise_add_inplace`` into the execution-error covariance


@kernel()
def ekf_predict_inplace(x, P, Phi, Gam, u, nu, Q, xs, T):
    """In place: x <- Phi x + Gam[:, :nu] u[:nu], P <- Phi P Phi' + Q (exactly symmetric, from its
    lower triangle); xs (n,), T (nxn) scratch. Shapes and units as ``ekf_predict``; Q symmetric.
    One compiled body each for the 6- and 10-state filters (the base one and the default scenario's), whose
    loops over n unroll (``_predict_n``). The 6-state one skips the zero blocks of an in-plane / out-of-plane
    decoupled Phi (HCW, Yamanaka-Ankersen: ``_planar``), else multiplies densely (without branches on the
    zeros of Phi: the interpreter between two calls leaves the branch predictor cold). Bit for bit the
    same as the dense sums."""
    n = x.shape[0]
    if n == 6 and _planar(Phi):
        _predict_n(x, P, Phi, Gam, u, nu, Q, xs, T, 6, _PLANAR)
    elif n == 6:
        _predict_n(x, P, Phi, Gam, u, nu, Q, xs, T, 6, _DENSE)
    elif n == 10:
        _predict_n(x, P, Phi, Gam, u, nu, Q, xs, T, 10, _SPARSE)
    else:
        _predict_n(x, P, Phi, Gam, u, nu, Q, xs, T, n, _SPARSE)


_DENSE, _SPARSE, _PLANAR = 0, 1, 2  # ``_predict_n``'s products


@kernel(inline='always')
def _planar(Phi):
    """True when the 6x6 Phi has no terms between the orbit plane (x, y, vx, vy) and the normal (z, vz)."""
    for i in (0, 1, 3, 4):
        if Phi[i, 2] != 0.0 or Phi[i, 5] != 0.0:
            return False
    for i in (2, 5):
        if Phi[i, 0] != 0.0 or Phi[i, 1] != 0.0 or Phi[i, 3] != 0.0 or Phi[i, 4] != 0.0:
            return False
    return True


@kernel(inline='always')
def _predict_n(x, P, Phi, Gam, u, nu, Q, xs, T, n, mode):
    """``ekf_predict_inplace`` for n states; mode _DENSE, _SPARSE (skip the zeros of Phi) or _PLANAR (n = 6:
    skip the blocks that ``_planar`` found zero). n and mode are constants at each call site."""
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += Phi[i, j] * x[j]
        for j in range(nu):
            acc += Gam[i, j] * u[j]
        xs[i] = acc
    for i in range(n):
        x[i] = xs[i]
    # T = Phi P, then P+ = Phi T' + Q (= Phi P Phi' + Q for a symmetric P); sparse: both skip the zeros of
    # Phi (HCW: 20 of 36 entries are non-zero; the bias, scale and d states: one a row)
    if mode == _SPARSE:
        mm_into(Phi, P, T, n, n, n)
        for i in range(n):  # lower triangle, mirrored
            for j in range(i + 1):
                P[i, j] = Q[i, j]
            for k in range(n):
                a = Phi[i, k]
                if a != 0.0:
                    for j in range(i + 1):
                        P[i, j] += a * T[j, k]
            for j in range(i):
                P[j, i] = P[i, j]
        return
    if mode == _PLANAR:  # the dense sums without their zero terms, in the same order
        for i in range(6):
            if i == 2 or i == 5:
                for j in range(6):
                    T[i, j] = (0.0 + Phi[i, 2] * P[2, j]) + Phi[i, 5] * P[5, j]
            else:
                for j in range(6):
                    T[i, j] = (((0.0 + Phi[i, 0] * P[0, j]) + Phi[i, 1] * P[1, j]) + Phi[i, 3] * P[3, j]
                               + Phi[i, 4] * P[4, j])
        for i in range(6):
            for j in range(i + 1):
                if i == 2 or i == 5:
                    acc = (Q[i, j] + Phi[i, 2] * T[j, 2]) + Phi[i, 5] * T[j, 5]
                else:
                    acc = (((Q[i, j] + Phi[i, 0] * T[j, 0]) + Phi[i, 1] * T[j, 1]) + Phi[i, 3] * T[j, 3]
                           + Phi[i, 4] * T[j, 4])
                P[i, j] = acc
                P[j, i] = acc
        return
    for i in range(n):  # dense: the same sums in the same order, zeros included
        for j in range(n):
            acc = 0.0
            for k in range(n):
                acc += Phi[i, k] * P[k, j]
            T[i, j] = acc
    for i in range(n):
        for j in range(i + 1):
            acc = Q[i, j]
            for k in range(n):
                acc += Phi[i, k] * T[j, k]
            P[i, j] = acc
            P[j, i] = acc


@njit(cache=True)
def ekf_predict(x, P, Phi, Gam, u, Q):
    """Linear prediction x+ = Phi x + Gam u, P+ = Phi P Phi' + Q (symmetrised).

    x (n,), P (n,n), Phi (n,n), Gam (n,m), u (m,), Q (n,n); units as the model's. Returns (x+, P+).
    For HCW: Phi = hcw_stm(n, dt), Gam = hcw_input_matrix(n, dt), u = acceleration (m/s^2, H)
    held over dt, Q = hcw_process_noise(n, dt, q_psd).
    """
    n = x.shape[0]
    xn, Pn = x.copy(), P.copy()
    ekf_predict_inplace(xn, Pn, Phi, Gam, u, u.shape[0], Q, np.empty(n), np.empty((n, n)))
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


@kernel()
def thrust_noise_add_inplace(P, Gam, u, scale_var, dir_var, input_var, T):
    """In place: P <- P + Q_thrust, Q_thrust = Gam Sa Gam' (exactly symmetric), the covariance of the
    state error that an execution error da of the held acceleration u causes when da is constant over the
    interval (zero mean, independent between intervals).

    Hill frame, u (3,) m/s^2 commanded acceleration held over the interval; Gam (nx3, rows beyond 6 zero)
    the model's input matrix of that interval (HCW: ``hcw_input_matrix``, -> [dt^2/2 I; dt I] for
    n dt -> 0). Sa = cov(da) = scale_var u u' + dir_var (|u|^2 I - u u'): a thrust magnitude error of
    1-sigma sqrt(scale_var) |u| along u (scale, mass error) and a pointing error of 1-sigma sqrt(dir_var)
    rad about each axis across u (misalignment), i.e. diag(scale_var, dir_var, dir_var) |u|^2 in axes
    (along u, across, across), plus input_var I ((m/s^2)^2 per axis, whatever u: the noise of a measured u, e.g.
    an accelerometer's mean over the interval). T (nxn, n >= 6) scratch. Nothing is added when input_var = 0
    and u = 0 or both other variances are 0."""
    u2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2]
    if input_var == 0.0 and (u2 == 0.0 or (scale_var == 0.0 and dir_var == 0.0)):
        return
    c = scale_var - dir_var
    n = P.shape[0]
    for i in range(n):  # T[:, :3] = Gam Sa, Sa formed on the fly
        g = c * (Gam[i, 0] * u[0] + Gam[i, 1] * u[1] + Gam[i, 2] * u[2])
        for k in range(3):
            T[i, k] = g * u[k] + (dir_var * u2 + input_var) * Gam[i, k]
    for i in range(n):
        for j in range(i + 1):
            acc = T[i, 0] * Gam[j, 0] + T[i, 1] * Gam[j, 1] + T[i, 2] * Gam[j, 2]
            P[i, j] += acc
            if j != i:
                P[j, i] += acc


@kernel()
def thrust_scale_coupling_inplace(x, P, Gam, u, Q, g, s):
    """In place, after ``ekf_predict_inplace`` over an interval with u held: the thrust-scale state x[s]
    (true acceleration (1 + x[s]) u, constant: Phi[s, s] = 1, no cross terms in Phi or Q). The full
    transition is F = Phi + g e_s' with g = Gam u (n,), so x+ = Phi x + Gam u + g s and
    P+ = F P F' + Q = P1 + g c' + c g' + c_s g g', with P1 = Phi P Phi' + Q (what P holds), c = Phi P e_s
    = P1[:, s] - Q[:, s] and c_s = c[s]. g (n,) scratch."""
    n = x.shape[0]
    for i in range(n):
        g[i] = Gam[i, 0] * u[0] + Gam[i, 1] * u[1] + Gam[i, 2] * u[2]
    xs = x[s]
    for i in range(n):
        x[i] += g[i] * xs
    cs = P[s, s] - Q[s, s]
    for i in range(n):  # lower triangle, mirrored; c[j] = P[j, s] except c[s] = cs (g[s] = 0)
        ci = cs if i == s else P[i, s]
        for j in range(i + 1):
            cj = cs if j == s else P[j, s]
            v = g[i] * cj + ci * g[j] + cs * g[i] * g[j]
            P[i, j] += v
            if j != i:
                P[j, i] += v


@kernel()
def accel_meas_cov_into(R, R0, u, scale_var, dir_var):
    """R[:3, :3] <- R0[:3, :3] + Sa: the covariance of a specific-force sample (m^2/s^4, H) is the sensor's R0
    plus the execution error of the commanded u (m/s^2) it is compared with, Sa = scale_var u u'
    + dir_var (|u|^2 I - u u') (``thrust_noise_add_inplace`` with Gam = I; the same error enters the process
    noise: the correlation between the two is neglected). R (>= 6 x 3) also holds scratch in rows 3-5."""
    for i in range(3):
        for j in range(3):
            R[i, j] = R0[i, j]
    thrust_noise_add_inplace(R[:3, :3], _EYE3, u, scale_var, dir_var, 0.0, R[3:6, :3])


@njit(cache=True)
def thrust_process_noise(Gam, u, scale_var, dir_var, input_var):
    """Q_thrust (nxn) of ``thrust_noise_add_inplace`` (pure form: a new array)."""
    n = Gam.shape[0]
    Q = np.zeros((n, n))
    thrust_noise_add_inplace(Q, Gam, u, scale_var, dir_var, input_var, np.empty((max(n, 6), max(n, 6))))
    return Q


# Pages (n x n each) of the scratch of ``ekf_update_inplace``.
UPDATE_SCRATCH_PAGES = 6


@kernel()
def ekf_update_inplace(x, P, z, R, gate_chi2, kind, lay, y, S, sc):
    """``ekf_update_layout`` in place: x, P updated only when accepted; y, S receive the innovation and its
    covariance (NaN on a geometry rejection). z, R, y, S may be larger than the measurement (leading
    m entries / m x m block used: whole pages of a work buffer keep numba's fast contiguous layout);
    sc (UPDATE_SCRATCH_PAGES, n, n): scratch. Returns (nis, accepted).

    One compiled body per measurement dimension m, and for 3 components one for the 6-state filter
    (``_update_m``): its loops over m (and n) unroll, and the 6-state one has no branches on H's zero columns
    (the velocity's: ~8 % faster called from Python, alternated A/B, 2 x 40 x 5000 calls)."""
    n = x.shape[0]
    if meas_dim(kind) == 2:
        return _update_m(x, P, z, R, gate_chi2, kind, lay, y, S, sc, 2, n, 0)
    if n == 6 and kind != MEAS_ACCEL:  # H's non-zero columns: r's (no bias states in 6)
        return _update_m(x, P, z, R, gate_chi2, kind, lay, y, S, sc, 3, 6, 3)
    return _update_m(x, P, z, R, gate_chi2, kind, lay, y, S, sc, 3, n, 0)


@kernel(inline='always')
def _update_m(x, P, z, R, gate_chi2, kind, lay, y, S, sc, m, n, cols):
    """``ekf_update_inplace`` for a measurement of m components and n states whose H is zero beyond its first
    cols columns; cols = 0 (sparse): H's all-zero columns found and skipped (m, n and cols constants at each
    call site).

    K = P H' S^-1 by Cholesky solves (S = L L'), NIS = |L^-1 y|^2. Joseph form as products:
    T = (I - K H) P = P - K (P H')', then P+ = T (I - K H)' + K R K' = T + G K' with G = K R - T H'
    (sparse: T H' over the non-zero columns of H only), lower triangle mirrored."""
    if not meas_geometry_ok(kind, x, P):
        for i in range(m):
            y[i] = np.nan
            for j in range(m):
                S[i, j] = np.nan
        return np.inf, False
    vec, H, PHt, K, T, G = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
    zhat, w, hc = vec[0, :m], vec[1, :m], vec[2]
    meas_predict_into(kind, x, lay, zhat)
    for i in range(m):
        y[i] = z[i] - zhat[i]
    iw = meas_wrap_index(kind)
    if iw >= 0:
        y[iw] = wrap_angle(y[iw])
    meas_jacobian_into(kind, x, lay, H[:m, :])
    sparse = cols == 0
    nh = cols  # sparse: hc holds the indices (as floats) of the nh columns of H that are not all zero
    if sparse:
        nh = 0
        for j in range(n):
            for i in range(m):
                if H[i, j] != 0.0:
                    hc[nh] = j
                    nh += 1
                    break
    for i in range(n):  # P H' (n x m)
        for j in range(m):
            PHt[i, j] = 0.0
        for c in range(nh):
            l = int(hc[c]) if sparse else c
            p = P[i, l]
            for j in range(m):
                PHt[i, j] += p * H[j, l]
    for i in range(m):  # S = H P H' + R, lower triangle mirrored
        for j in range(i + 1):
            acc = 0.0
            for c in range(nh):
                l = int(hc[c]) if sparse else c
                acc += H[i, l] * PHt[l, j]
            v = acc + R[i, j]
            S[i, j] = v
            S[j, i] = v
    Lc = T  # Cholesky factor in T's page (T is formed after K)
    if not cholesky_into(S, Lc, m):
        return np.inf, False
    idg = vec[3]  # 1 / L[i, i]
    for i in range(m):
        idg[i] = 1.0 / Lc[i, i]
    nis = 0.0
    for i in range(m):  # w = L^-1 y
        acc = y[i]
        for k in range(i):
            acc -= Lc[i, k] * w[k]
        w[i] = acc * idg[i]
        nis += w[i] * w[i]
    if not nis <= gate_chi2:
        return nis, False
    for r in range(n):  # row r of K solves S k = (P H')[r, :]: L a = PHt[r], L' k = a
        for i in range(m):
            acc = PHt[r, i]
            for k in range(i):
                acc -= Lc[i, k] * K[r, k]
            K[r, i] = acc * idg[i]
        for i in range(m - 1, -1, -1):
            acc = K[r, i]
            for k in range(i + 1, m):
                acc -= Lc[k, i] * K[r, k]
            K[r, i] = acc * idg[i]
    for i in range(n):
        for j in range(m):
            x[i] += K[i, j] * y[j]
    for i in range(n):  # T = P - K (P H')'
        for j in range(n):
            acc = 0.0
            for l in range(m):
                acc += K[i, l] * PHt[j, l]
            T[i, j] = P[i, j] - acc
    for i in range(n):  # G = K R - T H'
        for k in range(m):
            acc = 0.0
            for l in range(m):
                acc += K[i, l] * R[l, k]
            G[i, k] = acc
        for c in range(nh):
            l = int(hc[c]) if sparse else c
            t = T[i, l]
            for k in range(m):
                G[i, k] -= t * H[k, l]
    for i in range(n):  # P+ = T + G K', lower triangle mirrored
        for j in range(i + 1):
            acc = 0.0
            for k in range(m):
                acc += G[i, k] * K[j, k]
            v = T[i, j] + acc
            P[i, j] = v
            P[j, i] = v
    return nis, True


@njit(cache=True)
def ekf_update(x, P, z, R, gate_chi2, kind):
    """``ekf_update_layout`` with the layout inferred from len(x) (``measurements.default_layout``)."""
    return ekf_update_layout(x, P, z, R, gate_chi2, kind, default_layout(x.shape[0]))


@njit(cache=True)
def ekf_update_layout(x, P, z, R, gate_chi2, kind, lay):
    """EKF update with one measurement of ``kind`` (``gnc.models.measurements``) of the state with layout lay
    (``measurements.state_layout``; a MEAS_ACCEL sample's u in it), chi-square gated, Joseph-form covariance.

    x (n,) [m, m/s(, m)], P (nxn), z (m,) in the kind's units, R (mxm) measurement covariance,
    gate_chi2: NIS threshold (e.g. chi2.ppf(0.9973, m); np.inf disables it).
    Innovation y = z - h(x), azimuth component wrapped to [-pi, pi); S = H P H' + R with H = dh/dx;
    NIS = y' S^-1 y. The update is applied only if NIS <= gate_chi2 (a NaN NIS or a non
    positive-definite S rejects); then K = P H' S^-1, x+ = x + K y,
    P+ = (I - K H) P (I - K H)' + K R K' (exactly symmetric, from its lower triangle).
    Geometry guard (angle kinds): if the horizontal distance is not above 3 horizontal position sigmas
    (``meas_geometry_ok``) the measurement is rejected with y, S = NaN and nis = inf.
    Returns (x+, P+, y (m,), S (mxm), nis, accepted); when rejected x+, P+ are the inputs x, P.
    """
    m = meas_dim(kind)
    xn, Pn = x.copy(), P.copy()
    y, S = np.empty(m), np.empty((m, m))
    n = x.shape[0]
    nis, accepted = ekf_update_inplace(xn, Pn, z, R, gate_chi2, kind, lay, y, S,
                                       np.empty((UPDATE_SCRATCH_PAGES, n, n)))
    if not accepted:
        return x, P, y, S, nis, False
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


# The filter class's work buffer W: pages of n x n (n >= 6 states), sliced into views inside the
# kernels (a slice is free; a reshape or an allocation costs tens of ns each).
N_SLOTS = 4  # model slots: discrete models (Phi, Gam, Q) of up to this many interval lengths
PG_VEC, PG_P, PG_S = 0, 1, 2  # the state: rows of PG_VEC x (n), u (3), y (m); P (nxn); S (leading mxm)
N_STATE_PAGES = 3  # what a history snapshot keeps
PG_R = 3  # R of kind k (leading mxm) in page PG_R + k (MEAS_ACCEL: without the execution errors of u)
PG_GATE = PG_R + MEAS_ACCEL + 1  # row 0: NIS gate of each kind; row 1: thrust-noise variances (scale,
# direction), ``ekf_step_dt``'s refusal flag, the input variance; row 2: the state layout
# (``measurements.state_layout``, u of the MEAS_ACCEL sample); row 3: the interval (ns, NaN: none) whose model
# each slot holds
ROW_SLOT_DT = 3
PG_SLOT = PG_GATE + 1  # slot k: Phi, Gam (leading n x 3), Q in pages PG_SLOT + 3k + (0, 1, 2)
PG_SCRATCH = PG_SLOT + 3 * N_SLOTS  # rows of the first page: z (3), x scratch (n); then the update's; then R
N_PAGES = PG_SCRATCH + 2 + UPDATE_SCRATCH_PAGES


def new_work(n, R_by_kind, gate_by_kind, thrust_scale_var, thrust_dir_var, input_var, layout):
    """Work buffer (N_PAGES, n, n) of an n-state filter: zeros, y and S NaN, and the configuration
    R_by_kind {kind: R (mxm)}, gate_by_kind {kind: NIS gate}, the thrust-noise variances of
    ``thrust_noise_add_inplace`` (-, rad^2, (m/s^2)^2), layout: ``measurements.state_layout``'s vector."""
    W = np.zeros((N_PAGES, n, n))
    W[PG_VEC, 2, :3] = np.nan
    W[PG_S, :3, :3] = np.nan
    for kind, Rk in R_by_kind.items():
        m = Rk.shape[0]
        W[PG_R + kind, :m, :m] = Rk
    for kind, g in gate_by_kind.items():
        W[PG_GATE, 0, kind] = g
    W[PG_GATE, 1, 0], W[PG_GATE, 1, 1], W[PG_GATE, 1, 3] = thrust_scale_var, thrust_dir_var, input_var
    W[PG_GATE, 2, :LAYOUT_LEN] = layout
    W[PG_GATE, ROW_SLOT_DT, :N_SLOTS] = np.nan
    return W


@kernel()
def _predict_slot(W, slot):
    """``ekf_predict_inplace`` of W's state with the held u and the model in slot, plus the thrust execution
    noise of u (``thrust_noise_add_inplace``)."""
    x, u, P, sc = W[PG_VEC, 0], W[PG_VEC, 1], W[PG_P], W[PG_SCRATCH:]
    k = PG_SLOT + 3 * slot
    ekf_predict_inplace(x, P, W[k], W[k + 1], u, 3, W[k + 2], sc[0, 1], sc[1])
    i_s = int(W[PG_GATE, 2, LAY_I_SCALE])
    if i_s >= 0:
        thrust_scale_coupling_inplace(x, P, W[k + 1], u, W[k + 2], sc[0, 2], i_s)
    thrust_noise_add_inplace(P, W[k + 1], u, W[PG_GATE, 1, 0], W[PG_GATE, 1, 1], W[PG_GATE, 1, 3], sc[1])


@kernel()
def ekf_step(W, slot, kind, z0, z1, z2, slot2, u_next):
    """One filter cycle in place on the work buffer W (``new_work``): if slot >= 0, predict with the held u
    and the model in that slot (``_predict_slot``); then, if kind >= 0, ``ekf_update_inplace`` of
    z = [z0, z1, z2][:meas_dim(kind)] with the kind's R and gate, storing y and S (NaN-padded); then, if
    slot2 >= -1, hold the next acceleration u_next (3,) (m/s^2, H) as u and, if slot2 >= 0, predict with it
    and the model in slot2 (slot2 = -2: u unchanged, u_next not read). One call covers the executive's
    update + predict_to.

    A MEAS_ACCEL sample's u is read from the layout row (the caller writes it there); its R is the kind's
    page plus the execution-error covariance of u (``accel_meas_cov_into``).

    Returns the signed NIS (one float, no tuple to box): nis when accepted, -nis when rejected (a
    rejected NIS is > 0, inf or NaN, so accepted == (result >= 0)); NaN when kind < 0 (predict only).
    """
    if slot2 >= -1 and u_next.shape[0] != 3:
        raise ValueError("ekf_step: u_next (accel_H) must hold 3 values (m/s^2, H)")
    if slot >= 0:
        _predict_slot(W, slot)
    r = np.nan
    if kind >= 0:
        x, y, P, S = W[PG_VEC, 0], W[PG_VEC, 2], W[PG_P], W[PG_S]
        sc = W[PG_SCRATCH:]
        z = sc[0, 0]
        z[0] = z0
        z[1] = z1
        z[2] = z2
        for i in range(3):
            y[i] = np.nan
            for j in range(3):
                S[i, j] = np.nan
        lay, R = W[PG_GATE, 2], W[PG_R + kind]
        if kind == MEAS_ACCEL:
            R = sc[1 + UPDATE_SCRATCH_PAGES]
            accel_meas_cov_into(R, W[PG_R + kind], lay[LAY_U:LAY_U + 3], W[PG_GATE, 1, 0], W[PG_GATE, 1, 1])
        nis, accepted = ekf_update_inplace(x, P, z, R, W[PG_GATE, 0, kind], kind, lay, y, S,
                                           sc[1:1 + UPDATE_SCRATCH_PAGES])
        r = nis if accepted else -nis
    if slot2 >= -1:
        for i in range(3):
            W[PG_VEC, 1, i] = u_next[i]
        if slot2 >= 0:
            _predict_slot(W, slot2)
    return r


@kernel()
def ekf_step_dt(W, dt1_ns, kind, z0, z1, z2, dt2_ns, u_next):
    """``ekf_step`` with its predictions given as intervals (int ns) instead of slots: 0 = no prediction, else
    the slot holding that interval's model (row ROW_SLOT_DT). When an interval has no slot, W is left as it
    was, the refusal flag (W[PG_GATE, 1, 2]) set and NaN returned: the caller loads the model and retries."""
    s1, s2 = _slot_of(W, dt1_ns), _slot_of(W, dt2_ns)
    refused = s1 < -1 or s2 < -1
    W[PG_GATE, 1, 2] = 1.0 if refused else 0.0
    if refused:
        return np.nan
    return ekf_step(W, s1, kind, z0, z1, z2, s2, u_next)


@kernel(inline='always')
def _slot_of(W, dt_ns):
    """-1 for dt_ns = 0, the slot holding the model of dt_ns, or -2 when none does."""
    if dt_ns == 0:
        return -1
    for k in range(N_SLOTS):
        if W[PG_GATE, ROW_SLOT_DT, k] == dt_ns:
            return k
    return -2
