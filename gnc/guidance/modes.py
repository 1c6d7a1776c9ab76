"""Mission mode manager: flies the scenario's phases in order and aborts when safety is in doubt.

Modes: APPROACH, HOLD, INSPECT, DEPART, DOCK (one per phase kind), ABORT (latched: an escape burn to a
passively safe drift, then thrusters off) and DONE (mission complete, station-keeping at the last
point). Every transition is an event with its time and reason. The escape's drift must clear keep-out
by mission.abort.drift_sigma_k sigmas of the estimate; after the abort the drift is re-checked every
abort.recheck_s while the estimate is trusted, and burned away from again when forces the HCW drift
leaves out (differential drag, J2) have brought it within keep-out + margin.

Transfers (approach, depart, the inspection ellipse's entry) follow the free two-impulse HCW arc, or with
control.reference = "fuel_optimal" guidance's fuel-optimal plan (gnc.guidance.plan) to the same end state
at the same time: solved from the estimate when the transfer starts (once the estimate's velocity sigma
is below control.plan_vel_sigma_m_s: until then the reference is the free drift from the estimate, so
no fuel goes on a poorly known state), then again every control.replan_s while more than a horizon is
left, each plan replacing the last (a failed solve keeps the last);
its states are the reference and its thrust the input reference (feedforward) of the MPC. Past the plan's end
a chaser not yet arrived gets no input reference: the MPC tracks the end point with its quadratic cost instead
of the plan's L1 price on corrections (plan_fuel_weight), whose dead band would leave it metres short.
"""

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from gnc.config import ApproachPhase, DepartPhase, DockPhase, FlightConfig, HoldPhase, InspectPhase
from gnc.guidance.plan import TransferPlanner
from gnc.guidance.safety import escape_burn
from gnc.guidance.trajectories import ArcToState, ClosingLawApproach, EllipseArc, PlannedArc, TransferArc

NS = 1_000_000_000
CONTACT_DISTANCE_M = 0.1  # the docking phase ends (contact) when the estimate is this close to the port
DOCK_SPEED_MARGIN = 1.5  # abort when closing faster than this times the closing-speed law
# Longest transfer (control periods) planned in flight: cvxpy's parameter tensor of the plan's program grows
# as steps^2 (measured: a 1000-step planner takes 1.2 s and 0.56 GB peak RSS to build); 540 in the default mission.
MAX_PLAN_STEPS = 1000


def dock_geometry(p: DockPhase, x_hat: np.ndarray) -> tuple[float, float, float]:
    """(distance to the contact point along the axis m, lateral offset from the axis m, closing speed m/s)."""
    axis = np.array(p.axis_H) / np.linalg.norm(p.axis_H)
    along = float(x_hat[:3] @ axis)
    lateral = float(np.linalg.norm(x_hat[:3] - along * axis))
    return along - p.contact_m, lateral, -float(x_hat[3:] @ axis)


def dock_limits(p: DockPhase, along_m: float) -> tuple[float, float]:
    """(allowed lateral offset m, allowed closing speed m/s) at along_m (m) from the contact point:
    the cone (tan(half-angle) * along + contact_pos_tol_m) and DOCK_SPEED_MARGIN times the closing law."""
    s = max(along_m, 0.0)
    return (math.tan(math.radians(p.cone_half_angle_deg)) * s + p.contact_pos_tol_m,
            DOCK_SPEED_MARGIN * (p.contact_speed_m_s + p.closing_speed_gain_per_s * s))


def dock_cone(p: DockPhase, xref_H: np.ndarray):
    """The MPC's line-of-sight cone for a reference xref_H ((N+1), 6) [m, m/s], H: ((axis, apex m,
    half-angle rad), active (N,)) for RelativeMPC.set_cone. The apex is the contact point, so the plan
    keeps inside the strict cone (the abort allows contact_pos_tol_m more); steps whose reference is
    past the contact point are not constrained."""
    axis = np.array(p.axis_H) / np.linalg.norm(p.axis_H)
    active = xref_H[1:, :3] @ axis >= p.contact_m
    return (axis, axis * p.contact_m, math.radians(p.cone_half_angle_deg)), active


class Mode(IntEnum):
    APPROACH = 0
    HOLD = 1
    INSPECT = 2
    DEPART = 3
    ABORT = 4
    DONE = 5
    DOCK = 6


_MODE_OF = {ApproachPhase: Mode.APPROACH, DepartPhase: Mode.DEPART, HoldPhase: Mode.HOLD,
            InspectPhase: Mode.INSPECT, DockPhase: Mode.DOCK}


@dataclass(frozen=True)
class Event:
    """A mode transition or abort: t_ns (ns since epoch), text."""

    t_ns: int
    text: str


@dataclass(frozen=True)
class GuidanceOutput:
    """What control needs this cycle.

    mode, phase_index (-1 once DONE or ABORT past the phases); xref_H: (N+1, 6) reference states
    [m, m/s] at t_ns + k * dt; uref_H: (N, 3) reference accelerations (m/s^2, H) held from t_ns + k * dt
    while a planned thrust arc is flown, else None; escape_dv_H: the abort's impulsive delta-v (m/s, H)
    on the cycle the abort begins, else None.
    """

    t_ns: int
    mode: Mode
    phase_index: int
    xref_H: np.ndarray
    uref_H: np.ndarray | None
    escape_dv_H: np.ndarray | None


def transfer_planners(cfg: FlightConfig) -> dict[int, TransferPlanner]:
    """The fuel-optimal planner of each transfer phase of cfg's mission, by phase index (none when
    control.reference is not "fuel_optimal"); each solved once here, so that no cycle pays cvxpy's set-up.
    A transfer of more than MAX_PLAN_STEPS control periods flies the two-impulse arc instead."""
    if cfg.control.reference != "fuel_optimal":
        return {}
    dt = cfg.control.period_s
    out = {}
    for i, p in enumerate(cfg.mission.phases):
        if isinstance(p, (ApproachPhase, InspectPhase)):
            T = p.entry_s if isinstance(p, InspectPhase) else p.transfer_s
            if round(T / dt) > MAX_PLAN_STEPS:
                continue
            out[i] = TransferPlanner(cfg.n_rad_s, dt, cfg.vehicle.max_accel_m_s2, max(1, round(T / dt)))
            out[i].solve(np.zeros(6), np.zeros(6))
    return out


class MissionManager:
    """Mode state machine over the mission's phases (see module doc). planners: transfer_planners(cfg),
    to share them with another manager of the same configuration (default: built here)."""

    def __init__(self, cfg: FlightConfig, t0_ns: int, planners: dict[int, TransferPlanner] | None = None):
        self.cfg = cfg
        self.n = cfg.n_rad_s
        self.phases = cfg.mission.phases
        self.abort_cfg = cfg.mission.abort
        self.keep_out = cfg.control.keep_out_radius_m
        self.index = -1
        self.mode = Mode.APPROACH
        self.events: list[Event] = []
        self.phases_completed: list[str] = []
        self._ref = None
        self._arc = None            # the phase's free-motion reference (what a plan hands over to)
        self._planned_at_s = -math.inf
        self.abort_request: str | None = None  # set by fault protection (request_abort): abort next cycle
        self._drift_checked_ns = 0  # when the abort last checked the free drift (ns since epoch)
        self._t_start_ns = t0_ns
        self._t_end_s = math.inf
        self.planners = transfer_planners(cfg) if planners is None else planners

    @property
    def phase_index(self) -> int:
        """Index of the phase being flown or aborted from; -1 once the mission is DONE."""
        return -1 if self.mode == Mode.DONE else self.index

    @property
    def success(self) -> bool:
        return self.mode == Mode.DONE

    def log(self, t_ns: int, text: str) -> None:
        """Record an event at t_ns (ns since epoch)."""
        self.events.append(Event(t_ns, text))

    def request_abort(self, reason: str) -> None:
        """Fault protection's response: abort at the next update with this reason (the first request stands)."""
        if self.abort_request is None:
            self.abort_request = reason

    def _start_phase(self, t_ns: int, x_hat: np.ndarray) -> None:
        self.index += 1
        if self.index >= len(self.phases):
            self.mode = Mode.DONE
            self.log(t_ns, "mission complete")
            return
        p = self.phases[self.index]
        self.mode = _MODE_OF[type(p)]
        self._t_start_ns = t_ns
        r0 = x_hat[:3].copy()
        if isinstance(p, HoldPhase):
            at = np.array(p.at_H_m)
            self._ref = TransferArc(self.n, at, at, 1.0)
            self._t_end_s = p.duration_s
        elif isinstance(p, DockPhase):
            axis = np.array(p.axis_H) / np.linalg.norm(p.axis_H)
            self._ref = ClosingLawApproach(axis, p.contact_m, float(r0 @ axis) - p.contact_m,
                                           p.contact_speed_m_s, p.closing_speed_gain_per_s)
            self._t_end_s = 0.0  # done at contact, whenever it comes
        elif isinstance(p, InspectPhase):
            theta0 = math.pi / 2 if r0[1] < 0 else -math.pi / 2
            ellipse = EllipseArc(self.n, p.radial_amp_m, p.cross_amp_m, theta0)
            self._ref = ArcToState(self.n, r0, ellipse, p.entry_s)
            self._t_end_s = p.entry_s + p.orbits * 2 * math.pi / self.n
        else:
            self._ref = TransferArc(self.n, r0, np.array(p.to_H_m), p.transfer_s)
            self._t_end_s = p.transfer_s
        self._arc = self._ref
        self._planned_at_s = -math.inf
        self.log(t_ns, f"phase {self.index} '{p.name}' ({p.kind}) started")

    def _replan(self, t_s: float, x_hat: np.ndarray, P: np.ndarray, horizon: int) -> None:
        """Re-solve the transfer's fuel-optimal plan from x_hat (covariance P) at t_s (s into the phase) when
        due, or set the free drift from x_hat as the reference while the first plan waits (module doc)."""
        planner = self.planners.get(self.index)
        if planner is None or t_s - self._planned_at_s < self.cfg.control.replan_s - 1e-6:
            return
        k0 = round(t_s / planner.dt_s)
        if planner.steps - k0 <= horizon:
            return
        if self._planned_at_s == -math.inf and np.trace(P[3:, 3:]) > self.cfg.control.plan_vel_sigma_m_s ** 2:
            u = np.zeros((planner.steps - k0, 3))
            self._ref = PlannedArc(self.n, planner.dt_s, k0 * planner.dt_s, planner.propagate(x_hat, u), u, self._arc)
            return
        first = self._planned_at_s == -math.inf
        self._planned_at_s = t_s
        plan = planner.solve(x_hat, self._arc.state(planner.steps * planner.dt_s), k0)
        if plan.ok:
            self._ref = PlannedArc(self.n, planner.dt_s, k0 * planner.dt_s, plan.x_H, plan.u_H, self._arc)
        if not plan.ok or first:
            outcome = f"{plan.delta_v_m_s:.4f} m/s" if plan.ok else f"failed ({plan.status}), previous reference kept"
            self.log(round(self._t_start_ns + t_s * NS), f"fuel-optimal plan of phase {self.index}: {outcome}")

    def _phase_done(self, t_ns: int, x_hat: np.ndarray) -> bool:
        elapsed = (t_ns - self._t_start_ns) / NS
        if elapsed < self._t_end_s:
            return False
        p = self.phases[self.index]
        if isinstance(p, DockPhase):
            return dock_geometry(p, x_hat)[0] <= CONTACT_DISTANCE_M
        if isinstance(p, ApproachPhase):
            return (np.linalg.norm(x_hat[:3] - np.array(p.to_H_m)) <= p.arrive_pos_tol_m
                    and np.linalg.norm(x_hat[3:]) <= p.arrive_vel_tol_m_s)
        return True

    def _nav_doubt(self, t_ns: int, P: np.ndarray, last_meas_t_ns: int) -> str | None:
        """Why the estimate is not to be trusted (position sigma too large, or measurements too old), or None."""
        a = self.abort_cfg
        sigma = math.sqrt(P[0, 0] + P[1, 1] + P[2, 2])
        if sigma > a.nav_pos_sigma_max_m:
            return f"navigation position sigma {sigma:.1f} m > {a.nav_pos_sigma_max_m} m"
        if (t_ns - last_meas_t_ns) / NS > a.sensor_timeout_s:
            return f"no relative measurement for {(t_ns - last_meas_t_ns) / NS:.0f} s"
        return None

    def _escape(self, t_ns: int, x_hat: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, str]:
        """The escape burn (m/s, H) that leaves the estimate on a robustly safe drift (safety.escape_burn), and
        its description for the event log."""
        a = self.abort_cfg
        dv, clear = escape_burn(self.n, x_hat, P, a.drift_sigma_k, self.keep_out + a.keep_out_margin_m,
                                a.escape_dv_m_s, a.safe_drift_s)
        self._drift_checked_ns = t_ns
        return dv, (f"escape dv {np.round(dv, 4).tolist()} m/s, free-drift minimum range less "
                    f"{a.drift_sigma_k:g} sigma {clear:.0f} m over {a.safe_drift_s:.0f} s")

    def _abort_reason(self, t_ns, x_hat, P, last_meas_t_ns, mpc_fail_streak, plan_min_range_m):
        if self.abort_request is not None:
            return self.abort_request
        a = self.abort_cfg
        rng = float(np.linalg.norm(x_hat[:3]))
        doubt = self._nav_doubt(t_ns, P, last_meas_t_ns)
        if doubt is not None:
            return doubt
        if mpc_fail_streak >= a.mpc_fail_limit:
            return f"{mpc_fail_streak} consecutive control-stage failures (MPC failed or over budget)"
        if self.mode == Mode.DOCK:
            p = self.phases[self.index]
            along, lateral, closing = dock_geometry(p, x_hat)
            allowed, limit = dock_limits(p, along)
            if lateral > allowed:
                return f"outside the approach cone: {lateral:.2f} m off axis, {allowed:.2f} m allowed"
            if closing > limit:
                return f"closing at {closing:.3f} m/s, limit {limit:.3f} m/s"
            return None
        if rng < self.keep_out + a.keep_out_margin_m:
            return f"estimated range {rng:.1f} m inside keep-out + margin"
        if plan_min_range_m < self.keep_out:
            return f"planned trajectory enters keep-out ({plan_min_range_m:.1f} m)"
        return None

    def update(self, t_ns: int, x_hat: np.ndarray, P: np.ndarray, last_meas_t_ns: int,
               mpc_fail_streak: int, plan_min_range_m: float, horizon: int, dt_s: float) -> GuidanceOutput:
        """Advance the mode logic at t_ns with the estimate (x_hat [m, m/s], P) and return the reference."""
        escape = None
        if self.index < 0:
            self._start_phase(t_ns, x_hat)
        if self.mode not in (Mode.ABORT, Mode.DONE):
            reason = self._abort_reason(t_ns, x_hat, P, last_meas_t_ns, mpc_fail_streak, plan_min_range_m)
            if reason is not None:
                self.mode = Mode.ABORT
                escape, text = self._escape(t_ns, x_hat, P)
                self.log(t_ns, f"ABORT: {reason}; {text}")
            elif self._phase_done(t_ns, x_hat):
                self.phases_completed.append(self.phases[self.index].name)
                self.log(t_ns, f"phase {self.index} '{self.phases[self.index].name}' completed")
                self._start_phase(t_ns, x_hat)
        elif (self.mode == Mode.ABORT and (t_ns - self._drift_checked_ns) / NS >= self.abort_cfg.recheck_s - 1e-9
              and self._nav_doubt(t_ns, P, last_meas_t_ns) is None):
            dv, text = self._escape(t_ns, x_hat, P)
            if np.any(dv != 0.0):
                escape = dv
                self.log(t_ns, f"ABORT: free drift re-checked, unsafe; {text}")
        t0 = (t_ns - self._t_start_ns) / NS
        if self.mode in (Mode.APPROACH, Mode.DEPART, Mode.INSPECT):
            self._replan(t0, x_hat, P, horizon)
        xref = np.empty((horizon + 1, 6))
        for k in range(horizon + 1):
            xref[k] = self._ref.state(t0 + k * dt_s)
        uref = None
        if isinstance(self._ref, PlannedArc) and self.mode != Mode.ABORT and t0 < self._ref.t_end:
            uref = np.array([self._ref.accel(t0 + k * dt_s) for k in range(horizon)])
        return GuidanceOutput(t_ns, self.mode, self.phase_index, xref, uref, escape)
