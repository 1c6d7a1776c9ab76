"""Allocation: a commanded Hill-frame acceleration to 3-axis thrust, or a body force and torque to the on-times
of body-mounted thrusters.

Thruster allocation (``allocate_thrusters``): each thruster i fires for t_i in [0, T] at the start of a
period T (pulse-width modulation), so its mean force over the period is F_i t_i / T along d_i (B) and its
mean torque F_i t_i / T (p_i x d_i) about the centre of mass (p_i: position from it, B). With duty u_i = t_i / T
the duties solve the ridge non-negative least-squares problem

    minimise 1/2 |W (A u - w)|^2 + eps/2 |u|^2,   u >= 0 (u_i = 0 for a thruster marked failed),

A (6, n) the wrench per full-duty thruster ([F_i d_i; F_i p_i x d_i]), w = [force N; torque N m] (B),
W = diag(1/force_scale x3, 1/torque_scale x3); the small ridge eps keeps opposing thrusters from firing
together (it costs duty without adding wrench). The duties are first a sparse solution (few thrusters,
long pulses, kind to the minimum impulse bit); when one would exceed 1 the minimum-norm solution (duty
spread over redundant thrusters) is taken, thrusters reaching full duty held at 1 and the others re-solved. Solver: Lawson & Hanson's
active-set NNLS (Solving Least Squares Problems, 1974, ch. 23), each passive-set solve done as
u_P = B_P^T (eps I + B_P B_P^T)^-1 b (a 6x6 system, well conditioned for any eps); deterministic, finite.
A demand beyond the thrusters' reach gets the minimum-norm duties (positively homogeneous in w) scaled
down as a whole: the wrench keeps its direction (saturation). Minimum impulse bit: a thruster
whose on-time falls below its minimum on-time min_on_s is set to 0 or to min_on_s (whichever is nearer)
and held there while the others are re-solved for the rest of the wrench, so every pulse fired is one the
valve can deliver.
"""

import numpy as np
from numba import njit

from gnc.nav.linalg import cholesky


@njit(cache=True)
def allocate_accel(a_cmd_H, a_max):
    """Per-axis saturated acceleration (m/s^2, H); a non-finite component becomes 0 (thruster off)."""
    out = np.zeros(3)
    for i in range(3):
        a = a_cmd_H[i]
        if np.isfinite(a):
            out[i] = min(max(a, -a_max), a_max)
    return out


def wrench_matrix(pos_B_m, dir_B, max_thrust_N):
    """(6, n): force (N) and torque (N m) in B of each thruster at full thrust; directions are normalised."""
    p = np.asarray(pos_B_m, dtype=np.float64).reshape(-1, 3)
    d = np.asarray(dir_B, dtype=np.float64).reshape(-1, 3)
    d = d / np.linalg.norm(d, axis=1)[:, None]
    F = np.broadcast_to(np.asarray(max_thrust_N, dtype=np.float64), (p.shape[0],))
    return np.vstack([(d * F[:, None]).T, (np.cross(p, d) * F[:, None]).T])


@njit(cache=True)
def _passive_solve(Bt, b, eps, passive, z, M, y):
    """z_P = B_P^T (eps I + B_P B_P^T)^-1 b on the passive set, 0 elsewhere (Bt = B^T, rows per thruster);
    M (m, m) and y (m,) are scratch. The m x m system is solved by Cholesky (eps > 0: positive definite)."""
    m = b.size
    for r in range(m):
        for c in range(m):
            M[r, c] = eps if r == c else 0.0
    for i in range(Bt.shape[0]):
        if passive[i]:
            for r in range(m):
                for c in range(r + 1):
                    M[r, c] += Bt[i, r] * Bt[i, c]
    for r in range(m):
        for c in range(r):
            M[c, r] = M[r, c]
    L = cholesky(M)[0]
    for r in range(m):  # L L^T y = b
        v = b[r]
        for k in range(r):
            v -= L[r, k] * y[k]
        y[r] = v / L[r, r]
    for r in range(m - 1, -1, -1):
        v = y[r]
        for k in range(r + 1, m):
            v -= L[k, r] * y[k]
        y[r] = v / L[r, r]
    for i in range(Bt.shape[0]):
        v = 0.0
        if passive[i]:
            for r in range(m):
                v += Bt[i, r] * y[r]
        z[i] = v


@njit(cache=True)
def ridge_nnls(Bt, b, eps, allowed, tol_rel):
    """argmin 1/2 |B u - b|^2 + eps/2 |u|^2 over u >= 0 with u_i = 0 where allowed[i] is False
    (Lawson-Hanson; Bt = B^T, contiguous). A thruster enters only if it lowers the cost at a rate above
    tol_rel (1 + max |b|): with tol_rel >> eps the result is a sparse basic solution (few thrusters, long
    pulses), with tol_rel << eps the ridge's minimum-norm one (duty spread over redundant thrusters)."""
    n = Bt.shape[0]
    u, z = np.zeros(n), np.zeros(n)
    passive = np.zeros(n, dtype=np.bool_)
    M, y = np.empty((b.size, b.size)), np.empty(b.size)
    tol = tol_rel * (1.0 + np.abs(b).max())
    for _ in range(3 * n):
        r = b - Bt.T @ u
        j, w_max = -1, tol
        for i in range(n):
            if allowed[i] and not passive[i]:
                w = Bt[i] @ r - eps * u[i]
                if w > w_max:
                    j, w_max = i, w
        if j < 0:
            break
        passive[j] = True
        for _ in range(n):
            _passive_solve(Bt, b, eps, passive, z, M, y)
            alpha = 1.0
            for i in range(n):
                if passive[i] and z[i] <= 0.0:
                    alpha = min(alpha, u[i] / (u[i] - z[i]))
            for i in range(n):
                u[i] += alpha * (z[i] - u[i])
            if alpha == 1.0:
                break
            for i in range(n):
                if passive[i] and u[i] <= 1e-15:
                    passive[i], u[i] = False, 0.0
    return u


@njit(cache=True)
def _saturated(Bt, b, eps, healthy):
    """Duties in [0, 1] for a demand some thruster cannot meet alone: spread the duty (minimum norm), hold the
    thrusters that reach full duty at 1 and re-solve the others for the rest, until it fits; if it cannot, the
    minimum-norm duties scaled down as a whole (the wrench keeps its direction)."""
    n = Bt.shape[0]
    spread = ridge_nnls(Bt, b, eps, healthy, 1e-3 * eps)
    u = spread.copy()
    full = np.zeros(n, dtype=np.bool_)
    for _ in range(n):
        if u.max() <= 1.0:
            return u
        for i in range(n):
            if u[i] >= 1.0:
                full[i], u[i] = True, 1.0
        v = ridge_nnls(Bt, b - Bt.T @ (1.0 * full), eps, healthy & ~full, 1e-3 * eps)
        for i in range(n):
            if not full[i]:
                u[i] = v[i]
        if np.abs(Bt.T @ u - b).max() > 1e-6 * (1.0 + np.abs(b).max()) and u.max() <= 1.0:
            break  # the rest does not fit: out of reach
    return spread / spread.max()


@njit(cache=True)
def _duties(Bt, b, eps, allowed):
    """Duties in [0, 1]: the sparse solution (few, long pulses: kind to minimum impulse bits), or, when it
    would exceed full duty, ``_saturated``'s."""
    u = ridge_nnls(Bt, b, eps, allowed, 1e3 * eps)
    return u if u.max() <= 1.0 else _saturated(Bt, b, eps, allowed)


@njit(cache=True)
def allocate_thrusters(A, wrench_B, period_s, min_on_s, healthy, force_scale_N, torque_scale_Nm, ridge):
    """On-times (s, (n,)) in [0, period_s] delivering the mean wrench_B = [force N; torque N m] (B) over the
    period (see module doc; ridge = eps). A: ``wrench_matrix``; min_on_s (n,): shortest pulse per thruster
    (minimum impulse bit / thrust); healthy (n,) bool: False thrusters stay off. Non-finite demands count
    as 0."""
    m, n = A.shape
    Bt = np.empty((n, m))
    b = np.empty(m)
    for k in range(m):
        w = 1.0 / force_scale_N if k < 3 else 1.0 / torque_scale_Nm
        b[k] = w * wrench_B[k] if np.isfinite(wrench_B[k]) else 0.0
        for i in range(n):
            Bt[i, k] = w * A[k, i]
    u = _duties(Bt, b, ridge, healthy)
    fixed = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        u_min = min_on_s[i] / period_s
        if 0.0 < u[i] < u_min:
            u[i] = u_min if u[i] >= 0.5 * u_min else 0.0
            fixed[i] = True
    if fixed.any():
        rest = b - Bt.T @ (u * fixed)
        v = _duties(Bt, rest, ridge, healthy & ~fixed)
        for i in range(n):
            if not fixed[i]:  # a re-solved duty below its minimum is dropped
                u[i] = v[i] if v[i] * period_s >= min_on_s[i] else 0.0
    return u * period_s
