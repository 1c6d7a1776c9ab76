"""`gnc bench faults`: the fault matrix. Each fault, declared in the scenario, flown closed loop once.

Full: every fault kind in the default scenario (scenarios/inspection.toml, the 6-DOF chaser, nominal, seed 42)
starting at 12000 s, on the inspection ellipse about 200 m from the target, the phase where a fault matters
most, and in the docking scenario flown by the same 6-DOF chaser (scenarios/docking.toml with the default
scenario's thruster, attitude, IMU and star-tracker tables: ``docking_6dof_text``) starting at 2000 s, ~75 m
from the port inside the cone, where the keep-out sphere is crossed by design (there the figure is the closest
approach after an abort). Quick: scenarios/fdir_quick.toml (the 6-DOF chaser, 1.2 km -> 1 km hold) with faults
at 600 s. Per fault: the first FDIR detection after onset and the time it took (detect_s), the response (the
flight code's next event: coast and recover, abort ...), keep-out violation time (must be 0), minimum range
(overall and after an abort), docking cone violation and contact, final mode, success and final range.
keep_out_violation_s_total sums the rows of the first scenario.
"""

import tempfile
from pathlib import Path

import h5py
import numpy as np

from gnc.guidance.modes import Mode
from sim.run import run_scenario
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]

# (name, [[faults]] table with {t} for the onset time)
FAULTS = (
    ("none", ""),
    ("lidar outage 40 s", 'kind = "sensor_outage"\nstart_s = {t}\nduration_s = 40.0'),
    ("lidar outage 600 s", 'kind = "sensor_outage"\nstart_s = {t}\nduration_s = 600.0'),
    ("lidar range bias jump 30 m", 'kind = "sensor_bias_jump"\nstart_s = {t}\nrange_bias_m = 30.0'),
    ("lidar angle bias jump 5 mrad", 'kind = "sensor_bias_jump"\nstart_s = {t}\nangle_bias_rad = 0.005'),
    ("lidar outliers 10 % x 30 m / 20 mrad, 300 s",
     'kind = "sensor_outliers"\nstart_s = {t}\nduration_s = 300.0\nprob = 0.1\nrange_m = 30.0\nangle_rad = 0.02'),
)
# Docking (scenarios/docking.toml): at 2000 s the chaser is ~75 m from the port inside the 15 deg cone.
DOCKING_FAULTS = FAULTS[:3] + (
    ("lidar range bias jump 0.5 m", 'kind = "sensor_bias_jump"\nstart_s = {t}\nrange_bias_m = 0.5'),
    ("lidar outliers 10 % x 2 m / 5 mrad, 300 s",
     'kind = "sensor_outliers"\nstart_s = {t}\nduration_s = 300.0\nprob = 0.1\nrange_m = 2.0\nangle_rad = 0.005'),
)
# Faults of the flight computer (any scenario) and of the 6-DOF chaser (thrusters, IMU, star tracker).
COMPUTER_FAULTS = (
    ("MPC infeasible 100 s", 'kind = "mpc_infeasible"\nstart_s = {t}\nduration_s = 100.0'),
    ("control stage overrun 3 s, 15 s", 'kind = "stage_overrun"\nstage = "control"\nstart_s = {t}\n'
                                        'duration_s = 15.0\nextra_s = 3.0'),
    ("navigation stage overrun 2 s, 100 s", 'kind = "stage_overrun"\nstage = "nav"\nstart_s = {t}\n'
                                            'duration_s = 100.0\nextra_s = 2.0'),
)
SIX_DOF_FAULTS = (
    ("thruster 0 stuck on", 'kind = "thruster_stuck_on"\nindex = 0\nstart_s = {t}'),
    ("thruster 10 failed off", 'kind = "thruster_failed_off"\nindex = 10\nstart_s = {t}'),
    ("IMU stuck 300 s", 'kind = "imu_stuck"\nstart_s = {t}\nduration_s = 300.0'),
    ("IMU stale 300 s", 'kind = "imu_stale"\nstart_s = {t}\nduration_s = 300.0'),
    ("star tracker loss 120 s", 'kind = "star_tracker_loss"\nstart_s = {t}\nduration_s = 120.0'),
    ("star tracker loss 900 s", 'kind = "star_tracker_loss"\nstart_s = {t}\nduration_s = 900.0'),
)
# The default scenario's 6-DOF tables: from the first of these to before the second.
SIX_DOF_TABLES = ("[truth.thrusters]", "[sensor]")
DETECTIONS = ("silent", "isolated", "ABORT", "stuck", "stale", "failed off", "overran", "control stage failed")


def docking_6dof_text() -> str:
    """scenarios/docking.toml flown by the default scenario's 6-DOF chaser: its [truth.thrusters], [thrusters],
    [attitude], [imu] and [star_tracker] tables appended (the docking lidar, navigation and control unchanged)."""
    default = (ROOT / "scenarios" / "inspection.toml").read_text()
    start, end = (default.index(f"\n{t}") for t in SIX_DOF_TABLES)
    return (ROOT / "scenarios" / "docking.toml").read_text() + "\n# The 6-DOF chaser of scenarios/inspection.toml\n" \
        + default[start:end]


def fly(scenario_text: str, fault_toml: str, onset_s: float, rejected_nominal: int) -> dict:
    """One row of the matrix: the scenario with this fault (TOML body of one [[faults]] table) at onset_s;
    rejected_nominal: gate rejections of the fault-free run (more than 5 above it count as gating the fault)."""
    text = scenario_text + (f"\n[[faults]]\n{fault_toml.format(t=onset_s)}\n" if fault_toml else "")
    with tempfile.TemporaryDirectory(prefix="gnc-bench-faults-") as tmp:
        s = run_scenario(parse_scenario(text), text, tmp, plots=False)
        with h5py.File(Path(tmp) / "telemetry.h5", "r") as f:
            mode, r = f["mode"][()], f["r_true_H"][()]
    aborted = np.flatnonzero(mode == Mode.ABORT)
    after = [e for e in s["events"] if e["t_s"] >= onset_s]
    det = next((e for e in after if any(k in e["text"] for k in DETECTIONS)), None)
    later = [e for e in after if det is not None and e["t_s"] >= det["t_s"] and e is not det]
    gated = f"{s['nav_rejected']} measurements rejected by the innovation gate, no event"
    return {
        "detected": det["text"] if det else (gated if s["nav_rejected"] > rejected_nominal + 5 else "not detected"),
        "detect_s": det["t_s"] - onset_s if det else None,
        "response": later[0]["text"] if later else "",
        "keep_out_violation_s": s["keep_out_violation_s"],
        "min_range_m": s["min_range_m"],
        "min_range_after_abort_m": float(np.linalg.norm(r[aborted[0]:], axis=1).min()) if aborted.size else None,
        "dock_cone_violation_s": s["dock_cone_violation_s"],
        "dock_contact": s["dock_contact"],
        "nav_rejected": s["nav_rejected"],
        "final_range_m": float(np.linalg.norm(r[-1])),
        "final_mode": s["final_mode"],
        "success": s["success"],
    }


def matrix(name: str, text: str, onset_s: float, faults) -> dict:
    """The rows of scenario NAME (TOML text) with each of faults (name, [[faults]] body) at onset_s, printed as
    they go."""
    rows = {}
    for fault, body in faults:
        r = rows[fault] = fly(text, body, onset_s, rows["none"]["nav_rejected"] if rows else 0)
        print(f"  {name:<16} {fault:<44} {r['detected'][:50]:<50} {r['final_mode']:<6} "
              f"min range {r['min_range_m']:.1f} m")
    return rows


def run(quick: bool = False) -> dict:
    six = FAULTS + COMPUTER_FAULTS + SIX_DOF_FAULTS
    scn = lambda name: (ROOT / "scenarios" / name).read_text()  # noqa: E731
    cases = [("fdir_quick", scn("fdir_quick.toml"), 600.0, six)] if quick else [
        ("inspection", scn("inspection.toml"), 12000.0, six),
        ("docking_6dof", docking_6dof_text(), 2000.0, DOCKING_FAULTS + COMPUTER_FAULTS + SIX_DOF_FAULTS)]
    out = {f"fault_matrix_{name}": {"onset_s": onset, "rows": matrix(name, text, onset, faults)}
           for name, text, onset, faults in cases}
    first = out[next(iter(out))]["rows"]
    out["keep_out_violation_s_total"] = sum(r["keep_out_violation_s"] for r in first.values())
    return out
