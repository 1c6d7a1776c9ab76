"""Navigation consistency on the default scenario's sensor set (``benchmarks.navmc``: 50 seeded closed-loop runs
of scenarios/inspection.toml from the 250 m hold through the inspection-ellipse entry, 6-DOF chaser, every
dispersion but injected faults). Slow (~10 min on two free cores): its figures are `gnc bench navmc`'s."""

import pytest

from benchmarks import navmc


def test_short_scenario_keeps_the_default_sensor_set_and_the_ellipse_entry():
    d = navmc.short_scenario_dict(navmc.SCENARIO.read_text())
    assert [p["kind"] for p in d["mission"]["phases"]] == ["hold", "inspect"]
    assert d["run"]["max_duration_s"] > d["mission"]["phases"][0]["duration_s"] + d["mission"]["phases"][1]["entry_s"]
    for table in ("sensor", "nav", "thrusters", "attitude", "imu", "star_tracker", "truth"):
        assert table in d
    assert "faults" not in d["dispersions"] and d["dispersions"]["vehicle"]["thrust_scale_sigma"] > 0


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="6-dof NEES below its lower 95 % bound: velocity covariance conservative "
                                        "(README, Navigation)")
def test_nees_and_nis_inside_their_95_percent_bounds_over_50_runs():
    f = navmc.run(runs=50)
    assert f["divergences"] == 0
    for key in ("nees", "nees_pos", "nis"):
        lo, hi = f[f"{key}_bounds"]
        assert lo <= f[f"{key}_mean"] <= hi, key
