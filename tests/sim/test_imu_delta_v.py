"""The accelerometer's Delta-v output (``[imu] accel_output = "delta_v"``): the mean specific force over each IMU
interval, against the closed-form area of the thrusters' trapezoidal level, against scipy's trapezoid rule on the
instant specific force sampled every millisecond, and in a scenario against the commanded on-times and the truth's
inertial Delta-v."""

import dataclasses
import math

import numpy as np
import pytest
from scipy.integrate import trapezoid

from gnc.frames import dcm_from_quat
from gnc.ports import ActuatorCommand, ImuSample
from gnc.schema import ConfigError
from sim.forces import ForceModel
from sim.imu import Imu, ImuChannel
from sim.rigid_body import FAIL_NONE, TH_D, TH_F, body_array, thruster_table
from sim.run import build
from sim.scenario import load_scenario, parse_scenario
from sim.vehicle_io import SimVehicleIO
from tests.sim.test_truth import ROOT, world

NS = 1_000_000_000
J = np.array([[30.0, 0.5, 0.0], [0.5, 36.0, 0.0], [0.0, 0.0, 40.0]])


def ideal_channel(rng):
    """An IMU triad with no error at all: output = input, bit for bit."""
    return ImuChannel(1.0, 0.0, 0.0, 0.0, 100.0, 0.0, 0.0, 0.0, 100.0, rng)


def fire(io, t_s, on_time_s):
    io.wait_until(round(t_s * NS))
    io.write_actuators(ActuatorCommand(round(t_s * NS), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), tuple(on_time_s)))


def trapezoid_area(on, rise, fall, t0, t1, t_cmd):
    """Closed form: integral over [t0, t1] of the level of one valve opened at t_cmd for on (s), level 0 -> 1 in
    rise, 1 -> 0 in fall (s): the piecewise-linear level's breakpoints, integrated segment by segment."""
    peak = min(1.0, on / rise)
    ts = [t_cmd, t_cmd + rise * peak, t_cmd + on, t_cmd + on + fall * peak]
    ls = [0.0, peak, peak, 0.0]
    grid = sorted({t0, t1, *[t for t in ts if t0 < t < t1]})
    level = np.interp(grid, ts, ls, left=0.0, right=0.0)
    return sum(0.5 * (level[k] + level[k + 1]) * (grid[k + 1] - grid[k]) for k in range(len(grid) - 1))


def test_mean_of_one_thruster_is_the_closed_form_trapezoid():
    """One thruster (0.5 N along a skew direction, rise 20 ms, fall 30 ms, no minimum on-time), no surface force,
    an IMU without errors on a 1 s grid: each sample is the level's trapezoid area x F d / m / dt, to 1e-12
    relative; a pulse inside one interval, one across a sample time, one shorter than the rise."""
    rise, fall, F, m = 0.02, 0.03, 0.5, 100.0
    d = np.array([1.0, 2.0, -0.5]) / math.sqrt(5.25)
    w = world([10.0, -200.0, 5.0], [0.0, 0.01, 0.0], True)
    w.attach_rigid_body([0.9, 0.1, -0.3, 0.2] / np.linalg.norm([0.9, 0.1, -0.3, 0.2]), [0.001, -0.002, 0.0015],
                        body_array(m, J), thruster_table([(0.0, 0.0, 0.0)], [d], F, rise, fall, 0.0, FAIL_NONE, 0.0))
    rng = np.random.default_rng(1)
    io = SimVehicleIO(w, None, Imu(NS, ideal_channel(rng), ideal_channel(rng), "delta_v"))
    pulses = ((0.0, 0.4), (1.7, 0.5), (3.0, 0.01))  # (command time, on-time) s
    for t_cmd, on in pulses:
        fire(io, t_cmd, [on])
    io.wait_until(5 * NS)
    got = {m_.t_ns // NS: np.array(m_.accel_B) for m_ in io.read_sensors() if isinstance(m_, ImuSample)}
    assert sorted(got) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(got[0], 0.0)  # empty first interval: the instant value, valves shut
    for k in range(1, 6):
        area = sum(trapezoid_area(on, rise, fall, k - 1.0, float(k), t_cmd) for t_cmd, on in pulses)
        ref = area * F * d / m
        if k == 5:
            assert area == 0.0 and not got[k].any()
            continue
        assert area > 0.0
        np.testing.assert_allclose(got[k], ref, rtol=1e-12, atol=0)
    # the areas themselves: 0.4 + (fall - rise) / 2; the 1.7 s pulse split 0.29 / 0.215; the short one 0.00625
    assert [trapezoid_area(0.4, rise, fall, 0, 1, 0.0), trapezoid_area(0.5, rise, fall, 1, 2, 1.7),
            trapezoid_area(0.5, rise, fall, 2, 3, 1.7),
            trapezoid_area(0.01, rise, fall, 3, 4, 3.0)] == pytest.approx([0.405, 0.29, 0.215, 0.00625], rel=1e-13)


def test_mean_matches_scipy_trapezoid_of_the_instant_specific_force_over_a_pulsed_second():
    """The default scenario's forces (EGM2008 20x20, Sun and Moon, NRLMSIS drag, SRP), four thrusters with
    unequal ramps, one still falling from the previous second: over (5 s, 6 s] the mean equals scipy's trapezoid
    rule on specific_force_B sampled every 1 ms and at each valve event (the level is linear between them, so the
    rule is exact for the thrust), to 1e-6 relative (the surface force, ~2e-7 m/s^2, is held at its end value);
    the same second propagated in one call gives the same mean."""
    scn = load_scenario(ROOT / "scenarios" / "inspection.toml")
    pos = [(-0.6, 0.4, 0.0), (0.4, -0.6, 0.0), (0.0, 0.4, -0.6), (0.6, 0.0, 0.4)]
    dirs = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (-1.0, 0.2, 0.0)]
    rise, fall = 0.02, 0.03
    worlds = []
    for _ in range(2):
        w = world([10.0, -200.0, 5.0], [0.0, 0.01, 0.0], ForceModel.from_scenario(scn))
        w.attach_rigid_body([1.0, 0.0, 0.0, 0.0], [0.0, 0.0011, 0.0], body_array(150.0, J),
                            thruster_table(pos, dirs, 0.25, rise, fall, 0.01, FAIL_NONE, 0.0))
        w.advance_to(4 * NS, np.zeros(3))
        w.fire(np.array([0.99, 0.0, 0.0, 0.0]))  # falls from 4.99 s to 5.02 s
        w.advance_to(5 * NS, np.zeros(3))
        w.mean_specific_force_B()  # the interval starts at 5 s
        w.fire(np.array([0.0, 0.3137, 0.6501, 0.05]))
        worlds.append(w)
    fine, whole = worlds
    events_s = {5.02, 5.0 + rise, 5.3137, 5.3137 + fall, 5.6501, 5.6501 + fall, 5.05, 5.05 + fall}
    t_ns = sorted({5 * NS + k * 10**6 for k in range(1001)} | {round(t * NS) for t in events_s})
    f = []
    for t in t_ns:
        fine.advance_to(t, np.zeros(3))
        f.append(fine.specific_force_B())
    ref = trapezoid(np.array(f), np.array(t_ns) / 1e9, axis=0)  # over exactly 1 s
    got = fine.mean_specific_force_B()
    assert np.linalg.norm(ref) > 1e-4  # thrust ~1e-3 m/s^2: the pulses are in
    assert np.linalg.norm(got - ref) < 1e-6 * np.linalg.norm(ref), (got, ref)
    whole.advance_to(6 * NS, np.zeros(3))
    # the drag differs by ~2e-11 m/s^2: the one-call world holds NRLMSIS's density from 5 s, the other from 5.999 s
    one_call = whole.mean_specific_force_B()
    np.testing.assert_allclose(one_call, got, rtol=0, atol=1e-10)


def scenario_text(accel_output=None):
    text = (ROOT / "scenarios" / "fdir_quick.toml").read_text()
    if accel_output is None:
        return text
    new = text.replace("period_s = 1.0\n[imu.gyro]", f'period_s = 1.0\naccel_output = "{accel_output}"\n[imu.gyro]', 1)
    assert new != text
    return new + f'\n[fdir]\naccel_output = "{accel_output}"\n'  # the flight code told what the IMU reads


def imu_over_a_burn(accel_output, on, seconds):
    """fdir_quick.toml (no surface forces), its accelerometer's errors zeroed, thrusters fired with on-times on
    (s) at each 1 s PWM boundary by the simulated IO: (world, IMU samples at 1..seconds s, C_BH @ applied
    accel_H at each of them)."""
    scn = parse_scenario(scenario_text(accel_output))
    i = scn.imu_config
    zero = dataclasses.replace(i.accel, noise_density=0.0, bias_sigma=0.0, bias_instability=0.0,
                               scale_error_sigma=0.0, misalignment_sigma_rad=0.0, quantum=0.0)
    w, io, _ = build(dataclasses.replace(scn, imu=(dataclasses.replace(i, accel=zero),)), 42)
    samples, applied = {}, {}
    for k in range(seconds + 1):
        io.wait_until(k * NS)
        C_BH = dcm_from_quat(w.att[:4]) @ w.hill_dcm().T
        applied[k] = C_BH @ w.applied_accel_H
        samples.update({m.t_ns // NS: np.array(m.accel_B) for m in io.read_sensors() if isinstance(m, ImuSample)})
        if k < seconds:
            io.write_actuators(ActuatorCommand(k * NS, (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), tuple(on)))
    return w, [samples[k] for k in range(1, seconds + 1)], [applied[k] for k in range(1, seconds + 1)]


def test_scenario_delta_v_reads_the_burn_where_instant_reads_nothing():
    """A 20 s burn at 40 % duty on the +X quad (thrusters 0-3) and 15 % on two +Y thrusters (8, 9), PWM at each
    second, ramps 5 ms up and down (equal: the area is the on-time): every "delta_v" sample is sum_i a_i duty_i
    with the true thrusters' a_i = F_i d_i / m (1e-9 relative), and agrees with the truth's own inertial
    Delta-v over the second, rotated into B at its end, within the turn of B (3e-3); "instant" samples at the
    PWM boundaries, where every valve is shut and its thrust has fallen: 0."""
    on = np.zeros(24)
    on[0:4], on[8:10] = 0.4, 0.15
    w, dv, applied = imu_over_a_burn("delta_v", on, 20)
    a = w.thrusters[:, TH_F, None] * w.thrusters[:, TH_D:TH_D + 3] / w.body[0]  # (24, 3) m/s^2 at full thrust
    expected = on @ a
    assert np.linalg.norm(expected) > 2e-3
    for got, inertial in zip(dv, applied):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * np.linalg.norm(expected))
        assert np.linalg.norm(got - inertial) < 3e-3 * np.linalg.norm(expected)
    _, instant, applied_i = imu_over_a_burn("instant", on, 20)
    assert all(np.linalg.norm(x) < 1e-12 for x in instant)
    np.testing.assert_allclose(applied_i, applied, rtol=0, atol=1e-15)  # the same burn was flown


def test_bad_accel_output_is_one_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"^imu\.accel_output = 'mean': must be one of 'instant', 'delta_v'$"):
        parse_scenario(scenario_text("mean"))
    assert load_scenario(ROOT / "scenarios" / "inspection.toml").imu_config.accel_output == "instant"
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="accel_output"):
        Imu(NS, ideal_channel(rng), ideal_channel(rng), "mean")
