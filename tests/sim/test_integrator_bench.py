"""`gnc bench sim --quick` end to end: the J2 propagation (against Basilisk where installed), one
truth orbit slice with every force, and 30 simulated minutes of the default closed loop."""

import json

import pytest

from cli.main import main


def test_bench_sim_quick_writes_its_figures(tmp_path):
    out = tmp_path / "bench_sim.json"
    assert main(["bench", "sim", "--quick", "--json", str(out)]) == 0
    f = json.loads(out.read_text())
    assert f["propagate_us_per_orbit_j2"] > 0 and f["truth_realtime_factor"] > 0
    assert f["truncation_estimate_max_m"] < 1e-12
    assert f["forces_full"].startswith("EGM2008 20x20")
    assert 0 < f["scenario_truth_share"] < 1 and f["scenario_sim_s"] == pytest.approx(1800.0, abs=1.0)
    if "basilisk_us_per_orbit_j2" in f:
        assert f["j2_agreement_vs_basilisk_m"] < 1e-4 and f["speedup_vs_basilisk"] > 1
