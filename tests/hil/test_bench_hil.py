"""`gnc bench hil --quick` measures both links and the 100 Hz loop against emulators in other processes
(about a minute: kept out of the default suite)."""

import json

import pytest

from cli.main import main

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)


@pytest.mark.slow
def test_bench_hil_quick_writes_the_figures(tmp_path):
    out = tmp_path / "hil.json"
    assert main(["bench", "hil", "--quick", "--json", str(out)]) == 0
    f = json.loads(out.read_text())
    for link in ("serial", "can"):
        assert 0 < f[f"{link}_roundtrip_us_p50"] <= f[f"{link}_roundtrip_us_p99"] < 100_000
        assert f[f"{link}_pings"] == 100 and f[f"{link}_lost"] == 0
    assert f["loop_rate_hz"] == pytest.approx(100, rel=0.02) and f["loop_cycles"] >= 2990
    assert 0 <= f["period_jitter_us_p50"] <= f["period_jitter_us_p99"] and f["deadline_misses"] >= 0
    assert f["loop_keep_out_violation_s"] == 0 and f["loop_final_mode"] in ("HOLD", "DONE")  # held station, no abort
    assert 0 <= f["control_late"] <= f["control_fallbacks"] and f["mpc_solve_ms_p50"] > 0
