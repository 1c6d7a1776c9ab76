"""`gnc bench hil --quick` measures both links against emulators in other processes."""

import json

from cli.main import main


def test_bench_hil_quick_writes_the_four_figures(tmp_path):
    out = tmp_path / "hil.json"
    assert main(["bench", "hil", "--quick", "--json", str(out)]) == 0
    f = json.loads(out.read_text())
    for link in ("serial", "can"):
        assert 0 < f[f"{link}_roundtrip_us_p50"] <= f[f"{link}_roundtrip_us_p99"] < 100_000
        assert f[f"{link}_pings"] == 100 and f[f"{link}_lost"] == 0
