"""Navigation consistency of angles-only navigation with manoeuvres (``benchmarks.navmc --scenario angles_only``:
50 seeded closed-loop runs of scenarios/angles_only.toml, camera only, its dispersions). Slow (~11 min on two
loaded cores): its figures are `gnc bench navmc --scenario angles_only`'s."""

import pytest

from benchmarks import navmc


def test_whole_scenario_keeps_the_camera_alone_and_drops_the_faults():
    d = navmc.whole_scenario_dict((navmc.SCENARIOS / "angles_only.toml").read_text())
    assert d["sensors"]["lidar"] is False and "camera" in d["sensors"] and "rel_gnss" not in d["sensors"]
    assert "faults" not in d.get("dispersions", {})
    assert navmc.CASES["angles_only"][2] == 2  # the camera's NIS has 2 dof


def test_unknown_case_is_one_clear_error():
    with pytest.raises(ValueError, match="^scenario = 'angle_only': must be one of inspection, angles_only$"):
        navmc.run(scenario="angle_only")


@pytest.mark.slow
def test_nees_and_nis_inside_their_95_percent_bounds_over_50_runs():
    f = navmc.run(runs=50, scenario="angles_only")
    assert f["divergences"] == 0 and f["aborts"] == 0
    for key in ("nees", "nees_pos", "nis"):
        lo, hi = f[f"{key}_bounds"]
        assert lo <= f[f"{key}_mean"] <= hi, key
