"""Monte Carlo campaigns: dispersions, a campaign on a Dask LocalCluster, kill and resume, replay, report."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from cli.main import main
from gnc.schema import ConfigError
from sim.campaign import SERIES_STEP_S, load_records, load_series, run_campaign, run_seed, same_run
from sim.campaign_report import build_report, distribution, nees_over_time, wilson95
from sim.dispersions import GROUPS, apply, disperse, draw, to_toml
from sim.scenario import parse_scenario
from sim.truth import TruthWorld

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

ROOT = Path(__file__).resolve().parents[2]
QUICK = (ROOT / "scenarios" / "mc_quick.toml").read_text()


def _variant(text, *pairs):
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# 300 s runs starting 160 m from the target with a 60 m along-track spread: with campaign seed 4, runs 0 and
# 4 of 6 are drawn inside the 100 m keep-out sphere and must be recorded as failed; the others fly.
EDGE = _variant(QUICK, ("max_duration_s = 1500", "max_duration_s = 300"),
                ("r0_CT_H_m = [0.0, -1200.0, 0.0]", "r0_CT_H_m = [0.0, -160.0, 0.0]"),
                ("pos_sigma_H_m = [10.0, 30.0, 10.0]", "pos_sigma_H_m = [10.0, 60.0, 10.0]")) + \
    "\n[dispersions.faults]\nsensor_outage_prob = 0.5\noutage_duration_s = [10.0, 120.0]\n"
EDGE_SEED, EDGE_RUNS = 4, 6
SHORT = _variant(QUICK, ("max_duration_s = 1500", "max_duration_s = 300"))


def test_run_seeds_are_the_campaign_seed_sequence_children():
    kids = np.random.SeedSequence(42).spawn(5)
    assert [run_seed(42, k) for k in range(5)] == [int(c.generate_state(1, np.uint64)[0]) for c in kids]
    assert len({run_seed(42, k) for k in range(1000)}) == 1000


def test_no_dispersion_is_the_nominal_scenario_and_groups_draw_independently():
    base = parse_scenario(QUICK)
    none = dataclasses.replace(base, dispersions=type(base.dispersions)())
    d, values = disperse(none, 7)
    assert d == dataclasses.replace(none, run=dataclasses.replace(none.run, seed=7))
    assert values["noise_scale"] == 1.0 and values["thrust_scale"] == 1.0
    # switching the sensor and vehicle groups off leaves the initial-state draw unchanged, and vice versa
    only_state = dataclasses.replace(base, dispersions=dataclasses.replace(
        base.dispersions, sensor=type(base.dispersions.sensor)(), vehicle=type(base.dispersions.vehicle)()))
    full, part = draw(base, 11), draw(only_state, 11)
    assert full["dr0_H_m"] == part["dr0_H_m"] and full["dv0_H_m_s"] == part["dv0_H_m_s"]
    assert part["d_mass_kg"] == 0.0 and full["d_mass_kg"] != 0.0
    assert GROUPS == ("initial_state", "sensor", "vehicle", "faults", "faults_6dof")  # new groups append: existing streams keep their keys


def test_draws_follow_their_declared_distributions():
    scn = parse_scenario(QUICK)
    v = [draw(scn, s) for s in range(4000)]
    dr = np.array([x["dr0_H_m"] for x in v])
    np.testing.assert_allclose(dr.std(axis=0), scn.dispersions.initial_state.pos_sigma_H_m, rtol=0.05)
    log_scale = np.log([x["noise_scale"] for x in v])
    assert log_scale.std() == pytest.approx(scn.dispersions.sensor.noise_scale_log_sigma, rel=0.05)
    drop = np.array([x["dropout_prob"] for x in v])
    assert drop.min() >= 0.0 and drop.max() <= scn.dispersions.sensor.dropout_prob_max
    assert drop.mean() == pytest.approx(scn.dispersions.sensor.dropout_prob_max / 2, rel=0.05)
    ts = np.array([x["thrust_scale"] for x in v])
    assert ts.mean() == pytest.approx(1.0, abs=0.003) and ts.std() == pytest.approx(0.03, rel=0.05)


def test_apply_changes_the_truth_not_the_flight_knowledge_and_validates():
    scn = parse_scenario(QUICK)
    d, v = disperse(scn, 3)
    assert d.flight() == scn.flight() and d.dispersions == type(scn.dispersions)()
    np.testing.assert_allclose(d.chaser.r0_CT_H_m, np.add(scn.chaser.r0_CT_H_m, v["dr0_H_m"]))
    assert d.sensor.range_noise_m == scn.sensor.range_noise_m * v["noise_scale"]
    assert d.truth_accel_scale == pytest.approx(v["thrust_scale"] * 150.0 / (150.0 + v["d_mass_kg"]))
    assert parse_scenario(to_toml(dataclasses.asdict(d))) == d  # the dispersed scenario as a file
    bad = dict(v, d_mass_kg=-200.0)
    with pytest.raises(ConfigError, match=r"^truth\.mass_error_kg = -200\.0: must be > -vehicle\.mass_kg"):
        apply(scn, bad, 3)


def test_truth_applies_the_thrust_scale_to_the_saturated_command():
    r_T, v_T = np.array([6878e3, 0, 0]), np.array([0, 7612.0, 0])
    w = TruthWorld(r_T, v_T, r_T + [0, -100, 0], v_T, 1.0, False, 0.01, accel_scale=1.1)
    w.advance_to(10**9, np.array([0.005, -0.02, 0.0]))
    np.testing.assert_array_equal(w.applied_accel_H, np.array([0.005, -0.01, 0.0]) * 1.1)
    with pytest.raises(ValueError, match="accel_scale"):
        TruthWorld(r_T, v_T, r_T, v_T, 1.0, False, 0.01, accel_scale=0.0)


@pytest.fixture(scope="module")
def edge_campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("mc") / "edge"
    res = run_campaign(EDGE, out, EDGE_RUNS, workers=2, seed=EDGE_SEED, progress=False)
    return out, res


def test_campaign_on_a_local_cluster_records_every_run_and_failures_go_on(edge_campaign):
    out, res = edge_campaign
    recs = load_records(out)
    assert sorted(recs) == list(range(EDGE_RUNS)) and res["ran"] == EDGE_RUNS and res["workers"] == 2
    scn = parse_scenario(EDGE)
    inside = {k for k in range(EDGE_RUNS) if np.linalg.norm(np.add(
        scn.chaser.r0_CT_H_m, draw(scn, run_seed(EDGE_SEED, k))["dr0_H_m"])) <= scn.control.keep_out_radius_m}
    assert inside == {0, 4}
    for k, r in recs.items():
        assert r["seed"] == run_seed(EDGE_SEED, k)
        if k in inside:
            assert r["error"].startswith("ConfigError: chaser.r0_CT_H_m") and "summary" not in r
            assert load_series(out, k) is None
        else:
            assert "error" not in r and r["summary"]["sim_duration_s"] == pytest.approx(300.0, abs=1.0)
            s = load_series(out, k)
            assert np.array_equal(s["t_s"], np.arange(0, 301, SERIES_STEP_S))
    assert res["failed"] == 2
    # long-lived workers: every run went to one of the two worker processes (imports and numba cache once each)
    assert len({r["worker_pid"] for r in recs.values()}) <= 2
    assert not list((out / "runs").glob(".*.tmp"))


def test_report_statistics_match_numpy_on_the_stored_runs(edge_campaign):
    out, _ = edge_campaign
    rep = json.loads((out / "campaign.json").read_text())
    recs = load_records(out)
    flown = [r for r in recs.values() if "error" not in r]
    dv = np.array([r["summary"]["delta_v_m_s"] for r in flown])
    rmin = np.array([r["summary"]["min_range_m"] for r in flown])
    assert rep["delta_v_m_s"]["mean"] == pytest.approx(dv.mean(), rel=1e-12)
    for q in (50, 95, 99):
        assert rep["delta_v_m_s"][f"p{q}"] == pytest.approx(np.percentile(dv, q), rel=1e-12)
    assert rep["delta_v_m_s"]["max"] == dv.max() and rep["min_range_m"]["min"] == rmin.min()
    n_ok = sum(r["summary"]["success"] for r in flown)
    assert rep["success"]["count"] == n_ok and rep["success"]["rate"] == n_ok / EDGE_RUNS
    assert [e["k"] for e in rep["errors"]] == [0, 4] and rep["recorded"] == EDGE_RUNS and rep["missing"] == []
    viol = [r["k"] for r in flown if r["summary"]["keep_out_violation_s"] > 0]
    assert rep["keep_out"]["violating_runs"] == viol
    nees = np.array([r["nav_consistency"]["nees_pos_diag_mean"] for r in flown])
    assert rep["nav"]["nees_pos_diag_mean"]["p50"] == pytest.approx(np.median(nees), rel=1e-12)
    assert rep["draws"]["dr0_H_m[1]"]["n"] == EDGE_RUNS  # failed runs keep their draw
    faulted = sorted(r["k"] for r in flown if r["draw"]["faults"])
    assert rep["faults"]["runs_with_injected_faults"] == faulted
    assert rep["faults"]["success_with_faults"]["runs"] == len(faulted)
    assert (rep["faults"]["success_with_faults"]["count"] + rep["faults"]["success_without_faults"]["count"]) == n_ok
    for name in ("trajectories", "delta_v", "min_range", "nav_error"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000


def test_report_helpers_against_references():
    # Wilson score intervals: Newcombe (1998), Statistics in Medicine 17:857, table I, method 3
    for (s, n), ref in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
                        (1, 29): (0.0061, 0.1718)}.items():
        assert tuple(round(x, 4) for x in wilson95(s, n)) == ref
    d = distribution([3.0, 1.0, float("nan"), 2.0])
    assert d["n"] == 3 and d["p50"] == 2.0 and d["max"] == 3.0
    rng = np.random.default_rng(0)
    series = [{"t_s": np.arange(n) * 30.0, "err_H": rng.standard_normal((n, 6)), "sigma_H": np.ones((n, 6))}
              for n in (400, 400, 300)]
    t, m, nees, lo, hi = nees_over_time(series)
    assert list(m[[0, 299, 300]]) == [3, 3, 2] and t[-1] == 399 * 30.0
    assert 0.9 < np.mean((nees >= lo) & (nees <= hi)) <= 1.0  # consistent errors sit inside the 95 % band


def test_replay_of_one_run_alone_reproduces_it_exactly(edge_campaign, tmp_path, capsys):
    out, _ = edge_campaign
    scen = tmp_path / "edge.toml"
    scen.write_text(EDGE)
    k = 2
    assert main(["run", str(scen), "--out", str(tmp_path / "r2"), "--mc-run", str(out), str(k), "--quiet",
                 "--no-plots"]) in (0, 1)
    assert f"replay of run {k} reproduces the campaign's record" in capsys.readouterr().out
    rec = load_records(out)[k]
    replayed = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert same_run(replayed, rec["summary"]) == [] and replayed["seed"] == rec["seed"]
    stored = load_series(out, k)
    with h5py.File(tmp_path / "r2" / "telemetry.h5", "r") as f:
        t = f["t_s"][()]
        keep = np.isin(t, stored["t_s"])
        assert np.array_equal(f["r_true_H"][()][keep], stored["r_true_H"])
    # the run directory's scenario is the dispersed one: a plain `gnc run` of it is run k again
    d = parse_scenario((tmp_path / "r2" / "scenario.toml").read_text())
    assert d == disperse(parse_scenario(EDGE), rec["seed"])[0] and d.run.seed == rec["seed"]
    assert main(["run", str(scen), "--out", str(tmp_path / "bad"), "--mc-run", str(out), "9", "--quiet"]) == 2
    assert "--mc-run K = 9: must be in 0..5" in capsys.readouterr().err


def test_killed_campaign_resumes_with_no_run_lost_or_repeated(tmp_path):
    scen, out, runs = tmp_path / "short.toml", tmp_path / "camp", 8
    scen.write_text(SHORT)
    cmd = [sys.executable, "-m", "cli.main", "mc", str(scen), "--runs", str(runs), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 50
        while len(list((out / "runs").glob("[0-9]*.json"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "campaign did not record 2 runs in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the campaign, its scheduler and its worker processes
        proc.wait()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "runs").glob("[0-9]*.json")}
    assert 2 <= len(before) < runs
    assert main(["mc", str(scen), "--runs", str(runs), "--out", str(out), "--workers", "2"]) == 2  # no clobbering
    assert main(["mc", str(scen), "--runs", str(runs), "--out", str(out), "--workers", "2", "--resume"]) == 0
    recs = load_records(out)
    assert sorted(recs) == list(range(runs)) and all("error" not in r for r in recs.values())
    for name, (mtime, data) in before.items():  # finished runs were not run again
        p = out / "runs" / name
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data
    man = json.loads((out / "manifest.json").read_text())
    assert [s["ran"] for s in man["sessions"]] == [runs - len(before)]  # the killed session left no entry
    assert build_report(out)[0]["recorded"] == runs
    # run identity does not depend on which session ran it
    assert recs[0]["seed"] == run_seed(42, 0) and recs[runs - 1]["seed"] == run_seed(42, runs - 1)


@pytest.mark.slow
def test_ctrl_c_stops_the_campaign_cleanly_and_it_resumes(tmp_path):
    scen, out, runs = tmp_path / "short.toml", tmp_path / "camp", 8
    scen.write_text(SHORT)
    cmd = [sys.executable, "-m", "cli.main", "mc", str(scen), "--runs", str(runs), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 50
    while len(list((out / "runs").glob("[0-9]*.json"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "campaign did not record 2 runs in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "add --resume to finish" in err and "Traceback" not in err
    man = json.loads((out / "manifest.json").read_text())
    assert man["sessions"][0]["ran"] == len(load_records(out)) < runs
    assert main(["mc", str(scen), "--runs", str(runs), "--out", str(out), "--workers", "2", "--resume"]) == 0
    assert sorted(load_records(out)) == list(range(runs))
    assert sum(s["ran"] for s in json.loads((out / "manifest.json").read_text())["sessions"]) == runs


@pytest.mark.slow
def test_campaign_on_a_scheduler_address_equals_a_process_pool(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        res = run_campaign(SHORT, tmp_path / "dask", 3, scheduler=cluster.scheduler_address, progress=False,
                           report=False)
    assert res["workers"] == 2
    run_campaign(SHORT, tmp_path / "procs", 3, workers=2, backend="processes", progress=False, report=False)
    a, b = load_records(tmp_path / "dask"), load_records(tmp_path / "procs")
    assert sorted(a) == sorted(b) == [0, 1, 2]
    for k in a:
        assert a[k]["draw"] == b[k]["draw"] and a[k]["nav_consistency"] == b[k]["nav_consistency"]
        assert same_run(a[k]["summary"], b[k]["summary"]) == []
