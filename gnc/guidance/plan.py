"""Open-loop fuel-optimal delta-v of a mission's transfers, on the flight model (``gnc plan``).

Model: the MPC's (gnc.control.mpc): HCW about the target's circular orbit, thrust acceleration a_H held
over each control period dt (zero-order hold), |a_i| <= a_max per Hill axis. For one transfer from
state x0 to state xf in N = round(T / dt) steps the convex program (second-order cone, cvxpy)
    min  sum_k |a_k|_2 dt     s.t.  x_{k+1} = A x_k + B a_k,  x_0 = x0,  x_N = xf,  |a_k|_inf <= a_max
gives the least delta-v (m/s) any controller on this model can spend (the sum of |a| dt is how the
simulator counts delta-v). Keep-out and closing-speed constraints are not imposed, so the optimum is a
lower bound for the closed loop that flies them.

The program is stated condensed (TransferPlanner): the states are eliminated, x_N = A^N x0 + sum_k
A^(N-1-k) B a_k, leaving 3N inputs, N cones and 6 equalities; built once per transfer length with
cvxpy Parameters (the end-state residual xf - A^(N-k0) x0 and which steps may still thrust), it is
re-solved from any step k0 of the transfer, which is how guidance re-plans in flight
(gnc.guidance.modes); the states of a plan follow by propagation.

Transfers of a mission, from the nominal initial state, each starting where the previous phase ends:
approach and depart phases (to their point, at rest, in transfer_s) and the inspection ellipse's entry
(to the ellipse's entry state in entry_s; the ellipse itself is a free HCW orbit and costs nothing on
this model). Holds cost nothing at V-bar points (equilibria) and are not transfers; a dock phase
follows its imposed closing-law profile, so it is not a transfer either.
"""

import functools
import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from gnc.config import ApproachPhase, DockPhase, FlightConfig, HoldPhase, InspectPhase
from gnc.guidance.trajectories import EllipseArc, hcw_transfer_velocity
from gnc.models.hcw import hcw_input_matrix, hcw_stm

LENGTH_SCALE_M = 100.0  # the program is solved in the MPC's scaled units (module doc of gnc.control.mpc)


@dataclass(frozen=True)
class Transfer:
    """One transfer of the mission: phase name and kind, start and end states [m, m/s] (H), duration s."""

    phase: str
    kind: str
    x0_H: np.ndarray
    xf_H: np.ndarray
    duration_s: float


@dataclass(frozen=True)
class TransferPlan:
    """The fuel optimum of a transfer: delta_v_m_s (m/s) and the two-impulse delta-v of the free HCW arc
    the guidance uses as its reference (two_impulse_m_s, m/s; impulses not bounded by a_max)."""

    transfer: Transfer
    delta_v_m_s: float
    two_impulse_m_s: float
    status: str


def mission_transfers(cfg: FlightConfig, x0_H: np.ndarray) -> list[Transfer]:
    """The transfers of cfg's mission flown from x0_H = [r m, v m/s] (H) (module doc)."""
    n, x = cfg.n_rad_s, np.asarray(x0_H, dtype=float)
    out = []
    for p in cfg.mission.phases:
        if isinstance(p, ApproachPhase):   # approach and depart
            xf = np.concatenate([np.array(p.to_H_m, dtype=float), np.zeros(3)])
            out.append(Transfer(p.name, p.kind, x, xf, p.transfer_s))
            x = xf
        elif isinstance(p, InspectPhase):
            ellipse = EllipseArc(n, p.radial_amp_m, p.cross_amp_m, math.pi / 2 if x[1] < 0 else -math.pi / 2)
            out.append(Transfer(p.name, p.kind, x, ellipse.state(0.0), p.entry_s))
            x = ellipse.state(p.orbits * 2 * math.pi / n)
        elif isinstance(p, HoldPhase):
            x = np.concatenate([np.array(p.at_H_m, dtype=float), np.zeros(3)])
        elif isinstance(p, DockPhase):
            axis = np.array(p.axis_H) / np.linalg.norm(p.axis_H)
            x = np.concatenate([axis * p.contact_m, np.zeros(3)])
    return out


@dataclass(frozen=True)
class FuelOptimalPlan:
    """A solved transfer from step k0: held accelerations u_H ((N-k0), 3) m/s^2 and the states they give
    x_H ((N-k0+1), 6) [m, m/s], both in H (None unless ok); delta_v_m_s (m/s, NaN unless ok); cvxpy's status."""

    u_H: np.ndarray | None
    x_H: np.ndarray | None
    delta_v_m_s: float
    status: str

    @property
    def ok(self) -> bool:
        return self.u_H is not None


class TransferPlanner:
    """The fuel-optimal program of the module doc for transfers of `steps` periods of dt_s (s), mean motion
    n (rad/s), per-axis bound a_max (m/s^2); built once, solved in the scaled units of gnc.control.mpc."""

    def __init__(self, n: float, dt_s: float, a_max: float, steps: int):
        N = self.steps = int(steps)
        if N < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        L = LENGTH_SCALE_M
        self.n, self.dt_s, self.a_max = n, dt_s, a_max
        self._D = np.array([L, L, L, L * n, L * n, L * n])
        self.A_H, self.B_H = hcw_stm(n, dt_s), hcw_input_matrix(n, dt_s)   # one step, SI
        A = self.A_H * (self._D[None, :] / self._D[:, None])
        B = self.B_H * (a_max / self._D[:, None])
        G = np.empty((6, 3 * N))       # block k: A^(N-1-k) B, the end state's response to step k's input
        M = B.copy()
        for k in range(N - 1, -1, -1):
            G[:, 3 * k:3 * k + 3] = M
            M = A @ M
        self._U = cp.Variable((N, 3))
        self._residual = cp.Parameter(6)              # scaled xf - A^(N-k0) x0
        self._bound = cp.Parameter((N, 3), nonneg=True)   # 1 on the steps still to fly, 0 before k0
        self._problem = cp.Problem(cp.Minimize(cp.sum(cp.norm(self._U, 2, axis=1))),
                                   [G @ cp.vec(self._U, order="C") == self._residual, cp.abs(self._U) <= self._bound])

    def solve(self, x0_H, xf_H, k0: int = 0) -> FuelOptimalPlan:
        """Least-delta-v plan from x0_H at step k0 to xf_H at step `steps` ([m, m/s], H); not ok when the
        program is infeasible (a_max too small for the time left) or the solver fails."""
        N, D = self.steps, self._D
        if not 0 <= k0 < N:
            raise ValueError(f"k0 must be in [0, {N}), got {k0}")
        x0, xf = np.asarray(x0_H, dtype=float), np.asarray(xf_H, dtype=float)
        bound = np.ones((N, 3))
        bound[:k0] = 0.0
        self._bound.value = bound
        self._residual.value = (xf - hcw_stm(self.n, (N - k0) * self.dt_s) @ x0) / D
        try:
            self._problem.solve(solver=cp.CLARABEL)
        except cp.SolverError as exc:
            return FuelOptimalPlan(None, None, math.nan, f"solver_error: {exc}")
        status = str(self._problem.status)
        if status not in ("optimal", "optimal_inaccurate") or self._U.value is None:
            return FuelOptimalPlan(None, None, math.nan, status)
        u = np.clip(self._U.value[k0:], -1.0, 1.0) * self.a_max
        return FuelOptimalPlan(u, self.propagate(x0, u), float(np.sum(np.linalg.norm(u, axis=1))) * self.dt_s, status)

    def propagate(self, x0_H, u_H) -> np.ndarray:
        """States ((M+1), 6) [m, m/s], H, from x0_H under the accelerations u_H (M, 3) m/s^2 held per step."""
        x = np.empty((len(u_H) + 1, 6))
        x[0] = x0_H
        for k in range(len(u_H)):
            x[k + 1] = self.A_H @ x[k] + self.B_H @ u_H[k]
        return x


def fuel_optimal_delta_v(n: float, dt_s: float, a_max: float, x0_H, xf_H, duration_s: float) -> tuple[float, str]:
    """(least delta-v m/s, solver status) from x0_H to xf_H in duration_s on the model of the module doc;
    NaN when the program is infeasible (a_max too small for the time)."""
    plan = TransferPlanner(n, dt_s, a_max, max(1, round(duration_s / dt_s))).solve(x0_H, xf_H)
    return plan.delta_v_m_s, plan.status


def two_impulse_delta_v(n: float, x0_H, xf_H, duration_s: float) -> float:
    """Delta-v (m/s) of the free HCW arc from x0_H's position to xf_H's in duration_s (two impulses)."""
    x0, xf = np.asarray(x0_H, dtype=float), np.asarray(xf_H, dtype=float)
    v_start = hcw_transfer_velocity(n, np.ascontiguousarray(x0[:3]), np.ascontiguousarray(xf[:3]), duration_s)
    arc_end = hcw_stm(n, duration_s) @ np.concatenate([x0[:3], v_start])
    return float(np.linalg.norm(v_start - x0[3:]) + np.linalg.norm(xf[3:] - arc_end[3:]))


@functools.lru_cache(maxsize=8)
def plan_mission(cfg: FlightConfig, x0_H: tuple[float, ...]) -> tuple[TransferPlan, ...]:
    """Fuel-optimal and two-impulse delta-v of every transfer of cfg's mission from x0_H (6 floats,
    [m, m/s], H). Cached: a run's summary and a campaign's runs of one scenario solve it once."""
    c = cfg.control
    out = []
    for t in mission_transfers(cfg, np.array(x0_H, dtype=float)):
        dv, status = fuel_optimal_delta_v(cfg.n_rad_s, c.period_s, cfg.vehicle.max_accel_m_s2, t.x0_H, t.xf_H,
                                          t.duration_s)
        out.append(TransferPlan(t, dv, two_impulse_delta_v(cfg.n_rad_s, t.x0_H, t.xf_H, t.duration_s), status))
    return tuple(out)


def optimality_summary(plans: tuple[TransferPlan, ...], delta_v_by_phase: dict[str, float]) -> dict:
    """Closed loop against the open-loop optimum, JSON-ready: delta_v_optimal_by_phase_m_s (the
    transfers' optima, m/s) and delta_v_ratio_to_optimal = closed-loop delta-v of the transfer phases
    over their summed optimum (None when a transfer phase was not flown or has no optimum)."""
    optimal = {p.transfer.phase: p.delta_v_m_s for p in plans}
    flown = sum(delta_v_by_phase.get(name, math.nan) for name in optimal)
    best = sum(optimal.values())
    ratio = flown / best if optimal and math.isfinite(flown) and best > 0 else None
    return {"delta_v_optimal_by_phase_m_s": optimal, "delta_v_ratio_to_optimal": ratio}


def format_plan(plans: tuple[TransferPlan, ...], delta_v_by_phase: dict[str, float] | None = None) -> str:
    """The plan as a text table; with a run's delta_v_by_phase (m/s), its closed-loop delta-v and ratio."""
    head = f"{'transfer':<22}{'kind':<9}{'time s':>8}{'optimum m/s':>13}{'2-impulse m/s':>15}"
    rows = [head + (f"{'closed loop':>13}{'ratio':>7}" if delta_v_by_phase is not None else "")]
    for p in plans:
        t = p.transfer
        row = f"{t.phase:<22}{t.kind:<9}{t.duration_s:>8.0f}{p.delta_v_m_s:>13.4f}{p.two_impulse_m_s:>15.4f}"
        if delta_v_by_phase is not None:
            flown = delta_v_by_phase.get(t.phase, math.nan)
            row += f"{flown:>13.4f}{flown / p.delta_v_m_s:>7.3f}"
        rows.append(row)
    total = f"{'total':<39}{sum(p.delta_v_m_s for p in plans):>13.4f}{sum(p.two_impulse_m_s for p in plans):>15.4f}"
    if delta_v_by_phase is not None:
        s = optimality_summary(plans, delta_v_by_phase)
        flown = sum(delta_v_by_phase.get(p.transfer.phase, math.nan) for p in plans)
        ratio = s["delta_v_ratio_to_optimal"]
        total += f"{flown:>13.4f}{ratio if ratio is not None else math.nan:>7.3f}"
    return "\n".join(rows + [total])
