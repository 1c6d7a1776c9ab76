"""The rig emulator in another process, over a pseudo-terminal (and over TCP through socket://): commands
answered, IMU streamed, watchdog, and every injected fault detected and counted by the far end."""

import json
import select
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from hil.emulator import EmulatorProcess, RigConfig
from hil.link import SerialLink
from hil.messages import FaultKind, ImuSample, Ping, Pong, RigFault, RigState, RigStatus, ThrusterCommand
from tests.hil.rig_helpers import (clear, collect, diff, fire, frame_fault_effect, inject, is_watchdog_status,
                                   wait_for)

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

CFG = RigConfig()


@pytest.fixture(scope="module")
def emu():
    with EmulatorProcess(["--serial", "pty"], duration_s=55) as e:
        yield e


@pytest.fixture(scope="module")
def rig(emu):
    link = SerialLink(emu.pty_path, "flight")
    try:
        yield link
    finally:
        link.close()


def expected_dv_B(model: dict, open_s: dict[int, float], interval_s: float) -> np.ndarray:
    """What the rig's accelerometer (its drawn scale, misalignment and turn-on bias) reads over interval_s
    for thrusters held open open_s[i] s (rise = fall: each pulse's impulse is F x its on-time)."""
    f = sum(model["thrust_scale"][i] * np.array(model["dirs_B"][i]) * t for i, t in open_s.items())
    return np.array(model["accel_M"]) @ (CFG.thrust_N / CFG.mass_kg * f) + np.array(model["accel_bias"]) * interval_s


def accel_sigma(interval_s: float) -> float:
    """1-sigma of the accelerometer's white noise and bias instability over interval_s (m/s)."""
    return CFG.accel.noise_density * np.sqrt(interval_s) + CFG.accel.bias_instability * interval_s


def ping(link, ping_id, timeout_s=0.3, others=None):
    """Round-trip time (s), or None; what else arrived meanwhile is appended to others."""
    t0 = time.monotonic_ns()
    reply, rest = link.request(Ping(t0, ping_id), lambda m: isinstance(m, Pong) and m.ping_id == ping_id, timeout_s)
    if others is not None:
        others += rest
    return None if reply is None else (time.monotonic_ns() - t0) / 1e9


def test_selftest_cli_against_the_emulator(tmp_path):
    with EmulatorProcess(["--serial", "pty"], duration_s=30) as emu:
        out = tmp_path / "selftest.json"
        r = subprocess.run([sys.executable, "-m", "cli.main", "hil", "selftest", "--serial", emu.pty_path,
                            "--count", "100", "--json", str(out)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["lost"] == 0 and 0 < res["roundtrip_us_p50"] <= res["roundtrip_us_p99"] < 100_000
    assert res["link"]["crc_errors"] == res["link"]["decode_errors"] == 0
    assert emu.report["pongs"] == 100


def test_commands_answered_imu_streamed_and_watchdog_closes_valves(rig, emu):
    clear(rig)
    t_start = time.monotonic_ns()
    got = fire(rig, {0: 0.02}, seconds=1.0)  # thruster 0 (+x) held open: each pulse outlasts the period
    t_last = time.monotonic_ns()
    wd, rest = wait_for(rig, is_watchdog_status, 1.0)
    t_wd = time.monotonic_ns()
    got += rest
    statuses = [m for m in got if isinstance(m, RigStatus)]
    assert len(statuses) >= 80  # one answer per command, plus 10 Hz reports
    assert statuses[-1].cmd_seq == rig.last_tx_seq[ThrusterCommand] % 16
    assert sum(s.valves_open == 1 and s.state == RigState.ACTIVE for s in statuses) >= 0.9 * len(statuses)
    # watchdog: 0.1 s after the last command (+ the 20 ms pulse may still run: it is cut, not finished)
    assert wd.state == RigState.SAFE and wd.valves_open == 0
    assert 0.08 < (t_wd - t_last) / 1e9 < 0.35
    # the IMU saw what the valves reported, through the rig's drawn thruster and accelerometer errors
    imu = [m for m in got if isinstance(m, ImuSample) and m.t_ns > t_start]
    t = np.array([m.t_ns for m in imu])
    assert 85 <= len(imu) <= 125 and set(np.diff(t)) == {10_000_000}
    dv = np.sum([m.dv_B for m in imu], axis=0)
    open_s = sum(s.on_time_s[0] for s in statuses)
    assert 0.8 < open_s / ((t_last - t_start) / 1e9) < 1.05  # shut only if a command came > 20 ms late
    expected = expected_dv_B(emu.model, {0: open_s}, len(imu) * 0.01)
    edge = CFG.thrust_N / CFG.mass_kg * 0.02  # the samples and the status reports need not cut at one instant
    assert np.all(np.abs(dv - expected) < 5 * accel_sigma(len(imu) * 0.01) + np.array([edge, 1e-6, 1e-6]))


@pytest.mark.parametrize("kind", [FaultKind.DROP, FaultKind.CORRUPT, FaultKind.TRUNCATE, FaultKind.DUPLICATE])
def test_frame_faults_from_the_rig_are_detected_and_counted(rig, kind):
    d, n_imu = frame_fault_effect(rig, kind)
    assert n_imu >= 5  # the stream goes on
    errors = d["crc_errors"] + d["decode_errors"]
    expected = {FaultKind.DROP: (0, 0), FaultKind.CORRUPT: (5, 0), FaultKind.TRUNCATE: (5, 0),
                FaultKind.DUPLICATE: (0, 5)}[kind]
    assert (errors, d["duplicates"]) == expected
    assert (d["seq_gaps"] >= 1) == (kind != FaultKind.DUPLICATE)  # a lost frame shows as a gap


def test_commands_lost_on_the_way_to_the_rig_are_reported(rig):
    clear(rig)
    assert ping(rig, 99) is not None  # the rig knows the ping sequence count: the next loss is a gap
    inject(rig, FaultKind.DROP, target=1, count=3)
    got = collect(rig, 0.05)  # frames read together with the FaultCommand precede it
    answered = [ping(rig, 100 + i, timeout_s=0.5, others=got) is not None for i in range(5)]
    assert answered == [False, False, False, True, True] and rig.counters.timeouts >= 3
    got += collect(rig, 0.15)
    assert any(isinstance(m, RigStatus) and m.faults & RigFault.RX_ERRORS for m in got)  # the rig saw the gap


def test_delay_is_latency_without_loss(rig):
    clear(rig)
    before = rig.counters.as_dict()
    inject(rig, FaultKind.DELAY, target=0, count=1, value_s=0.3)
    rtt = ping(rig, 7, timeout_s=1.0)
    collect(rig, 0.1)
    assert rtt is not None and rtt >= 0.25
    d = diff(before, rig)
    assert d["seq_gaps"] == d["crc_errors"] == d["decode_errors"] == d["duplicates"] == 0


def test_stuck_imu_repeats_its_last_sample(rig):
    clear(rig)
    inject(rig, FaultKind.STUCK_IMU, value_s=0.3)
    imu = [m for m in collect(rig, 0.6) if isinstance(m, ImuSample)]
    t = np.array([m.t_ns for m in imu])
    frozen = np.flatnonzero(np.diff(t) == 0)
    assert 20 <= len(frozen) <= 35 and len({imu[i] for i in frozen}) == 1
    assert np.diff(t)[frozen[-1] + 1] >= 0.29e9  # then it recovers, on its sample grid
    assert np.all(np.diff(t[frozen[-1] + 2:]) == 10_000_000)


def test_stuck_thrusters(rig, emu):
    clear(rig)
    inject(rig, FaultKind.THRUSTER_STUCK_ON, target=3, value_s=0.5)  # thruster 3 pushes -x
    got = collect(rig, 0.6)
    statuses = [m for m in got if isinstance(m, RigStatus)]
    assert any(s.valves_open == 1 << 3 and s.state == RigState.SAFE for s in statuses)
    assert 0.4 < sum(s.on_time_s[3] for s in statuses) < 0.6
    imu = [m for m in got if isinstance(m, ImuSample)]
    dv_x = sum(m.dv_B[0] for m in imu)
    expected = expected_dv_B(emu.model, {3: 0.5}, len(imu) * 0.01)[0]
    assert dv_x == pytest.approx(expected, abs=0.15 * abs(expected) + 5 * accel_sigma(len(imu) * 0.01))
    clear(rig)
    inject(rig, FaultKind.THRUSTER_STUCK_OFF, target=0, value_s=0.5)
    collect(rig, 0.05)
    statuses = [m for m in fire(rig, {0: 0.02, 5: 0.02}, seconds=0.2) if isinstance(m, RigStatus)]
    assert statuses and all(s.valves_open & 1 == 0 for s in statuses)  # commanded open, stays shut
    assert sum(s.on_time_s[0] for s in statuses) == 0 and sum(s.on_time_s[5] for s in statuses) > 0.1


def test_disconnect_silences_the_link_and_the_watchdog_acts(rig):
    clear(rig)
    before = rig.counters.as_dict()
    inject(rig, FaultKind.DISCONNECT, value_s=0.4)
    arrivals, t_end = [], time.monotonic() + 0.8
    while (left := t_end - time.monotonic()) > 0:
        arrivals += [time.monotonic()] * len(rig.poll(left))
    assert max(np.diff(arrivals)) > 0.35
    statuses = [m for m in fire(rig, {1: 0.005}, seconds=0.1) if isinstance(m, RigStatus)]
    assert any(s.state == RigState.ACTIVE for s in statuses)  # commands are obeyed again
    assert diff(before, rig)["seq_gaps"] >= 1  # telemetry lost during the outage shows as gaps


def test_serial_over_tcp_through_socket_urls():
    """pyserial socket:// at both ends of a TCP relay on the loopback (as a serial-to-network server would be)."""
    a, b = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def relay():
        conns = [a.accept()[0], b.accept()[0]]
        while not stop.is_set():
            for c in select.select(conns, [], [], 0.05)[0]:
                data = c.recv(4096)
                if not data:  # one end left: hold the other open until the test is done
                    stop.wait(30)
                    return
                conns[1 - conns.index(c)].sendall(data)

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        with EmulatorProcess(["--serial", f"socket://127.0.0.1:{a.getsockname()[1]}"], duration_s=30):
            link = SerialLink(f"socket://127.0.0.1:{b.getsockname()[1]}", "flight")
            try:
                assert all(ping(link, i, timeout_s=1.0) is not None for i in range(20))
                imu = [m for m in collect(link, 0.2) if isinstance(m, ImuSample)]
                assert len(imu) >= 10 and link.counters.crc_errors == 0
            finally:
                link.close()
    finally:
        stop.set()
        thread.join(5)
        a.close()
        b.close()


def test_throttle_paces_the_emulator_like_a_uart():
    """--throttle at 115200 baud: a Pong (20 B on the wire) cannot arrive sooner than 1.7 ms after the Ping
    (unthrottled, a pty answers in a few hundred us), the IMU still streams at 100 Hz (the line is 45 %
    busy), and nothing is lost."""
    with EmulatorProcess(["--serial", "pty", "--throttle", "--baudrate", "115200"], duration_s=30) as emu:
        link = SerialLink(emu.pty_path, "flight")
        try:
            rtts = [ping(link, i, timeout_s=1.0) for i in range(30)]
            imu = [m for m in collect(link, 1.0) if isinstance(m, ImuSample)]
        finally:
            link.close()
    assert None not in rtts and min(rtts) >= 20 * 10 / 115200
    assert 80 <= len(imu) <= 120 and link.counters.seq_gaps == link.counters.crc_errors == 0
