"""One closed-loop simulation of a scenario: truth + sensors + flight software, to a run directory.

The run directory holds ``scenario.toml`` (as run), ``telemetry.h5`` (written as the run goes),
``summary.json`` (figures of merit, written even when the run is interrupted) and ``plots/``.
"""

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
from numba import njit

from gnc.executive import Executive
from gnc.guidance.docking import DockMonitor
from gnc.guidance.modes import Mode
from gnc.guidance.plan import optimality_summary, plan_mission
from gnc.nav.relnav import initial_covariance
from sim.chaser6dof import attach_chaser
from sim.faults import FaultClock, inject_flight_faults, thruster_failures, with_attitude_faults, with_faults
from sim.forces import ForceModel
from sim.rigid_body import valve_open_s
from sim.scenario import Scenario, ThrusterFailure
from sim.sensors import CameraSensor, RaeSensor, RelGnssSensor
from sim.telemetry import Signal, TelemetryWriter
from sim.truth import TruthWorld
from sim.vehicle_io import SimVehicleIO

NS = 1_000_000_000
# telemetry rows per HDF5 append + flush (15 datasets resized and written, then the file flushed: 10-35 ms,
# loaded): 600 rows, 10 simulated minutes at 1 Hz, about a second of wall time lost at most by a crash
TLM_FLUSH_ROWS = 600

SIGNALS = {
    "t_s": Signal((), "s", "time since epoch"),
    "r_true_H": Signal((3,), "m", "true chaser position relative to target, Hill frame (x radial, y along, z normal)"),
    "v_true_H": Signal((3,), "m/s", "true relative velocity, rotating-frame derivative, Hill frame"),
    "r_est_H": Signal((3,), "m", "estimated relative position, Hill frame"),
    "v_est_H": Signal((3,), "m/s", "estimated relative velocity, Hill frame"),
    "sigma_H": Signal((6,), "m, m/s", "1-sigma of the estimate (sqrt of covariance diagonal), Hill frame"),
    "accel_cmd_H": Signal((3,), "m/s^2", "commanded chaser acceleration, Hill frame"),
    "accel_applied_H": Signal((3,), "m/s^2", "acceleration applied by the truth (saturated), Hill frame"),
    "mode": Signal((), "-", "gnc.guidance.modes.Mode value", "i1"),
    "phase_index": Signal((), "-", "index of the mission phase (-1 when done)", "i2"),
    "n_meas": Signal((), "-", "relative measurements processed this tick", "i2"),
    "nis": Signal((), "-", "normalised innovation squared of the last measurement"),
    "nav_us": Signal((), "us", "navigation stage compute time (0: not run this tick)"),
    "ctrl_us": Signal((), "us", "control stage compute time (0: not run this tick)"),
    "mpc_ok": Signal((), "-", "MPC solved (1) or fell back (0) this tick", "i1"),
}


def truth_signals(n_thrusters: int) -> dict[str, Signal]:
    """Signals of the truth's attitude and thrusters (``truth_row``); n_thrusters 0 for a 3-DOF chaser."""
    sig = {"pointing_err_deg": Signal((), "deg", "angle between the relative sensors' boresight (+X_B of the true "
                                                 "attitude; 3-DOF: the commanded pointing) and the true line of "
                                                 "sight to the target")}
    if n_thrusters:
        sig["thruster_on_s"] = Signal((n_thrusters,), "s", "time each thruster's valve is open during the loop tick "
                                                           "starting at t_s (truth: the command fired at t_s, the "
                                                           "minimum on-time, failures)")
    return sig


def truth_row(world: TruthWorld, io: SimVehicleIO, tick_ns: int) -> dict:
    """Values of ``truth_signals`` now, after this tick's command; tick_ns: the loop's tick (ns)."""
    row = {"pointing_err_deg": pointing_err_deg(io.boresight_H(), world.relative_state()[0])}
    if world.att is not None:
        row["thruster_on_s"] = valve_open_s(world.thrusters, world.t_ns / NS, (world.t_ns + tick_ns) / NS)
    return row


@njit(cache=True)
def pointing_err_deg(b_H, r_CT_H):
    """Angle (deg) between the unit boresight b_H and the line of sight -r_CT_H (m) to the target (H)."""
    rn = math.sqrt(r_CT_H[0] ** 2 + r_CT_H[1] ** 2 + r_CT_H[2] ** 2)
    ux, uy, uz = -r_CT_H[0] / rn, -r_CT_H[1] / rn, -r_CT_H[2] / rn
    cx, cy, cz = b_H[1] * uz - b_H[2] * uy, b_H[2] * ux - b_H[0] * uz, b_H[0] * uy - b_H[1] * ux
    return math.degrees(math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), b_H[0] * ux + b_H[1] * uy + b_H[2] * uz))


class RunMetrics:
    """Figures of merit accumulated tick by tick from truth and flight records."""

    def __init__(self, scn: Scenario):
        self.keep_out = scn.control.keep_out_radius_m
        self.phases = scn.mission.phases
        self.min_range = math.inf
        self.violation_s = 0.0
        self.delta_v = 0.0
        self.delta_v_by_phase: dict[str, float] = {}
        self.err2_sum, self.err_n = 0.0, 0
        self.hold_err_max = 0.0
        self.last_t_ns = None
        self.dock = DockMonitor(self.phases)
        self._mode_names = {int(m): m.name.lower() for m in Mode}

    def add(self, rec, r_true, accel_applied, v_true) -> None:
        dt = 0.0 if self.last_t_ns is None else (rec.t_ns - self.last_t_ns) / NS
        self.last_t_ns = rec.t_ns
        rng = _norm3(r_true)
        self.min_range = min(self.min_range, rng)
        self.dock.add(rec.t_ns, rec.mode, rec.phase_index, np.concatenate([r_true, v_true]))
        if rng < self.keep_out and self.dock.keep_out_applies:  # not while docking or docked
            self.violation_s += dt
        dv = _norm3(accel_applied) * dt
        self.delta_v += dv
        if rec.mode == Mode.ABORT:
            key = "abort"
        else:
            key = self._mode_names[rec.mode] if rec.phase_index < 0 else self.phases[rec.phase_index].name
        self.delta_v_by_phase[key] = self.delta_v_by_phase.get(key, 0.0) + dv
        self.err2_sum += _sq_dist3(rec.x_hat, r_true)
        self.err_n += 1
        if rec.mode == Mode.HOLD:
            self.hold_err_max = max(self.hold_err_max, math.sqrt(_sq_dist3(r_true, self.phases[rec.phase_index].at_H_m)))


# Per tick in plain floats, in numpy's order of operations (bit-identical; numpy's small-array calls cost more)
def _norm3(x) -> float:
    """|x| of a 3-vector, as np.linalg.norm: the square root of the running sum of squares."""
    return math.sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])


def _sq_dist3(a, b) -> float:
    """|a - b|^2 of 3-vectors (a may be longer: its first three components), as np.sum((a[:3] - b) ** 2)."""
    d0, d1, d2 = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return d0 * d0 + d1 * d1 + d2 * d2


def _percentile(xs, q) -> float:
    xs = [x for x in xs if math.isfinite(x)]
    return float(np.percentile(xs, q)) if xs else math.nan


def build(scn: Scenario, seed: int):
    """Truth world, simulated IO and executive for scenario scn with the given seed."""
    rng = np.random.default_rng(seed)
    if thruster_failures(scn.faults):  # [[faults]] thruster failures go to the truth's thruster model
        fails = scn.truth.thruster_failures + tuple(ThrusterFailure(**f) for f in thruster_failures(scn.faults))
        scn = dataclasses.replace(scn, truth=dataclasses.replace(scn.truth, thruster_failures=fails))
    sensor_rng, nav_rng, fault_rng = rng.spawn(3)  # spawn(3)[:2] == spawn(2): older streams unchanged
    t = scn.target
    world = TruthWorld.from_elements(
        t.semi_major_axis_m, t.eccentricity, math.radians(t.inclination_deg), math.radians(t.raan_deg),
        math.radians(t.arg_perigee_deg), math.radians(t.true_anomaly_deg), np.array(scn.chaser.r0_CT_H_m),
        np.array(scn.chaser.v0_CT_H_m_s), scn.truth.step_s, ForceModel.from_scenario(scn), scn.vehicle.max_accel_m_s2,
        scn.truth_accel_scale)
    s = scn.sensor
    sensor = RaeSensor(round(s.period_s * NS), s.range_noise_m, s.angle_noise_rad, s.range_bias_m,
                       s.angle_bias_rad, math.radians(s.fov_half_angle_deg), s.max_range_m,
                       max(s.min_range_m, 1e-3), s.dropout_prob, sensor_rng)
    imu = star_tracker = None
    if scn.six_dof:
        imu, star_tracker = with_attitude_faults(*attach_chaser(scn, world, rng.spawn(1)[0]), scn.faults)
    cam, gnss = scn.sensors.camera_config, scn.sensors.rel_gnss_config
    cam_rng, gnss_rng = rng.spawn(2) if cam or gnss else (None, None)  # after the others: their streams unchanged
    io = SimVehicleIO(world, with_faults(sensor, scn.faults, fault_rng) if scn.sensors.lidar else None, imu,
                      star_tracker, round(s.latency_s * NS), cam and CameraSensor.from_config(cam, cam_rng),
                      gnss and RelGnssSensor.from_config(gnss, gnss_rng))
    r0, v0 = world.relative_state()
    P0 = initial_covariance(scn.nav, r0)
    z = nav_rng.standard_normal(6)  # a diagonal prior draws sigma * z exactly, as before the line-of-sight prior
    dx = np.linalg.cholesky(P0) @ z if scn.nav.init_los_sigma_rad > 0 else np.sqrt(np.diag(P0)) * z
    x0_hat = np.concatenate([r0, v0]) + dx
    clock = FaultClock(time.perf_counter_ns)
    exe = Executive(scn.flight(), io, x0_hat, P0, clock)
    inject_flight_faults(exe, clock, scn.faults)
    return world, io, exe


def record_cycle(rec, world: TruthWorld, metrics: RunMetrics, tlm, **extra) -> None:
    """Add one flight cycle (executive CycleRecord) and the truth to the run's metrics and a telemetry row
    (SIGNALS, plus the extra signals given)."""
    r, v = world.relative_state()
    metrics.add(rec, r, world.applied_accel_H, v)
    tlm.append(t_s=rec.t_ns / NS, r_true_H=r, v_true_H=v, r_est_H=rec.x_hat[:3], v_est_H=rec.x_hat[3:],
               sigma_H=rec.sigma, accel_cmd_H=rec.accel_H, accel_applied_H=world.applied_accel_H,
               mode=rec.mode, phase_index=rec.phase_index, n_meas=rec.n_meas, nis=rec.nis,
               nav_us=rec.nav_us, ctrl_us=rec.ctrl_us, mpc_ok=rec.mpc_ok, **extra)


def run_scenario(scn: Scenario, scenario_text: str, out_dir: str | Path, seed: int | None = None,
                 progress=None, plots: bool = True) -> dict:
    """Run scn closed loop, write the run directory out_dir and return the summary dict.

    progress(t_s, mode_name) is called about once per simulated minute. Ctrl-C stops the run with the
    summary marked interrupted and the telemetry closed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.toml").write_text(scenario_text)
    seed = scn.run.seed if seed is None else seed
    world, io, exe = build(scn, seed)
    metrics = RunMetrics(scn)
    n_thr = len(world.thrusters) if world.att is not None else 0
    tlm = TelemetryWriter(out / "telemetry.h5", SIGNALS | truth_signals(n_thr),
                          {"scenario": scn.run.name, "seed": seed, "epoch_utc": scn.run.epoch_utc,
                           "modes": json.dumps({m.name: int(m) for m in Mode})}, flush_rows=TLM_FLUSH_ROWS)

    def on_cycle(rec):
        record_cycle(rec, world, metrics, tlm, **truth_row(world, io, exe.tick_ns))
        if progress is not None and rec.t_ns % (60 * NS) == 0:
            progress(rec.t_ns / NS, Mode(rec.mode).name)

    wall0 = time.perf_counter()
    interrupted, error = False, None
    try:
        exe.run(round(scn.run.max_duration_s * NS), on_cycle)
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # recorded in the summary, then re-raised
        interrupted, error = True, exc
    finally:
        tlm.close()
    wall = time.perf_counter() - wall0
    summary = summarize(scn, seed, exe, world, metrics, wall, interrupted)
    if error is not None:
        summary["error"] = f"{type(error).__name__}: {error}"
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if error is not None:
        raise error
    if plots and not interrupted:
        from sim.plots import plot_run
        plot_run(out / "telemetry.h5", scn, out / "plots")
    return summary


def summarize(scn, seed, exe: Executive, world: TruthWorld, m: RunMetrics, wall_s: float, interrupted: bool) -> dict:
    """The figures of merit of a finished (or interrupted) run, JSON-ready."""
    g = exe.guidance
    sim_s = (exe.t_ns - exe.t0_ns) / NS
    nav_us = [x / 1e3 for x in exe.stats["nav"].compute_ns]
    return {
        "scenario": scn.run.name,
        "seed": seed,
        "interrupted": interrupted,
        "success": bool(g.success and m.violation_s == 0.0 and m.dock.ok and not interrupted),
        "final_mode": g.mode.name,
        "phases_completed": list(g.phases_completed),
        "events": [{"t_s": e.t_ns / NS, "text": e.text} for e in g.events],
        "delta_v_m_s": m.delta_v,
        "delta_v_by_phase_m_s": m.delta_v_by_phase,
        **optimality_summary(plan_mission(scn.flight(), (*scn.chaser.r0_CT_H_m, *scn.chaser.v0_CT_H_m_s)),
                             m.delta_v_by_phase),
        "min_range_m": m.min_range,
        "keep_out_radius_m": m.keep_out,
        "keep_out_violation_s": m.violation_s,
        **m.dock.summary(),
        "nav_pos_err_rms_m": math.sqrt(m.err2_sum / max(m.err_n, 1)),
        "hold_pos_err_max_m": m.hold_err_max,
        "nav_rejected": exe.nav.n_rejected,
        "nav_sensor_stats": {k: v._asdict() for k, v in exe.nav.sensor_stats.items()},  # offered/rejected/late
        "mpc_failures": exe.mpc_failures,
        "fallbacks": exe.fallbacks,
        "sim_duration_s": sim_s,
        "wall_s": wall_s,
        "realtime_factor": sim_s / wall_s if wall_s > 0 else math.inf,
        "deadline_misses": {k: s.misses for k, s in exe.stats.items()},
        "nav_step_us_p50": _percentile(nav_us, 50),
        "mpc_solve_ms_p50": _percentile(exe.mpc_solve_ms, 50),
        "mpc_solve_ms_p99": _percentile(exe.mpc_solve_ms, 99),
        "truth_max_local_err_m": world.max_local_err_m,
    }
