"""Model-predictive translational controller on the HCW or YA model (cvxpy, built once, re-solved per cycle).

State x = [r_CT_H (m), v_CT_H (m/s)] in the target Hill frame H of ``gnc.frames`` (x radial, y
along-track, z orbit normal; velocity is the rotating-frame derivative). Input a_H = commanded chaser
acceleration in H (m/s^2), held constant over each step (zero-order hold). The prediction model is the
exact HCW discretisation of ``gnc.models.hcw`` with step dt_s = the control period, or (model "ya",
eccentric target orbits) the Yamanaka-Ankersen one of ``gnc.models.ya``: time-varying, step k's
(A_k, B_k) evaluated every cycle over the horizon from the target's true anomaly at x0 (the caller's
own orbit knowledge) and passed as parameters (parameter @ variable is DPP), so the canonical problem
keeps its sparsity and the fast path only updates the values of its constraint matrix. The Riccati
terminal cost stays the HCW one at the same mean motion (a time-invariant approximation of the
terminal LQ cost; for e = 0 YA equals HCW).

Non-dimensionalisation (everything the solver sees is O(1))
-----------------------------------------------------------
    position  r_s = r / L          L = length_scale_m        (default 100 m)
    velocity  v_s = v / V          V = velocity_scale_m_s    (default L * n, the orbital velocity scale)
    input     u_s = a / a_max      so the per-axis thrust bound is |u_s| <= 1
    time      one step = dt_s
In these units A_s = D^-1 A D and B_s = D^-1 B a_max with D = diag(L, L, L, V, V, V). For LEO
(n ~ 1.1e-3 rad/s), dt = 10 s, a_max = 2e-3 m/s^2 the largest entries of A_s, B_s are ~1 (the smallest
non-zero ones, ~(n dt)^3, are physically weak couplings), ranges of a few km are O(10) and closing
speeds O(1). Measured on a 1 km approach (N = 30): OSQP needs p50 150 / max 700 iterations scaled,
against p50 775 / max 18450 for the same cost in SI (L = 1 m, V = 1 m/s); Clarabel barely notices.
The scales are an implementation detail: the public API is SI.

Optimal control problem (scaled units, k = 0..N-1 unless noted)
---------------------------------------------------------------
    min  sum_k [ (x_k - xr_k)' Q (x_k - xr_k) + (u_k - ur_k)' R (u_k - ur_k) + w_fuel |u_k - ur_k|_1 ]
         + (x_N - xr_N)' P (x_N - xr_N) + w_slack * sum_{k=1..N} (s_k + c_k)
    s.t. x_{k+1} = A_s x_k + B_s u_k,  x_0 = x0,  -1 <= u_k <= 1 (per axis),  s_k >= 0,  c_k >= 0
         e_k . r_k >= R_ko / L - s_k                       (keep-out sphere, rotating hyperplane)
         -(e_k . v_k) <= vmax_k / V + c_k                  (closing-speed limit along e_k)
         F_i . r_k <= G_ki + g_k,  g_k >= 0, weight w_slack (optional line-of-sight cone, set_cone)
         h_k . r_k >= b_k - a_k,  |r_k - rr_k|_inf <= w_k + a_k,  a_k >= 0  (optional approach ellipsoid)
         |x_N - xr_N|_inf,per-axis <= t + z,  z >= 0, weight w_slack         (optional terminal set)
with xr_k, ur_k guidance's reference states and inputs (ur = 0 unless guidance flies a planned thrust
arc: gnc.guidance.plan; then the fuel term prices only the corrections to the plan, with its own weight
plan_fuel_weight, and a plan that the state is on is followed exactly; ur within 1e-5 of the thrust bound is
taken as on it: the plan's own solver leaves its saturated arcs 1e-10..1e-6 short), Q = diag(q_pos I3, q_vel I3),
R = r_u I3, P the stabilising solution of the discrete algebraic
Riccati equation of (A_s, B_s, Q, R), and unit normals e_k (parameters) taken from the previous plan
shifted by one step (or from the reference on the first solve). The half-space e_k . r >= R_ko never
intersects the keep-out sphere, so a zero-slack plan is outside it at every step. The closing-speed
limit is vmax(range) = closing_speed_min + gain * (range - R_ko) evaluated at the predicted range.
Approach ellipsoid (AE, ISS practice; ``approach_ellipsoid_m`` = semi-axes (a_R, a_V, a_H) about the
target, H): the chaser enters it only along the declared corridor, i.e. where the guidance reference (the
declared path to a declared hold point) is inside it. Steps whose reference rr_k is outside the AE keep the
plan outside: the non-convex "outside the ellipsoid r'Er >= 1" (E = diag(a)^-2) is replaced by the tangent
half-space at the projection p = g / sqrt(g'Eg) of the linearisation point g_k (the keep-out normals'
points): (Ep)'r >= 1, which never intersects the ellipsoid (a rotating hyperplane in the ellipsoid's
metric; h_k = L Ep, b_k = 1). Steps whose reference is inside keep the plan within the corridor, an
inf-norm tube of half-width ``corridor_half_width_m`` about the reference (the other constraint off:
b_k, w_k = 1e4); the closing-speed law applies inside as everywhere.
Terminal set (``terminal_set``): the box |x_N - xr_N| <= t (per state, scaled) inscribed in the largest
sublevel set {z : z'Pz <= c} of the Riccati cost on which the LQR law u = -Kz respects the thrust bound
(c = min_i 1 / (K_i P^-1 K_i')). For a hold-point reference (an HCW equilibrium) that ellipsoid is invariant
under the terminal law with the bound (P is its Lyapunov function), so a plan ending in the box has a
feasible, stabilising continuation: the standard MPC stability argument (Mayne et al. 2000). A box rather
than the ellipsoid itself keeps the problem a QP (the box is inside the ellipsoid by a check of its 64
vertices, so the argument carries over). It is soft like the others: far from the reference the horizon
may not reach it, and the exact penalty then only pulls towards it.
Slacks carry an exact L1 penalty: with w_slack above the constraint multipliers they stay zero whenever
the hard problem is feasible. Every data item that changes per cycle is a cvxpy Parameter, and the
problem is DPP, so cvxpy canonicalises it once.

The tracking terms are stated expanded, x'Qx - 2 (Q xr)'x + xr'Q xr (likewise for u), with the constant
parts a scalar parameter: written as sum_squares(x - xr) cvxpy would add a copy of every state to its canonical
problem (246 variables and equalities at N = 40); likewise the input bound is two inequalities rather
than |u| <= 1 (no epigraph variables).

Solve paths
-----------
``path="cvxpy"``: ``problem.solve`` with a cvxpy solver (Clarabel by default): cvxpy's compiled DPP path.
``path="fast"``: the same problem through cvxpy's canonical problem data and one OSQP instance set up
once (``gnc.control.canonical``): per cycle numba kernels write the scaled parameters straight into the
canonical parameter vector, one sparse mat-vec, then the KKT system on the last plan's active set shifted by one
step (``gnc.control.polish``: a pattern analysed once), accepted when it passes a KKT check; only when it does
not, OSQP (vector updates, its constraint matrix values when the keep-out normals changed, warm start from the
last plan shifted by one step) and polishing on ADMM's active set.
"""

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
from numba import njit

from gnc.control.canonical import CanonicalQP
from gnc.guidance.safety import DRIFT_SAMPLE_S, free_drift_min_range
from gnc.models.hcw import hcw_input_matrix, hcw_stm
from gnc.models.ya import ya_horizon_matrices

_OK_STATUSES = ("optimal",)
# Scaled offset of an inactive cone face (set_cone's active) or approach-ellipsoid row: beyond any reachable
# scaled position.
_INACTIVE_OFFSET = 1e4

# Weight of sum(t^2) on the fuel epigraph t >= |u - ur| (scaled units): makes t unique at any fuel weight
# (at weight 0 it has no other cost); adds 1e-6 |u - ur|^2, a millionth of the input weight r_u = 1.
_FUEL_EPIGRAPH_REG = 1e-6
# Offset of the fuel epigraph's rows while the fuel weight is 0: |u - ur| <= 2 (scaled), so t = 0 is 2 from them.
_EPIGRAPH_OFFSET = 4.0
# Scaled input references within this of the thrust bound are taken as on it (the plan's solver leaves them
# 1e-10..1e-6 short); see RelativeMPC.solve.
_UREF_SNAP = 1e-5

# Default solver settings (copied per solve; cvxpy mutates the dict it is given).
_DEFAULT_SOLVER_OPTIONS = {
    "CLARABEL": {},
    "OSQP": {"eps_abs": 1e-6, "eps_rel": 1e-6, "max_iter": 20000, "polishing": True},
}


@dataclass(frozen=True)
class MpcResult:
    """One MPC solve. Arrays are read-only.

    u0_H: acceleration command to apply now (3,), m/s^2, H; finite, within +-a_max per axis;
        zeros when ok is False.
    u_plan: planned accelerations (N, 3), m/s^2, H.
    x_plan: predicted states (N+1, 6), [m, m/s], H; x_plan[0] = x0. On failure: the zero-thrust
        drift from x0 (NaN when x0 was not finite).
    status: the solver status as cvxpy reports it, or 'invalid_input' / 'solver_error: <type>';
        'lqr' from the LQR baseline (gnc.control.lqr).
    ok: True only for an 'optimal' solve with a finite solution.
    solve_ms: solver time reported by cvxpy (ms), summed over the passes of a cold start; NaN when
        the solver does not report it. On the fast path OSQP's own run time (0 when the plan came from the
        shifted active set without OSQP).
    compute_ms: total time spent in ``solve`` (ms, on the injected clock_ns; NaN without one), including parameter updates
        and cvxpy overhead.
    max_slack: largest soft-constraint violation in SI, max of max_keep_out_slack_m (m),
        max_closing_slack_m_s (m/s) and the line-of-sight cone's slack (m, when the MPC has one),
        taken numerically (units mixed; 0 when all are satisfied).
    max_keep_out_slack_m: largest keep-out hyperplane violation (m).
    max_closing_slack_m_s: largest closing-speed-limit violation (m/s).
    cost: objective of the plan in scaled (dimensionless) units (the MPC's optimum); NaN on failure.
    max_approach_ellipsoid_slack_m: largest approach-ellipsoid or corridor violation (m, upper bound; 0 without
        an approach ellipsoid).
    terminal_slack: the terminal box's violation (scaled units; 0 without a terminal set).
    passive_min_range_m: passive safety of the plan (m): the smallest range to the target reached by
        the free drift from any planned state over the check's duration (plan_drift_min_range); NaN
        when the check is off (RelativeMPC's passive_safety_s = 0) or the solve failed.
    """

    u0_H: np.ndarray
    u_plan: np.ndarray
    x_plan: np.ndarray
    status: str
    ok: bool
    solve_ms: float
    compute_ms: float
    max_slack: float
    max_keep_out_slack_m: float
    max_closing_slack_m_s: float
    cost: float
    passive_min_range_m: float = float("nan")
    max_approach_ellipsoid_slack_m: float = 0.0
    terminal_slack: float = 0.0


def solve_dare(A, B, Q, R, tol=1e-12, max_doublings=64):
    """Stabilising solution P of P = Q + A'PA - A'PB (R + B'PB)^-1 B'PA (numpy only).

    Iterates the Riccati recursion P_{j+1} = Q + A'P_jA - ... from P_0 = 0 in doubling form
    (structure-preserving doubling, Chu et al. 2004): iteration i returns the recursion's value after
    2^i steps, so convergence is quadratic even for the slow, nearly-undamped HCW modes.
    Requires (A, B) stabilisable, Q >= 0 with (A, Q) detectable, R > 0. Raises ValueError if the
    iteration does not converge.
    """
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    Q = np.asarray(Q, dtype=float)
    R = np.asarray(R, dtype=float)
    nx = A.shape[0]
    eye = np.eye(nx)
    Ak = A.copy()
    Gk = B @ np.linalg.solve(R, B.T)
    Hk = Q.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
        for _ in range(max_doublings):
            W = eye + Gk @ Hk
            try:
                WA = np.linalg.solve(W, Ak)
                WG = np.linalg.solve(W, Gk)
            except np.linalg.LinAlgError:
                break
            A_next = Ak @ WA
            G_next = Gk + Ak @ WG @ Ak.T
            H_next = Hk + Ak.T @ Hk @ WA
            G_next = 0.5 * (G_next + G_next.T)
            H_next = 0.5 * (H_next + H_next.T)
            change = np.linalg.norm(H_next - Hk, ord=np.inf)
            Ak, Gk, Hk = A_next, G_next, H_next
            if not np.all(np.isfinite(Hk)):
                break
            if change <= tol * max(1.0, np.linalg.norm(Hk, ord=np.inf)):
                P = Hk
                residual = Q + A.T @ P @ A - A.T @ P @ B @ np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A) - P
                if np.linalg.norm(residual, ord=np.inf) <= 1e-8 * max(1.0, np.linalg.norm(P, ord=np.inf)):
                    return P
                break
    raise ValueError("discrete Riccati iteration did not converge: check stabilisability/detectability")


def dlqr_gain(A, B, Q, R):
    """Discrete LQR gain K (u = -K x) and Riccati solution P for (A, B, Q, R)."""
    P = solve_dare(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    return K, P


def closing_speed_limit(range_m, keep_out_radius_m, speed_min_m_s, gain_per_s):
    """Maximum closing speed (m/s) at range_m (m): min_speed + gain * max(range - R_ko, 0)."""
    return speed_min_m_s + gain_per_s * np.maximum(np.asarray(range_m, dtype=float) - keep_out_radius_m, 0.0)


@njit(cache=True)
def _segment_distance_to_origin(p, q):
    """Minimum distance (same unit as p, q) from the origin to the segment p-q."""
    d = q - p
    dd = d @ d
    t = 0.0 if dd == 0.0 else min(max(-(p @ d) / dd, 0.0), 1.0)
    c = p + t * d
    return np.sqrt(c @ c)


@njit(cache=True)
def keep_out_normals(r0_H, r_guess_H, keep_out_radius_m):
    """Hyperplane normals e_k (N, 3, unit) and linearisation ranges (N,) m for the keep-out sphere.

    r0_H: current position (3,), m, H. r_guess_H: predicted positions for steps 1..N (N, 3), m, H.
    e_k = r_guess_k / |r_guess_k| while the guess is usable: outside the sphere and reached from the
    previous usable point by a chord that stays at least R_ko/2 from the target. From the first unusable
    point on (a guess through the target, or one that jumps to the far side), the last usable normal
    is held for the rest of the horizon and the range is taken as R_ko (slowest closing speed).
    """
    N = r_guess_H.shape[0]
    normals = np.empty((N, 3))
    ranges = np.empty(N)
    r0 = r0_H.copy()
    rho0 = np.sqrt(r0 @ r0)
    if rho0 > 1e-9 * max(1.0, keep_out_radius_m):
        e_prev = r0 / rho0
    else:
        e_prev = np.array([1.0, 0.0, 0.0])
    p_prev = r0
    held = False
    for k in range(N):
        g = r_guess_H[k].copy()
        rho = np.sqrt(g @ g)
        if (not held and np.isfinite(rho) and rho >= keep_out_radius_m and rho > 0.0
                and _segment_distance_to_origin(p_prev, g) >= 0.5 * keep_out_radius_m):
            e_prev = g / rho
            p_prev = g
            ranges[k] = rho
        else:
            held = True
            ranges[k] = keep_out_radius_m
        normals[k] = e_prev
    return normals, ranges


@njit(cache=True)
def plan_drift_min_range(n, x_plan, horizon_s, sample_s):
    """Smallest free-drift range (m) from the planned states x_plan ((N+1), 6) [m, m/s], H: for each
    state, thrust stops there and the HCW drift is followed for horizon_s (s), sampled every
    sample_s (s) (gnc.guidance.safety.free_drift_min_range). n: mean motion (rad/s)."""
    best = np.inf
    for k in range(x_plan.shape[0]):
        best = min(best, free_drift_min_range(n, x_plan[k], horizon_s, sample_s))
    return best


@njit(cache=True)
def reference_data(x0, xref, uref, D, a_max, q_diag, P, r_u, fuel_off, x0_s, xref_s, uref_s, off_hi, off_lo):
    """Scaled reference parameters (module doc's scaling) written in place: x0_s (6,), xref_s (N+1, 6), uref_s
    (N, 3) (references within _UREF_SNAP of the thrust bound set on it), and the fuel epigraph's offsets
    off_hi, off_lo (N, 3): _EPIGRAPH_OFFSET where the bound makes that row redundant, else fuel_off.
    Inputs SI: x0 (6,), xref (N+1, 6) [m, m/s], uref (N, 3) m/s^2, H; D (6,) the state scales.
    Returns the constant of the expanded tracking cost, xr'Q xr + xr_N'P xr_N + r_u ur'ur, or NaN when an
    input is not finite."""
    N = uref.shape[0]
    finite = True
    for i in range(6):
        x0_s[i] = x0[i] / D[i]
        finite &= np.isfinite(x0[i])
    ref = 0.0
    for k in range(N + 1):
        for i in range(6):
            xr = xref[k, i] / D[i]
            xref_s[k, i] = xr
            finite &= np.isfinite(xr)
            if k < N:
                ref += q_diag[i] * xr * xr
    for i in range(6):
        for j in range(6):
            ref += xref_s[N, i] * P[i, j] * xref_s[N, j]
    for k in range(N):
        for i in range(3):
            ur = uref[k, i] / a_max
            finite &= np.isfinite(ur)
            hi = lo = fuel_off
            if ur >= 1.0 - _UREF_SNAP:   # on (or beyond) the bound: exactly on it
                ur, hi = 1.0, _EPIGRAPH_OFFSET
            elif ur <= -1.0 + _UREF_SNAP:
                ur, lo = -1.0, _EPIGRAPH_OFFSET
            uref_s[k, i] = ur
            off_hi[k, i] = hi
            off_lo[k, i] = lo
            ref += r_u * ur * ur
    return ref if finite else np.nan


@njit(cache=True)
def linearisation_data(r0_H, r_guess_H, keep_out_radius_m, closing_origin_m, speed_min_m_s, gain_per_s,
                       velocity_scale_m_s, normals, vmax_s):
    """keep_out_normals about r_guess_H written into normals (N, 3), and the closing-speed limit at their
    ranges, scaled by velocity_scale_m_s (m/s), into vmax_s (N,) (closing_speed_limit from closing_origin_m)."""
    e, ranges = keep_out_normals(r0_H, r_guess_H, keep_out_radius_m)
    for k in range(ranges.shape[0]):
        normals[k] = e[k]
        vmax_s[k] = (speed_min_m_s + gain_per_s * max(ranges[k] - closing_origin_m, 0.0)) / velocity_scale_m_s


@njit(cache=True)
def plan_si(X, U, D, a_max, x_plan, u_plan):
    """Scaled plan (X (N+1, 6), U (N, 3)) in SI: x_plan = X D (m, m/s), u_plan = a_max U clipped to +-a_max
    (m/s^2), written in place. Returns True when both are finite."""
    finite = True
    for k in range(X.shape[0]):
        for i in range(6):
            x_plan[k, i] = X[k, i] * D[i]
            finite &= np.isfinite(x_plan[k, i])
    for k in range(U.shape[0]):
        for i in range(3):
            a = U[k, i] * a_max
            finite &= np.isfinite(a)
            u_plan[k, i] = min(max(a, -a_max), a_max)
    return finite


def terminal_box(K, P):
    """Half-widths t (6,) of the terminal box |z| <= t (scaled state error z): inside the largest sublevel set
    z'Pz <= c on which |K z| <= 1 per axis (c = min_i 1 / (K_i P^-1 K_i')), shaped as 1/sqrt(diag P) and
    scaled until its farthest vertex is on the ellipsoid (module doc)."""
    c = 1.0 / np.max(np.einsum("ij,jk,ik->i", K, np.linalg.inv(P), K))
    w = 1.0 / np.sqrt(np.diag(P))
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * 6)).reshape(6, -1).T * w
    return w * np.sqrt(c / np.max(np.einsum("ij,jk,ik->i", corners, P, corners)))


def approach_ellipsoid_data(r_lin_H, r_ref_H, semi_axes_m, corridor_m, length_scale_m):
    """Per-step approach-ellipsoid parameters (module doc), scaled: tangent-plane normals h (N, 3), offsets b
    (N,) and corridor half-widths w (N,). r_lin_H: linearisation points (N, 3) m; r_ref_H: reference
    positions (N, 3) m; semi_axes_m (3,) m, corridor_m (m), length_scale_m (m), all H."""
    E = 1.0 / semi_axes_m ** 2
    inside = np.sum(r_ref_H ** 2 * E, axis=1) <= 1.0
    p = np.where(np.any(r_lin_H != 0.0, axis=1)[:, None], r_lin_H, r_ref_H)
    p = p / np.sqrt(np.maximum(np.sum(p ** 2 * E, axis=1), 1e-300))[:, None]   # projected onto the surface
    h = length_scale_m * p * E
    b = np.where(inside, -_INACTIVE_OFFSET, 1.0)
    w = np.where(inside, corridor_m / length_scale_m, _INACTIVE_OFFSET)
    return h, b, w


def readonly_array(a):
    """A read-only float copy of a."""
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


class HcwLqController:
    """What the MPC and the LQR baseline share: the scaled HCW model, the LQ weights and their
    Riccati solution, argument checks and the safe (failure) result. See the module doc for units.

    n: target mean motion (rad/s). dt_s: model step = control period (s). horizon: N steps.
    a_max: per-axis acceleration bound (m/s^2). keep_out_radius_m: keep-out sphere radius about the
    target (m); 0 disables the keep-out constraint. closing_speed_min_m_s (m/s) and
    closing_speed_gain_per_s (1/s): closing-speed limit min + gain * (range - R_ko).
    q_pos on (r/L)^2 and q_vel on (v/V)^2 (scalars or per-axis 3-vectors, > 0), r_u on (a/a_max)^2
    (> 0). length_scale_m (m) / velocity_scale_m_s (m/s): scaling, default 100 m and L * n; as the
    weights act on scaled quantities, changing a scale re-weights the cost.
    """

    def __init__(self, n, dt_s, horizon, a_max, keep_out_radius_m, closing_speed_min_m_s,
                 closing_speed_gain_per_s, q_pos, q_vel, r_u, length_scale_m=100.0, velocity_scale_m_s=None,
                 clock_ns=None):
        self.clock_ns = clock_ns  # injected clock (int ns) timing each solve; None: compute_ms is NaN
        n, dt_s, a_max = float(n), float(dt_s), float(a_max)
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"n must be > 0 rad/s, got {n}")
        if not (np.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"dt_s must be > 0 s, got {dt_s}")
        if int(horizon) != horizon or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon}")
        if not (np.isfinite(a_max) and a_max > 0.0):
            raise ValueError(f"a_max must be > 0 m/s^2, got {a_max}")
        if not (np.isfinite(keep_out_radius_m) and keep_out_radius_m >= 0.0):
            raise ValueError(f"keep_out_radius_m must be >= 0 m, got {keep_out_radius_m}")
        if not (np.isfinite(closing_speed_min_m_s) and closing_speed_min_m_s > 0.0):
            raise ValueError(f"closing_speed_min_m_s must be > 0 m/s, got {closing_speed_min_m_s}")
        if not (np.isfinite(closing_speed_gain_per_s) and closing_speed_gain_per_s >= 0.0):
            raise ValueError(f"closing_speed_gain_per_s must be >= 0 1/s, got {closing_speed_gain_per_s}")
        q_pos_v = np.broadcast_to(np.asarray(q_pos, dtype=float), (3,)).copy()
        q_vel_v = np.broadcast_to(np.asarray(q_vel, dtype=float), (3,)).copy()
        if not (np.all(np.isfinite(q_pos_v)) and np.all(q_pos_v > 0.0)):
            raise ValueError(f"q_pos must be > 0, got {q_pos}")
        if not (np.all(np.isfinite(q_vel_v)) and np.all(q_vel_v > 0.0)):
            raise ValueError(f"q_vel must be > 0, got {q_vel}")
        if not (np.isfinite(r_u) and r_u > 0.0):
            raise ValueError(f"r_u must be > 0, got {r_u}")
        L = float(length_scale_m)
        V = L * n if velocity_scale_m_s is None else float(velocity_scale_m_s)
        if not (np.isfinite(L) and L > 0.0 and np.isfinite(V) and V > 0.0):
            raise ValueError(f"scales must be > 0, got L={L} m, V={V} m/s")

        self.n, self.dt_s, self.horizon, self.a_max = n, dt_s, int(horizon), a_max
        self.keep_out_radius_m = float(keep_out_radius_m)
        self.closing_speed_min_m_s = float(closing_speed_min_m_s)
        self.closing_speed_gain_per_s = float(closing_speed_gain_per_s)
        self.length_scale_m, self.velocity_scale_m_s = L, V
        # Scaling: x_SI = D x_s, a_SI = a_max u_s.
        self._D = np.array([L, L, L, V, V, V])
        self.A_H = hcw_stm(n, dt_s)               # SI
        self.B_H = hcw_input_matrix(n, dt_s)      # SI
        self.A_scaled = self.A_H * (self._D[None, :] / self._D[:, None])
        self.B_scaled = self.B_H * (a_max / self._D[:, None])
        self.Q_scaled = np.diag(np.concatenate([q_pos_v, q_vel_v]))
        self.R_scaled = float(r_u) * np.eye(3)
        self.K_scaled, self.P_scaled = dlqr_gain(self.A_scaled, self.B_scaled, self.Q_scaled, self.R_scaled)

    def lqr_gain(self):
        """Discrete LQR gain K_SI (3x6): a_H (m/s^2) = -K_SI [r_CT_H (m), v_CT_H (m/s)] (same Q, R)."""
        return self.a_max * self.K_scaled / self._D[None, :]

    def terminal_cost_matrix(self):
        """Terminal weight P in SI (6x6): (x_N - xr_N)' P_SI (x_N - xr_N) equals the scaled term."""
        return self.P_scaled / np.outer(self._D, self._D)

    def _check_inputs(self, x0, xref, uref):
        """(x0, xref, uref) as float arrays, uref zeros when None; ValueError on wrong shapes."""
        x0 = np.asarray(x0, dtype=float)
        xref = np.asarray(xref, dtype=float)
        uref = np.zeros((self.horizon, 3)) if uref is None else np.asarray(uref, dtype=float)
        if x0.shape != (6,):
            raise ValueError(f"x0 must have shape (6,), got {x0.shape}")
        if xref.shape != (self.horizon + 1, 6):
            raise ValueError(f"xref must have shape ({self.horizon + 1}, 6), got {xref.shape}")
        if uref.shape != (self.horizon, 3):
            raise ValueError(f"uref must have shape ({self.horizon}, 3), got {uref.shape}")
        return x0, xref, uref

    def _drift(self, x0):
        xs = np.empty((self.horizon + 1, 6))
        xs[0] = x0
        for k in range(self.horizon):
            xs[k + 1] = self.A_H @ xs[k]
        return xs

    def _clock(self) -> int:
        """The injected clock's reading (ns), 0 without one."""
        return self.clock_ns() if self.clock_ns is not None else 0

    def _ms_since(self, t_start_ns) -> float:
        """Milliseconds on the injected clock since t_start_ns; NaN without a clock."""
        return 1e-6 * (self.clock_ns() - t_start_ns) if self.clock_ns is not None else float("nan")

    def _fail(self, status, x0, t_start, solve_ms=float("nan")):
        N = self.horizon
        x_plan = self._drift(x0) if np.all(np.isfinite(x0)) else np.full((N + 1, 6), np.nan)
        return MpcResult(
            u0_H=readonly_array(np.zeros(3)), u_plan=readonly_array(np.zeros((N, 3))),
            x_plan=readonly_array(x_plan),
            status=status, ok=False, solve_ms=solve_ms,
            compute_ms=self._ms_since(t_start),
            max_slack=float("nan"), max_keep_out_slack_m=float("nan"),
            max_closing_slack_m_s=float("nan"), cost=float("nan"))


class RelativeMPC(HcwLqController):
    """Linear MPC for translational relative motion about a circular target orbit (HCW model).

    Built once (cvxpy Parameters, DPP); call ``solve`` every control period. Holds the previous plan
    to linearise the keep-out constraint and to warm start the solver; ``reset`` forgets it (use on a
    mode or reference change that makes the old plan irrelevant).

    Arguments shared with the LQR baseline: see HcwLqController (weights act on the scaled
    quantities of the module doc). fuel_weight on |(a - a_ref)/a_max|_1 (>= 0), plan_fuel_weight instead
    when solve is given an input reference (a planned thrust arc; default: fuel_weight; either > 0 makes
    the weight a parameter); slack_weight on the scaled slacks (s/L, c/V), large for an exact penalty.
    path: "cvxpy" (``problem.solve`` with ``solver``) or "fast" (canonical data + one OSQP instance;
    see module doc). solver: the cvxpy path's solver, any cvxpy-installed name ("CLARABEL" default,
    "OSQP"); on the fast path, the solver of the fallback. solver_options override that solver's
    defaults. osqp_options override the fast path's ``gnc.control.canonical.DEFAULT_OSQP_OPTIONS``.
    x_var, u_var, slack_keep_out, slack_closing: the problem's cvxpy variables (scaled units), e.g. for
    a reference solve of ``problem`` at ``last_parameters``. canonical: the fast path's CanonicalQP
    (None on the cvxpy path). fallback_solves: fast-path passes whose OSQP solution failed the KKT
    check (or whose solve failed) and that were solved again through the cvxpy path with ``solver``
    -- none of the default mission's solves at N = 40 (README, MPC cycle). Wall-clock time is read (compute_ms) but never decides.
    cold_start_refinements: extra solves on a cold start (no previous plan), each re-linearising the
    keep-out normals and closing-speed ranges about the plan just found (the reference alone can be a
    poor linearisation point, e.g. a hold point far from x0 makes the closing limit needlessly tight).
    model: "hcw" (circular orbit) or "ya" (Yamanaka-Ankersen about an orbit of the given eccentricity;
    solve then needs theta_rad, the target's true anomaly; module doc).
    cone_faces: 0 (default: no line-of-sight cone in the problem) or K >= 3: a soft constraint keeps
    every planned position inside a K-faced pyramid inscribed in the cone that ``set_cone`` declares
    (parameters, so the cone can change every cycle; until set, or after set_cone(None), inactive).
    closing_origin_m: the closing-speed limit grows with range beyond this radius (m; default: the
    keep-out radius), e.g. the contact point's distance from the target's centre on a final approach.
    approach_ellipsoid_m: None (default) or the approach ellipsoid's semi-axes (radial, along-track,
    cross-track) m, H, about the target; corridor_half_width_m (m): the corridor about the reference inside it
    (module doc). terminal_set: constrain the last planned state to the terminal box (module doc);
    terminal_box_scaled holds its half-widths (scaled).
    passive_safety_s: when > 0, every solved plan is checked for passive safety over this long (s):
    MpcResult.passive_min_range_m (costs ~(N+1) * passive_safety_s / 20 s HCW steps; off by default).

    Tuning notes: with q_vel = 1 the approach time constant is roughly sqrt(q_vel / q_pos) / n.
    slack_weight must exceed the constraint multipliers for the penalty to be exact: with the defaults
    the largest multiplier over random starts within 3 km / 0.3 m/s was ~340, hence 1e3. Do not raise
    it needlessly: OSQP normalises the cost by its largest linear term, so a 1e4 weight makes the
    quadratic part tiny and an active slack then costs OSQP 1e4+ iterations (1e3: a few hundred).
    The closing law is only flyable if gain * v_close <= a_max at the speeds reached; otherwise the
    plan uses slack or sidesteps the limit tangentially.
    """

    def __init__(self, n, dt_s, horizon, a_max, keep_out_radius_m, closing_speed_min_m_s,
                 closing_speed_gain_per_s, q_pos=10.0, q_vel=1.0, r_u=1.0, fuel_weight=0.1,
                 plan_fuel_weight=None, slack_weight=1e3, path="cvxpy", solver="CLARABEL", solver_options=None,
                 osqp_options=None,
                 length_scale_m=100.0, velocity_scale_m_s=None, cold_start_refinements=1,
                 passive_safety_s=0.0, cone_faces=0, closing_origin_m=None, model="hcw", eccentricity=0.0,
                 approach_ellipsoid_m=None, corridor_half_width_m=50.0, terminal_set=False, clock_ns=None):
        super().__init__(n, dt_s, horizon, a_max, keep_out_radius_m, closing_speed_min_m_s,
                         closing_speed_gain_per_s, q_pos, q_vel, r_u, length_scale_m, velocity_scale_m_s, clock_ns)
        if model not in ("hcw", "ya"):
            raise ValueError(f"model must be 'hcw' or 'ya', got {model!r}")
        if not (np.isfinite(eccentricity) and 0.0 <= eccentricity < 1.0):
            raise ValueError(f"eccentricity must be in [0, 1), got {eccentricity}")
        self.model, self.eccentricity = model, float(eccentricity)
        self.approach_ellipsoid_m = None
        if approach_ellipsoid_m is not None:
            ae = np.asarray(approach_ellipsoid_m, dtype=float)
            if not (ae.shape == (3,) and np.all(np.isfinite(ae)) and np.all(ae > 0.0)):
                raise ValueError(f"approach_ellipsoid_m must be 3 semi-axes > 0 m, got {approach_ellipsoid_m}")
            if not (np.isfinite(corridor_half_width_m) and corridor_half_width_m > 0.0):
                raise ValueError(f"corridor_half_width_m must be > 0 m, got {corridor_half_width_m}")
            self.approach_ellipsoid_m = ae
        self.corridor_half_width_m = float(corridor_half_width_m)
        self.terminal_set = bool(terminal_set)
        plan_fuel_weight = fuel_weight if plan_fuel_weight is None else plan_fuel_weight
        for name, w, strict in (("fuel_weight", fuel_weight, False), ("plan_fuel_weight", plan_fuel_weight, False),
                                ("slack_weight", slack_weight, True)):
            if not np.isfinite(w) or w < 0.0 or (strict and w == 0.0):
                raise ValueError(f"{name} must be {'>' if strict else '>='} 0, got {w}")
        if path not in ("cvxpy", "fast"):
            raise ValueError(f"path must be 'cvxpy' or 'fast', got {path!r}")
        if solver not in cp.installed_solvers():
            raise ValueError(f"solver {solver!r} not installed; have {cp.installed_solvers()}")
        if int(cold_start_refinements) != cold_start_refinements or cold_start_refinements < 0:
            raise ValueError(f"cold_start_refinements must be an integer >= 0, got {cold_start_refinements}")
        if not (np.isfinite(passive_safety_s) and passive_safety_s >= 0.0):
            raise ValueError(f"passive_safety_s must be >= 0 s, got {passive_safety_s}")
        self.passive_safety_s = float(passive_safety_s)
        if int(cone_faces) != cone_faces or not (cone_faces == 0 or cone_faces >= 3):
            raise ValueError(f"cone_faces must be 0 or an integer >= 3, got {cone_faces}")
        self.cone_faces = int(cone_faces)
        self.closing_origin_m = self.keep_out_radius_m if closing_origin_m is None else float(closing_origin_m)
        if not (np.isfinite(self.closing_origin_m) and self.closing_origin_m >= 0.0):
            raise ValueError(f"closing_origin_m must be >= 0 m, got {closing_origin_m}")
        self.path, self.solver = path, solver
        self.cold_start_refinements = int(cold_start_refinements)
        self.solver_options = dict(_DEFAULT_SOLVER_OPTIONS.get(solver, {}))
        self.solver_options.update(solver_options or {})
        N, L = self.horizon, self.length_scale_m
        A_s, B_s, Q_s = self.A_scaled, self.B_scaled, self.Q_scaled

        # Parameters (all scaled).
        self._x0 = cp.Parameter(6, name="x0")
        self._xref = cp.Parameter((N + 1, 6), name="xref")
        self._e = cp.Parameter((N, 3), name="normals")
        self._vmax = cp.Parameter(N, nonneg=True, name="vmax")
        self._uref = cp.Parameter((N, 3), name="uref")
        self.fuel_weight, self.plan_fuel_weight = float(fuel_weight), float(plan_fuel_weight)
        self._w_fuel = cp.Parameter(nonneg=True, name="fuel_weight") if max(fuel_weight, plan_fuel_weight) > 0 else None
        self._ref_cost = cp.Parameter(name="ref_cost")   # xr'Q xr and ur'R ur terms of the cost
        # Variables.
        X = cp.Variable((N + 1, 6), name="x")
        U = cp.Variable((N, 3), name="u")
        s_ko = cp.Variable(N, name="slack_keep_out")   # >= 0 stated as constraints: a sign attribute
        s_cl = cp.Variable(N, name="slack_closing")    # would rename the variable in the canonical data
        self.x_var, self.u_var, self.slack_keep_out, self.slack_closing = X, U, s_ko, s_cl
        K = self.cone_faces
        if K:
            # Face i of the pyramid: F_i . r_k <= G_ki + s_cone_k (scaled units; see set_cone).
            self._cone_F = cp.Parameter((K, 3), name="cone_faces")
            self._cone_G = cp.Parameter((N, K), name="cone_offsets")
            s_cone = cp.Variable(N, name="slack_cone")

        # (x_k - xr_k)'Q(x_k - xr_k), k < N, and (x_N - xr_N)'P(x_N - xr_N), expanded (module doc).
        W = np.zeros((N + 1, 6))
        W[:N] = np.diag(Q_s)
        tracking = (cp.sum(cp.multiply(W, cp.square(X))) - 2.0 * cp.sum(cp.multiply(self._xref[:N] @ Q_s, X[:N]))
                    + cp.quad_form(X[N], self.P_scaled) - 2.0 * (self._xref[N] @ self.P_scaled) @ X[N]
                    + self._ref_cost)
        cost = (tracking + float(r_u) * (cp.sum_squares(U) - 2.0 * cp.sum(cp.multiply(self._uref, U)))
                + float(slack_weight) * (cp.sum(s_ko) + cp.sum(s_cl)))
        if K:
            cost = cost + float(slack_weight) * cp.sum(s_cone)
        if self._w_fuel is not None:   # |u - ur| by its epigraph: a weight parameter times cp.abs(...) is not DPP
            t_fuel = cp.Variable((N, 3), name="fuel_epigraph")
            # + a tiny constant quadratic: t unique (= |u - ur|, or 0 while the weight is 0: below).
            cost = cost + self._w_fuel * cp.sum(t_fuel) + _FUEL_EPIGRAPH_REG * cp.sum_squares(t_fuel)
        R_pos = X[1:, 0:3]
        V_vel = X[1:, 3:6]
        if model == "ya":   # step k's scaled (A_k, B_k): rows 6k..6k+5 of these parameters
            self._ya_A = cp.Parameter((6 * N, 6), name="ya_A")
            self._ya_B = cp.Parameter((6 * N, 3), name="ya_B")
            self._ya_buf = (np.empty((N, 6, 6)), np.empty((N, 6, 3)))
            dynamics = [X[k + 1] == self._ya_A[6 * k:6 * k + 6] @ X[k] + self._ya_B[6 * k:6 * k + 6] @ U[k]
                        for k in range(N)]
        else:
            dynamics = [X[1:] == X[:N] @ A_s.T + U @ B_s.T]
        cons = dynamics + [
            X[0] == self._x0,
            U <= 1.0,
            U >= -1.0,
            s_ko >= 0.0,
            s_cl >= 0.0,
            -cp.sum(cp.multiply(self._e, V_vel), axis=1) <= self._vmax + s_cl,
        ]
        if self._w_fuel is not None:
            # off = _EPIGRAPH_OFFSET while the weight is 0: t's rows then sit far from active (t = 0); weakly
            # active rows with zero multipliers made OSQP's polishing fail in every hold cycle.
            # Per element: where ur = +1 (-1) the bound u <= 1 (u >= -1) already implies t >= u - ur (ur - u),
            # and that redundant row, active with the bound and the other row at u = ur, t = 0, made the vertex
            # degenerate: OSQP's polishing then failed at every rung (~9 % of the approach cycles, plan tracking).
            self._epi_off_hi = cp.Parameter((N, 3), nonneg=True, name="fuel_epigraph_offset_hi")
            self._epi_off_lo = cp.Parameter((N, 3), nonneg=True, name="fuel_epigraph_offset_lo")
            cons += [t_fuel >= U - self._uref - self._epi_off_hi, t_fuel >= self._uref - U - self._epi_off_lo]
        if self.keep_out_radius_m > 0.0:
            cons.append(cp.sum(cp.multiply(self._e, R_pos), axis=1) >= self.keep_out_radius_m / L - s_ko)
        if K:
            cons += [s_cone >= 0.0,
                     R_pos @ self._cone_F.T <= self._cone_G + cp.reshape(s_cone, (N, 1), order="F") @ np.ones((1, K))]
            self.set_cone(None)
        self._slacks = {}   # optional constraints' slack variables by name
        if K:
            self._slacks["cone"] = s_cone
        if self.approach_ellipsoid_m is not None:
            self._ae_h = cp.Parameter((N, 3), name="ae_normals")
            self._ae_b = cp.Parameter(N, name="ae_offsets")
            self._ae_w = cp.Parameter(N, nonneg=True, name="corridor_widths")
            s_ae = cp.Variable(N, name="slack_approach_ellipsoid")
            tube = cp.reshape(self._ae_w + s_ae, (N, 1), order="F") @ np.ones((1, 3))
            cons += [s_ae >= 0.0, cp.sum(cp.multiply(self._ae_h, R_pos), axis=1) >= self._ae_b - s_ae,
                     R_pos - self._xref[1:, 0:3] <= tube, self._xref[1:, 0:3] - R_pos <= tube]
            cost = cost + float(slack_weight) * cp.sum(s_ae)
            self._slacks["ae"] = s_ae
        if self.terminal_set:
            self.terminal_box_scaled = terminal_box(self.K_scaled, self.P_scaled)
            s_t = cp.Variable(name="slack_terminal")
            cons += [s_t >= 0.0, X[N] - self._xref[N] <= self.terminal_box_scaled + s_t,
                     self._xref[N] - X[N] <= self.terminal_box_scaled + s_t]
            cost = cost + float(slack_weight) * s_t
            self._slacks["terminal"] = s_t
        self._plan_vars = (X, U, s_ko, s_cl) + tuple(self._slacks.values())
        self.problem = cp.Problem(cp.Minimize(cost), cons)
        assert self.problem.is_dcp(dpp=True)
        # Shifted warm start on HCW only: YA states its dynamics as N separate (6,) constraints, which the
        # shift cannot tell apart from unshifted rows (their duals would then not match the shifted states).
        self.canonical = CanonicalQP(self.problem, self._plan_vars, osqp_options,
                                     horizon=N if model == "hcw" else None) if path == "fast" else None
        self.fallback_solves = 0
        self._prev_x_plan = None
        # Every parameter's value lives in one array: on the fast path its slot in the canonical parameter
        # vector (written in place each cycle), else an array of its own (column-major, as the slots).
        self._pv = {p: self.canonical.param_view(p) if self.canonical is not None else np.zeros(p.shape, order="F")
                    for p in self.problem.parameters()}
        self._no_epigraph = np.zeros((N, 3), order="F")   # reference_data's offsets without a fuel term
        self._q_diag = np.diag(Q_s).copy()
        self._guess = np.empty((N, 3))
        self._slots_ref, self._slots_lin = self._reference_slots(), (self._pv[self._e], self._pv[self._vmax])
        self._slot_ref_cost = self._pv[self._ref_cost]
        # Compile or load the kernels now, not in a cycle.
        reference_data(*(np.zeros(s) for s in (6, (N + 1, 6), (N, 3))), self._D, 1.0, self._q_diag,
                       self.P_scaled, 1.0, 0.0, *self._slots_ref)
        linearisation_data(np.ones(3), np.ones((N, 3)), 0.5, 0.5, 1.0, 0.0, 1.0, *self._slots_lin)
        for order in "CF":   # the fast path's plan is a column-major view of its solution
            plan_si(np.ones((N + 1, 6), order=order), np.ones((N, 3), order=order), self._D, 1.0,
                    np.empty((N + 1, 6)), np.empty((N, 3)))
        if model == "ya":
            self.ya_matrices(0.0)
        if self.passive_safety_s > 0.0:
            plan_drift_min_range(n, np.ones((N + 1, 6)), DRIFT_SAMPLE_S, DRIFT_SAMPLE_S)

    # ------------------------------------------------------------------ helpers
    def set_cone(self, cone, active=None):
        """Declare the line-of-sight cone for the next solves: None (inactive) or
        (axis_H, apex_H_m, half_angle_rad): unit-free axis direction (3,) pointing from the apex into
        the cone (away from the target), apex position (3,) m, half-angle (0, pi/2) rad, all in H.
        The cone is {r : |r_perp| <= tan(half_angle) a.(r - apex)}; the constraint keeps the plan in
        the inscribed pyramid d_i.(r - apex) <= tan(half_angle) cos(pi/K) a.(r - apex), d_i the K
        unit directions at angles 2 pi i / K about the axis. active: optional (N,) booleans, the planned
        steps 1..N the cone constrains (default all; e.g. not the steps past a docking contact).
        Requires cone_faces > 0."""
        if not self.cone_faces:
            raise ValueError("this MPC was built without a cone constraint (cone_faces = 0)")
        K, N, L = self.cone_faces, self.horizon, self.length_scale_m
        if cone is None:
            self._cone = (np.zeros((K, 3)), np.ones((N, K)))
            return
        axis, apex, half_angle = cone
        a = np.asarray(axis, dtype=float)
        apex = np.asarray(apex, dtype=float)
        if not (a.shape == (3,) and apex.shape == (3,) and np.linalg.norm(a) > 0 and 0 < half_angle < np.pi / 2):
            raise ValueError("cone must be (axis (3,), apex (3,) m, half-angle in (0, pi/2) rad)")
        a = a / np.linalg.norm(a)
        b1 = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        b1 /= np.linalg.norm(b1)
        b2 = np.cross(a, b1)
        phi = 2.0 * np.pi * np.arange(K) / K
        d = np.outer(np.cos(phi), b1) + np.outer(np.sin(phi), b2)
        F = d - np.tan(half_angle) * np.cos(np.pi / K) * a[None, :]
        G = np.tile(F @ apex / L, (N, 1))
        if active is not None:
            active = np.asarray(active, dtype=bool)
            if active.shape != (N,):
                raise ValueError(f"active must have shape ({N},), got {active.shape}")
            G[~active] = _INACTIVE_OFFSET
        self._cone = (F, G)

    @property
    def last_parameters(self):
        """Scaled parameter values of the last solve pass by parameter name: the data a reference
        solver needs to solve the very same problem."""
        return {p.name(): float(v) if v.ndim == 0 else v.copy() for p, v in self._pv.items()}

    def _reference_slots(self):
        """reference_data's outputs: the slots of x0, xref, uref and the fuel epigraph's offsets."""
        pv = self._pv
        if self._w_fuel is None:
            return pv[self._x0], pv[self._xref], pv[self._uref], self._no_epigraph, self._no_epigraph
        return pv[self._x0], pv[self._xref], pv[self._uref], pv[self._epi_off_hi], pv[self._epi_off_lo]

    def reset(self):
        """Forget the previous plan (keep-out normals come from the reference on the next solve)."""
        self._prev_x_plan = None

    def _fail(self, status, x0, t_start, solve_ms=float("nan")):
        self._prev_x_plan = None
        return super()._fail(status, x0, t_start, solve_ms)

    def _solve_cvxpy(self, x0_unchanged):
        """One solve through ``problem.solve`` at the current parameter values: (status, solver ms or NaN,
        objective value)."""
        for p, v in self._pv.items():
            p.value = v.copy()   # not the slot itself: cvxpy keeps the array it is given
        # cvxpy's cached-OSQP path sends only the changed bound vector; when x0 (the only data in
        # the lower bounds) is unchanged it updates u alone, which OSQP validates against its
        # internally *scaled* l, rejects with a printed error, and then solves the stale problem
        # (cvxpy issue 2235, osqp-python issue 119). A fresh setup avoids that.
        warm = not (self.solver == "OSQP" and x0_unchanged)
        self.problem.solve(solver=self.solver, warm_start=warm, **dict(self.solver_options))
        stats = self.problem.solver_stats
        solve_time = getattr(stats, "solve_time", None) if stats is not None else None
        ms = 1e3 * float(solve_time) if solve_time is not None else float("nan")
        return str(self.problem.status), ms, self.problem.value

    def ya_matrices(self, theta_rad):
        """Scaled YA step matrices of the horizon from the target's true anomaly theta_rad (rad) at x0:
        (A (6N, 6), B (6N, 3)), step k's in rows 6k..6k+5 (module doc's scaling)."""
        Phi, Gam = self._ya_buf
        ya_horizon_matrices(self.n, self.eccentricity, float(theta_rad), self.dt_s, self.horizon, Phi, Gam)
        D = self._D
        return ((Phi * (D[None, None, :] / D[None, :, None])).reshape(6 * self.horizon, 6),
                (Gam * (self.a_max / D[None, :, None])).reshape(6 * self.horizon, 3))

    # ------------------------------------------------------------------ solve
    def solve(self, x0, xref, uref=None, theta_rad=None):
        """Solve the MPC from x0 = [r_CT_H m, v_CT_H m/s] (6,) towards xref ((N+1), 6) (SI, H) with the
        input reference uref (N, 3) m/s^2, H (None: zero). theta_rad: the target's true anomaly (rad) at
        x0, from the flight code's own orbit knowledge; needed by model 'ya', ignored by 'hcw'.

        Returns an MpcResult; never raises on solver failure or non-finite inputs (ok=False, zero
        command). Raises ValueError only for wrongly shaped inputs (a programming error).
        """
        t_start = self._clock()
        N = self.horizon
        no_plan = uref is None
        x0, xref, uref = self._check_inputs(x0, xref, uref)
        # Own writeable C-ordered copies: a read-only array (the executive passes some) or another layout would
        # make numba compile another specialisation of the kernels below, in flight.
        x0, xref, uref = np.array(x0, order="C"), np.array(xref, order="C"), np.array(uref, order="C")
        D, pv = self._D, self._pv
        # cvxpy's cached OSQP (the cvxpy path with solver OSQP) needs to know whether x0 changed (_solve_cvxpy).
        x0_unchanged = (self.solver == "OSQP" and self._x0.value is not None
                        and np.array_equal(self._x0.value, x0 / D))
        fuel_off = 0.0
        if self._w_fuel is not None:
            w = self.fuel_weight if no_plan else self.plan_fuel_weight
            pv[self._w_fuel][...] = w
            fuel_off = _EPIGRAPH_OFFSET if w == 0.0 else 0.0
        ref_cost = reference_data(x0, xref, uref, D, self.a_max, self._q_diag, self.P_scaled, self.R_scaled[0, 0],
                                  fuel_off, *self._slots_ref)
        if not np.isfinite(ref_cost):
            return self._fail("invalid_input", x0, t_start)
        self._slot_ref_cost[...] = ref_cost
        if self.cone_faces:
            pv[self._cone_F][...], pv[self._cone_G][...] = self._cone
        if self.model == "ya":
            if theta_rad is None or not np.isfinite(theta_rad):
                return self._fail("invalid_input", x0, t_start)
            pv[self._ya_A][...], pv[self._ya_B][...] = self.ya_matrices(theta_rad)

        # Linearisation points for steps 1..N: previous plan shifted by one step, else the reference
        # followed by `cold_start_refinements` re-solves about the plan just found.
        guess = self._guess
        if self._prev_x_plan is not None:
            guess[:N - 1] = self._prev_x_plan[2:, 0:3]
            guess[N - 1] = self.A_H[0:3] @ self._prev_x_plan[N]
            passes = 1
        else:
            guess[:] = xref[1:, 0:3]
            passes = 1 + self.cold_start_refinements
        solve_ms = 0.0
        shift = self._prev_x_plan is not None   # the first pass of a warm cycle: one step on from the last plan
        for _ in range(passes):
            linearisation_data(x0[0:3], guess, self.keep_out_radius_m, self.closing_origin_m,
                               self.closing_speed_min_m_s, self.closing_speed_gain_per_s, self.velocity_scale_m_s,
                               *self._slots_lin)
            if self.approach_ellipsoid_m is not None:
                pv[self._ae_h][...], pv[self._ae_b][...], pv[self._ae_w][...] = approach_ellipsoid_data(
                    guess, xref[1:, 0:3], self.approach_ellipsoid_m, self.corridor_half_width_m, self.length_scale_m)
            try:
                sol = self.canonical.solve_current(shift) if self.canonical is not None else None
                if sol is not None and sol.verified:
                    status, ms, cost = sol.status, sol.solve_ms, sol.cost
                    X, U, s_ko, s_cl, *extra = (sol.values[v] for v in self._plan_vars)
                else:
                    if sol is not None:   # the fast path's answer is in doubt: solve it again, exactly
                        self.fallback_solves += 1
                    status, ms, cost = self._solve_cvxpy(x0_unchanged)
                    ms += sol.solve_ms if sol is not None else 0.0
                    X, U, s_ko, s_cl, *extra = (v.value for v in self._plan_vars)
                    X, U = np.asfortranarray(X), np.asfortranarray(U)   # the layout plan_si is compiled for
            except Exception as exc:  # any solver failure becomes a safe command, never a crash
                return self._fail(f"solver_error: {type(exc).__name__}", x0, t_start)
            x0_unchanged, shift = True, False
            solve_ms += ms
            if status not in _OK_STATUSES or X is None or U is None:
                return self._fail(status, x0, t_start, solve_ms)
            x_plan, u_plan = np.empty((N + 1, 6)), np.empty((N, 3))
            finite = plan_si(X, U, D, self.a_max, x_plan, u_plan)
            guess[:] = x_plan[1:, 0:3]
        ko_m = 0.0
        if self.keep_out_radius_m > 0.0 and s_ko is not None:
            ko_m = max(float(s_ko.max()), 0.0) * self.length_scale_m
        cl_m_s = max(float(s_cl.max()), 0.0) * self.velocity_scale_m_s if s_cl is not None else 0.0
        slack = {name: max(float(v.max()), 0.0) if v is not None else float("nan")
                 for name, v in zip(self._slacks, extra)}
        cone_m = slack.get("cone", 0.0) * self.length_scale_m
        ae_m = 0.0
        if "ae" in slack:   # a_k over |h_k| (scaled) is the distance beyond the tangent plane or the tube
            h = pv[self._ae_h]
            ae_m = slack["ae"] * self.length_scale_m / max(float(np.min(np.linalg.norm(h, axis=1))), 1.0)
        cost = float(cost)
        if not (finite and np.isfinite(ko_m) and np.isfinite(cl_m_s) and np.isfinite(cost)):
            return self._fail("non_finite_solution", x0, t_start, solve_ms)
        x_plan.flags.writeable = u_plan.flags.writeable = False   # fresh arrays, handed out read-only
        self._prev_x_plan = x_plan
        drift_m = float("nan")
        if self.passive_safety_s > 0.0:
            drift_m = plan_drift_min_range(self.n, x_plan, self.passive_safety_s, DRIFT_SAMPLE_S)
        return MpcResult(
            u0_H=readonly_array(u_plan[0]), u_plan=u_plan, x_plan=x_plan,
            status=status, ok=True, solve_ms=solve_ms,
            compute_ms=self._ms_since(t_start),
            max_slack=max(ko_m, cl_m_s, cone_m, ae_m), max_keep_out_slack_m=ko_m, max_closing_slack_m_s=cl_m_s,
            cost=cost, passive_min_range_m=drift_m, max_approach_ellipsoid_slack_m=ae_m,
            terminal_slack=slack.get("terminal", 0.0))


DOCK_LENGTH_SCALE_M = 10.0  # final approach: tens of metres down to centimetres
DOCK_CONE_FACES = 8         # the inscribed pyramid keeps cos(pi/8) = 92 % of the cone's width


def docking_mpc(n, dt_s, horizon, a_max, contact_m, contact_speed_m_s, closing_speed_gain_per_s, **options):
    """The MPC of a final approach to a docking port (a RelativeMPC): no keep-out sphere (the target
    is the destination), a DOCK_CONE_FACES-faced line-of-sight cone (declare it every cycle with
    set_cone), closing speed contact_speed_m_s + closing_speed_gain_per_s * (range - contact_m)
    (m/s, 1/s, m), length scale DOCK_LENGTH_SCALE_M. options: weights and solve path, as RelativeMPC."""
    return RelativeMPC(n, dt_s, horizon, a_max, 0.0, contact_speed_m_s, closing_speed_gain_per_s,
                       length_scale_m=DOCK_LENGTH_SCALE_M, cone_faces=DOCK_CONE_FACES, closing_origin_m=contact_m,
                       **options)
