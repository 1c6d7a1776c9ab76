"""Polishing of an ADMM solution of min 1/2 z'Pz + q'z s.t. l <= Az <= u: the KKT system on its active set.

As OSQP's own polishing (Stellato et al., "OSQP: an operator splitting solver for quadratic programs",
Math. Prog. Comp. 2020, sec. 4), but on a KKT matrix whose pattern never changes, so that its ordering and
symbolic analysis are done once: row i of A is active at the lower bound when z_i - l_i < -y_i, at the upper
when u_i - z_i < y_i (y the ADMM multipliers, z = Ax + y / rho projected onto [l, u], ADMM's own z at a fixed
point; rows with l_i = u_i always), and the polished (x, y)
solves
    [P + dI   A'] [x]   [-q ]
    [A      -E ] [y] = [ b ]      E_ii = d, b_i = the active bound (active rows);  A_i = 0, E_ii = 1, b_i = 0
(inactive rows: y_i = 0 exactly), d a small regularisation removed again by iterative refinement against the
unregularised system. The matrix is quasi-definite, so its LDL' factorisation (gnc.control.ldl) needs no
pivoting. The caller checks the result (canonical.kkt_residuals): a wrong active-set guess fails there.
"""

import numpy as np
from numba import njit

from gnc.control.ldl import ldl_numeric, ldl_pattern, ldl_solve, ldl_symbolic, min_degree_order

POLISH_DELTA = 1e-6   # regularisation d (OSQP's polishing default)
REFINE_STOP = 1e-13   # refinement stops at a correction below this, relative to max(1, |solution|_inf)


class KktPolisher:
    """Set up for P (n x n, full symmetric, CSC (indptr, indices, data)) and A's pattern (m x n, CSC
    (indptr, indices)); polish() then takes A's values, q, l, u and an ADMM (x, y). refine_iter: iterative
    refinement steps."""

    def __init__(self, P, A_indptr, A_indices, m, refine_iter=3):
        P_ptr, P_idx, P_dat = P
        n = len(P_ptr) - 1
        self.n, self.m, self.refine_iter = n, m, int(refine_iter)
        P_col = np.repeat(np.arange(n), np.diff(P_ptr))
        A_col = np.repeat(np.arange(n), np.diff(A_indptr))
        upper = P_idx <= P_col
        # Contributions to K's upper triangle (original numbering): P's upper part, d on x's diagonal,
        # A' (entry (j, n + i) for A_ij), y's diagonal.
        rows = np.concatenate([P_idx[upper], np.arange(n), A_col, n + np.arange(m)]).astype(np.int64)
        cols = np.concatenate([P_col[upper], np.arange(n), n + A_indices, n + np.arange(m)]).astype(np.int64)
        nk = n + m
        perm = min_degree_order(nk, rows, cols)
        pinv = np.empty(nk, dtype=np.int64)
        pinv[perm] = np.arange(nk)
        a, b = pinv[rows], pinv[cols]
        key = np.maximum(a, b) * nk + np.minimum(a, b)   # column-major order of the permuted upper triangle
        keys, pos = np.unique(key, return_inverse=True)
        n_p, n_a = int(np.sum(upper)), len(A_indices)
        self._pos_P, self._pos_xd = pos[:n_p], pos[n_p:n_p + n]
        self._pos_A, self._pos_yd = pos[n_p + n:n_p + n + n_a], pos[n_p + n + n_a:]
        self._P_upper = P_dat[upper].copy()
        self._A_row = A_indices.astype(np.int64)
        self._Kp = np.searchsorted(keys // nk, np.arange(nk + 1)).astype(np.int64)
        self._Ki = (keys % nk).astype(np.int64)
        self._Kx = np.zeros(len(keys))
        self._perm = perm
        parent, self._Lp = ldl_symbolic(nk, self._Kp, self._Ki)
        self._Li, self._Rp, self._Ri, self._Rpos = ldl_pattern(nk, self._Kp, self._Ki, self._Lp, parent)
        self._Lx = np.empty(self._Lp[-1])
        self._ldl_work = np.zeros(nk)
        self._D = np.empty(nk)
        self._work = np.empty((4, nk))
        self._active = np.zeros(m, dtype=np.int64)
        self.x, self.y = np.zeros(n), np.zeros(m)   # the last polished solution

    def polish(self, A_indptr, A_data, P, q, l, u, x, y, rho):
        """Polish (x, y) (ADMM's primal and dual iterates, rho its step size on inequality rows) on the problem
        with A's values A_data, q, l, u; the result in self.x, self.y. Returns False when the factorisation
        failed."""
        self._last = (A_indptr, A_data, P)
        return polish_kkt(A_indptr, self._A_row, A_data, P[0], P[1], P[2], q, l, u, x, y, rho, self._P_upper,
                          self._pos_P, self._pos_xd, self._pos_A, self._pos_yd, self._perm, self._Kp, self._Ki,
                          self._Kx, self._Lp, self._Li, self._Rp, self._Ri, self._Rpos, self._Lx, self._D,
                          self._ldl_work, self._work, self._active,
                          self.refine_iter, self.x, self.y)

    def refine(self, steps):
        """steps more refinement steps of the last polish (same data); the result in self.x, self.y."""
        A_indptr, A_data, P = self._last
        return refine_kkt(A_indptr, self._A_row, A_data, P[0], P[1], P[2], self._active, self._perm, self._Lp,
                          self._Li, self._Lx, self._D, self._work, steps, self.x, self.y)


@njit(cache=True)
def _kkt_matvec(A_indptr, A_row, A_data, P_ptr, P_idx, P_dat, active, n, z, out):
    """out = K0 z, K0 the unregularised polishing matrix (module doc, d = 0)."""
    m = active.shape[0]
    out[:] = 0.0
    for i in range(m):
        if active[i] == 0:
            out[n + i] = -z[n + i]
    for j in range(n):
        acc = 0.0
        for k in range(P_ptr[j], P_ptr[j + 1]):
            acc += P_dat[k] * z[P_idx[k]]
        for k in range(A_indptr[j], A_indptr[j + 1]):
            i = A_row[k]
            if active[i] != 0:
                acc += A_data[k] * z[n + i]
                out[n + i] += A_data[k] * z[j]
        out[j] += acc


@njit(cache=True)
def polish_kkt(A_indptr, A_row, A_data, P_ptr, P_idx, P_dat, q, l, u, x, y, rho, P_upper, pos_P, pos_xd, pos_A, pos_yd,
               perm, Kp, Ki, Kx, Lp, Li, Rp, Ri, Rpos, Lx, D, ldl_work, work, active, refine_iter, x_out, y_out):
    """KktPolisher.polish's kernel: active set from (x, y), factorise, solve, refine; (x_out, y_out)."""
    n, m = x.shape[0], l.shape[0]
    nk = n + m
    rhs, sol, tmp, corr = work[0], work[1], work[2], work[3]
    z = tmp[:m]
    z[:] = 0.0
    for j in range(n):
        for k in range(A_indptr[j], A_indptr[j + 1]):
            z[A_row[k]] += A_data[k] * x[j]
    for i in range(m):   # ADMM's z: the projection of Ax + y / rho onto [l, u]
        z[i] = min(max(z[i] + y[i] / rho, l[i]), u[i])
    for i in range(m):
        if l[i] == u[i] or z[i] - l[i] < -y[i]:
            active[i] = -1
            rhs[n + i] = l[i]
        elif u[i] - z[i] < y[i]:
            active[i] = 1
            rhs[n + i] = u[i]
        else:
            active[i] = 0
            rhs[n + i] = 0.0
    for j in range(n):
        rhs[j] = -q[j]
    Kx[:] = 0.0
    for k in range(pos_P.shape[0]):
        Kx[pos_P[k]] += P_upper[k]
    for j in range(n):
        Kx[pos_xd[j]] += POLISH_DELTA
    for k in range(pos_A.shape[0]):
        if active[A_row[k]] != 0:
            Kx[pos_A[k]] += A_data[k]
    for i in range(m):
        Kx[pos_yd[i]] = -POLISH_DELTA if active[i] != 0 else -1.0
    if not ldl_numeric(nk, Kp, Ki, Kx, Lp, Li, Rp, Ri, Rpos, Lx, D, ldl_work):
        return False
    for k in range(nk):
        tmp[k] = rhs[perm[k]]
    ldl_solve(nk, Lp, Li, Lx, D, tmp)
    for k in range(nk):
        sol[perm[k]] = tmp[k]
    return refine_kkt(A_indptr, A_row, A_data, P_ptr, P_idx, P_dat, active, perm, Lp, Li, Lx, D, work, refine_iter,
                      x_out, y_out)


@njit(cache=True)
def refine_kkt(A_indptr, A_row, A_data, P_ptr, P_idx, P_dat, active, perm, Lp, Li, Lx, D, work, steps, x_out, y_out):
    """Up to steps of iterative refinement of polish_kkt's solution (work[1]): the residual of the unregularised
    system, corrected with the regularised factor, until a correction is below REFINE_STOP relative; the result
    in (x_out, y_out). Returns True when finite."""
    n = x_out.shape[0]
    nk = work.shape[1]
    rhs, sol, tmp, corr = work[0], work[1], work[2], work[3]
    for _ in range(steps):
        _kkt_matvec(A_indptr, A_row, A_data, P_ptr, P_idx, P_dat, active, n, sol, tmp)
        for k in range(nk):
            tmp[k] = rhs[k] - tmp[k]
        for k in range(nk):
            corr[k] = tmp[perm[k]]
        ldl_solve(nk, Lp, Li, Lx, D, corr)
        size = 1.0
        step = 0.0
        for k in range(nk):
            sol[perm[k]] += corr[k]
            size = max(size, abs(sol[perm[k]]))
            step = max(step, abs(corr[k]))
        if step <= REFINE_STOP * size:   # converged to round-off
            break
    for j in range(n):
        x_out[j] = sol[j]
    for i in range(nk - n):
        y_out[i] = sol[n + i]
    return np.all(np.isfinite(sol))
