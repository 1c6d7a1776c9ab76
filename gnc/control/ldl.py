"""Sparse LDL' factorisation of a symmetric quasi-definite matrix with a fixed pattern (numba).

The pattern is ordered once (minimum degree, min_degree_order) and analysed once (ldl_symbolic: elimination
tree and column counts; ldl_pattern: L's pattern and each row's elimination order); each new set of values
then costs one numeric factorisation (ldl_numeric, on that pattern: no tree walk) and triangular solves
(ldl_solve). The algorithm is the up-looking LDL' of T. Davis, "Algorithm 849: a concise
sparse Cholesky factorization package", ACM TOMS 31 (2005), as in QDLDL (OSQP's linear solver). A
quasi-definite matrix [H, A'; A, -G] (H, G positive definite) has an LDL' factorisation for every symmetric
permutation (Vanderbei 1995), so no pivoting is needed.

Matrices are given by their upper triangle (diagonal included) in CSC form, indices int64.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def min_degree_order(n, rows, cols):
    """Permutation (int64, perm[k] = the original index eliminated k-th) of the symmetric pattern with
    off-diagonal entries (rows[i], cols[i]): minimum degree on the explicit elimination graph (dense
    adjacency; for the few thousand unknowns of an MPC's KKT matrix, set-up time only). Ties: lowest index."""
    adj = np.zeros((n, n), dtype=np.bool_)
    for k in range(rows.shape[0]):
        i, j = rows[k], cols[k]
        if i != j:
            adj[i, j] = True
            adj[j, i] = True
    degree = np.zeros(n, dtype=np.int64)
    for i in range(n):
        degree[i] = np.sum(adj[i])
    done = np.zeros(n, dtype=np.bool_)
    perm = np.empty(n, dtype=np.int64)
    nb = np.empty(n, dtype=np.int64)
    for k in range(n):
        p, best = -1, n + 1
        for i in range(n):
            if not done[i] and degree[i] < best:
                p, best = i, degree[i]
        perm[k] = p
        done[p] = True
        cnt = 0
        for i in range(n):
            if adj[p, i]:
                nb[cnt] = i
                cnt += 1
                adj[p, i] = False
                adj[i, p] = False
                degree[i] -= 1
        for a in range(cnt):   # the eliminated node's neighbours become a clique
            ia = nb[a]
            for b in range(a + 1, cnt):
                ib = nb[b]
                if not adj[ia, ib]:
                    adj[ia, ib] = True
                    adj[ib, ia] = True
                    degree[ia] += 1
                    degree[ib] += 1
    return perm


@njit(cache=True)
def ldl_symbolic(n, Ap, Ai):
    """Elimination tree parent (int64, -1 at a root) and column pointers Lp of L for the upper-triangular
    CSC pattern (Ap, Ai) of an n x n matrix."""
    parent = np.full(n, -1, dtype=np.int64)
    lnz = np.zeros(n, dtype=np.int64)
    flag = np.full(n, -1, dtype=np.int64)
    for k in range(n):
        flag[k] = k
        for p in range(Ap[k], Ap[k + 1]):
            i = Ai[p]
            while i < k and flag[i] != k:
                if parent[i] == -1:
                    parent[i] = k
                lnz[i] += 1
                flag[i] = k
                i = parent[i]
    Lp = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        Lp[k + 1] = Lp[k] + lnz[k]
    return parent, Lp


@njit(cache=True)
def ldl_pattern(n, Ap, Ai, Lp, parent):
    """The pattern of L for ldl_numeric, from ldl_symbolic's (parent, Lp): Li (row indices of L's strictly lower
    part by columns, increasing) and, per row k, the columns i of its entries L[k, i] in the order the up-looking
    factorisation eliminates them (topological in the elimination tree): Rp (n + 1), Ri (column i) and Rpos (the
    entry's position in Li/Lx)."""
    nnz = Lp[n]
    Li = np.empty(nnz, dtype=np.int64)
    Rp = np.zeros(n + 1, dtype=np.int64)
    Ri = np.empty(nnz, dtype=np.int64)
    Rpos = np.empty(nnz, dtype=np.int64)
    pattern = np.empty(n, dtype=np.int64)
    flag = np.full(n, -1, dtype=np.int64)
    lnz = np.zeros(n, dtype=np.int64)
    r = 0
    for k in range(n):
        top = n
        flag[k] = k
        for p in range(Ap[k], Ap[k + 1]):
            i = Ai[p]
            if i > k:
                continue
            length = 0
            while flag[i] != k:
                pattern[length] = i
                length += 1
                flag[i] = k
                i = parent[i]
            while length > 0:
                top -= 1
                length -= 1
                pattern[top] = pattern[length]
        for t in range(top, n):
            i = pattern[t]
            p2 = Lp[i] + lnz[i]
            Li[p2] = k
            lnz[i] += 1
            Ri[r] = i
            Rpos[r] = p2
            r += 1
        Rp[k + 1] = r
    return Li, Rp, Ri, Rpos


@njit(cache=True)
def ldl_numeric(n, Ap, Ai, Ax, Lp, Li, Rp, Ri, Rpos, Lx, D, y):
    """Factor the matrix with upper-triangular CSC (Ap, Ai, Ax) as L D L' (L unit lower triangular, strictly
    lower part in (Lp, Li, Lx) by columns; D diagonal), Lx and D in place, on the pattern of ldl_pattern
    (Li, Rp, Ri, Rpos). y: work array (n,), zero on entry and on return. Returns False on a zero or non-finite
    pivot."""
    for k in range(n):
        for p in range(Ap[k], Ap[k + 1]):
            i = Ai[p]
            if i <= k:
                y[i] += Ax[p]
        dk = y[k]
        y[k] = 0.0
        for t in range(Rp[k], Rp[k + 1]):
            i = Ri[t]
            yi = y[i]
            y[i] = 0.0
            p2 = Rpos[t]
            for p in range(Lp[i], p2):
                y[Li[p]] -= Lx[p] * yi
            lki = yi / D[i]
            dk -= lki * yi
            Lx[p2] = lki
        if dk == 0.0 or not np.isfinite(dk):
            y[:] = 0.0
            return False
        D[k] = dk
    return True


@njit(cache=True)
def ldl_solve(n, Lp, Li, Lx, D, x):
    """Solve L D L' x = b in place (x holds b on entry)."""
    for j in range(n):
        xj = x[j]
        for p in range(Lp[j], Lp[j + 1]):
            x[Li[p]] -= Lx[p] * xj
    for j in range(n):
        x[j] /= D[j]
    for j in range(n - 1, -1, -1):
        acc = x[j]
        for p in range(Lp[j], Lp[j + 1]):
            acc -= Lx[p] * x[Li[p]]
        x[j] = acc
