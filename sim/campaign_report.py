"""The report of a Monte Carlo campaign directory (``sim.campaign``): campaign.json and plots/.

Statistics are over the recorded runs below the campaign's run count. A run that raised counts as a
failure in the success rate and is listed with its error and seed; the other figures are over the runs
that flew. Distributions give mean, std, min, p1, p5, p50, p95, p99 and max (numpy linear percentiles).
Navigation consistency: NEES with the diagonal of the covariance (3 dof for position); the campaign
average over M runs at a time is compared with its two-sided 95 % chi-square bounds chi2(3M)/M.
"""

import json
import math
from pathlib import Path

import numpy as np
from scipy.stats import chi2

from sim.campaign import NIS_DOF, write_atomic, load_records, load_series

QUANTILES = (1, 5, 50, 95, 99)


def distribution(xs) -> dict:
    """n, mean, std, min, p1..p99, max of the finite values of xs (NaN when there are none)."""
    x = np.asarray([v for v in xs if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return {"n": 0, **{k: math.nan for k in ("mean", "std", "min", *(f"p{q}" for q in QUANTILES), "max")}}
    out = {"n": int(x.size), "mean": float(x.mean()), "std": float(x.std()), "min": float(x.min())}
    out.update({f"p{q}": float(np.percentile(x, q)) for q in QUANTILES})
    out["max"] = float(x.max())
    return out


def wilson95(successes: int, n: int) -> list[float]:
    """Wilson score 95 % interval of a success rate from successes out of n trials."""
    if n == 0:
        return [math.nan, math.nan]
    z, p = 1.959963984540054, successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


def _success(records) -> dict:
    """count, rate and final modes of the flown run records given."""
    summ = [r["summary"] for r in records]
    n_ok = sum(s["success"] for s in summ)
    modes: dict[str, int] = {}
    for s in summ:
        modes[s["final_mode"]] = modes.get(s["final_mode"], 0) + 1
    return {"runs": len(summ), "count": n_ok, "rate": n_ok / len(summ) if summ else math.nan, "final_mode": modes}


def nees_over_time(series: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t_s, runs still flying M, campaign-average position NEES, lower, upper 95 % bound) on the series grid."""
    n = max((len(s["t_s"]) for s in series), default=0)
    total, count = np.zeros(n), np.zeros(n, dtype=int)
    t = np.full(n, np.nan)
    for s in series:
        m = len(s["t_s"])
        total[:m] += ((s["err_H"][:, :3] / s["sigma_H"][:, :3]) ** 2).sum(axis=1)
        count[:m] += 1
        t[:m] = s["t_s"]
    dof = 3 * count
    return t, count, total / count, chi2.ppf(0.025, dof) / count, chi2.ppf(0.975, dof) / count


def build_report(campaign_dir) -> tuple[dict, dict[int, dict], dict[int, dict]]:
    """(campaign.json content, records by k, series by k) of a campaign directory."""
    d = Path(campaign_dir)
    man = json.loads((d / "manifest.json").read_text())
    n_runs = man["runs"]
    records = {k: r for k, r in load_records(d).items() if k < n_runs}
    flown = {k: r for k, r in records.items() if "error" not in r}
    series = {k: s for k in flown if (s := load_series(d, k)) is not None}
    summ = [r["summary"] for r in flown.values()]
    nav = [r["nav_consistency"] for r in flown.values()]
    n_success = sum(s["success"] for s in summ)
    keep_out_m = summ[0]["keep_out_radius_m"] if summ else math.nan
    violating = [k for k, r in flown.items() if r["summary"]["keep_out_violation_s"] > 0]
    t, m, nees, lo, hi = nees_over_time(list(series.values()))
    inside = (nees >= lo) & (nees <= hi)
    ran = sum(s["ran"] for s in man["sessions"])
    elapsed = sum(s["elapsed_s"] for s in man["sessions"])
    running = elapsed - sum(s["pool_start_s"] for s in man["sessions"])
    draws = {}
    for r in records.values():
        for key, v in (r.get("draw") or {}).items():
            if key == "faults":
                continue
            for i, x in enumerate(v if isinstance(v, list) else [v]):
                draws.setdefault(f"{key}[{i}]" if isinstance(v, list) else key, []).append(x)
    faulted = {k for k, r in flown.items() if (r.get("draw") or {}).get("faults")}
    report = {
        "scenario": man["scenario"],
        "campaign_seed": man["campaign_seed"],
        "runs": n_runs,
        "recorded": len(records),
        "missing": [k for k in range(n_runs) if k not in records],
        "errors": [{"k": k, "seed": r["seed"], "error": r["error"]} for k, r in sorted(records.items())
                   if "error" in r],
        "success": {"count": n_success, "rate": n_success / len(records) if records else math.nan,
                    "rate_wilson95": wilson95(n_success, len(records))},
        "final_mode": _success(flown.values())["final_mode"],
        "delta_v_m_s": distribution(s["delta_v_m_s"] for s in summ),
        "min_range_m": distribution(s["min_range_m"] for s in summ),
        "keep_out": {"radius_m": keep_out_m, "violating_runs": violating,
                     "violation_s": distribution(s["keep_out_violation_s"] for s in summ)},
        "hold_pos_err_max_m": distribution(s["hold_pos_err_max_m"] for s in summ),
        "faults": {"runs_with_injected_faults": sorted(faulted),
                   "success_with_faults": _success(flown[k] for k in faulted),
                   "success_without_faults": _success(r for k, r in flown.items() if k not in faulted)},
        "nav": {
            "pos_err_rms_m": distribution(s["nav_pos_err_rms_m"] for s in summ),
            "nees_pos_diag_mean": distribution(c["nees_pos_diag_mean"] for c in nav),
            "nees_vel_diag_mean": distribution(c["nees_vel_diag_mean"] for c in nav),
            "nis_mean": distribution(c["nis_mean"] for c in nav),
            "nis_dof": NIS_DOF,
            "nees_pos_avg_in_bounds95_frac": float(inside.mean()) if inside.size else math.nan,
        },
        "timing": {
            "run_wall_s": distribution(s["wall_s"] for s in summ),
            "realtime_factor": distribution(s["realtime_factor"] for s in summ),
            "mpc_solve_ms_p99": distribution(s["mpc_solve_ms_p99"] for s in summ),
            "deadline_misses": {stage: sum(s["deadline_misses"][stage] for s in summ)
                                for stage in (summ[0]["deadline_misses"] if summ else {})},
            "campaign_elapsed_s": elapsed,
            "runs_per_min": 60 * ran / running if running > 0 else math.nan,  # worker start-up excluded
            "sessions": len(man["sessions"]),
        },
        "draws": {key: distribution(v) for key, v in draws.items()},
    }
    return report, records, series


def write_report(campaign_dir) -> dict:
    """Write campaign.json and plots/ (trajectories, delta_v, min_range, nav_error) of a campaign; return the report."""
    d = Path(campaign_dir)
    report, records, series = build_report(d)
    write_atomic(d / "campaign.json", json.dumps(report, indent=1).encode())
    plot_campaign(report, records, series, d / "plots")
    return report


def plot_campaign(report: dict, records: dict, series: dict, out_dir) -> list[Path]:
    """trajectories.png, delta_v.png, min_range.png, nav_error.png; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    R = report["keep_out"]["radius_m"]
    flown = [r["summary"] for r in records.values() if "error" not in r]
    paths = []

    def save(fig, name):
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 5))
    for s in series.values():
        ax.plot(s["r_true_H"][:, 1], s["r_true_H"][:, 0], lw=0.6, alpha=0.4)
    if math.isfinite(R):
        ax.add_patch(plt.Circle((0, 0), R, color="r", alpha=0.25, label=f"keep-out {R:g} m"))
    ax.plot(0, 0, "k*", ms=10, label="target")
    ax.set(xlabel="along-track y (m)", ylabel="radial x (m)",
           title=f"{report['scenario']}: {len(series)} dispersed trajectories in the target Hill frame")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    save(fig, "trajectories.png")

    for key, name, label in (("delta_v_m_s", "delta_v.png", "total delta-v (m/s)"),
                             ("min_range_m", "min_range.png", "minimum range to the target (m)")):
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.hist([s[key] for s in flown], bins=max(10, int(math.sqrt(len(flown)))), color="C0", alpha=0.8)
        for q, style in (("p50", "-"), ("p99" if key == "delta_v_m_s" else "p1", "--")):
            ax.axvline(report[key][q], color="k", ls=style, lw=1, label=f"{q} {report[key][q]:.4g}")
        if key == "min_range_m" and math.isfinite(R):
            ax.axvline(R, color="r", lw=2, label=f"keep-out {R:g} m")
        ax.set(xlabel=label, ylabel="runs", title=f"{label} over {len(flown)} runs")
        ax.legend(fontsize=8)
        save(fig, name)

    fig, axs = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    for i, (ax, axis) in enumerate(zip(axs.flat, ("x radial", "y along-track", "z cross-track"))):
        for s in series.values():
            ax.plot(s["t_s"], s["err_H"][:, i], lw=0.5, alpha=0.4)
            ax.plot(s["t_s"], 3 * s["sigma_H"][:, i], "r", lw=0.4, alpha=0.3)
            ax.plot(s["t_s"], -3 * s["sigma_H"][:, i], "r", lw=0.4, alpha=0.3)
        ax.set(ylabel=f"{axis} error (m)", title=f"position error {axis} and the filter's 3-sigma (red)")
        ax.grid(alpha=0.3)
    t, _, nees, lo, hi = nees_over_time(list(series.values()))
    ax = axs[1, 1]
    ax.plot(t, nees, "k", lw=1, label="campaign-average position NEES (diagonal P)")
    ax.fill_between(t, lo, hi, color="g", alpha=0.25, label="95 % chi-square bounds")
    ax.set_yscale("log")
    ax.set(ylabel="NEES (-)", title="navigation consistency")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax in axs[1]:
        ax.set_xlabel("time since epoch (s)")
    save(fig, "nav_error.png")
    return paths


def format_report(r: dict) -> str:
    """The campaign's headline figures as text lines."""
    def dist(d, unit, fmt=".4g"):
        return (f"mean {d['mean']:{fmt}}, p50 {d['p50']:{fmt}}, p95 {d['p95']:{fmt}}, p99 {d['p99']:{fmt}}, "
                f"max {d['max']:{fmt}} {unit} (n = {d['n']})")

    s, ko, nav, tm = r["success"], r["keep_out"], r["nav"], r["timing"]
    fl = r["faults"]
    fw, fo = fl["success_with_faults"], fl["success_without_faults"]
    nis_unit = f"({nav['nis_dof']} dof)"
    lines = [
        f"campaign '{r['scenario']}' (seed {r['campaign_seed']}): {r['recorded']} of {r['runs']} runs recorded, "
        f"{len(r['errors'])} raised",
        f"  success rate        {s['rate']:.3f} ({s['count']}/{r['recorded']}; 95 % {s['rate_wilson95'][0]:.3f}"
        f"..{s['rate_wilson95'][1]:.3f}); final modes {r['final_mode']}",
        f"  delta-v             {dist(r['delta_v_m_s'], 'm/s')}",
        f"  min range           min {r['min_range_m']['min']:.4g}, p1 {r['min_range_m']['p1']:.4g}, "
        f"p50 {r['min_range_m']['p50']:.4g} m; keep-out {ko['radius_m']:g} m violated in {len(ko['violating_runs'])} runs",
        f"  hold error max      {dist(r['hold_pos_err_max_m'], 'm')}",
        f"  injected faults     {len(fl['runs_with_injected_faults'])} runs: {fw['count']}/{fw['runs']} succeeded, "
        f"final modes {fw['final_mode']}; without faults {fo['count']}/{fo['runs']} succeeded",
        f"  nav pos error rms   {dist(nav['pos_err_rms_m'], 'm')}",
        f"  NEES pos (diag P)   {dist(nav['nees_pos_diag_mean'], '(3 dof)')}; campaign average inside its 95 % "
        f"bounds {nav['nees_pos_avg_in_bounds95_frac']:.0%} of the time",
        f"  NIS                 {dist(nav['nis_mean'], nis_unit)}",
        f"  timing              run wall p50 {tm['run_wall_s']['p50']:.3g} s, campaign {tm['campaign_elapsed_s']:.0f} s "
        f"in {tm['sessions']} session(s), {tm['runs_per_min']:.3g} runs/min; deadline misses {tm['deadline_misses']}",
    ]
    lines += [f"  run {e['k']} (seed {e['seed']}) raised {e['error']}" for e in r["errors"]]
    return "\n".join(lines)
