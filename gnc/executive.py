"""The fixed-rate, multi-rate flight loop.

Schedules are integers in ns from the start time, so rates never drift: the loop ticks at the
greatest common divisor of the stage periods; the navigation stage (read sensors, EKF predict and
updates, sensor pointing) runs every nav period and the control stage (guidance, MPC, allocation)
every control period. Each stage's compute time is measured with an injected clock and counted
against its deadline (nav: its period; control: control.budget_s). A failed or over-budget control
stage falls back to the safe command (thrusters off); guidance aborts after repeated failures.
A 6-DOF chaser (cfg.attitude set) adds the attitude stage every attitude period: IMU and star-tracker
samples feed gnc.control.attitude, which points the boresight and turns the held acceleration plus the
attitude torque into thruster on-times (ActuatorCommand.on_time_s).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from gnc.config import DockPhase, FlightConfig
from gnc.control.allocation import allocate_accel
from gnc.control.attitude import AttitudeLoop, pointing_dcm_BH
from gnc.control.lqr import LqrController
from gnc.control.mpc import RelativeMPC, docking_mpc
from gnc.fdir import SensorHealth
from gnc.guidance.modes import MissionManager, Mode, dock_cone
from gnc.guidance.safety import escape_burn
from gnc.models.rae import rae_from_rel
from gnc.nav.relnav import RelNavFilter
from gnc.frames import quat_from_dcm
from gnc.ports import ActuatorCommand, AttitudeMeasurement, ImuSample, RaeMeasurement, VehicleIO

NS = 1_000_000_000


@dataclass
class StageStats:
    """Compute times (ns) of one stage and how often they overran budget_ns."""

    budget_ns: int
    compute_ns: list[int] = field(default_factory=list)
    misses: int = 0

    def add(self, dt_ns: int) -> bool:
        self.compute_ns.append(dt_ns)
        over = dt_ns > self.budget_ns
        self.misses += over
        return over


@dataclass(frozen=True)
class CycleRecord:
    """One tick of the loop, for telemetry. Units: t_ns ns; x_hat [m, m/s] and sigma in H;
    accel_H m/s^2 (held command); nav_us / ctrl_us compute time (us, 0 when the stage did not run)."""

    t_ns: int
    x_hat: np.ndarray
    sigma: np.ndarray
    accel_H: np.ndarray
    mode: int
    phase_index: int
    n_meas: int
    n_rejected: int
    nis: float
    nav_us: float
    ctrl_us: float
    mpc_ok: bool
    mpc_solve_ms: float


class Executive:
    """Runs nav, guidance and control against a VehicleIO (see module doc)."""

    def __init__(self, cfg: FlightConfig, io: VehicleIO, x0_hat: np.ndarray, P0: np.ndarray, clock_ns):
        self.cfg, self.io, self.clock_ns = cfg, io, clock_ns
        self.nav_period_ns = round(cfg.nav.period_s * NS)
        self.ctrl_period_ns = round(cfg.control.period_s * NS)
        self.tick_ns = math.gcd(self.nav_period_ns, self.ctrl_period_ns)
        # 6-DOF chaser: the attitude loop (estimation, pointing, thruster allocation) at its own rate
        self.att = None if cfg.attitude is None else AttitudeLoop(
            cfg, quat_from_dcm(pointing_dcm_BH(-np.asarray(x0_hat[:3], dtype=np.float64))), io.now_ns())
        if self.att is not None:
            self.att_period_ns = round(cfg.attitude.period_s * NS)
            self.tick_ns = math.gcd(self.tick_ns, self.att_period_ns)
        self.t0_ns = io.now_ns()
        self.t_ns = self.t0_ns
        self.a_max = cfg.vehicle.max_accel_m_s2
        n = cfg.nav
        self.nav = RelNavFilter(cfg.n_rad_s, n.q_psd_m2_s3,
                                np.array([n.range_sigma_m, n.angle_sigma_rad, n.angle_sigma_rad]) ** 2,
                                n.gate_chi2, x0_hat, P0, self.t0_ns)
        c = cfg.control
        common = dict(n=cfg.n_rad_s, dt_s=c.period_s, horizon=c.horizon_steps, a_max=self.a_max,
                      keep_out_radius_m=c.keep_out_radius_m, closing_speed_min_m_s=c.closing_speed_min_m_s,
                      closing_speed_gain_per_s=c.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel, r_u=c.r_u,
                      clock_ns=clock_ns)
        if c.controller == "lqr":
            self.mpc = LqrController(**common)
        else:
            self.mpc = RelativeMPC(**common, fuel_weight=c.fuel_weight, plan_fuel_weight=c.plan_fuel_weight,
                                   path=c.mpc_path, solver=c.solver)
        # A dock phase flies its own MPC (cone instead of keep-out, its closing law, a finer length scale).
        self.dock_mpcs = {} if c.controller == "lqr" else {
            i: docking_mpc(cfg.n_rad_s, c.period_s, c.horizon_steps, self.a_max, p.contact_m, p.contact_speed_m_s,
                           p.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel, r_u=c.r_u,
                           fuel_weight=c.fuel_weight, path=c.mpc_path, solver=c.solver, clock_ns=clock_ns)
            for i, p in enumerate(cfg.mission.phases) if isinstance(p, DockPhase)}
        self.ctrl = self.mpc  # the controller flying now; kept after DONE (a docked chaser stays docked)
        self.guidance = MissionManager(cfg, self.t0_ns)
        self.sensor_health = SensorHealth("relative sensor", self.t0_ns, 10 * cfg.nav.period_s, 5,
                                          self.guidance.log)
        self.stats = {"nav": StageStats(self.nav_period_ns), "ctrl": StageStats(round(c.budget_s * NS))}
        self.accel_H = np.zeros(3)
        self.last_meas_ns = self.t0_ns
        self.mpc_fail_streak = 0
        self.mpc_failures = 0
        self.fallbacks = 0
        self.plan_min_range_m = math.inf
        self.escape_left = np.zeros(3)
        self.mpc_solve_ms: list[float] = []
        self.last_nis = math.nan
        self._mpc_phase = -2
        self._warm_up(x0_hat, P0)

    def _warm_up(self, x0_hat: np.ndarray, P0: np.ndarray) -> None:
        """Run every numba kernel of the cycle once on throwaway state (compiles or loads the cache),
        so the first scheduled cycle meets its deadline."""
        n = self.cfg.nav
        scratch = RelNavFilter(self.cfg.n_rad_s, n.q_psd_m2_s3,
                               np.array([n.range_sigma_m, n.angle_sigma_rad, n.angle_sigma_rad]) ** 2,
                               n.gate_chi2, x0_hat, P0, 0)
        scratch.update(RaeMeasurement(self.nav_period_ns, *rae_from_rel(x0_hat[:3])))
        scratch.predict_to(2 * self.nav_period_ns, np.zeros(3))
        MissionManager(self.cfg, 0, self.guidance.planners).update(0, x0_hat, P0, 0, 0, math.inf, 2,
                                                                    self.cfg.control.period_s)
        escape_burn(self.cfg.n_rad_s, x0_hat, 1.0, 0.1, self.cfg.control.period_s)
        allocate_accel(np.zeros(3), self.a_max)
        if self.att is not None:
            AttitudeLoop(self.cfg, self.att.q_BH, 0).step(0, np.zeros(3), -x0_hat[:3])

    @property
    def mode(self) -> Mode:
        return self.guidance.mode

    def _nav_stage(self) -> int:
        outcomes = []
        for m in self.io.read_sensors():
            if isinstance(m, (ImuSample, AttitudeMeasurement)):
                self.att.measure(m)
                continue
            if m.t_ns < self.nav.t_ns:
                continue  # late sample; time-tag handling comes with the navigation issue
            res = self.nav.update(m)
            outcomes.append(res.accepted)
            self.last_nis = res.nis
            if res.accepted:
                self.last_meas_ns = m.t_ns
        self.sensor_health.update(self.t_ns, outcomes)
        n_meas = len(outcomes)
        self.nav.predict_to(self.t_ns, self.accel_H)
        return n_meas

    def _control_stage(self) -> tuple[bool, float]:
        """Guidance, then the MPC (or the abort's escape burn); sets the held command. Returns (ok, solve ms)."""
        c = self.cfg.control
        g = self.guidance.update(self.t_ns, self.nav.x, self.nav.P, self.last_meas_ns, self.mpc_fail_streak,
                                 self.plan_min_range_m, c.horizon_steps, c.period_s)
        if g.mode == Mode.ABORT:
            if g.escape_dv_H is not None:
                self.escape_left = g.escape_dv_H.copy()
            self.accel_H = allocate_accel(self.escape_left / c.period_s, self.a_max)
            self.escape_left -= self.accel_H * c.period_s
            return True, math.nan
        if g.mode != Mode.DONE:
            self.ctrl = self.dock_mpcs.get(g.phase_index, self.mpc) if g.mode == Mode.DOCK else self.mpc
        if g.phase_index != self._mpc_phase:
            self.ctrl.reset()  # the old plan linearised the keep-out constraint about another reference
            self._mpc_phase = g.phase_index
        if g.mode == Mode.DOCK and self.ctrl is not self.mpc:
            self.ctrl.set_cone(*dock_cone(self.cfg.mission.phases[g.phase_index], g.xref_H))
        res = self.ctrl.solve(self.nav.x, g.xref_H, g.uref_H)
        self.mpc_solve_ms.append(res.compute_ms)
        if not res.ok:
            self.mpc_fail_streak += 1
            self.mpc_failures += 1
            return False, res.compute_ms
        self.mpc_fail_streak = 0
        self.plan_min_range_m = float(np.min(np.linalg.norm(res.x_plan[:, :3], axis=1)))
        self.accel_H = allocate_accel(res.u0_H, self.a_max)
        return True, res.compute_ms

    def step(self) -> CycleRecord:
        """Run every stage due at the current schedule time, then command the actuators."""
        elapsed = self.t_ns - self.t0_ns
        nav_us = ctrl_us = 0.0
        n_meas, ok, solve_ms = 0, True, math.nan
        if elapsed % self.nav_period_ns == 0:
            t = self.clock_ns()
            n_meas = self._nav_stage()
            dt = self.clock_ns() - t
            self.stats["nav"].add(dt)
            nav_us = dt / 1e3
        if elapsed % self.ctrl_period_ns == 0:
            t = self.clock_ns()
            ok, solve_ms = self._control_stage()
            dt = self.clock_ns() - t
            over = self.stats["ctrl"].add(dt)
            ctrl_us = dt / 1e3
            if not ok or over:
                self.fallbacks += 1
                self.accel_H = np.zeros(3)
        r = self.nav.x[:3]
        rn = float(np.linalg.norm(r))
        point = tuple(-r / rn) if rn > 0 else (0.0, 1.0, 0.0)
        on_time_s = ()
        if self.att is not None and elapsed % self.att_period_ns == 0:
            on_time_s = self.att.step(self.t_ns, self.accel_H, point)
        self.io.write_actuators(ActuatorCommand(self.t_ns, tuple(self.accel_H), point, on_time_s))
        return CycleRecord(self.t_ns, self.nav.x.copy(), self.nav.sigma.copy(), self.accel_H.copy(),
                           int(self.guidance.mode), self.guidance.phase_index, n_meas, self.nav.n_rejected,
                           self.last_nis, nav_us, ctrl_us, ok, solve_ms)

    def run(self, stop_ns: int, on_cycle) -> None:
        """Tick until stop_ns (ns since epoch) or one control period after the mission is DONE.

        on_cycle(record) is called after every tick (telemetry, progress)."""
        done_at = None
        while self.t_ns <= stop_ns:
            self.io.wait_until(self.t_ns)
            on_cycle(self.step())
            if self.guidance.mode == Mode.DONE and done_at is None:
                done_at = self.t_ns
            if done_at is not None and self.t_ns - done_at >= self.ctrl_period_ns:
                return
            self.t_ns += self.tick_ns
