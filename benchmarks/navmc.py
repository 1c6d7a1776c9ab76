"""`gnc bench navmc`: navigation consistency over a seeded Monte Carlo of closed-loop runs of the default scenario.

Scenario: ``scenarios/inspection.toml`` (6-DOF chaser, lidar, IMU, star tracker, every force model, its
[nav] tuning and [dispersions]) shortened to what stresses the filter: the chaser starts at the 250 m
V-bar hold, holds HOLD_S, then flies the inspection-ellipse entry (long saturated burns) and
STOP_AFTER_ENTRY_S of the ellipse. The initial position dispersion and the filter's initial position sigma
are scaled by the ratio of the start ranges (250 m / 5 km), so that the first lidar update is as
linear as at the default start (with 10 m at 250 m, an EKF's first update can be biased well beyond its
covariance, and the filter then diverges: seen in one run of 50).
The injected-fault dispersions are left out (fault-free runs: an outage longer than the sensor timeout aborts
by design). Run k's seed and dispersions are the campaign's (``sim.campaign.run_seed``, ``sim.dispersions``):
run k here is run k of ``gnc mc`` of that scenario.

`--scenario angles_only`: ``scenarios/angles_only.toml`` whole (camera only, 3-axis chaser; its dispersions, no
faults), NIS of the camera's 2-dof samples. `--runs N`: N runs instead of 50. `--campaign-seed S`: the runs'
seeds and draws from campaign seed S instead of 42 (a tuning chosen on seed 42's runs checked on others).

Each nav cycle (1 Hz) of every run: NEES with the full covariance of [r_CT_H, v_CT_H] (6 dof) and of r_CT_H
(3 dof) against the truth, and the NIS of each processed lidar sample (3 dof). Campaign average at each
time step over the N runs, against the two-sided 95 % bounds chi2.ppf(0.025, N dof) / N and
chi2.ppf(0.975, N dof) / N (Bar-Shalom, Li & Kirubarajan 2001, sec. 5.4.2); NIS with the number of runs
that processed a sample at that step. Figures: nees_mean / nees_pos_mean / nis_mean (time average of
the campaign average), their bounds (for N runs), *_in_bounds_frac (fraction of time steps inside),
runs, aborts (runs whose mode is ABORT at the end), rejected (gate rejections, all runs), divergences
(runs with 10 or more consecutive rejected samples), their run numbers, the same averages over the other
runs (*_converged), wall_s, load_avg_1min; q_truth_psd_by_window_s: the process-noise PSD the truth asks for
(``unmodelled_psd``, all runs) over windows of 1, 10, 100 and 300 s.
"""

import math
import multiprocessing
import os
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import chi2

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIO = SCENARIOS / "inspection.toml"
HOLD_S = 300.0
STOP_AFTER_ENTRY_S = 600.0
CAMPAIGN_SEED = 42
NS = 1_000_000_000


def short_scenario_dict(text: str) -> dict:
    """The shortened default scenario (see module doc) as a TOML dict."""
    d = tomllib.loads(text)
    phases = d["mission"]["phases"]
    i = next(k for k, p in enumerate(phases) if p["name"] == "hold_250m")
    hold, inspect = dict(phases[i], duration_s=HOLD_S), phases[i + 1]
    assert inspect["kind"] == "inspect"
    d["mission"]["phases"] = [hold, inspect]
    ratio = math.dist(hold["at_H_m"], (0, 0, 0)) / math.dist(d["chaser"]["r0_CT_H_m"], (0, 0, 0))
    d["chaser"]["r0_CT_H_m"] = list(hold["at_H_m"])
    d["run"]["max_duration_s"] = HOLD_S + inspect["entry_s"] + STOP_AFTER_ENTRY_S
    init = d["dispersions"]["initial_state"]  # position errors in proportion to the range, as at the start
    init["pos_sigma_H_m"] = [ratio * s for s in init["pos_sigma_H_m"]]
    d["nav"]["init_pos_sigma_m"] *= ratio
    d["dispersions"].pop("faults", None)
    return d


def whole_scenario_dict(text: str) -> dict:
    """A scenario as a TOML dict, whole, without its injected-fault dispersions (angles_only: 8300 s a run)."""
    d = tomllib.loads(text)
    d.get("dispersions", {}).pop("faults", None)
    return d


# `gnc bench navmc --scenario NAME`: (how the run is cut, what the figures say it is, NIS dof of its sensor)
CASES = {"inspection": (short_scenario_dict, "from the 250 m hold through the ellipse entry", 3),
         "angles_only": (whole_scenario_dict, "whole mission: camera only, V-bar hops 5 -> 3.5 -> 2 km", 2)}


def nav_run(data: dict, k: int, campaign_seed: int) -> dict:
    """Run k of the campaign of scenario dict data: NEES (6 and 3 dof) and NIS per nav cycle, and outcome."""
    from gnc.guidance.modes import Mode
    from sim.campaign import run_seed
    from sim.dispersions import apply, draw
    from sim.run import build
    from sim.scenario import scenario_from_dict

    nominal = scenario_from_dict(data)
    seed = run_seed(campaign_seed, k)
    scn = apply(nominal, draw(nominal, seed), seed)
    world, _, exe = build(scn, seed)
    nees, nees_pos, nis, x_true, u = [], [], [], [], []
    streak = [0, 0, 0]  # consecutive rejections now, longest; the filter's rejection count

    def on_cycle(rec):
        if (rec.t_ns - exe.t0_ns) % exe.nav_period_ns:
            return
        r, v = world.relative_state()
        x_true.append(np.concatenate([r, v]))
        u.append(rec.accel_H)
        e = rec.x_hat - x_true[-1]
        P = exe.nav.P_rv
        nees.append(e @ np.linalg.solve(P, e))
        nees_pos.append(e[:3] @ np.linalg.solve(P[:3, :3], e[:3]))
        accepted = exe.nav.n_rejected == streak[2]
        streak[2] = exe.nav.n_rejected
        nis.append(rec.nis if rec.n_meas > 0 and math.isfinite(rec.nis) else math.nan)  # inf: geometry rejection
        if rec.n_meas > 0:
            streak[0] = 0 if accepted else streak[0] + 1
            streak[1] = max(streak[0], streak[1])

    exe.run(round(scn.run.max_duration_s * NS), on_cycle)
    return {"k": k, "nees": np.array(nees), "nees_pos": np.array(nees_pos), "nis": np.array(nis),
            "abort": exe.guidance.mode == Mode.ABORT, "rejected": exe.nav.n_rejected, "max_reject_streak": streak[1],
            "x_true": np.array(x_true), "u": np.array(u), "n": exe.cfg.n_rad_s, "dt": exe.nav_period_ns / NS}


def unmodelled_psd(runs: list[tuple[np.ndarray, np.ndarray]], n: float, dt: float, window_s: float) -> float:
    """Acceleration-noise PSD (m^2/s^3) that explains the truth's velocity changes the filter's model does not.

    runs: per run (x (k, 6) true [r_CT_H, v_CT_H] at steps of dt s, u (k, 3) command held over each step, m/s^2).
    Per step dv = v(t + dt) - [HCW(n) prediction from the true state with u]; each run's common thrust scale s
    (least squares, dv ~ s Gam_v u: what the filter's thrust-scale state carries) is removed; over windows of
    m = window_s / dt steps, q = E[(sum dv)^2] / (m dt), averaged over axes and runs. For white acceleration
    noise of PSD q every window gives q; a correlated (bias-like) remainder gives a q that grows with the window.
    """
    from gnc.nav.ekf_kernels import hcw_predict_matrices

    Phi, Gam, _ = hcw_predict_matrices(n, dt, 0.0)
    m, qs = max(1, round(window_s / dt)), []
    for x, u in runs:
        g = u[:-1] @ Gam[3:].T
        dv = x[1:, 3:] - x[:-1] @ Phi[3:].T - g
        gg = np.sum(g * g)
        if gg > 0.0:
            dv = dv - np.sum(dv * g) / gg * g
        k = len(dv) // m
        qs.append(np.mean(dv[:k * m].reshape(k, m, 3).sum(axis=1) ** 2) / (m * dt))
    return float(np.mean(qs))


def _campaign_average(series: list[np.ndarray], dof: int) -> tuple[float, list[float], float]:
    """(time average of the campaign average, [lower, upper] 95 % bounds for all runs, fraction of steps
    inside its bounds) of per-run series (NaN: no value at that step)."""
    n = min(len(s) for s in series)
    S = np.vstack([s[:n] for s in series])
    m = np.sum(np.isfinite(S), axis=0)
    keep = m > 0
    avg = np.nansum(S[:, keep], axis=0) / m[keep]
    lo, hi = chi2.ppf(0.025, dof * m[keep]) / m[keep], chi2.ppf(0.975, dof * m[keep]) / m[keep]
    N = len(series)
    return float(avg.mean()), [chi2.ppf(0.025, dof * N) / N, chi2.ppf(0.975, dof * N) / N], \
        float(np.mean((avg >= lo) & (avg <= hi)))


def run(quick: bool = False, runs: int | None = None, workers: int = 2, scenario: str = "inspection",
        campaign_seed: int = CAMPAIGN_SEED) -> dict:
    if scenario not in CASES:
        raise ValueError(f"scenario = {scenario!r}: must be one of {', '.join(CASES)}")
    cut, what, nis_dof = CASES[scenario]
    runs = runs or (4 if quick else 50)
    data = cut((SCENARIOS / f"{scenario}.toml").read_text())
    figures = {"scenario": f"{scenario}.toml {what}", "nis_dof": nis_dof,
               "duration_s": data["run"]["max_duration_s"], "runs": runs, "campaign_seed": campaign_seed,
               "load_avg_1min": os.getloadavg()[0]}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        res = list(pool.map(nav_run, [data] * runs, range(runs), [campaign_seed] * runs))
    figures["wall_s"] = time.perf_counter() - t0
    for key, dof in (("nees", 6), ("nees_pos", 3), ("nis", nis_dof)):
        mean, bounds, inside = _campaign_average([r[key] for r in res], dof)
        figures[f"{key}_mean"], figures[f"{key}_bounds"], figures[f"{key}_in_bounds_frac"] = mean, bounds, inside
    figures["q_truth_psd_by_window_s"] = {w: unmodelled_psd([(r["x_true"], r["u"]) for r in res], res[0]["n"],
                                                            res[0]["dt"], w) for w in (1, 10, 100, 300)}
    figures["aborts"] = sum(r["abort"] for r in res)
    figures["rejected"] = sum(r["rejected"] for r in res)
    diverged = [r["k"] for r in res if r["max_reject_streak"] >= 10]
    figures["divergences"] = len(diverged)
    figures["diverged_runs"] = diverged
    figures["aborted_runs"] = [r["k"] for r in res if r["abort"]]
    kept = [r for r in res if r["k"] not in diverged]
    if diverged and kept:  # the same figures without the diverged runs (they dominate a campaign average)
        for key, dof in (("nees", 6), ("nees_pos", 3), ("nis", nis_dof)):
            mean, bounds, _ = _campaign_average([r[key] for r in kept], dof)
            figures[f"{key}_mean_converged"], figures[f"{key}_bounds_converged"] = mean, bounds
    return figures
