"""Scenario validation: the default file loads; every bad field gives one clear line naming it."""

import copy
import functools
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnc.schema import ConfigError
from sim.scenario import load_scenario, parse_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "scenarios" / "inspection.toml"
TEXT = DEFAULT.read_text()


def test_default_scenario_loads():
    scn = load_scenario(DEFAULT)
    assert scn.run.seed == 42 and len(scn.mission.phases) == 6
    assert scn.flight().n_rad_s == pytest.approx(1.1068e-3, rel=1e-3)  # 500 km circular


@pytest.mark.parametrize("old,new,path,words", [
    ("altitude_m = 500e3", "altitude_m = -5", "target.altitude_m", ">= 100000"),
    ("inclination_deg = 51.6", "inclination_deg = 200", "target.inclination_deg", "<= 180"),
    ("mass_kg = 150.0", "mass_kg = -1", "vehicle.mass_kg", "> 0"),
    ("horizon_steps = 30", "horizon_step = 30", "control.horizon_step", "unknown key"),
    ("horizon_steps = 30", "horizon_steps = 3.5", "control.horizon_steps", "integer"),
    ('solver = "CLARABEL"', 'solver = "GUROBI"', "control.solver", "one of"),
    ("seed = 42", 'seed = "x"', "run.seed", "integer"),
    ('epoch_utc = "2025-09-04T00:00:00Z"', 'epoch_utc = "yesterday"', "run.epoch_utc", "ISO 8601"),
    ('kind = "hold"', 'kind = "hodl"', "mission.phases[1].kind", "one of"),
    ("to_H_m = [0.0, -1000.0, 0.0]", "to_H_m = [0.0, -1000.0]", "mission.phases[0].to_H_m", "3 values"),
    ("radial_amp_m = 200.0", "radial_amp_m = 100.0", "mission.phases[4].radial_amp_m", "min_distance_m"),
    ("r0_CT_H_m = [0.0, -5000.0, 0.0]", "r0_CT_H_m = [0.0, -50.0, 0.0]", "chaser.r0_CT_H_m", "keep-out"),
    ("max_range_m = 8000.0", "max_range_m = 0.5", "sensor.max_range_m", "min_range_m"),
    ("j2 = true", "j2 = 1", "truth.j2", "true or false"),
])
def test_bad_field_names_field_value_and_fix(old, new, path, words):
    assert old in TEXT
    with pytest.raises(ConfigError) as e:
        parse_scenario(TEXT.replace(old, new, 1))
    msg = str(e.value)
    assert msg.startswith(path) and words in msg and "\n" not in msg


def test_missing_and_misspelt_sections_are_named():
    with pytest.raises(ConfigError, match=r"^nav.gate_chi2 = \(missing\): required; must be > 0"):
        parse_scenario(TEXT.replace("gate_chi2 = 16.27", ""))
    with pytest.raises(ConfigError, match=r"^navigation = \{\.\.\.\}: unknown key; allowed keys: attitude, chaser, "):
        parse_scenario(TEXT.replace("[nav]", "[navigation]"))


def test_six_dof_tables_come_together_and_thruster_faults_are_checked():
    with pytest.raises(ConfigError, match=r"^imu = None: required with \[thrusters\]: a 6-DOF chaser needs"):
        parse_scenario(TEXT[:TEXT.index("[imu]")] + TEXT[TEXT.index("[star_tracker]"):])
    bad = TEXT + '\n[[truth.thruster_failures]]\nindex = 24\nmode = "stuck_on"\nonset_s = 10.0\n'
    with pytest.raises(ConfigError, match=r"^truth.thruster_failures\[0\].index = 24: must be < 24"):
        parse_scenario(bad)
    with pytest.raises(ConfigError, match=r"^truth.thrusters.rise_s = 0.02: must be <= the shortest pulse"):
        parse_scenario(TEXT.replace("rise_s = 0.005", "rise_s = 0.02"))
    with pytest.raises(ConfigError, match=r"^thrusters.direction_B = 23: must list one direction per position"):
        parse_scenario(TEXT.replace("[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0],",
                                    "[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0],"))


def test_cli_reports_one_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TEXT.replace("mass_kg = 150.0", "mass_kg = 0"))
    r = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "check", str(bad)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip() == "gnc: error: vehicle.mass_kg = 0: must be > 0 (kg)"
    ok = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "check", str(DEFAULT)],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "phase 4: inspect" in ok.stdout


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_escapes_as_anything_but_config_error(text):
    with pytest.raises(ConfigError):
        parse_scenario(text)


def _leaves(d, prefix=()):
    """Paths (tuples of keys and list indices) of every value in the nested tables of a parsed TOML."""
    items = d.items() if isinstance(d, dict) else enumerate(d)
    for k, v in items:
        if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,)


_BASE = tomllib.loads(TEXT)
_PATHS = list(_leaves(_BASE))
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.lists(st.floats(-1e9, 1e9), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                               max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), min_size=1, max_size=3))
def test_mutated_default_scenario_is_accepted_or_refused_in_one_line_naming_the_field(mutations):
    data = copy.deepcopy(_BASE)
    for path, value in mutations:
        parent = functools.reduce(lambda d, k: d[k], path[:-1], data)
        if value is None:
            parent.pop(path[-1], None)  # a missing key
        else:
            parent[path[-1]] = value
    try:
        scenario_from_dict(data)
    except ConfigError as e:
        msg = str(e)
        assert "\n" not in msg and " = " in msg and ": " in msg
        named = msg.split(" = ")[0]
        roots = {".".join(str(k) for k in p[:1]) for p, _ in mutations}
        assert named.split(".")[0].split("[")[0] in roots | {"chaser", "truth"}, (msg, mutations)
