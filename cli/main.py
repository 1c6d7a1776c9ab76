"""The `gnc` command: run, scenario check, bench."""

import argparse
import importlib
import json
import sys
from pathlib import Path

from gnc.schema import ConfigError

SUITES = ("loop",)


def _cmd_run(args) -> int:
    from tqdm import tqdm

    from sim.run import run_scenario
    from sim.scenario import load_scenario

    scn = load_scenario(args.scenario)
    bar = tqdm(total=round(scn.run.max_duration_s), unit="sim s", desc=scn.run.name, disable=args.quiet)

    def progress(t_s, mode):
        bar.update(round(t_s) - bar.n)
        bar.set_postfix_str(mode.lower())

    summary = run_scenario(scn, Path(args.scenario).read_text(), args.out, seed=args.seed, progress=progress,
                           plots=not args.no_plots)
    bar.close()
    _print_summary(summary)
    print(f"run directory: {args.out}")
    return 0 if summary["success"] else 1


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


def _cmd_check(args) -> int:
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
          f"MPC {1 / scn.control.period_s:g} Hz (horizon {scn.control.horizon_steps} steps, {scn.control.solver})")
    print(f"  truth: step {scn.truth.step_s} s, J2 {'on' if scn.truth.j2 else 'off'}; "
          f"keep-out sphere {scn.control.keep_out_radius_m} m; at most {scn.run.max_duration_s:g} s")
    for i, p in enumerate(scn.mission.phases):
        detail = {k: v for k, v in vars(p).items() if k not in ("kind", "name")}
        print(f"  phase {i}: {p.kind:<8} {p.name:<20} {detail}")
    return 0


def _cmd_bench(args) -> int:
    if args.suite not in SUITES:
        raise ConfigError("bench SUITE", args.suite, "must be one of " + ", ".join(SUITES))
    module = importlib.import_module(f"benchmarks.{args.suite}")
    figures = module.run(quick=args.quick)
    for k, v in figures.items():
        print(f"  {k:<28} {v:.6g}" if isinstance(v, float) else f"  {k:<28} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"figures written to {args.json}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gnc", description="Rendezvous and proximity operations GNC prototype.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one closed-loop simulation of a scenario")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--out", required=True, help="run directory to write")
    r.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    r.add_argument("--no-plots", action="store_true", help="skip plots/")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
    s = sub.add_parser("scenario", help="scenario tools")
    ssub = s.add_subparsers(dest="scmd", required=True)
    c = ssub.add_parser("check", help="validate a scenario and print what it would run")
    c.add_argument("scenario")
    c.set_defaults(func=_cmd_check)
    b = sub.add_parser("bench", help="run a benchmark suite from benchmarks/")
    b.add_argument("suite", help="one of: " + ", ".join(SUITES))
    b.add_argument("--json", help="write the figures to this JSON file")
    b.add_argument("--quick", action="store_true", help="fewer samples (smoke test)")
    b.set_defaults(func=_cmd_bench)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"gnc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
