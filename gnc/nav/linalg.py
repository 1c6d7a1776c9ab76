"""Small dense linear algebra for the filter kernels, written as loops so that no BLAS/LAPACK is
needed (numba's ``@`` and ``np.linalg`` would pull in scipy).

Each ``*_into`` function writes its result into caller-provided arrays (the filter's hot path
allocates nothing); the allocating form wraps it.
"""

import numpy as np
from numba import njit

from gnc.jit import kernel


@kernel(inline='always')
def mm_into(A, B, C, m, k, p):
    """C[:m, :p] <- A[:m, :k] @ B[:k, :p] for small dense matrices (C must not alias A or B; leading
    blocks, so that whole pages of a work buffer can be passed); zero entries of A are skipped."""
    for i in range(m):
        for j in range(p):
            C[i, j] = 0.0
        for l in range(k):
            a = A[i, l]
            if a != 0.0:
                for j in range(p):
                    C[i, j] += a * B[l, j]


@njit(cache=True)
def mm(A, B):
    """A @ B for small dense matrices."""
    C = np.empty((A.shape[0], B.shape[1]))
    mm_into(A, B, C, A.shape[0], A.shape[1], B.shape[1])
    return C


@njit(cache=True)
def mm_bt(A, B):
    """A @ B.T for small dense matrices."""
    m, k = A.shape
    p = B.shape[0]
    C = np.empty((m, p))
    for i in range(m):
        for j in range(p):
            acc = 0.0
            for l in range(k):
                acc += A[i, l] * B[j, l]
            C[i, j] = acc
    return C


@njit(cache=True)
def symmetrise_inplace(M):
    """M <- (M + M') / 2, exactly symmetric afterwards."""
    m = M.shape[0]
    for i in range(m):
        for j in range(i):
            v = 0.5 * (M[i, j] + M[j, i])
            M[i, j] = v
            M[j, i] = v


@kernel()
def cholesky_into(S, L, m):
    """L[:m, :m] <- lower Cholesky factor of the leading m x m block of a symmetric S (arrays may be
    larger: full pages of a work buffer keep numba's fast contiguous layout); False (L partial) if
    that block is not positive definite."""
    for i in range(m):
        for j in range(m):
            L[i, j] = 0.0
    for j in range(m):
        d = S[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not (d > 0.0 and np.isfinite(d)):
            return False
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, m):
            acc = S[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            L[i, j] = acc / L[j, j]
    return True


@njit(cache=True)
def cholesky(S):
    """Lower Cholesky factor of a small symmetric matrix; (L, ok), ok=False if not positive definite."""
    L = np.empty_like(S)
    ok = cholesky_into(S, L, S.shape[0])
    return L, ok


@njit(cache=True)
def spd_inverse_nis(S, y):
    """(S^-1, y' S^-1 y, ok) for a small symmetric S by Cholesky; ok=False (NaN results) when S is
    not positive definite or y is not finite (NaN nis)."""
    m = S.shape[0]
    L, ok = cholesky(S)
    if not ok:
        return np.full((m, m), np.nan), np.inf, False
    w = np.empty(m)
    nis = 0.0
    for i in range(m):
        acc = y[i]
        for k in range(i):
            acc -= L[i, k] * w[k]
        w[i] = acc / L[i, i]
        nis += w[i] * w[i]
    # S^-1 = L^-T L^-1 from the lower-triangular inverse.
    Li = np.zeros((m, m))
    for j in range(m):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, m):
            acc = 0.0
            for k in range(j, i):
                acc -= L[i, k] * Li[k, j]
            Li[i, j] = acc / L[i, i]
    Si = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            acc = 0.0
            for k in range(max(i, j), m):
                acc += Li[k, i] * Li[k, j]
            Si[i, j] = acc
    return Si, nis, True
