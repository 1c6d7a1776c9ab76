"""Fast path for a parametrised cvxpy QP: its canonical problem data, solved by one OSQP instance.

cvxpy states the problem once (DPP, ``cp.Parameter`` for every datum that changes); this module
takes the affine map from parameters to solver data that cvxpy's ``get_problem_data`` generates and
re-evaluates it every solve with one sparse mat-vec, instead of running cvxpy's solve path.

Canonical data (cvxpy's ``ParamConeProg``, the OSQP target). Parameter vector theta: every parameter
flattened column-major at its ``param_id_to_col`` offset, a constant 1 last. With n variables, m
constraints of which m_eq are equalities:
    q = T_q[:n] theta,  d = T_q[n] theta               (objective 1/2 z'Pz + q'z + d)
    [AF | b] (m x (n+1)): entry (i, j) = row j*m + i of T_A times theta
    AF z + b = 0 (rows < m_eq),  AF z + b >= 0 (rows >= m_eq)
    P = T_P (column-major, n x n); required parameter-free here.
OSQP form (cvxpy's QpSolver and OSQP interface, reproduced here):
    A = [AF_eq; -AF_ineq],  l = [-b_eq; -inf],  u = [-b_eq; b_ineq]
except that a two-sided pair, inequality rows i < j with AF_j = -AF_i, both free of parameters and
consistent (-b_j <= b_i; e.g. a box bound -1 <= u <= 1, which cvxpy states as two rows), is one OSQP row:
-b_j <= -AF_i z <= b_i (a smaller KKT system for ADMM and polishing; its multiplier is y_i - y_j).
At construction cvxpy's own OSQP interface (``chain.solver.solve_via_data`` with a solver cache)
sets an OSQP instance up from data evaluated at generic (pseudo-random) parameter values, so that
every structurally non-zero entry of A is stored; the stored pattern is checked against the
tensor's. (OSQP is a requirement of cvxpy; flight code reaches it through cvxpy and imports neither
osqp nor scipy.) A caller writes parameter values straight into theta (param_view) and calls
solve_current, or passes them as a dict (solve). Each solve evaluates the data in one numba kernel.
Accuracy comes from polishing (gnc.control.polish: the KKT system on a guessed active set, on a pattern ordered
and analysed once at construction; OSQP's own polishing, which redoes that every solve, is off), checked here:
the polished solution must pass a KKT check (feasibility, stationarity, multiplier signs). A receding-horizon
caller (horizon given, shift=True) first polishes on the last verified solution's active set, primal and dual
advanced by one step: when that passes the check, OSQP is not run at all (on the default mission 99 % of warm
cycles). Otherwise OSQP gets q, l, u, and the parametric entries of A when they changed (that costs it a numeric
refactorisation), warm-starts from that shifted solution (from zero after a failure; else from its own last
iterate, or the last solution if that is newer), runs ADMM to a coarse tolerance and polishes on ADMM's active
set; when the check fails ADMM continues to the next, finer tolerance of a ladder (CanonicalQP).
"""

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from numba import njit

from gnc.control.polish import KktPolisher

# OSQP settings of the fast path (CanonicalQP); callers may override any of them. The caller
# non-dimensionalises the problem, so OSQP's own (Ruiz) scaling is off: it would also cost a
# re-equilibration on every update of A. rho adapts at a fixed iteration interval, which keeps the
# iterates (and so a closed loop) deterministic; OSQP's default interval (0) adapts on wall-clock time.
# rho = 0.1 and a termination check every 3rd iteration: measured on the default mission at N = 40 (replayed,
# shifted warm start) -25 % CPU per solve against rho = 1 checked every iteration. "polishing" and
# "polish_refine_iter" (refinement steps, stopping early at round-off) set CanonicalQP's own polishing.
DEFAULT_OSQP_OPTIONS = {
    "polishing": True, "polish_refine_iter": 3, "max_iter": 4000,
    "scaling": 0, "rho": 0.1, "adaptive_rho": True, "adaptive_rho_interval": 25, "check_termination": 3,
}
# ADMM tolerances (eps_abs = eps_rel), coarse to fine, tried in turn until the polished solution
# passes the KKT check (see CanonicalQP). On the default mission 3e-2 passes in ~97 % of cycles.
DEFAULT_LADDER = (3e-2, 1e-3, 1e-4, 1e-5, 1e-6)
_OSQP_SOLVED = 1  # OSQP's status_val for 'solved'
# Refinement steps (at most; they stop at round-off) added to a polished solution that failed the KKT check,
# before the next rung: one step, the default polish_refine_iter, suffices in warm cycles; cold starts need up to
# ~30 (regularised and exact KKT matrices then differ more).
_EXTRA_REFINE = 40
# Polishing passes of the active-set warm start (CanonicalQP.solve_current) before ADMM takes over.
_ACTIVE_SET_STEPS = 3


@njit(cache=True)
def csr_matvec(indptr, indices, data, x, out):
    """out = M x for M in CSR form (indptr, indices, data); out is overwritten."""
    for i in range(out.shape[0]):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * x[indices[k]]
        out[i] = acc


@njit(cache=True)
def canonical_data(M_indptr, M_indices, M_data, theta, v, b_start, m_eq, l, u, a_start, ax_idx, ax, ax_sent):
    """Canonical data at theta: v = M theta (module doc's stacked map; b from v[b_start], A's CSC data from
    v[a_start]); l, u: OSQP's bounds, rows >= m_eq (inequalities) of l left as they are; ax = A's parametric
    entries (A data at ax_idx). Returns True when ax differs from ax_sent (the values OSQP holds)."""
    csr_matvec(M_indptr, M_indices, M_data, theta, v)
    for i in range(m_eq):
        l[i] = -v[b_start + i]
        u[i] = l[i]
    for i in range(m_eq, u.shape[0]):
        u[i] = v[b_start + i]
    changed = False
    for k in range(ax_idx.shape[0]):
        a = v[a_start + ax_idx[k]]
        changed |= a != ax_sent[k]
        ax[k] = a
    return changed


@njit(cache=True)
def objective(P_indptr, P_indices, P_data, q, z):
    """1/2 z'Pz + q'z (P in CSC form)."""
    acc = 0.0
    for j in range(q.shape[0]):
        Pz = 0.0
        for k in range(P_indptr[j], P_indptr[j + 1]):
            Pz += P_data[k] * z[P_indices[k]]
        acc += (0.5 * Pz + q[j]) * z[j]
    return acc


@njit(cache=True)
def kkt_residuals(A_indptr, A_indices, A_data, P_indptr, P_indices, P_data, q, l, u, z, y):
    """Relative optimality residuals of z (primal) and y (dual) for min 1/2 z'Pz + q'z s.t. l <= Az <= u.

    A and P (full symmetric) in CSC form. OSQP's sign convention: y_i > 0 for an active upper
    bound, y_i < 0 for an active lower bound. Returns (primal, dual, complementarity), infinity
    norms: the bound violation of Az over max(1, |Az|); Pz + q + A'y over max(1, |Pz|, |q|, |A'y|);
    and per row min(|y_i|, distance of A_i z from the bound that y_i's sign claims active) over
    max(1, |y|, |Az|) -- non-zero when a multiplier has the wrong sign or sits on an inactive
    constraint. (Relative, as OSQP's own criteria: scaling the cost or a row leaves them unchanged.)
    """
    n = q.shape[0]
    m = l.shape[0]
    Az = np.zeros(m)
    dual = 0.0
    dual_scale = 1.0
    for j in range(n):
        Pz = 0.0
        for k in range(P_indptr[j], P_indptr[j + 1]):
            Pz += P_data[k] * z[P_indices[k]]
        Aty = 0.0
        zj = z[j]
        for k in range(A_indptr[j], A_indptr[j + 1]):
            i = A_indices[k]
            Az[i] += A_data[k] * zj
            Aty += A_data[k] * y[i]
        dual = max(dual, abs(Pz + q[j] + Aty))
        dual_scale = max(dual_scale, abs(Pz), abs(q[j]), abs(Aty))
    prim = 0.0
    compl = 0.0
    prim_scale = 1.0
    scale = 1.0
    for i in range(m):
        prim = max(prim, Az[i] - u[i], l[i] - Az[i])
        prim_scale = max(prim_scale, abs(Az[i]))
        scale = max(scale, abs(Az[i]), abs(y[i]))
        if y[i] > 0.0:
            compl = max(compl, min(y[i], u[i] - Az[i]))
        elif y[i] < 0.0:
            compl = max(compl, min(-y[i], Az[i] - l[i]))
    return prim / prim_scale, dual / dual_scale, compl / scale


def _csr_parts(matrix):
    """(indptr int64, indices int64, data float64) of a sparse matrix given by cvxpy, zeros dropped."""
    m = matrix.tocsr(copy=True)
    m.eliminate_zeros()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float64)


def _shift_index(offsets, shapes, size, horizon):
    """Index i such that z[i] is z advanced by one step: in each block (offset, shape; column-major) whose
    first axis has horizon or horizon + 1 entries, entry k takes entry k + 1 (the last keeps its own)."""
    idx = np.arange(size)
    for off, shape in zip(offsets, shapes):
        if len(shape) >= 1 and shape[0] in (horizon, horizon + 1):
            k = np.arange(int(np.prod(shape))).reshape(shape, order="F")
            k[:-1] = k[1:].copy()
            idx[off:off + k.size] = off + k.ravel(order="F")
    return idx


def _constant_entry(ptr, idx, dat, row, const_col):
    """Value of tensor row `row` (CSR parts) when it does not depend on a parameter (0.0 when empty), else None."""
    lo, hi = ptr[row], ptr[row + 1]
    if np.any(idx[lo:hi] != const_col):
        return None
    return float(dat[lo]) if hi > lo else 0.0


def _two_sided_pairs(a_i, a_j, param_dep, a_val, b_const, m_eq):
    """Inequality rows AF_i z + b_i >= 0 and AF_j z + b_j >= 0 (i < j) with AF_j = -AF_i, both parameter-free
    and -b_j <= b_i: {i: j}. (a_i, a_j, a_val: AF's entries by row, column, value; param_dep: entries that
    depend on a parameter; b_const: row -> b_i, None when it depends on one.)"""
    entries = {}
    dep_rows = set(a_i[param_dep].tolist())
    for i, j, v in zip(a_i.tolist(), a_j.tolist(), a_val.tolist()):
        if i >= m_eq and i not in dep_rows and b_const[i] is not None:
            entries.setdefault(i, []).append((j, v))
    first = {}
    for i, e in entries.items():
        first.setdefault(tuple(e), []).append(i)
    pairs, used = {}, set()
    for i, e in entries.items():
        if i in used:
            continue
        for j in first.get(tuple((c, -v) for c, v in e), []):
            if j > i and j not in used and -b_const[j] <= b_const[i]:
                pairs[i] = j
                used.update((i, j))
                break
    return pairs


def _nonzero_rows(indptr):
    return np.flatnonzero(np.diff(indptr) > 0)


@dataclass(frozen=True)
class QpSolution:
    """One solve. values: variable -> array of its shape (empty when not ok); status: cvxpy's
    status string for OSQP's outcome; ok: status 'optimal' with a finite solution; verified: the
    solution passed the KKT check (relative primal, dual, complementarity residuals <= kkt_tol); cost:
    objective value (NaN when not ok); solve_ms: OSQP's own run time (ms) over all rungs
    (its updates and ADMM; the polishing and KKT check are not in it: time the whole cycle with an injected
    clock, as RelativeMPC.compute_ms does); iterations: ADMM iterations over all solves; solves: OSQP
    solves (rungs of the tolerance ladder tried; 0 when the shifted active set passed the check)."""

    values: dict
    status: str
    ok: bool
    verified: bool
    cost: float
    solve_ms: float
    iterations: int
    solves: int


class CanonicalQP:
    """One DPP cvxpy QP solved repeatedly through its canonical data (see module doc).

    problem: a DPP ``cp.Problem`` that cvxpy can send to OSQP (affine constraints, convex quadratic
    objective) whose quadratic cost does not depend on parameters. variables: the variables whose
    values ``solve`` returns. osqp_options: OSQP settings overriding DEFAULT_OSQP_OPTIONS;
    ladder: ADMM tolerances (eps_abs = eps_rel), coarse to fine; kkt_tol: tolerance of the
    (relative) KKT check, see kkt_residuals. seed: of the generic parameter values used to set OSQP up
    (only their non-zero pattern matters). horizon: N of a receding-horizon problem, enabling the
    shifted warm start (every variable and constraint block whose first axis has N or N + 1 entries is
    taken as step-indexed). Raises ValueError if the problem does not fit.

    Each solve: on a shifted warm start, polishing on the last solution's shifted active set first, accepted when
    it passes the KKT check; else (and on any other solve) ADMM to a coarse tolerance, then polishing
    (gnc.control.polish: the KKT system solved on the active set ADMM identified); the result is accepted when it
    passes the KKT check, if need be after more refinement steps. A wrong active-set guess fails it: ADMM then
    continues from its iterate to the next tolerance of the ladder and polishes again. When no rung passes, the
    last result is accepted on OSQP's own 'solved' status (``verified`` is then False). n_two_sided: the
    two-sided pairs stated as one row each (module doc); n_constraints counts OSQP's rows.
    """

    def __init__(self, problem, variables, osqp_options=None, ladder=DEFAULT_LADDER, kkt_tol=1e-9, seed=0,
                 horizon=None):
        if not problem.is_dcp(dpp=True):
            raise ValueError("the problem must be DPP")
        self.options = dict(DEFAULT_OSQP_OPTIONS)
        self.options.update(osqp_options or {})
        self.ladder = tuple(float(e) for e in ladder)
        if not self.ladder:
            raise ValueError("the tolerance ladder needs at least one rung")
        self.options.update(eps_abs=self.ladder[0], eps_rel=self.ladder[0])
        # Polishing is done here (gnc.control.polish: its KKT pattern is ordered once), not by OSQP, whose
        # polishing orders and analyses a new reduced KKT matrix every solve (~2/3 of a warm N = 40 solve).
        self.polishing = bool(self.options["polishing"])
        refine_iter = int(self.options.pop("polish_refine_iter"))
        self.options["polishing"] = False
        self._rung = 0          # the rung OSQP's tolerance is set to
        self.kkt_tol = float(kkt_tol)
        params = problem.parameters()
        rng = np.random.default_rng(seed)
        saved = {p: p.value for p in params}
        for p in params:  # generic values: no structurally non-zero entry evaluates to zero
            p.value = rng.uniform(0.5, 1.5, p.shape) if p.is_nonneg() else rng.uniform(-1.5, 1.5, p.shape)
        try:
            data, chain, _ = problem.get_problem_data(cp.OSQP)
        finally:
            for p, v in saved.items():
                p.value = v
        pp = data[cp.settings.PARAM_PROB]
        if getattr(pp, "lb_tensor", None) is not None or getattr(pp, "ub_tensor", None) is not None:
            raise ValueError("variable bounds in the canonical data are not supported")
        n, m_eq = pp.x.size, pp.cone_dims.zero
        m = m_eq + pp.cone_dims.nonneg
        p_size = pp.total_param_size

        # Parameter layout: theta[col:col + size] = value flattened column-major; theta[-1] = 1.
        self._param_cols = {p: (pp.param_id_to_col[p.id], p.size, p.shape) for p in params}
        const_cols = set(pp.param_id_to_col.values()) - {c for c, _, _ in self._param_cols.values()}
        if const_cols != {p_size}:
            raise ValueError("unexpected parameter layout in cvxpy's canonical data")
        self._theta = np.zeros(p_size + 1)
        self._theta[p_size] = 1.0

        # Quadratic cost: constant, full symmetric, CSC (entry (i, j) is tensor row j*n + i).
        P_ptr, P_idx, P_dat = _csr_parts(pp.P)
        if np.any(P_idx != p_size):
            raise ValueError("the quadratic cost must not depend on parameters")
        p_rows = _nonzero_rows(P_ptr)
        p_i, p_j = p_rows % n, p_rows // n
        if set(zip(p_i.tolist(), p_j.tolist())) != set(zip(p_j.tolist(), p_i.tolist())):
            raise ValueError("cvxpy's quadratic cost tensor is not the full symmetric matrix")
        self._P = (np.searchsorted(p_j, np.arange(n + 1)).astype(np.int64), p_i.astype(np.int64),
                   P_dat[P_ptr[p_rows]].copy())

        # Constraint tensor: entry (i, j) of [AF | b] is row j*m + i; sorted rows = CSC order of AF.
        q_ptr, q_idx, q_dat = _csr_parts(pp.q)
        A_ptr, A_idx, A_dat = _csr_parts(pp.A)
        rows = _nonzero_rows(A_ptr)
        a_rows = rows[rows < m * n]
        a_i, a_j = a_rows % m, a_rows // m
        sign = np.where(np.arange(m) < m_eq, 1.0, -1.0)
        # Entries of A that depend on a parameter (any tensor column but the constant one).
        param_dep = np.array([np.any(A_idx[A_ptr[r]:A_ptr[r + 1]] != p_size) for r in a_rows], dtype=bool)
        b_const = {i: _constant_entry(A_ptr, A_idx, A_dat, m * n + i, p_size) for i in range(m_eq, m)}
        # Two-sided pairs: one OSQP row each (module doc); row_new: original row -> OSQP row.
        pairs = _two_sided_pairs(a_i, a_j, param_dep, A_dat[A_ptr[a_rows]], b_const, m_eq)
        partner_rows = np.array(sorted(pairs.values()), dtype=np.int64)
        keep = np.setdiff1d(np.arange(m), partner_rows)
        row_new = np.full(m, -1, dtype=np.int64)
        row_new[keep] = np.arange(len(keep))
        for i, j in pairs.items():
            row_new[j] = row_new[i]
        m_osqp = len(keep)
        kept_entry = ~np.isin(a_i, partner_rows)
        a_rows, a_i, a_j, param_dep = a_rows[kept_entry], row_new[a_i[kept_entry]], a_j[kept_entry], param_dep[kept_entry]
        self.n_variables, self.n_constraints, self.n_equalities = n, m_osqp, m_eq
        self.n_two_sided = len(pairs)
        self._pairs, self._row_new = pairs, row_new   # (for tests: the layout against cvxpy's)
        self._A_indices = a_i.astype(np.int64)
        self._A_indptr = np.searchsorted(a_j, np.arange(n + 1)).astype(np.int64)
        self._ax_idx = np.flatnonzero(param_dep).astype(np.int64)    # positions in A's CSC data

        # One stacked map M: theta -> [q (n); d (1); A's CSC data (signed); b (kept rows)].
        blocks = ((q_ptr, q_idx, q_dat, np.arange(n + 1), np.ones(n + 1)),
                  (A_ptr, A_idx, A_dat, a_rows, sign[a_rows % m]),
                  (A_ptr, A_idx, A_dat, m * n + keep, np.ones(m_osqp)))
        ptr, idx, dat = [0], [], []
        for bptr, bidx, bdat, brows, scale in blocks:
            for r, sc in zip(brows, scale):
                lo, hi = bptr[r], bptr[r + 1]
                idx.append(bidx[lo:hi])
                dat.append(sc * bdat[lo:hi])
                ptr.append(ptr[-1] + hi - lo)
        self._M = (np.asarray(ptr, dtype=np.int64), np.concatenate(idx).astype(np.int64),
                   np.concatenate(dat).astype(np.float64))
        self._v = np.empty(len(ptr) - 1)
        nnz_a = len(a_rows)
        self._sl_q, self._i_d = slice(0, n), n
        self._sl_a = slice(n + 1, n + 1 + nnz_a)
        self._b_start = n + 1 + nnz_a
        self._u = np.empty(m_osqp)
        self._ax = np.empty(len(self._ax_idx))
        self._ax_sent = np.full(len(self._ax_idx), np.nan)   # A's parametric entries OSQP holds (NaN: none yet)
        self._cold = False

        # OSQP set up by cvxpy's own interface on the canonical data (a two-sided pair's second row dropped: its
        # bound is the first row's l, set below); check its A pattern is ours.
        cache = {}
        osqp_iface = chain.solver
        self._status_map = dict(osqp_iface.STATUS_MAP)
        ineq_keep = keep[keep >= m_eq] - m_eq
        data = dict(data)
        data[cp.settings.F], data[cp.settings.G] = data[cp.settings.F][ineq_keep, :], data[cp.settings.G][ineq_keep]
        osqp_iface.solve_via_data(data, False, False, dict(self.options), solver_cache=cache)
        self._osqp = cache[osqp_iface.name()][0]
        # Per cycle the solver object under osqp's Python class is called directly: that class's update and
        # solve copy and check their arguments and rebuild an info namespace every call (~0.3 ms at N = 40).
        self._ext = self._osqp._solver
        self._l = np.full(m_osqp, -self._osqp.constant("OSQP_INFTY"))   # l as OSQP takes it (rows >= m_eq fixed)
        for i, j in pairs.items():
            self._l[row_new[i]] = -b_const[j]
        A_osqp = data["Ax"]
        if (A_osqp.shape != (m_osqp, n) or not np.array_equal(A_osqp.indices, self._A_indices)
                or not np.array_equal(A_osqp.indptr, self._A_indptr)):
            raise ValueError("OSQP's constraint matrix pattern differs from cvxpy's parameter tensor")
        self._var_slices = {}
        for v in variables:
            off = pp.var_id_to_col.get(v.id)
            if off is None:
                raise ValueError(f"variable {v.name()} is not in the canonical problem")
            self._var_slices[v] = (off, v.size, v.shape)
        self._shift_x = self._shift_y = None
        if horizon is not None:   # rows: cvxpy's constraints in order, the zero cone's first
            zero = [isinstance(c, cp.constraints.Zero) for c in pp.constraints]
            if (zero != sorted(zero, reverse=True) or sum(c.size for c in pp.constraints) != m
                    or sum(c.size for c, z in zip(pp.constraints, zero) if z) != m_eq):
                raise ValueError("unexpected constraint layout in cvxpy's canonical data")
            self._shift_x = _shift_index([pp.var_id_to_col[v.id] for v in pp.variables], [v.shape for v in pp.variables],
                                         n, horizon)
            shift_y = _shift_index(np.cumsum([0] + [c.size for c in pp.constraints[:-1]]),
                                   [c.shape for c in pp.constraints], m, horizon)
            if any(pairs.get(shift_y[i]) != shift_y[j] for i, j in pairs.items()):
                raise ValueError("a two-sided pair's rows do not shift together")
            self._shift_y = row_new[shift_y[keep]]
        self._xy = None   # the last verified solution (x, y), for a shifted warm start
        self._osqp_stale = False   # the last solution came from the active-set warm start, not from OSQP
        self._polisher = KktPolisher(self._P, self._A_indptr, self._A_indices, m_osqp, refine_iter) if self.polishing else None
        # Compile (or load) the numba kernels now rather than in the first cycle.
        q, _, a_data, l, u = self.evaluate({p: np.zeros(p.shape) for p in params})
        kkt_residuals(self._A_indptr, self._A_indices, a_data, *self._P, q, l, u, np.zeros(n), np.zeros(m_osqp))
        objective(*self._P, q, np.zeros(n))
        if self._polisher is not None:
            self._polisher.polish(self._A_indptr, a_data, self._P, q, l, u, np.zeros(n), np.zeros(m_osqp), 1.0)
            self._polisher.refine(1)

    def param_view(self, parameter):
        """The slot of theta holding parameter's value: a writeable view of shape parameter.shape (column-major
        in theta; 0-d for a scalar). Writing into it and calling solve_current() is solve() without the dict."""
        col, size, shape = self._param_cols[parameter]
        return self._theta[col:col + size].reshape(shape, order="F")

    def _set(self, values):
        if values.keys() != self._param_cols.keys():
            raise ValueError("values must give every parameter of the problem")
        theta = self._theta
        for p, val in values.items():
            col, size, shape = self._param_cols[p]
            theta[col:col + size] = np.reshape(val, size, order="F") if shape else val

    def _evaluate(self):
        """Canonical data at the current theta; True when A's parametric entries changed."""
        indptr, indices, data = self._M
        return canonical_data(indptr, indices, data, self._theta, self._v, self._b_start, self.n_equalities,
                              self._l, self._u, self._sl_a.start, self._ax_idx, self._ax, self._ax_sent)

    def evaluate(self, values):
        """Canonical data at parameter values {Parameter: array} in OSQP form: (q, d, A's CSC data,
        l, u), as arrays owned by this object (overwritten by the next call; l's -infinity is -OSQP_INFTY).
        (Marks A as changed for the next solve.)"""
        self._set(values)
        self._evaluate()
        self._ax_sent[:] = np.nan
        return self._v[self._sl_q], float(self._v[self._i_d]), self._v[self._sl_a], self._l, self._u

    def solve(self, values, shift=False):
        """Solve at parameter values {Parameter: array} (every parameter of the problem, scaled as
        the problem states them). shift: warm-start from the last verified solution advanced by one
        step (needs horizon; else the solver continues from its last iterate). Returns a QpSolution;
        OSQP errors propagate as exceptions."""
        self._set(values)
        return self.solve_current(shift)

    def solve_current(self, shift=False):
        """solve() at the parameter values now in theta (written through param_view)."""
        a_changed = self._evaluate()
        v = self._v
        q, d, a_data, l, u = v[self._sl_q], float(v[self._i_d]), v[self._sl_a], self._l, self._u
        osqp, ext = self._osqp, self._ext
        xy0 = None
        if shift and self._shift_x is not None and self._xy is not None:
            xy0 = (self._xy[0][self._shift_x], self._xy[1][self._shift_y])
        status_val, run_s, iters, solves, verified = _OSQP_SOLVED, 0.0, 0, 0, False
        if xy0 is not None and self._polisher is not None:
            # The last solution's active set, shifted: when its KKT system's solution passes the check, ADMM is
            # not needed (nor OSQP's updates: OSQP is brought up to date when it next solves). A failed guess is
            # corrected from its own solution (rows with a wrong-signed multiplier leave the active set, violated
            # ones join: a primal-dual active-set step) up to _ACTIVE_SET_STEPS times.
            x, y = xy0
            for _ in range(_ACTIVE_SET_STEPS):
                if not self._polisher.polish(self._A_indptr, a_data, self._P, q, l, u, x, y, ext.get_settings().rho):
                    break
                x, y = self._polisher.x, self._polisher.y
                verified = self._check_polished(a_data, q, l, u, _OSQP_SOLVED, x, y, True)
                if verified:
                    self._osqp_stale = True
                    break
                x, y = x.copy(), y.copy()   # the polisher's output, its next input
        if not verified:
            ext.update_data_vec(q=q, l=l, u=u)
            if a_changed:
                ext.update_data_mat(P_x=None, P_i=None, A_x=self._ax, A_i=self._ax_idx)   # refactorises the KKT matrix
                self._ax_sent[:] = self._ax
            if self._cold:
                ext.warm_start(np.zeros(self.n_variables), np.zeros(self.n_constraints))
            elif xy0 is not None:
                ext.warm_start(*xy0)
            elif self._osqp_stale and self._xy is not None:   # OSQP's iterate is older than the last solution
                ext.warm_start(*self._xy)
            self._osqp_stale = False
            for rung in range(len(self.ladder)):
                if rung != self._rung:
                    osqp.update_settings(eps_abs=self.ladder[rung], eps_rel=self.ladder[rung])
                    self._rung = rung
                ext.solve()
                info, sol = ext.info, ext.solution
                status_val, x, y = info.status_val, sol.x, sol.y
                polished = (self._polisher is not None and status_val == _OSQP_SOLVED
                            and self._polisher.polish(self._A_indptr, a_data, self._P, q, l, u, x, y,
                                                      ext.get_settings().rho))
                if polished:
                    x, y = self._polisher.x, self._polisher.y
                run_s, iters, solves = run_s + info.run_time, iters + info.iter, solves + 1
                verified = self._check_polished(a_data, q, l, u, status_val, x, y, polished)
                if verified:
                    break
            if self._rung > 0:
                self._rung = 0
                osqp.update_settings(eps_abs=self.ladder[0], eps_rel=self.ladder[0])
        ok = bool(status_val == _OSQP_SOLVED and np.all(np.isfinite(x)))
        self._cold = not ok
        x = x.copy()   # the polisher's arrays are overwritten by the next solve
        self._xy = (x, y.copy()) if ok and verified else None
        values_out = {}
        if ok:
            for v, (off, size, shape) in self._var_slices.items():
                values_out[v] = np.reshape(x[off:off + size], shape, order="F")
        return QpSolution(values=values_out, status=self._status_map.get(status_val, "solver_error"),
                          ok=ok, verified=verified and ok, cost=objective(*self._P, q, x) + d if ok else float("nan"),
                          solve_ms=1e3 * float(run_s), iterations=int(iters), solves=solves)

    def _check_polished(self, a_data, q, l, u, status_val, x, y, polished):
        """``_check``; a polished (x, y) (the polisher's own arrays) that fails it gets _EXTRA_REFINE more
        refinement steps in place and a second check, in case it was only short of the tolerance."""
        if self._check(a_data, q, l, u, status_val, x, y):
            return True
        return polished and self._polisher.refine(_EXTRA_REFINE) and self._check(a_data, q, l, u, status_val, x, y)

    def _check(self, a_data, q, l, u, status_val, x, y):
        """True when OSQP solved and (x, y) pass the KKT check at kkt_tol."""
        if status_val != _OSQP_SOLVED:
            return False
        P_ptr, P_idx, P_dat = self._P
        prim, dual, compl = kkt_residuals(self._A_indptr, self._A_indices, a_data, P_ptr, P_idx, P_dat,
                                          q, l, u, x, y)
        return max(prim, dual, compl) <= self.kkt_tol
