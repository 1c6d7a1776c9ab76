"""`gnc hil run`: one scenario in real time against a rig, to the same run directory as `gnc run`.

The flight code and the simulated world (orbit, relative sensor) are built as for `gnc run`
(``sim.run.build``); the HIL VehicleIO replaces the simulated one, so each flight tick exchanges
thruster commands and IMU samples with the rig. The run directory gets, besides ``scenario.toml``,
``telemetry.h5`` (the simulation's signals and the rig's), ``summary.json`` (with a ``hil`` section:
link counters, device counters, loop timing, round trips) and ``plots/``, the raw frames:
``frames.bin`` (serial, hil.recorder) or ``frames.asc`` (CAN, python-can's ASCII log).

Timing discipline of the loop process: the control stage's solves run in a worker process
(hil.control_worker; the command applied control.budget_s later, rounded up to ticks), telemetry is
written by another (hil.telemetry_proc), and the garbage collector never runs on its own: after the
warm-up the heap is frozen and young collections run at the end of a cycle's work, before it sleeps.
The GIL's switch interval is 0.5 ms. With --rt-priority the loop also runs under SCHED_FIFO, alone on its
CPU, memory locked (hil.realtime), and the link receives in a thread (Link.start_reader).
"""

import copy
import gc
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from gnc.schema import ConfigError
from hil.control_worker import ControlWorker
from hil.devices import ImuManager, ThrusterValves
from hil.link import CanLink, Link, open_link
from hil.messages import ImuSample, RigStatus
from hil.realtime import isolate_loop, off_loop_cpus, use_fifo
from hil.recorder import FrameRecorder
from hil.telemetry_proc import TelemetryProcess
from hil.vehicle_io import STATUS_TIMEOUT_S, HilVehicleIO
from sim.run import SIGNALS, RunMetrics, build, record_cycle, summarize
from sim.scenario import Scenario
from sim.telemetry import Signal

NS = 1_000_000_000
MAX_TICK_S = 0.05  # a flight tick longer than half the rig's 100 ms command watchdog would trip it
IMU_RATE_HZ = 100.0  # the rig's IMU sample rate (docs/ICD.md section 5)
IMU_STALE_PERIODS = 5  # IMU stale after this many sample periods without a fresh sample
GC_YOUNG = 700  # objects allocated since the last collection that trigger one (CPython's default threshold)
SWITCH_INTERVAL_S = 0.0005  # the GIL's switch interval in the loop (CPython's default 5 ms): the loop waits
                            # at most about this long for a helper thread (link reader, telemetry feeder)


def hil_signals(n_thrusters: int) -> dict[str, Signal]:
    """Telemetry columns of the rig side, one row per flight tick (= one HIL cycle)."""
    return {
        "on_time_cmd_s": Signal((n_thrusters,), "s", "valve on-times commanded for the next cycle (thruster i)"),
        "on_time_rig_s": Signal((n_thrusters,), "s", "valve-open times the truth propagated with over the "
                                "cycle just ended (rig reports, or the commands when it reported none)"),
        "imu_dv_B": Signal((3,), "m/s", "IMU delta-velocity of the fresh samples received this cycle, body axes"),
        "imu_stale": Signal((), "-", "no fresh IMU sample for 5 sample periods", "i1"),
        "rig_stale": Signal((), "-", f"no RigStatus for {STATUS_TIMEOUT_S} s", "i1"),
        "safe": Signal((), "-", "flight safe mode: all valves commanded closed", "i1"),
        "lateness_us": Signal((), "us", "wake-up of this cycle after its scheduled wall-clock time"),
        "period_us": Signal((), "us", "wall-clock time since the previous cycle's wake-up"),
    }


def check_tick(scn: Scenario) -> int:
    """The flight tick (ns): each one is a HIL cycle, so it must beat the rig's command watchdog. The
    chaser must be the 3-axis one: the rig's valves are paired per body axis (docs/ICD.md)."""
    if scn.six_dof:
        raise ConfigError("thrusters", "[...]", "a HIL run flies the 3-axis chaser whose thrust the rig's "
                          "per-axis valve pairs deliver (docs/ICD.md); remove [thrusters], [attitude], [imu] "
                          "and [star_tracker] from the scenario")
    tick = math.gcd(round(scn.nav.period_s * NS), round(scn.control.period_s * NS))
    if tick > MAX_TICK_S * NS:
        raise ConfigError("nav.period_s", scn.nav.period_s, f"the flight tick (gcd of nav.period_s and "
                          f"control.period_s) is {tick / 1e9:g} s; a HIL run needs <= {MAX_TICK_S} s so that "
                          "commands beat the rig's 100 ms watchdog: set nav.period_s = 0.01")
    return tick


def _connect(link: Link, timeout_s: float) -> None:
    """Wait for the rig's first RigStatus and ImuSample."""
    seen: set[type] = set()
    end = time.monotonic() + timeout_s
    while seen != {RigStatus, ImuSample} and (left := end - time.monotonic()) > 0:
        seen |= {type(m) for m in link.poll(left)} & {RigStatus, ImuSample}
    if seen != {RigStatus, ImuSample}:
        where = link.pty_path or getattr(getattr(link, "port", None), "name", None) or "the link"
        raise ConnectionError(f"no rig answers on {where} within {timeout_s} s (heard: "
                              f"{sorted(t.__name__ for t in seen) or 'nothing'}); is the rig or "
                              "`gnc hil emulate` running on the other end?")


def _percentiles(xs_ns: list[int], *qs) -> list[float]:
    return [float(np.percentile(np.asarray(xs_ns) / 1e3, q)) if xs_ns else math.nan for q in qs]


def hil_summary(io: HilVehicleIO, tick_ns: int, control_late: int = 0) -> dict:
    """Link and device counters, loop timing (us) and command round trips (us) of a finished run;
    control_late: control solves that missed their deadline (hil.control_worker)."""
    jitter = [abs(p - tick_ns) for p in io.period_ns]
    late50, late99, late_max = _percentiles(io.lateness_ns, 50, 99, 100)
    rtt50, rtt99 = (float(np.percentile(io.valves.roundtrip_us, q)) if io.valves.roundtrip_us else math.nan
                    for q in (50, 99))
    loop_s = sum(io.period_ns) / 1e9  # first wake-up to last: the loop's own time, not the shut-down after it
    return {
        "transport": type(io.link).__name__,
        "loop_period_s": tick_ns / 1e9,
        "loop_rate_hz": len(io.period_ns) / loop_s if loop_s > 0 else math.nan,
        "period_jitter_us_p50": _percentiles(jitter, 50)[0],
        "period_jitter_us_p99": _percentiles(jitter, 99)[0],
        "period_jitter_us_max": _percentiles(jitter, 100)[0],
        "lateness_us_p50": late50, "lateness_us_p99": late99, "lateness_us_max": late_max,
        "deadline_misses": io.deadline_misses,
        "busy_us_p50": _percentiles(io.busy_ns, 50)[0], "busy_us_p99": _percentiles(io.busy_ns, 99)[0],
        "busy_us_max": _percentiles(io.busy_ns, 100)[0],
        "roundtrip_us_p50": rtt50, "roundtrip_us_p99": rtt99,
        "control_late": control_late,
        "link": io.link.counters.as_dict(),
        "valves": dict(io.valves.counts),
        "imu": dict(io.imu.counts),
        "cycles": dict(io.counts),
        "stuck_off": np.flatnonzero(io.valves.stuck_off).tolist(),
    }


def run_hil(scn: Scenario, scenario_text: str, link: Link, out_dir: str | Path, duration_s: float | None = None,
            seed: int | None = None, plots: bool = True, on_tick=None, connect_timeout_s: float = 20.0) -> dict:
    """Fly scn in real time with the rig on link; write the run directory; return the summary.

    duration_s: stop after this much scenario time (s; default run.max_duration_s). connect_timeout_s: wait
    this long (s) for the rig's first RigStatus and ImuSample (a rig or emulator first loading its numba cache,
    cold after a fresh install, takes > 5 s). on_tick(t_s, io):
    called after every tick (tests inject faults from it). Ctrl-C ends the run, marked interrupted.
    """
    tick_ns = check_tick(scn)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.toml").write_text(scenario_text)
    seed = scn.run.seed if seed is None else seed
    world, sim_io, exe = build(scn, seed)
    n = getattr(link, "n_thrusters", 12)
    valves = ThrusterValves(link, n, scn.vehicle.max_thrust_N / 2, scn.vehicle.mass_kg, tick_ns / NS)
    imu = ImuManager(1 / IMU_RATE_HZ, IMU_STALE_PERIODS / IMU_RATE_HZ)
    io = HilVehicleIO(sim_io, link, valves, imu)
    scratch = copy.deepcopy(sim_io)  # load the truth's and the sensor's kernels now, not in a real-time cycle
    scratch.wait_until(round(max(scn.truth.step_s, scn.sensor.period_s) * NS) + tick_ns)
    exe.io = io  # the executive was built on the simulated IO; from here on it flies the rig
    _connect(link, connect_timeout_s)
    worker = ControlWorker(exe, off_loop_cpus())  # forked before any thread starts
    exe.offload_control(worker)
    if os.sched_getscheduler(0) == os.SCHED_FIFO:  # no priority to invert otherwise: one hop less for frames
        link.start_reader()  # a SCHED_FIFO loop never waits for the tty's kernel worker (Link.start_reader)
    recorder = FrameRecorder(link, out / ("frames.asc" if isinstance(link, CanLink) else "frames.bin"))
    metrics = RunMetrics(scn)
    signals = SIGNALS | hil_signals(n)
    tlm = TelemetryProcess(out / "telemetry.h5", signals, {"scenario": scn.run.name, "seed": seed,
                                                            "epoch_utc": scn.run.epoch_utc, "hil": type(link).__name__})

    def on_cycle(rec):
        record_cycle(rec, world, metrics, tlm, **io.record)
        if on_tick is not None:
            on_tick(rec.t_ns / NS, io)
        if gc.get_count()[0] >= GC_YOUNG:
            gc.collect(1)

    stop_s = scn.run.max_duration_s if duration_s is None else min(duration_s, scn.run.max_duration_s)
    gc.collect()
    gc.freeze()  # what exists now is never scanned again: shorter collector pauses in the loop
    gc.disable()  # collections only where on_cycle runs them
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    wall0 = time.perf_counter()
    interrupted = False
    try:
        exe.run(round(stop_s * NS), on_cycle)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        gc.enable()
        sys.setswitchinterval(switch_interval)
        valves.command(None, io.clock_ns())  # leave the rig with every valve closed
        worker.close()
        link.stop_reader()
        tlm.close()
        recorder.close()
    summary = summarize(scn, seed, exe, world, metrics, time.perf_counter() - wall0, interrupted)
    summary["hil"] = hil_summary(io, tick_ns, worker.late) | {"frames_recorded": recorder.frames,
                                                 "frames_file": recorder.path.name}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if plots and not interrupted:
        from sim.plots import plot_run
        plot_run(out / "telemetry.h5", scn, out / "plots")
    return summary


def main(args) -> int:
    """`gnc hil run`: exit 0 when the mission succeeded, or ran its --duration without keep-out violation."""
    from sim.scenario import load_scenario

    scn = load_scenario(args.scenario)
    if args.rt_priority is not None:
        use_fifo(args.rt_priority)
        isolate_loop()
    link = open_link("flight", serial_url=args.serial, can_spec=args.can, n_thrusters=args.n_thrusters,
                     baudrate=args.baudrate)
    try:
        s = run_hil(scn, Path(args.scenario).read_text(), link, args.out, args.duration, args.seed,
                    plots=not args.no_plots, connect_timeout_s=args.connect_timeout)
    finally:
        link.close()
    h = s["hil"]
    print(f"  {s['scenario']}: {s['final_mode']}, success {s['success']}, keep-out violation "
          f"{s['keep_out_violation_s']} s, {s['sim_duration_s']:.2f} s flown in {s['wall_s']:.2f} s")
    print(f"  loop {h['loop_rate_hz']:.2f} Hz, period jitter p99 {h['period_jitter_us_p99']:.0f} us, deadline "
          f"misses {h['deadline_misses']}, command round trip p50/p99 {h['roundtrip_us_p50']:.0f}/"
          f"{h['roundtrip_us_p99']:.0f} us")
    print(f"  link {h['link']}\n  valves {h['valves']}\n  imu {h['imu']}\n  cycles {h['cycles']}")
    print(f"run directory: {args.out}")
    cut = args.duration is not None and not s["interrupted"]
    return 0 if (s["success"] or cut) and s["keep_out_violation_s"] == 0 else 1
