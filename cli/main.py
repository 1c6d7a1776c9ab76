"""The `gnc` command: run, scenario check, hil, mc, bench."""

import argparse
import importlib
import json
import sys
from pathlib import Path

from gnc.schema import ConfigError

SUITES = ("loop", "hil", "nav", "navmc", "mc", "mpc", "sim", "faults")


def _cmd_run(args) -> int:
    from tqdm import tqdm

    from sim.run import run_scenario
    from sim.scenario import load_scenario

    scn = load_scenario(args.scenario)
    bar = tqdm(total=round(scn.run.max_duration_s), unit="sim s", desc=scn.run.name, disable=args.quiet)

    def progress(t_s, mode):
        bar.update(round(t_s) - bar.n)
        bar.set_postfix_str(mode.lower())

    if args.mc_run is None:
        summary = run_scenario(scn, Path(args.scenario).read_text(), args.out, seed=args.seed, progress=progress,
                               plots=not args.no_plots)
        note = ""
    else:
        summary, note = _replay(args, progress)
    bar.close()
    _print_summary(summary)
    print(f"run directory: {args.out}" + note)
    return 0 if summary["success"] else 1


def _replay(args, progress) -> tuple[dict, str]:
    """Run K of the campaign in DIR (`gnc run SCENARIO --mc-run DIR K`): (summary, comparison note)."""
    from sim.campaign import replay, same_run

    campaign_dir, k = args.mc_run
    if args.seed is not None:
        raise ConfigError("--seed", args.seed, "cannot be combined with --mc-run (run K's seed comes from the campaign)")
    if not k.isdigit():
        raise ConfigError("--mc-run K", k, "must be a run number >= 0")
    stored = Path(campaign_dir) / "scenario.toml"
    if not stored.exists() or stored.read_text() != Path(args.scenario).read_text():
        raise ConfigError("--mc-run DIR", campaign_dir, f"is not a campaign of {args.scenario} (compared with {stored})")
    summary, record = replay(campaign_dir, int(k), args.out, progress, plots=not args.no_plots)
    if record is None or "summary" not in record:
        return summary, f"\ncampaign {campaign_dir} holds no result of run {k} to compare with"
    diff = same_run(summary, record["summary"])
    return summary, (f"\nreplay of run {k} reproduces the campaign's record (timing fields aside)" if not diff else
                     f"\nreplay of run {k} DIFFERS from the campaign's record in: {', '.join(diff)}")


def _cmd_mc(args) -> int:
    from sim.campaign import run_campaign
    from sim.campaign_report import format_report, write_report

    if args.scenario == "report":
        if args.dir is None:
            raise ConfigError("mc report DIR", None, "required: the campaign directory")
        print(format_report(write_report(args.dir)))
        print(f"report written to {Path(args.dir) / 'campaign.json'} and {Path(args.dir) / 'plots'}")
        return 0
    for flag, value in (("--runs", args.runs), ("--out", args.out)):
        if value is None:
            raise ConfigError(flag, None, "required with a scenario")
    if args.scheduler is not None and args.workers is not None:
        raise ConfigError("--workers", args.workers, "applies to the local cluster only, not with --scheduler")
    try:
        run_campaign(Path(args.scenario).read_text(), args.out, args.runs, workers=args.workers,
                     scheduler=args.scheduler, resume=args.resume, seed=args.seed)
    except KeyboardInterrupt:
        print(f"interrupted; finished runs are recorded in {args.out}: add --resume to finish", file=sys.stderr)
        return 130
    print(format_report(json.loads((Path(args.out) / "campaign.json").read_text())))
    print(f"campaign directory: {args.out} (campaign.json, plots/)")
    return 0


def _mc_parser(sub) -> None:
    m = sub.add_parser("mc", help="Monte Carlo campaign of a scenario's dispersions on Dask; 'mc report DIR'")
    m.add_argument("scenario", help="scenario TOML file with a [dispersions] section, or 'report'")
    m.add_argument("dir", nargs="?", help="with 'report': the campaign directory")
    m.add_argument("--runs", type=int, help="number of runs")
    m.add_argument("--out", help="campaign directory to write")
    m.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://HOST:8786 "
                   "(default: a local cluster on 127.0.0.1)")
    m.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    m.add_argument("--resume", action="store_true", help="finish an interrupted campaign in --out")
    m.add_argument("--seed", type=int, help="campaign seed (default: the scenario's run.seed)")
    m.set_defaults(func=_cmd_mc)


def _print_summary(s: dict) -> None:
    skip = {"events", "delta_v_by_phase_m_s"}
    width = max(len(k) for k in s)
    for k, v in s.items():
        if k in skip:
            continue
        if isinstance(v, float):
            v = f"{v:.4g}"
        print(f"  {k:<{width}}  {v}")
    print("  delta-v by phase (m/s): " + ", ".join(f"{k} {v:.3f}" for k, v in s["delta_v_by_phase_m_s"].items()))
    for e in s["events"]:
        print(f"  [{e['t_s']:8.0f} s] {e['text']}")


def _controller_text(c) -> str:
    """'lqr', 'mpc, fast path (OSQP)' or 'mpc, cvxpy path (SOLVER)' for a ControlConfig."""
    if c.controller == "lqr":
        return "lqr"
    return "mpc, fast path (OSQP)" if c.mpc_path == "fast" else f"mpc, cvxpy path ({c.solver})"


def _cmd_check(args) -> int:
    from sim.forces import ForceModel
    from sim.scenario import load_scenario

    scn = load_scenario(args.scenario)
    f = scn.flight()
    print(f"scenario '{scn.run.name}' is valid (seed {scn.run.seed}, epoch {scn.run.epoch_utc})")
    print(f"  target: {scn.target.altitude_m / 1e3:.1f} km altitude, e = {scn.target.eccentricity}, "
          f"i = {scn.target.inclination_deg} deg, mean motion {f.n_rad_s:.6e} rad/s")
    print(f"  chaser starts at r_CT_H = {list(scn.chaser.r0_CT_H_m)} m, v_CT_H = {list(scn.chaser.v0_CT_H_m_s)} m/s")
    print(f"  thrust: {scn.vehicle.max_thrust_N} N per axis on {scn.vehicle.mass_kg} kg "
          f"= {scn.vehicle.max_accel_m_s2:.3e} m/s^2")
    print(f"  rates: sensor {1 / scn.sensor.period_s:g} Hz, nav {1 / scn.nav.period_s:g} Hz, "
          f"MPC {1 / scn.control.period_s:g} Hz (horizon {scn.control.horizon_steps} steps, "
          f"{_controller_text(scn.control)})")
    print(f"  truth: RK8 step {scn.truth.step_s} s; {ForceModel.from_scenario(scn).describe()}")
    print(f"  keep-out sphere {scn.control.keep_out_radius_m} m; at most {scn.run.max_duration_s:g} s")
    for i, p in enumerate(scn.mission.phases):
        detail = {k: v for k, v in vars(p).items() if k not in ("kind", "name")}
        print(f"  phase {i}: {p.kind:<8} {p.name:<20} {detail}")
    return 0


def _cmd_plan(args) -> int:
    from gnc.guidance.plan import format_plan, plan_mission
    from sim.scenario import load_scenario

    scn = load_scenario(args.scenario)
    flown = None
    if args.summary is not None:
        path = Path(args.summary)
        if not path.is_file():
            raise ConfigError("--summary", args.summary, "must be the summary.json of a run (gnc run ... --out DIR)")
        flown = json.loads(path.read_text())["delta_v_by_phase_m_s"]
    plans = plan_mission(scn.flight(), (*scn.chaser.r0_CT_H_m, *scn.chaser.v0_CT_H_m_s))
    print(f"open-loop fuel-optimal delta-v of the transfers of '{scn.run.name}' (HCW, ZOH at the control period "
          f"{scn.control.period_s:g} s, |a| <= {scn.vehicle.max_accel_m_s2:.3e} m/s^2 per axis)")
    print(format_plan(plans, flown) if plans else "  (no transfers: approach, depart or inspect phases)")
    return 0


def _cmd_bench(args) -> int:
    if args.suite not in SUITES:
        raise ConfigError("bench SUITE", args.suite, "must be one of " + ", ".join(SUITES))
    module = importlib.import_module(f"benchmarks.{args.suite}")
    extra = {k: v for k, v in (("rt_priority", args.rt_priority), ("run_dir", args.run_dir),
                               ("scenario", args.scenario), ("runs", args.runs),
                               ("campaign_seed", args.campaign_seed)) if v is not None}
    for k, v in extra.items():
        suite = "navmc" if k in ("scenario", "runs", "campaign_seed") else "hil"
        if args.suite != suite:
            raise ConfigError("--" + k.replace("_", "-"), v, f"applies to `gnc bench {suite}` only")
    figures = module.run(quick=args.quick, **extra)
    for k, v in figures.items():
        shown = f"{v:.6g}" if isinstance(v, float) else (f"({len(v)} entries, in the JSON)" if isinstance(v, dict) else v)
        print(f"  {k:<28} {shown}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"figures written to {args.json}")
    return 0


def _cmd_hil(args) -> int:
    import can

    # only the subcommand's module: the emulator and the self-test start without the flight code
    module = importlib.import_module({"emulate": "hil.emulator", "selftest": "hil.selftest",
                                      "run": "hil.run"}[args.hcmd])
    try:
        return module.main(args)
    except (ValueError, OSError, can.CanError) as exc:  # OSError: serial, permission, no rig answering
        print(f"gnc: error: {exc}", file=sys.stderr)
        return 2


def _hil_parsers(sub) -> None:
    h = sub.add_parser("hil", help="hardware in the loop: rig emulator, link self-test, real-time run")
    hsub = h.add_subparsers(dest="hcmd", required=True)
    e = hsub.add_parser("emulate", help="play a thruster/IMU rig on a serial or CAN link (see docs/ICD.md)")
    t = hsub.add_parser("selftest", help="ping/pong round trips against a rig: median and p99")
    r = hsub.add_parser("run", help="fly a scenario in real time with the rig's thrusters and IMU in the loop")
    r.add_argument("scenario", help="scenario TOML file (flight tick <= 0.05 s, e.g. scenarios/hil_hold.toml)")
    for q in (e, t, r):
        link = q.add_mutually_exclusive_group(required=True)
        link.add_argument("--serial", metavar="URL", help="device path, pty, socket://HOST:PORT, loop:// "
                          "(emulate: 'pty' creates a pseudo-terminal and prints its path)")
        link.add_argument("--can", metavar="INTERFACE:CHANNEL", help="python-can interface and channel, e.g. "
                          "socketcan:can0, slcan:/dev/ttyACM0 (emulate: slcan:pty)")
        q.add_argument("--n-thrusters", type=int, default=12, help="thrusters on the rig (1..16)")
        q.add_argument("--baudrate", type=int, default=230400, help="serial line rate (bit/s; see docs/ICD.md)")
        q.set_defaults(func=_cmd_hil)
    e.add_argument("--seed", type=int, default=0, help="seed of the IMU noise and fault choices")
    e.add_argument("--imu-rate-hz", type=float, default=100.0, help="IMU sample rate (Hz)")
    e.add_argument("--watchdog-s", type=float, default=0.1, help="valves close after this long without a command (s)")
    e.add_argument("--duration-s", type=float, default=float("inf"), help="stop after this long (s)")
    e.add_argument("--throttle", action="store_true", help="pace sent frames at the line rate (--baudrate 8N1, "
                   "or the CAN bitrate) like a real UART or bus; default: as fast as the transport takes them")
    r.add_argument("--out", required=True, help="run directory to write")
    r.add_argument("--duration", type=float, help="stop after this many seconds (default: run.max_duration_s)")
    r.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    r.add_argument("--no-plots", action="store_true", help="skip plots/")
    r.add_argument("--connect-timeout", type=float, default=20.0, help="wait this long for the rig's first status "
                   "and IMU frames before giving up (s; a cold emulator loads its numba cache first)")
    for q in (e, r):
        q.add_argument("--rt-priority", type=int, help="run under SCHED_FIFO at this priority, 1..99 (needs "
                       "CAP_SYS_NICE; see hil/realtime.py)")
    t.add_argument("--count", type=int, default=200, help="pings to send")
    t.add_argument("--timeout-s", type=float, default=0.5, help="wait for each pong (s)")
    t.add_argument("--json", help="write the results to this JSON file")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gnc", description="Rendezvous and proximity operations GNC prototype.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one closed-loop simulation of a scenario")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--out", required=True, help="run directory to write")
    r.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    r.add_argument("--no-plots", action="store_true", help="skip plots/")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--mc-run", nargs=2, metavar=("DIR", "K"), help="replay run K of the campaign in DIR")
    r.set_defaults(func=_cmd_run)
    s = sub.add_parser("scenario", help="scenario tools")
    ssub = s.add_subparsers(dest="scmd", required=True)
    c = ssub.add_parser("check", help="validate a scenario and print what it would run")
    c.add_argument("scenario")
    c.set_defaults(func=_cmd_check)
    pl = sub.add_parser("plan", help="open-loop fuel-optimal delta-v of each transfer of a scenario's mission")
    pl.add_argument("scenario", help="scenario TOML file")
    pl.add_argument("--summary", help="a run's summary.json: adds its closed-loop delta-v and the ratio")
    pl.set_defaults(func=_cmd_plan)
    _hil_parsers(sub)
    _mc_parser(sub)
    b = sub.add_parser("bench", help="run a benchmark suite from benchmarks/")
    b.add_argument("suite", help="one of: " + ", ".join(SUITES))
    b.add_argument("--json", help="write the figures to this JSON file")
    b.add_argument("--quick", action="store_true", help="fewer samples (smoke test)")
    b.add_argument("--rt-priority", type=int, help="hil: run the loop and the emulator under SCHED_FIFO at this "
                   "priority (needs CAP_SYS_NICE)")
    b.add_argument("--run-dir", help="hil: keep the loop's run directory here (per-cycle timing in telemetry.h5)")
    b.add_argument("--scenario", help="navmc: inspection (default) or angles_only")
    b.add_argument("--runs", type=int, help="navmc: number of runs (default 50, 4 with --quick)")
    b.add_argument("--campaign-seed", type=int, help="navmc: the campaign seed the runs' seeds derive from (default "
                   "42, as gnc mc's); another one flies other draws, e.g. to check a tuning out of sample")
    b.set_defaults(func=_cmd_bench)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"gnc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
