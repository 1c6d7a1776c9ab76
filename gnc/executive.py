"""The fixed-rate, multi-rate flight loop.

Schedules are integers in ns from the start time, so rates never drift: the loop ticks at the
greatest common divisor of the stage periods; the navigation stage (read sensors, EKF predict and
updates with every relative sample of the cycle, lidar, camera or relative GNSS, in order of their time
tags, sensor pointing) runs every nav period and the control stage (guidance, MPC, allocation)
every control period. Each stage's compute time is measured with an injected clock and counted
against its deadline (nav: its period; control: control.budget_s). A failed or over-budget control
stage falls back to the safe command (thrusters off); guidance aborts after repeated failures.
A 6-DOF chaser (cfg.attitude set) adds the attitude stage every attitude period: IMU and star-tracker
samples feed gnc.control.attitude, which points the boresight and turns the held acceleration plus the
attitude torque into thruster on-times (ActuatorCommand.on_time_s). With [nav] specific_force_noise_density > 0
the nav stage also hands the filter the IMU's specific force of the period (SpecificForceMeasurement), or with
[nav] thrust_input = 'imu' predicts over the period with it instead of the commanded acceleration.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from gnc.config import DockPhase, FlightConfig
from gnc.control.allocation import allocate_accel
from gnc.control.attitude import AttitudeLoop, pointing_dcm_BH, propagate_quat
from gnc.control.lqr import LqrController
from gnc.control.mpc import RelativeMPC, docking_mpc, keep_out_normals
from gnc.fdir import AttitudeSensorHealth, SensorHealth
from gnc.fdir_thrusters import MODE_NAMES, STUCK_ON, ThrusterFdir
from gnc.guidance.modes import MissionManager, Mode, dock_cone
from gnc.guidance.safety import escape_burn
from gnc.models.rae import rae_from_rel
from gnc.models.ya import mean_from_true, true_from_mean
from gnc.nav.process import process_from_config
from gnc.nav.relnav import filter_from_config
from gnc.frames import dcm_from_quat, quat_from_dcm, quat_mult
from gnc.ports import (ActuatorCommand, AnglesMeasurement, AttitudeMeasurement, ImuSample, RaeMeasurement,
                       RelPosMeasurement, SpecificForceMeasurement, VehicleIO)
from gnc.schema import ConfigError

NS = 1_000_000_000


@dataclass
class StageStats:
    """Compute times (ns) of one stage and how often they overran budget_ns."""

    budget_ns: int
    compute_ns: list[int] = field(default_factory=list)
    misses: int = 0

    def add(self, dt_ns: int, late: bool = False) -> bool:
        self.compute_ns.append(dt_ns)
        over = late or dt_ns > self.budget_ns
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


@dataclass(frozen=True)
class SolveJob:
    """One controller solve of the control stage, run in line or by an off-loop solver (Executive.offload_control).
    key: -1 the main MPC, else the dock phase whose MPC flies; reset: drop the old plan first; cone: set_cone's
    arguments (dock MPC) or None; x0 [m, m/s], xref_H [m, m/s] per step, uref_H m/s^2 per step (or None), in H."""

    key: int
    reset: bool
    cone: tuple | None
    x0: np.ndarray
    xref_H: np.ndarray
    uref_H: np.ndarray | None
    theta_rad: float = math.nan  # the target's true anomaly at x0 (rad; read by the YA MPC)

    def run(self, ctrl):
        """The controller's MpcResult for this job (ctrl = Executive.controller(key))."""
        if self.reset:
            ctrl.reset()  # the old plan linearised the keep-out constraint about another reference
        if self.cone is not None:
            ctrl.set_cone(*self.cone)
        return ctrl.solve(self.x0, self.xref_H, self.uref_H, theta_rad=self.theta_rad)


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
        self.nav = filter_from_config(cfg.n_rad_s, n, x0_hat, P0, self.t0_ns, process_from_config(cfg))
        c = cfg.control
        common = dict(n=cfg.n_rad_s, dt_s=c.period_s, horizon=c.horizon_steps, a_max=self.a_max,
                      keep_out_radius_m=c.keep_out_radius_m, closing_speed_min_m_s=c.closing_speed_min_m_s,
                      closing_speed_gain_per_s=c.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel, r_u=c.r_u,
                      clock_ns=clock_ns)
        if c.controller == "lqr":
            self.mpc = LqrController(**common)
        else:
            self.mpc = RelativeMPC(**common, model=c.model, eccentricity=cfg.eccentricity,
                                   approach_ellipsoid_m=c.approach_ellipsoid, terminal_set=c.terminal_set,
                                   corridor_half_width_m=c.corridor_half_width_m,
                                   fuel_weight=c.fuel_weight, plan_fuel_weight=c.plan_fuel_weight,
                                   path=c.mpc_path, solver=c.solver)
        # A dock phase flies its own MPC (cone instead of keep-out, its closing law, a finer length scale).
        self.dock_mpcs = {} if c.controller == "lqr" else {
            i: docking_mpc(cfg.n_rad_s, c.period_s, c.horizon_steps, self.a_max, p.contact_m, p.contact_speed_m_s,
                           p.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel, r_u=c.r_u,
                           fuel_weight=c.fuel_weight, path=c.mpc_path, solver=c.solver, clock_ns=clock_ns,
                           model=c.model, eccentricity=cfg.eccentricity)
            for i, p in enumerate(cfg.mission.phases) if isinstance(p, DockPhase)}
        self.ctrl = self.mpc  # the controller flying now; kept after DONE (a docked chaser stays docked)
        self.guidance = MissionManager(cfg, self.t0_ns)
        self.sensor_health = SensorHealth("relative sensor", self.t0_ns, 10 * cfg.nav.period_s, 5,
                                          self.guidance.log)
        self.thr_fdir = self.att_health = None
        if self.att is not None:  # thruster FDIR on the IMU residual; IMU and star-tracker health
            f = cfg.fdir
            self.thr_fdir = ThrusterFdir(self.att.A, cfg.vehicle.mass_kg, self.att.J, f.gyro_noise_density,
                                         f.accel_noise_density, f.thruster_threshold, f.thruster_isolate_margin,
                                         f.accel_bias_window_s, f.noise_margin, f.thrust_model_error,
                                         f.accel_output == "delta_v")
            self.att_health = AttitudeSensorHealth(self.t0_ns, f.imu_timeout_s, f.imu_stuck_samples,
                                                   f.star_tracker_timeout_s, self.guidance.log)
        self._sf = None  # sums over the nav period of the IMU's specific force and the commanded one (H), count
        if n.specific_force_noise_density > 0.0:
            if self.att is None:
                raise ConfigError("nav.specific_force_noise_density", n.specific_force_noise_density,
                                  "needs a 6-DOF chaser with an IMU ([attitude], [thrusters]); set it to 0")
            self._sf = [np.zeros(3), np.zeros(3), 0]
            self._sf_bias_B = None  # accelerometer bias (m/s^2, B): the FDIR's estimate at the end of its window
        self._imu_input = n.thrust_input == "imu"
        self.stats = {"nav": StageStats(self.nav_period_ns), "ctrl": StageStats(round(c.budget_s * NS))}
        self.overrun_streak = {"nav": 0, "ctrl": 0}
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
        self._ctrl_key = -1
        self.ctrl_latency_ns, self.solver = 0, None  # see offload_control
        self._ctrl_finish, self._ctrl_due_ns, self._ctrl_loop_ns = None, 0, 0
        self._warm_up(x0_hat, P0)

    def offload_control(self, solver=None) -> None:
        """Declare a control latency of control.budget_s rounded up to whole ticks (one at least): the command of
        each control tick is applied that much later, and its solve may run off the loop meanwhile:
        solver.submit(SolveJob) at the control tick, solver.collect() when due -> the MpcResult, or None when it
        is not ready (a missed deadline: the safe command). Without a solver the job runs in line at the
        control tick (the same commands, deterministically)."""
        latency = max(1, -(-self.stats["ctrl"].budget_ns // self.tick_ns)) * self.tick_ns
        if latency > self.ctrl_period_ns:
            raise ValueError(f"control.budget_s = {self.cfg.control.budget_s}: an off-loop control stage must "
                             f"deliver within its period, control.period_s = {self.cfg.control.period_s}")
        self.ctrl_latency_ns, self.solver = latency, solver

    def controller(self, key: int):
        """The controller of a SolveJob key."""
        return self.dock_mpcs.get(key, self.mpc)

    def _warm_up(self, x0_hat: np.ndarray, P0: np.ndarray) -> None:
        """Run every numba kernel of the cycle once on throwaway state (compiles or loads the cache),
        so the first scheduled cycle meets its deadline."""
        n = self.cfg.nav
        scratch = filter_from_config(self.cfg.n_rad_s, n, x0_hat, P0, 0, process_from_config(self.cfg))
        rae = rae_from_rel(x0_hat[:3])
        scratch.update(RaeMeasurement(self.nav_period_ns, *rae))
        if n.camera_angle_sigma_rad > 0.0:
            scratch.update(AnglesMeasurement(self.nav_period_ns, *rae[1:]))
        if n.rel_gnss_sigma_m > 0.0:
            scratch.update(RelPosMeasurement(self.nav_period_ns, tuple(x0_hat[:3])))
        if n.specific_force_noise_density > 0.0 and n.thrust_input != "imu":
            scratch.update(SpecificForceMeasurement(self.nav_period_ns, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)))
        scratch.predict_to(2 * self.nav_period_ns, np.zeros(3))
        MissionManager(self.cfg, 0, self.guidance.planners).update(0, x0_hat, P0, 0, 0, math.inf, 2,
                                                                    self.cfg.control.period_s)
        ro = np.array(x0_hat, dtype=np.float64)
        ro.flags.writeable = False  # the cycle passes read-only arrays too, which numba types (and loads) apart
        Pro = np.array(P0, dtype=np.float64)
        Pro.flags.writeable = False
        for x, P in ((x0_hat, P0), (ro, Pro)):
            escape_burn(self.cfg.n_rad_s, x, P, 3.0, 1.0, 0.1, self.cfg.control.period_s)
            allocate_accel(x[3:], self.a_max)
            keep_out_normals(x[:3], np.ones((2, 3)), 1.0)  # the MPC's, which a solve reaches first otherwise
        self._true_anomaly(self.t0_ns)  # the control stage's first call otherwise (~1 s compiling, cold cache)
        if self.att is not None:
            AttitudeLoop(self.cfg, self.att.q_BH, 0).step(0, np.zeros(3), -x0_hat[:3])
            q = np.array(self.att.q_BH, dtype=np.float64)
            quat_mult(q, propagate_quat(q, np.zeros(3), 1.0))  # AttitudeLoop.measure's, on its first sample
            fdir = ThrusterFdir(self.att.A, 1.0, self.att.J, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.1)
            fdir.command(0, np.zeros(self.att.A.shape[1]))
            for k in range(2):
                fdir.imu(ImuSample(k * NS, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)))

    @property
    def mode(self) -> Mode:
        return self.guidance.mode

    def _nav_stage(self) -> int:
        rel = []
        for m in self.io.read_sensors():
            if isinstance(m, (ImuSample, AttitudeMeasurement)):
                self._attitude_sample(m)
            else:
                rel.append(m)
        rel.sort(key=lambda m: m.t_ns)  # lidar, camera and relative GNSS interleaved by time of validity
        accel_H = self._input_accel()
        outcomes, predicted = [], False
        for i, m in enumerate(rel):
            if m.t_ns < self.nav.t_ns and not self.nav.history_ns:
                continue  # late sample and no history ([nav].history_s) to re-process it from
            if i == len(rel) - 1:  # the last sample and the prediction to now: one filter call
                r = self.nav.update_predict(m, self.t_ns, accel_H)
                nis, ok, predicted = abs(r), r >= 0.0, True
            else:
                res = self.nav.update(m)
                nis, ok = res.nis, res.accepted
            if math.isnan(nis):
                continue  # older than the filter's history: not processed (nav.n_late)
            outcomes.append(ok)
            self.last_nis = nis
            if ok:
                self.last_meas_ns = max(self.last_meas_ns, m.t_ns)
        self.sensor_health.update(self.t_ns, outcomes)
        if self.att_health is not None:
            self._attitude_health()
        if not predicted:
            self.nav.predict_to(self.t_ns, accel_H)
        if self._sf is not None and self._sf[2] and not self._imu_input:
            self._specific_force_update()
        return len(outcomes)

    def _input_accel(self) -> np.ndarray:
        """The acceleration (m/s^2, H) the filter predicts with over this nav period: the commanded one held, or
        with thrust_input = 'imu' the IMU's mean specific force of the period (``_specific_force_sample``; the
        commanded one while there is none: during the FDIR's bias window, or an IMU outage), which is then held
        from the filter time on."""
        if not (self._imu_input and self._sf[2]):
            return self.accel_H
        a = self._specific_force_means()[0]
        self.nav.predict_to(self.nav.t_ns, a)
        return a

    def _specific_force_sample(self, m: ImuSample) -> None:
        """Add an IMU sample to the nav period's sums (after the FDIR's bias window): the specific force less the
        accelerometer's turn-on bias (the FDIR's estimate at the end of its window, kept: its later slow average
        would take in part of a stuck thruster's force before the isolation), and what the commanded (and
        declared stuck-on) thrusters give at its time, A on / mass = accel - (bias_B + r) / mass (the FDIR's
        force residual r = mass accel - A on - bias_B, N); both rotated B -> H with the attitude estimate at the
        sample."""
        fd = self.thr_fdir
        if m.t_ns - self.t0_ns < fd.bias_window_ns:
            return
        a_B = np.asarray(m.accel_B, dtype=np.float64)
        if self._sf_bias_B is None:
            self._sf_bias_B = fd.bias_B / fd.mass
        C_HB = dcm_from_quat(self.att.q_BH).T
        s = self._sf
        s[0] += C_HB @ (a_B - self._sf_bias_B)
        s[1] += C_HB @ (a_B - (fd.bias_B + fd.r[:3]) / fd.mass)
        s[2] += 1

    def _specific_force_update(self) -> None:
        """The nav period's mean specific force and commanded specific force to the filter, at the nav time."""
        f, u = self._specific_force_means()
        self.nav.update(SpecificForceMeasurement(self.t_ns, tuple(f), tuple(u)))

    def _specific_force_means(self):
        """(measured, commanded) mean specific force (m/s^2, H) of the nav period's IMU samples; the sums restart."""
        s = self._sf
        f, u = s[0] / s[2], s[1] / s[2]
        s[0][:], s[1][:], s[2] = 0.0, 0.0, 0
        return f, u

    def _control_stage(self):
        """Guidance, then the MPC job (or the abort's escape burn). Returns finish(): sets the held command and
        returns (ok, solve ms, compute ns spent off the loop or None when the result missed its deadline)."""
        c = self.cfg.control
        g = self.guidance.update(self.t_ns, self.nav.x_rv, self.nav.P_rv, self.last_meas_ns, self.mpc_fail_streak,
                                 self.plan_min_range_m, c.horizon_steps, c.period_s)
        if g.mode == Mode.ABORT:
            if g.escape_dv_H is not None:
                self.escape_left = g.escape_dv_H.copy()
            return self._escape_step
        if g.mode != Mode.DONE:
            self._ctrl_key = g.phase_index if g.mode == Mode.DOCK and g.phase_index in self.dock_mpcs else -1
            self.ctrl = self.controller(self._ctrl_key)
        job = SolveJob(self._ctrl_key, g.phase_index != self._mpc_phase,
                       dock_cone(self.cfg.mission.phases[g.phase_index], g.xref_H)
                       if g.mode == Mode.DOCK and self.ctrl is not self.mpc else None, self.nav.x_rv, g.xref_H,
                       g.uref_H, self._true_anomaly(self.t_ns))
        self._mpc_phase = g.phase_index
        if self.solver is None:
            res = job.run(self.ctrl)
            return lambda: self._use_solve(res, 0)
        self.solver.submit(job)
        return lambda: self._use_solve(res := self.solver.collect(), None if res is None else res.compute_ms * 1e6)

    def _true_anomaly(self, t_ns: int) -> float:
        """The target's true anomaly (rad) at t_ns, Keplerian from the flight code's orbit knowledge (cfg)."""
        e = self.cfg.eccentricity
        return float(true_from_mean(mean_from_true(self.cfg.true_anomaly0_rad, e)
                                    + self.cfg.n_rad_s * (t_ns - self.t0_ns) / NS, e))

    def _escape_step(self) -> tuple[bool, float, int]:
        """The abort's escape burn: this control period's share of the escape delta-v."""
        p = self.cfg.control.period_s
        self.accel_H = allocate_accel(self.escape_left / p, self.a_max)
        self.escape_left -= self.accel_H * p
        return True, math.nan, 0

    def _use_solve(self, res, off_ns) -> tuple[bool, float, int | None]:
        """Hold the command of a solve (res None: it missed its deadline)."""
        if res is None:
            return True, math.nan, None
        off_ns = round(off_ns) if math.isfinite(off_ns) else 0
        self.mpc_solve_ms.append(res.compute_ms)
        if not res.ok:
            self.mpc_failures += 1
            return False, res.compute_ms, off_ns
        self.plan_min_range_m = float(np.min(np.linalg.norm(res.x_plan[:, :3], axis=1)))
        self.accel_H = allocate_accel(res.u0_H, self.a_max)
        return True, res.compute_ms, off_ns

    def _overrun(self, stage: str, over: bool, dt_ns: int) -> None:
        """Count consecutive deadline misses of a stage; the first is an event, and fdir.nav_overrun_limit in a row
        of the navigation stage abort (the control stage's count as MPC failures: mission.abort.mpc_fail_limit)."""
        if not over:
            self.overrun_streak[stage] = 0
            return
        self.overrun_streak[stage] += 1
        name = {"nav": "navigation", "ctrl": "control"}[stage]
        if self.overrun_streak[stage] == 1:
            self.guidance.log(self.t_ns, f"{name} stage overran its deadline: {dt_ns / 1e6:.0f} ms > "
                                         f"{self.stats[stage].budget_ns / 1e6:.0f} ms")
        limit = self.cfg.fdir.nav_overrun_limit
        if stage == "nav" and self.overrun_streak[stage] >= limit:
            self.guidance.request_abort(f"{limit} consecutive navigation overruns")

    def _attitude_sample(self, m) -> None:
        """An IMU sample or star-tracker fix: to the health monitor, the attitude loop and thruster FDIR."""
        h = self.att_health
        if isinstance(m, AttitudeMeasurement):
            h.fix(m.t_ns)
            self.att.measure(m)
            return
        h.imu(m.t_ns, (m.omega_BN_B, m.accel_B))
        if h.imu_failed:
            return
        self.att.measure(m)
        found = self.thr_fdir.imu(m)
        if self._sf is not None:
            self._specific_force_sample(m)
        if found is not None:
            self._thruster_failed(m.t_ns, *found)

    def _thruster_failed(self, t_ns: int, i: int, mode: int, g: float) -> None:
        """Response to a thruster isolated by the FDIR: allocation without it; stuck on, the navigation covariance
        widened by its full thrust over the detection delay (since its CUSUM left 0, plus an attitude period) and
        its thrust countered as a known disturbance, or the mission aborts when the others cannot counter it.
        (Failed off, it only missed its commanded pulses: a statistic that waits for them may have left 0 long
        before the onset, so its delay bounds nothing.)"""
        delay_s = (t_ns - self.thr_fdir.since_ns[mode, i]) / NS + self.cfg.attitude.period_s
        self.thr_fdir.declare(i, mode)
        log = self.guidance.log
        log(t_ns, f"thruster {i} {MODE_NAMES[mode]}: isolated by the IMU residual (log-likelihood ratio {g:.0f})")
        if mode != STUCK_ON:
            self.att.mark_failed(i)
            log(t_ns, f"allocation re-solved without thruster {i}")
            return
        # navigation was fed the commanded thrust since the onset: widen it by the full thrust over that delay
        a = float(np.linalg.norm(self.att.A[:3, i])) / self.cfg.vehicle.mass_kg
        self.nav.inflate(0.5 * a * delay_s ** 2, a * delay_s)
        ok = self.att.counterable(i)
        self.att.mark_stuck_on(i)
        if ok:
            log(t_ns, f"allocation re-solved without thruster {i}, its thrust countered as a known disturbance")
        else:
            self.guidance.request_abort(f"thruster {i} stuck on beyond what the others can counter")

    def _attitude_health(self) -> None:
        """IMU and star-tracker timeouts; a failed IMU hands the rate to the star tracker (thruster FDIR off),
        and the mission aborts after fdir.attitude_fix_limit_s without a fix (star_tracker_timeout_s
        without the IMU)."""
        h, f = self.att_health, self.cfg.fdir
        h.check(self.t_ns)
        if h.imu_failed and self.att.use_gyro:
            self.att.use_gyro = False
            self.guidance.log(self.t_ns, "IMU isolated: attitude rate from the star tracker's fixes, thruster FDIR off")
        limit = f.attitude_fix_limit_s if self.att.use_gyro else f.star_tracker_timeout_s
        age = h.fix_age_s(self.t_ns)
        if age > limit:
            self.guidance.request_abort(f"no attitude fix for {age:.0f} s" + ("" if self.att.use_gyro else
                                                                                " and no IMU"))

    def _control_finish(self) -> tuple[float, bool, float]:
        """Complete the pending control stage: its command, compute time against the budget (in-loop time plus
        the off-loop solve; a result missing at its deadline is a miss), safe command on failure.
        Returns (compute us, ok, solve ms)."""
        t = self.clock_ns()
        ok, solve_ms, off_ns = self._ctrl_finish()
        self._ctrl_finish = None
        dt = self._ctrl_loop_ns + self.clock_ns() - t + (off_ns or 0)
        over = self.stats["ctrl"].add(dt, late=off_ns is None)
        self._overrun("ctrl", over, dt)
        if not ok or over:
            if self.mpc_fail_streak == 0:
                self.guidance.log(self.t_ns, "control stage failed (" + ("MPC over budget" if ok else "MPC failed")
                                  + "): safe command, thrusters off")
            self.mpc_fail_streak += 1
            self.fallbacks += 1
            self.accel_H = np.zeros(3)
        else:
            self.mpc_fail_streak = 0
        return dt / 1e3, ok, solve_ms

    def step(self) -> CycleRecord:
        """Run every stage due at the current schedule time, then command the actuators."""
        elapsed = self.t_ns - self.t0_ns
        nav_us = ctrl_us = 0.0
        n_meas, ok, solve_ms = 0, True, math.nan
        if elapsed % self.nav_period_ns == 0:
            t = self.clock_ns()
            n_meas = self._nav_stage()
            dt = self.clock_ns() - t
            self._overrun("nav", self.stats["nav"].add(dt), dt)
            nav_us = dt / 1e3
        if self._ctrl_finish is not None and self.t_ns >= self._ctrl_due_ns:  # a deferred control stage is due
            ctrl_us, ok, solve_ms = self._control_finish()
        if elapsed % self.ctrl_period_ns == 0:
            t = self.clock_ns()
            self._ctrl_finish, self._ctrl_due_ns = self._control_stage(), self.t_ns + self.ctrl_latency_ns
            self._ctrl_loop_ns = self.clock_ns() - t
            if self.ctrl_latency_ns == 0:
                ctrl_us, ok, solve_ms = self._control_finish()
        r = self.nav.x[:3]
        rn = float(np.linalg.norm(r))
        point = tuple(-r / rn) if rn > 0 else (0.0, 1.0, 0.0)
        on_time_s = ()
        if self.att is not None and elapsed % self.att_period_ns == 0:
            on_time_s = self.att.step(self.t_ns, self.accel_H, point)
            self.thr_fdir.command(self.t_ns, on_time_s)
        self.io.write_actuators(ActuatorCommand(self.t_ns, tuple(self.accel_H), point, on_time_s))
        return CycleRecord(self.t_ns, self.nav.x_rv, self.nav.sigma_rv, self.accel_H.copy(),
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
