"""sim.forces.model: the scenario's [truth] force switches, per-spacecraft coefficients, the forces adding
up in the kernel. (The truth's Hill-frame rate with every force: tests/sim/test_truth.py.)"""

from pathlib import Path

import numpy as np
import pytest

from gnc.schema import ConfigError
from sim.forces import Epoch, ForceModel
from sim.forces.atmosphere import NrlmsisDensity
from sim.forces.ephemeris import sun_position
from sim.forces.model import egm2008
from sim.gravity import J2_EARTH, MU_EARTH, R_EARTH, accel_twobody_j2
from sim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "scenarios" / "inspection.toml").read_text()


def _truth_only(text: str) -> str:
    """The default scenario with its [truth] tables replaced by text."""
    head, rest = TEXT.split("[truth]", 1)
    tail = rest[rest.index("[sensor]"):]
    return head + text + "\n" + tail


def test_default_scenario_turns_every_force_on_with_per_spacecraft_coefficients():
    scn = load_scenario(ROOT / "scenarios" / "inspection.toml")
    fm = ForceModel.from_scenario(scn)
    assert fm.field is not None and fm.field.degree == scn.truth.gravity_degree >= 20
    assert fm.third_body and fm.srp == (True, True) and fm.drag == (True, True)
    tr, m_chaser = scn.truth, scn.vehicle.mass_kg + scn.truth.mass_error_kg
    assert fm.describe().startswith("EGM2008 20x20")
    f = ForceModel(epoch=fm.epoch, field=fm.field, third_body=True, srp=(True, True), drag=(True, True),
                   cr_area_per_mass=(tr.target.cr * tr.target.srp_area_m2 / tr.target.mass_kg,
                                     tr.chaser.cr * tr.chaser.srp_area_m2 / m_chaser),
                   cd_area_per_mass=(tr.target.cd * tr.target.drag_area_m2 / tr.target.mass_kg,
                                     tr.chaser.cd * tr.chaser.drag_area_m2 / m_chaser),
                   atmosphere=fm.atmosphere)
    np.testing.assert_array_equal(f.kernel_arrays()[0], fm.kernel_arrays()[0])
    # the two ballistic coefficients differ, so differential drag acts
    bc = (tr.target.mass_kg / (tr.target.cd * tr.target.drag_area_m2), m_chaser / (tr.chaser.cd * tr.chaser.drag_area_m2))
    assert bc[0] != bc[1]


def test_defaults_keep_point_mass_j2_so_older_scenarios_load_unchanged():
    scn = parse_scenario(_truth_only("[truth]\nstep_s = 1.0\nj2 = true\n"))
    fm = ForceModel.from_scenario(scn)
    assert fm.describe() == "point mass + J2" and not fm.has_drag
    r, v = np.array([7e6, 1e5, -2e5]), np.array([0.0, 7500.0, 100.0])
    np.testing.assert_array_equal(fm.accel_N(0, 0.0, r, v, *fm.kernel_arrays()),
                                  accel_twobody_j2(r, MU_EARTH, J2_EARTH, R_EARTH))
    assert ForceModel.from_scenario(parse_scenario(_truth_only("[truth]\nstep_s = 1.0\nj2 = false\n"))).describe() \
        == "point mass"


@pytest.mark.parametrize("table, path, words", [
    ("gravity_degree = 1", "truth.gravity_degree", "must be 0 (point mass + J2) or 2..70"),
    ("gravity_degree = 71", "truth.gravity_degree", "must be >= 0 and <= 70"),
    ("gravity_degree = 20\nj2 = false", "truth.j2", "the harmonics include J2"),
    ("[truth.chaser]\ncd = 0.0", "truth.chaser.cd", "must be > 0"),
    ("[truth.target]\nmass_kg = -1.0", "truth.target.mass_kg", "must be > 0"),
    ("[truth.target]\ndrgg = true", "truth.target.drgg", "unknown key"),
])
def test_bad_force_settings_are_named(table, path, words):
    with pytest.raises(ConfigError) as e:
        parse_scenario(_truth_only("[truth]\nstep_s = 1.0\n" + table + "\n"))
    assert str(e.value).startswith(path) and words in str(e.value), str(e.value)


def test_force_model_rejects_inconsistent_switches():
    with pytest.raises(ValueError, match="need an epoch"):
        ForceModel(third_body=True)
    with pytest.raises(ValueError, match="density model"):
        ForceModel(epoch=Epoch("2025-09-04T00:00:00Z"), drag=(False, True))
    with pytest.raises(ValueError, match="includes J2"):
        ForceModel(epoch=Epoch("2025-09-04T00:00:00Z"), field=egm2008(4), j2=False)


def test_forces_add_up_per_spacecraft():
    """The kernel's total = gravity + Sun + Moon + SRP + drag, each switched on its own."""
    epoch = Epoch("2025-09-04T00:00:00Z")
    atm = NrlmsisDensity(epoch, 150.0, 150.0, 15.0)
    kw = dict(epoch=epoch, field=egm2008(8))
    parts = [ForceModel(**kw), ForceModel(**kw, third_body=True),
             ForceModel(**kw, srp=(False, True), cr_area_per_mass=(0.0, 0.02)),
             ForceModel(**kw, drag=(False, True), cd_area_per_mass=(0.0, 0.015), atmosphere=atm)]
    total = ForceModel(**kw, third_body=True, srp=(False, True), cr_area_per_mass=(0.0, 0.02), drag=(False, True),
                       cd_area_per_mass=(0.0, 0.015), atmosphere=atm)
    t = 1234.5
    s = np.array(sun_position(epoch.t_tt_centuries + t / 86400 / 36525))
    r = 6.9e6 * (s / np.linalg.norm(s) + [0.0, 0.0, 0.3]) / np.linalg.norm(s / np.linalg.norm(s) + [0.0, 0.0, 0.3])
    y = np.concatenate([r, np.cross([0.0, 0.0, 7500.0], r / 6.9e6) + [0, 0, 900.0]] * 2)  # sunlit side

    def accel(fm, i):
        p, G = fm.kernel_arrays()
        if fm.has_drag:
            fm.sample_density(t, y, p)
        return fm.accel_N(i, t, y[6 * i:6 * i + 3], y[6 * i + 3:6 * i + 6], p, G)

    grav = accel(parts[0], 1)
    expected = grav + sum(accel(f, 1) - grav for f in parts[1:])
    np.testing.assert_allclose(accel(total, 1), expected, rtol=0, atol=1e-14)  # rounding of the 8 m/s^2 sums
    # the target has neither SRP nor drag here: only gravity and the third bodies
    np.testing.assert_array_equal(accel(total, 0), accel(parts[1], 0))
    magnitudes = [np.linalg.norm(accel(f, 1) - grav) for f in parts[1:]]
    assert 1e-7 < magnitudes[0] < 1e-5 and 1e-8 < magnitudes[1] < 1e-6 and 1e-8 < magnitudes[2] < 1e-6, magnitudes
