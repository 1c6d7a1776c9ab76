"""Device managers (valves, IMU) against closed forms and properties; line-rate pacing of the emulator."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.devices import STUCK_WINDOW, ImuManager, ThrusterValves
from hil.faults import FrameFaults
from hil.link import SerialLink
from hil.messages import ON_TIME_LSB_S, ImuFlag, ImuSample, RigStatus, ThrusterCommand
from hil.serial_codec import encode

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

T = 0.01  # command period (s)
A_DIR = 2 * 0.25 / 150.0  # two 0.25 N thrusters per direction on 150 kg (m/s^2)


class FakeLink:
    """What ThrusterValves needs of a Link: send() and the sequence count of the last command."""

    def __init__(self):
        self.sent, self.last_tx_seq = [], {}

    def send(self, msg):
        self.last_tx_seq[type(msg)] = len(self.sent)
        self.sent.append(msg)


def valves() -> ThrusterValves:
    return ThrusterValves(FakeLink(), 12, 0.25, 150.0, T)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-A_DIR, A_DIR), min_size=3, max_size=3), st.integers(5, 200))
def test_pwm_delivers_the_commanded_mean_acceleration(a, n):
    """Over n periods the valve-open times give a * n T of delta-v to within one on-time quantum per
    direction (the quantisation residue is carried, not dropped)."""
    v = valves()
    dv = sum(v.accel_B(v.on_times(np.array(a)), T) * T for _ in range(n))
    assert np.allclose(dv, np.array(a) * n * T, atol=2 * ON_TIME_LSB_S * A_DIR / 2)


def test_on_times_saturate_at_the_period_and_use_both_thrusters_of_a_direction():
    on = valves().on_times(np.array([10 * A_DIR, -A_DIR / 2, 0.0]))
    assert on[[0, 1]] == pytest.approx([T, T])  # +x pair fully open
    assert on[[6, 7]] == pytest.approx([T / 2, T / 2])  # -y pair half open
    assert not on[[2, 3, 4, 5, 8, 9, 10, 11]].any()


def _status(on_time_s, cmd_seq=0):
    return RigStatus(0, 1, 0, cmd_seq, 0, tuple(on_time_s))


def test_a_valve_reported_shut_is_found_stuck_off_and_its_partner_takes_its_share():
    v = valves()
    a = np.array([A_DIR / 2, 0.0, 0.0])
    for k in range(3 * STUCK_WINDOW):
        on = v.command(a, k)
        v.on_status(_status(np.where(np.arange(12) == 0, 0.0, on)), k)  # thruster 0 never opens
        v.take_reported()
    assert v.counts["stuck_off_detected"] == 1 and v.stuck_off.tolist() == [True] + [False] * 11
    on = v.on_times(a)
    assert on[0] == 0 and on[1] == pytest.approx(T)  # thruster 1 alone gives the same +x acceleration
    assert v.accel_B(on, T) == pytest.approx(a)


def test_a_valve_reported_open_is_stuck_on_until_its_reports_agree_again():
    v = valves()
    for k in range(3 * STUCK_WINDOW):
        v.command(np.zeros(3), k)
        v.on_status(_status([T if i == 5 and k < 2 * STUCK_WINDOW else 0.0 for i in range(12)]), k)
        v.take_reported()
        if k == 2 * STUCK_WINDOW - 1:
            assert v.stuck_on.tolist() == [i == 5 for i in range(12)]
    assert v.counts["stuck_on_detected"] == 1 and not v.stuck_on.any()


def test_round_trips_match_answers_to_commands_and_rig_fault_edges_are_counted():
    v = valves()
    v.command(np.zeros(3), 1_000)
    v.on_status(RigStatus(0, 1, 1, 0, 0, (0.0,) * 12), 251_000)  # WATCHDOG set
    v.on_status(RigStatus(0, 1, 1, 0, 0, (0.0,) * 12), 300_000)  # unsolicited, same command: no new round trip
    assert v.roundtrip_us == [250.0] and v.counts["rig_watchdog"] == 1
    assert isinstance(v.link.sent[0], ThrusterCommand)


def test_imu_manager_stale_frozen_and_gaps():
    imu = ImuManager(0.01, 0.05)
    assert imu.stale(0)
    for k in range(1, 4):
        imu.on_sample(ImuSample(k * 10_000_000, (1e-4, 0, 0), (0, 0, 0), ImuFlag.VALID), k * 10_000_000)
    imu.on_sample(ImuSample(30_000_000, (1e-4, 0, 0), (0, 0, 0), ImuFlag.VALID), 40_000_000)  # frozen
    imu.on_sample(ImuSample(50_000_000, (1e-4, 0, 0), (0, 0, 0), 0), 50_000_000)  # not VALID
    assert imu.counts == Counter(samples=3, frozen=1, invalid=1)
    assert not imu.stale(80_000_000) and imu.stale(80_000_001)  # 50 ms after the last fresh sample
    imu.on_sample(ImuSample(70_000_000, (0, 0, 0), (0, 0, 0), ImuFlag.VALID), 90_000_000)
    assert imu.counts["grid_gaps"] == 1 and not imu.stale(90_000_000)
    assert imu.take_dv() == pytest.approx([3e-4, 0, 0]) and not imu.take_dv().any()


def test_throttle_paces_frames_at_the_line_rate():
    """Frames handed over together leave one after another, each taking 10 bits a byte at the baud rate."""
    link = SerialLink("loop://", "rig", baudrate=115200)
    pace = FrameFaults(np.random.default_rng(0), link.corrupt_frame, link.truncate_frame, link.wire_time_ns)
    frames = [encode(ImuSample(k, (0.0,) * 3, (0.0,) * 3, 1), k) for k in range(3)]
    assert pace(frames, 0) == []
    each = len(frames[0]) * 10 * 1e9 / 115200
    assert pace.next_release_ns() == pytest.approx(each, abs=1)
    assert pace([], round(each)) == frames[:1] and pace([], round(3 * each)) == frames[1:]
    link.close()
