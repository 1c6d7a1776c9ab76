"""The fast path's sparse LDL' (gnc.control.ldl) and KKT polishing (gnc.control.polish) against numpy's dense
solve and a hand-solved QP."""

import numpy as np
import scipy.sparse as sp

from gnc.control.ldl import ldl_numeric, ldl_pattern, ldl_solve, ldl_symbolic, min_degree_order
from gnc.control.polish import KktPolisher


def _quasi_definite(rng, n, m, density):
    """[H, A'; A, -G] with H, G positive definite, random sparse A."""
    H = sp.random(n, n, density, random_state=rng)
    H = H @ H.T + sp.eye(n)
    A = sp.random(m, n, density, random_state=rng)
    return sp.bmat([[H, A.T], [A, -0.1 * sp.eye(m)]]).tocsc()


def test_ldl_solves_quasi_definite_systems_like_numpy():
    rng = np.random.default_rng(4)
    for n, m in ((5, 3), (40, 25), (120, 90)):
        K = _quasi_definite(rng, n, m, 0.08)
        nk = n + m
        coo = K.tocoo()
        perm = min_degree_order(nk, coo.row.astype(np.int64), coo.col.astype(np.int64))
        assert sorted(perm.tolist()) == list(range(nk))
        Kp = sp.triu(K[perm][:, perm]).tocsc()
        Kp.sort_indices()
        Ap, Ai = Kp.indptr.astype(np.int64), Kp.indices.astype(np.int64)
        parent, Lp = ldl_symbolic(nk, Ap, Ai)
        Li, Rp, Ri, Rpos = ldl_pattern(nk, Ap, Ai, Lp, parent)
        assert np.all(np.diff(Rp) == np.bincount(Li, minlength=nk))   # row k's entries: as many as Li names k
        Lx, D, y = np.empty(Lp[-1]), np.empty(nk), np.zeros(nk)
        assert ldl_numeric(nk, Ap, Ai, Kp.data, Lp, Li, Rp, Ri, Rpos, Lx, D, y)
        assert not np.any(y)   # the work array is left zero for the next factorisation
        assert np.sum(D > 0) == n and np.sum(D < 0) == m   # inertia of a quasi-definite matrix
        L = np.eye(nk)
        L[Li, np.repeat(np.arange(nk), np.diff(Lp))] = Lx
        np.testing.assert_allclose(L @ np.diag(D) @ L.T, K[perm][:, perm].toarray(), rtol=1e-12, atol=1e-12)
        b = rng.normal(size=nk)
        x = b[perm].copy()
        ldl_solve(nk, Lp, Li, Lx, D, x)
        sol = np.empty(nk)
        sol[perm] = x
        np.testing.assert_allclose(sol, np.linalg.solve(K.toarray(), b), rtol=1e-9, atol=1e-12)


def test_ldl_reports_a_zero_pivot():
    Ap, Ai = np.array([0, 1, 3], dtype=np.int64), np.array([0, 0, 1], dtype=np.int64)
    parent, Lp = ldl_symbolic(2, Ap, Ai)
    Li, Rp, Ri, Rpos = ldl_pattern(2, Ap, Ai, Lp, parent)
    Lx, D, y = np.empty(Lp[-1]), np.empty(2), np.zeros(2)
    assert not ldl_numeric(2, Ap, Ai, np.array([1.0, 1.0, 1.0]), Lp, Li, Rp, Ri, Rpos, Lx, D, y)   # [[1, 1], [1, 1]]
    assert not np.any(y)


def test_polish_finds_the_optimum_of_a_hand_solved_qp():
    """min 1/2 |z|^2 - z1 - z2  s.t.  z1 + z2 <= 1,  z1 >= 0,  z2 <= 5: optimum z = (1/2, 1/2), y = (1/2, 0, 0),
    polished from a rough ADMM-like guess."""
    A = sp.csc_matrix(np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    P = sp.csc_matrix(np.eye(2))
    Pt = (P.indptr.astype(np.int64), P.indices.astype(np.int64), P.data)
    q = np.array([-1.0, -1.0])
    l, u = np.array([-1e30, 0.0, -1e30]), np.array([1.0, 1e30, 5.0])
    pol = KktPolisher(Pt, A.indptr.astype(np.int64), A.indices.astype(np.int64), 3)
    assert pol.polish(A.indptr.astype(np.int64), A.data, Pt, q, l, u, np.array([0.48, 0.53]),
                      np.array([0.4, 0.0, 0.0]), 1.0)
    np.testing.assert_allclose(pol.x, [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(pol.y, [0.5, 0.0, 0.0], atol=1e-12)
