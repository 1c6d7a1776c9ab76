"""`gnc bench mc`: Monte Carlo throughput on Dask with 1 and 2 workers, and engine independence.

The short dispersed scenario ``scenarios/mc_quick.toml`` (a run flies 1.2 km -> 1 km hold in a few
seconds) is run as the same 48-run campaign (same seed) three times: on a Dask LocalCluster with 1
worker, with 2 workers, and on a plain process pool with 2 workers. Figures: runs_per_min_1,
runs_per_min_2 and runs_per_min_processes_2 (runs per minute of wall time once the Dask workers are up;
each worker's first run includes its imports and numba cache load; the process pool starts its processes
within the timed span), scaling_efficiency = runs_per_min_2 / (2 runs_per_min_1), pool_start_s of each,
and identical_stats: the three campaigns' per-run results (timing fields aside) and report statistics
(timing section aside) are equal. load_avg_1min: the host's load before the benchmark (other work on
the machine skews the scaling). One run in this process first refreshes any stale numba cache, so that
no campaign pays for compilation.
"""

import os
import tempfile
import time
from pathlib import Path

from sim.campaign import TIMING_KEYS, load_records, run_campaign, run_one
from sim.campaign_report import build_report

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "mc_quick.toml"


def _comparable(campaign_dir) -> tuple[dict, dict]:
    """(per-run records without timing or worker fields, report without its timing section)."""
    records = {}
    for k, r in load_records(campaign_dir).items():
        r = {key: v for key, v in r.items() if key not in ("worker_pid", "task_s", "traceback")}
        if "summary" in r:
            r["summary"] = {key: v for key, v in r["summary"].items() if key not in TIMING_KEYS}
        records[k] = r
    report = {key: v for key, v in build_report(campaign_dir)[0].items() if key != "timing"}
    return records, report


def run(quick: bool = False) -> dict:
    text = SCENARIO.read_text()
    runs = 4 if quick else 48
    figures = {"scenario": SCENARIO.name, "runs": runs, "load_avg_1min": os.getloadavg()[0]}
    compared = []
    run_one(text, 0, 0)  # compiles any numba kernel whose cache is stale, so that no campaign below pays for it
    with tempfile.TemporaryDirectory(prefix="gnc-bench-mc-") as tmp:
        for label, backend, workers in (("1", "dask", 1), ("2", "dask", 2), ("processes_2", "processes", 2)):
            out = Path(tmp) / label
            t0 = time.perf_counter()
            res = run_campaign(text, out, runs, workers=workers, backend=backend, progress=False, report=False)
            wall = time.perf_counter() - t0
            figures[f"runs_per_min_{label}"] = 60 * runs / (wall - res["pool_start_s"])
            figures[f"pool_start_s_{label}"] = res["pool_start_s"]
            compared.append(_comparable(out))
    figures["scaling_efficiency"] = figures["runs_per_min_2"] / (2 * figures["runs_per_min_1"])
    figures["identical_stats"] = all(c == compared[0] for c in compared[1:])
    return figures
