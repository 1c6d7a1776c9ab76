"""The rig emulator's physics is the sim's: thrust rise/fall and minimum on-time as sim.rigid_body, drawn
thruster errors, and the IMU of sim.imu (in-process, on a simulated clock)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.emulator import RigConfig, RigEmulator, advance_valves
from hil.link import SerialLink
from hil.messages import ThrusterCommand

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

MS = 1_000_000


def _integrate(cuts_ns, on_ns, rise_s, fall_s, stuck_on_ns=0.0):
    """(thrust integral, valve-open time) (s) of one valve open on [0, on_ns), stepped through cuts_ns."""
    z = np.zeros(1)
    level, thrust, open_s = np.zeros(1), np.zeros(1), np.zeros(1)
    for a, b in zip(cuts_ns[:-1], cuts_ns[1:]):
        advance_valves(float(a), float(b), z, np.array([float(on_ns)]), np.array([stuck_on_ns]), z - 1.0,
                       rise_s, fall_s, level, thrust, open_s)
    return thrust[0], open_s[0]


@pytest.mark.parametrize("on_ms, rise_ms, fall_ms", [(7, 2, 3), (10, 5, 5), (4, 0, 2), (3, 0, 0)])
def test_a_pulse_delivers_the_sims_impulse(on_ms, rise_ms, fall_ms):
    """sim.rigid_body: a pulse of on-time t >= rise_s delivers F (t + (fall_s - rise_s) / 2)."""
    thrust, open_s = _integrate([0, 30 * MS], on_ms * MS, rise_ms / 1e3, fall_ms / 1e3)
    assert thrust == pytest.approx((on_ms + (fall_ms - rise_ms) / 2) / 1e3, rel=1e-12)
    assert open_s == pytest.approx(on_ms / 1e3, rel=1e-12)


def test_a_pulse_shorter_than_the_rise_never_reaches_full_thrust():
    """Level t / rise at the valve's close, then down at 1 / fall: F t^2 / (2 rise) + F (t / rise)^2 fall / 2."""
    t, rise, fall = 1e-3, 4e-3, 2e-3
    thrust, _ = _integrate([0, 30 * MS], t * 1e9, rise, fall)
    assert thrust == pytest.approx(t**2 / (2 * rise) + (t / rise) ** 2 * fall / 2, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 25 * MS - 1), max_size=12), st.integers(0, 20 * MS),
       st.floats(0, 5e-3), st.floats(0, 5e-3))
def test_stepping_at_any_instants_gives_the_same_integrals(cuts, on_ns, rise_s, fall_s):
    one = _integrate([0, 25 * MS], on_ns, rise_s, fall_s)
    many = _integrate([0, *sorted(set(cuts)), 25 * MS], on_ns, rise_s, fall_s)
    assert many == pytest.approx(one, rel=1e-9, abs=1e-15)


def _rig(**cfg) -> tuple[RigEmulator, list[int]]:
    clock = [0]
    return RigEmulator(SerialLink("loop://", "rig"), RigConfig(**cfg), seed=3, clock_ns=lambda: clock[0]), clock


def test_commands_under_the_minimum_on_time_leave_the_valve_shut():
    rig, _ = _rig(min_on_s=0.002)
    rig._accept_command(ThrusterCommand(0, (0.0015, 0.0025) + (0.0,) * 10), 0)
    s = rig.status(20 * MS)
    assert s.on_time_s[0] == 0 and s.on_time_s[1] == pytest.approx(0.0025)


def test_the_accelerometer_reads_the_drawn_thrust_through_its_errors():
    """20 s of thruster 0 (+x) held open at 100 Hz sampling: the mean delta-v rate is M (scale d F / m) + bias
    of the drawn model, to the noise and bias instability of 20 s."""
    rig, _ = _rig()
    m, cfg = rig.model(), rig.cfg
    n, dt = 2000, 0.01
    dv = np.zeros(3)
    for k in range(n):
        rig._accept_command(ThrusterCommand(0, (0.02,) + (0.0,) * 11), k * 10 * MS)  # each outlasts the period
        dv += rig._imu_sample((k + 1) * 10 * MS).dv_B
    f = m["thrust_scale"][0] * np.array(m["dirs_B"][0]) * cfg.thrust_N / cfg.mass_kg
    expected = (np.array(m["accel_M"]) @ f + np.array(m["accel_bias"])) * n * dt
    sigma = cfg.accel.noise_density * np.sqrt(n * dt) + 3 * cfg.accel.bias_instability * n * dt
    assert np.all(np.abs(dv - expected) < 5 * sigma)
    assert abs(dv[0] - cfg.thrust_N / cfg.mass_kg * n * dt) > 1e-4  # the errors are there (scale, bias)
    assert m["thrust_scale"] != [1.0] * cfg.n_thrusters and m["dirs_B"][0] != [1.0, 0.0, 0.0]


def test_the_drawn_errors_follow_the_seed():
    a, b, c = (RigEmulator(SerialLink("loop://", "rig"), RigConfig(), seed=s).model() for s in (1, 1, 2))
    assert a == b and a != c
