"""Monte Carlo campaigns: dispersed closed-loop runs on dask.distributed, each recorded as it finishes.

Run k's seed is derived from the campaign seed alone (``run_seed``), and its dispersions from its seed
(``sim.dispersions``), so any run replays alone. A campaign directory holds:

- ``scenario.toml``: the scenario as given, with its ``[dispersions]``; ``manifest.json``: campaign seed,
  number of runs, scenario digest, and one entry per session (start, wall time elapsed and spent starting
  the workers, workers, runs done);
- ``runs/NNNNN.json``: run k's record (seed, draw, summary or error, navigation consistency, worker), and
  ``runs/NNNNN.npz``: its time series every SERIES_STEP_S (truth, estimation error, 1-sigma), each written
  atomically (temporary file + os.replace; the .json last, so its presence means the run is recorded);
- ``campaign.json`` and ``plots/``: the report (``sim.campaign_report``).

Runs execute in long-lived worker processes (a Dask LocalCluster on 127.0.0.1 with one single-threaded
process per worker, a scheduler address, or a plain process pool), so each worker loads the numba
cache and imports the flight code once, not once per run. Workers return results to the client, which
writes them: a cluster needs no shared file system.
"""

import contextlib
import hashlib
import io
import json
import math
import multiprocessing
import os
import signal
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from pathlib import Path

import h5py
import numpy as np

from gnc.schema import ConfigError

SERIES_STEP_S = 30  # time step of the stored per-run series (s)
NIS_DOF = 3  # range, azimuth, elevation
# summary fields that measure the host, not the mission: excluded when runs are compared for identity
TIMING_KEYS = ("wall_s", "realtime_factor", "nav_step_us_p50", "mpc_solve_ms_p50", "mpc_solve_ms_p99",
               "deadline_misses")


def run_seed(campaign_seed: int, k: int) -> int:
    """Seed of run k (int, 64 bit): the first word of ``SeedSequence(campaign_seed).spawn(k + 1)[k]``."""
    return int(np.random.SeedSequence(campaign_seed, spawn_key=(k,)).generate_state(1, np.uint64)[0])


def _record_name(k: int) -> str:
    return f"{k:05d}"


def _consistency_and_series(tlm_path) -> tuple[dict, dict]:
    """Navigation consistency over the whole run and the series every SERIES_STEP_S, from telemetry.h5.

    NEES uses the diagonal of the covariance (telemetry keeps the 1-sigma per state): position and
    velocity NEES each have 3 degrees of freedom when the filter is consistent and its errors uncorrelated.
    """
    with h5py.File(tlm_path, "r") as f:
        t = f["t_s"][()]
        r = f["r_true_H"][()]
        err = np.hstack([f["r_est_H"][()] - r, f["v_est_H"][()] - f["v_true_H"][()]])
        sig = f["sigma_H"][()]
        n_meas, nis, mode = f["n_meas"][()], f["nis"][()], f["mode"][()]
    z2 = (err / sig) ** 2
    nis_used = nis[(n_meas > 0) & np.isfinite(nis)]
    consistency = {
        "nees_pos_diag_mean": float(z2[:, :3].sum(axis=1).mean()),
        "nees_vel_diag_mean": float(z2[:, 3:].sum(axis=1).mean()),
        "nis_mean": float(nis_used.mean()) if nis_used.size else math.nan,
        "nis_count": int(nis_used.size),
    }
    keep = np.flatnonzero(np.isclose(np.mod(t, SERIES_STEP_S), 0.0))
    series = {"t_s": t[keep], "r_true_H": r[keep], "err_H": err[keep], "sigma_H": sig[keep], "mode": mode[keep]}
    return consistency, series


def run_one(scenario_text: str, k: int, campaign_seed: int) -> tuple[dict, dict | None]:
    """Run k of a campaign of scenario_text (executed on a worker): (record, series or None on error).

    Never raises for a run's own failure: the record then carries ``error`` and ``traceback``.
    """
    from sim.dispersions import apply, draw
    from sim.run import run_scenario
    from sim.scenario import parse_scenario

    seed = run_seed(campaign_seed, k)
    record = {"k": k, "seed": seed, "worker_pid": os.getpid()}
    t0 = time.perf_counter()
    try:
        nominal = parse_scenario(scenario_text)
        record["draw"] = draw(nominal, seed)
        scn = apply(nominal, record["draw"], seed)
        with tempfile.TemporaryDirectory(prefix=f"gnc-mc-{k}-") as tmp:
            record["summary"] = run_scenario(scn, scenario_text, tmp, seed=seed, plots=False)
            record["nav_consistency"], series = _consistency_and_series(Path(tmp) / "telemetry.h5")
    except Exception as exc:  # a failing run is data: recorded, and the campaign goes on
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=-8)
        series = None
    record["task_s"] = time.perf_counter() - t0
    return record, series


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path so that readers see the old file or the whole new one (tmp file + os.replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_record(campaign_dir: Path, record: dict, series: dict | None) -> None:
    """Store one run atomically: its series (.npz) first, then its record (.json, the 'recorded' mark)."""
    runs = Path(campaign_dir) / "runs"
    name = _record_name(record["k"])
    if series is not None:
        buf = io.BytesIO()
        np.savez(buf, **series)
        write_atomic(runs / f"{name}.npz", buf.getvalue())
    write_atomic(runs / f"{name}.json", json.dumps(record, indent=1).encode())


def load_records(campaign_dir) -> dict[int, dict]:
    """Every recorded run of a campaign directory, by k."""
    out = {}
    for p in sorted((Path(campaign_dir) / "runs").glob("[0-9]*.json")):
        rec = json.loads(p.read_text())
        out[rec["k"]] = rec
    return out


def load_series(campaign_dir, k: int) -> dict | None:
    """Run k's stored series (t_s, r_true_H, err_H, sigma_H, mode), or None if it has none (error)."""
    p = Path(campaign_dir) / "runs" / f"{_record_name(k)}.npz"
    if not p.exists():
        return None
    with np.load(p) as z:
        return {name: z[name] for name in z.files}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _prepare(out: Path, scenario_text: str, runs: int, seed: int | None, resume: bool) -> dict:
    """Create or (resume) check the campaign directory; return its manifest."""
    from sim.scenario import parse_scenario

    scn = parse_scenario(scenario_text)
    man_path = out / "manifest.json"
    if man_path.exists():
        if not resume:
            raise ConfigError("--out", str(out), "already holds a campaign; add --resume to finish it, or choose "
                              "another directory")
        man = json.loads(man_path.read_text())
        if man["scenario_sha256"] != _digest(scenario_text):
            raise ConfigError("SCENARIO", scn.run.name, f"differs from the campaign's {out / 'scenario.toml'}; "
                              "resume with the same scenario file")
        if seed is not None and seed != man["campaign_seed"]:
            raise ConfigError("--seed", seed, f"differs from the campaign's seed {man['campaign_seed']}")
        man["runs"] = runs
    else:
        if resume and out.exists() and any(out.iterdir()):
            raise ConfigError("--out", str(out), "holds no campaign (no manifest.json) to resume")
        (out / "runs").mkdir(parents=True, exist_ok=True)
        (out / "scenario.toml").write_text(scenario_text)
        man = {"scenario": scn.run.name, "scenario_sha256": _digest(scenario_text),
               "campaign_seed": scn.run.seed if seed is None else seed, "runs": runs, "sessions": []}
    for stale in (out / "runs").glob(".*.tmp"):  # left by a campaign killed mid-write
        stale.unlink()
    write_atomic(man_path, json.dumps(man, indent=1).encode())
    return man


@contextlib.contextmanager
def _children_ignore_sigint():
    """Processes started in this block ignore SIGINT (the disposition survives spawn), so that Ctrl-C
    reaches the client alone, which then shuts its workers down cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class _Pool:
    """The execution engine: a Dask client (local cluster or scheduler address) or a plain process pool."""

    def __init__(self, backend: str, workers: int | None, scheduler: str | None):
        self.backend, self.cluster = backend, None
        if backend == "processes":
            self.n_workers = workers or os.cpu_count()
            self.exe = ProcessPoolExecutor(self.n_workers, mp_context=multiprocessing.get_context("spawn"))
            return  # its processes start at the first submit
        if backend != "dask":
            raise ValueError(f"backend must be 'dask' or 'processes', got {backend!r}")
        import logging

        from distributed import Client, LocalCluster

        if scheduler is None:
            import dask

            # runs are CPU-bound Python: the workers' 10 ms statistical profiler costs them GIL time
            with _children_ignore_sigint(), dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1,
                                            processes=True, host="127.0.0.1", dashboard_address=None,
                                            silence_logs=logging.CRITICAL)
            self.exe = Client(self.cluster)
        else:
            self.exe = Client(scheduler)
        self.n_workers = sum(w["nthreads"] for w in self.exe.scheduler_info()["workers"].values())

    def submit(self, fn, keys, args_list) -> tuple[dict, object]:
        """({future: key}, iterator over the futures as they finish)."""
        if self.backend == "processes":
            with _children_ignore_sigint():
                futs = {self.exe.submit(fn, *a): key for key, a in zip(keys, args_list)}
            return futs, futures_as_completed(list(futs))
        from distributed import as_completed

        futs = {self.exe.submit(fn, *a, pure=False): key for key, a in zip(keys, args_list)}
        return futs, as_completed(list(futs))

    def close(self, futures=()):
        for f in futures:
            f.cancel()
        if self.backend == "processes":
            self.exe.shutdown(wait=True, cancel_futures=True)
        else:
            self.exe.close()
            if self.cluster is not None:
                self.cluster.close()


def run_campaign(scenario_text: str, out_dir, runs: int, *, workers: int | None = None, scheduler: str | None = None,
                 resume: bool = False, seed: int | None = None, backend: str = "dask", progress: bool = True,
                 report: bool = True) -> dict:
    """Run (or, with resume, finish) a campaign of `runs` dispersed runs of scenario_text into out_dir.

    workers: local worker processes (default: all cores); scheduler: address of an existing Dask
    scheduler (tcp://HOST:PORT) instead of a local cluster; seed: campaign seed (default: run.seed);
    backend: 'dask' or 'processes' (a plain process pool, the reference of ``gnc bench mc``).
    Returns {"ran", "failed", "recorded", "elapsed_s", "pool_start_s" (of elapsed_s), "workers"} and, with
    report, writes the report.
    KeyboardInterrupt stops the campaign after closing the workers; finished runs stay recorded.
    """
    from tqdm import tqdm

    if runs < 1:
        raise ConfigError("--runs", runs, "must be >= 1")
    out = Path(out_dir)
    man = _prepare(out, scenario_text, runs, seed, resume)
    done = load_records(out)
    todo = [k for k in range(runs) if k not in done]
    failed_before = sum("error" in r for k, r in done.items() if k < runs)
    wall0, t0 = time.time(), time.perf_counter()
    pool = _Pool(backend, workers, scheduler)
    session = {"started_unix_s": wall0, "backend": backend, "workers": pool.n_workers,
               "pool_start_s": time.perf_counter() - t0, "ran": 0, "elapsed_s": 0.0}
    man["sessions"].append(session)
    bar = tqdm(total=runs, initial=runs - len(todo), unit="run", desc=man["scenario"], disable=not progress,
               smoothing=0.1, postfix=f"failed {failed_before}")
    n_failed, pending = 0, {}
    try:
        pending, finished = pool.submit(run_one, todo, [(scenario_text, k, man["campaign_seed"]) for k in todo])
        for fut in finished:
            k = pending.pop(fut)
            try:
                record, series = fut.result()
            except Exception as exc:
                if type(exc).__name__ != "KilledWorker":  # the engine failed, not the run: stop, resume later
                    raise
                # the run killed every worker that tried it (e.g. a crash in native code): record it
                record, series = {"k": k, "seed": run_seed(man["campaign_seed"], k),
                                  "error": f"{type(exc).__name__}: {exc}"}, None
            write_record(out, record, series)
            session["ran"] += 1
            n_failed += "error" in record
            bar.update(1)
            bar.set_postfix_str(f"failed {failed_before + n_failed}")
    finally:
        bar.close()
        pool.close(pending)
        session["elapsed_s"] = time.perf_counter() - t0
        write_atomic(out / "manifest.json", json.dumps(man, indent=1).encode())
    result = {"ran": session["ran"], "failed": n_failed, "recorded": runs - len(todo) + session["ran"],
              "elapsed_s": session["elapsed_s"], "pool_start_s": session["pool_start_s"], "workers": pool.n_workers}
    if report:
        from sim.campaign_report import write_report

        write_report(out)
    return result


def replay(campaign_dir, k: int, out_dir, progress=None, plots: bool = True) -> tuple[dict, dict | None]:
    """Run k of the campaign in campaign_dir again, alone, into run directory out_dir (telemetry, plots).

    out_dir/scenario.toml is the dispersed scenario (``gnc run`` of it gives the same run). Returns
    (summary, the campaign's record of run k or None if it has none).
    """
    import dataclasses

    from sim.dispersions import disperse, to_toml
    from sim.run import run_scenario
    from sim.scenario import parse_scenario

    src = Path(campaign_dir)
    man = json.loads((src / "manifest.json").read_text())
    if not 0 <= k < man["runs"]:
        raise ConfigError("--mc-run K", k, f"must be in 0..{man['runs'] - 1} (runs of {src})")
    seed = run_seed(man["campaign_seed"], k)
    scn, _ = disperse(parse_scenario((src / "scenario.toml").read_text()), seed)
    summary = run_scenario(scn, to_toml(dataclasses.asdict(scn)), out_dir, seed=seed, progress=progress, plots=plots)
    return summary, load_records(src).get(k)


def same_run(a: dict, b: dict) -> list[str]:
    """Summary fields (timing excluded, see TIMING_KEYS) on which two run summaries differ."""
    return sorted(key for key in a.keys() | b.keys() if key not in TIMING_KEYS and a.get(key) != b.get(key))
