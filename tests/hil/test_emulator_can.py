"""The rig emulator in another process over CAN: python-can's slcan over a pseudo-terminal, and
udp_multicast inside a private network namespace (loopback only; skipped where unshare is not allowed)."""

import json
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hil.emulator import EmulatorProcess
from hil.link import CanLink
from hil.messages import FaultKind, ImuSample, Ping, Pong, RigState, RigStatus, ThrusterCommand
from tests.hil.rig_helpers import N, clear, fire, frame_fault_effect, is_watchdog_status, wait_for

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

ROOT = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture(scope="module")
def rig():
    with EmulatorProcess(["--can", "slcan:pty"], duration_s=55) as emu:
        link = CanLink("slcan", emu.pty_path, "flight", N)
        try:
            yield link
        finally:
            link.close()


def _fire_without_stall(rig, on_time_s, seconds, attempts=3, max_gap_ns=25_000_000):
    """``fire`` until a burst whose rig statuses (one per command, every 10 ms) have no gap over max_gap_ns
    while it lasts (idle: at most ~17 ms). A longer gap means this process or the emulator's was not
    scheduled, and the valves closed when the 20 ms pulses ran out, as they should. Returns (start ns,
    messages), or skips when every attempt stalled (a machine too loaded to judge the on-times)."""
    gaps = []
    for _ in range(attempts):
        clear(rig)
        t0 = time.monotonic_ns()
        got = fire(rig, on_time_s, seconds=seconds, answer_timeout_s=2.0)
        end = t0 + round(seconds * 1e9)  # the rig's clock is this machine's monotonic clock
        t = [m.t_ns for m in got if isinstance(m, RigStatus) and m.t_ns <= end]
        gaps.append(max(np.diff(t), default=0))
        if gaps[-1] <= max_gap_ns:
            return t0, got
    pytest.skip(f"the machine stalled a process in each of {attempts} bursts (largest status gaps "
                f"{[round(g / 1e6) for g in gaps]} ms)")


def test_ping_commands_status_and_imu_over_slcan(rig):
    clear(rig)
    reply, _ = rig.request(Ping(0, 4242), lambda m: isinstance(m, Pong), 2.0)
    assert reply is not None and reply.ping_id == 4242
    t0, got = _fire_without_stall(rig, {4: 0.02, 11: 0.004}, 0.5)
    statuses = [m for m in got if isinstance(m, RigStatus)]
    assert len(statuses) >= 40
    assert sum(bool(s.valves_open & (1 << 4)) for s in statuses) >= 0.9 * len(statuses)
    assert 0.4 < sum(s.on_time_s[4] for s in statuses) < 0.55  # held open for 0.5 s
    assert 0.12 < sum(s.on_time_s[11] for s in statuses) < 0.21  # 4 ms per command, 50 commands
    imu = [m for m in got if isinstance(m, ImuSample) and m.t_ns > t0]
    assert len(imu) >= 40 and set(np.diff([m.t_ns for m in imu])) == {10_000_000}
    wd, _ = wait_for(rig, is_watchdog_status, 1.0)
    assert wd is not None and wd.state == RigState.SAFE and wd.valves_open == 0
    assert wd.cmd_seq == rig.last_tx_seq[ThrusterCommand] % 16  # it reports the last command it applied
    assert rig.counters.crc_errors == rig.counters.decode_errors == 0


@pytest.mark.parametrize("kind", [FaultKind.DROP, FaultKind.CORRUPT, FaultKind.TRUNCATE, FaultKind.DUPLICATE])
def test_can_frame_faults_are_detected_and_counted(rig, kind):
    d, n_imu = frame_fault_effect(rig, kind)
    assert n_imu >= 5  # the stream goes on
    expected = {FaultKind.DROP: (0, 0, 0), FaultKind.CORRUPT: (5, 0, 0), FaultKind.TRUNCATE: (0, 5, 0),
                FaultKind.DUPLICATE: (0, 0, 5)}[kind]
    assert (d["crc_errors"], d["decode_errors"], d["duplicates"]) == expected
    lost = d["seq_gaps"] + d["incomplete"]
    assert (lost >= 1) == (kind != FaultKind.DUPLICATE)


def test_selftest_cli_over_slcan(tmp_path):
    with EmulatorProcess(["--can", "slcan:pty"], duration_s=30) as emu:
        out = tmp_path / "selftest.json"
        r = subprocess.run([sys.executable, "-m", "cli.main", "hil", "selftest", "--can", f"slcan:{emu.pty_path}",
                            "--count", "100", "--json", str(out)], capture_output=True, text=True, timeout=30,
                           cwd=ROOT)
        assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["lost"] == 0 and res["roundtrip_us_p50"] < 100_000 and emu.report["pongs"] == 100


NETNS_SCRIPT = textwrap.dedent("""
    import json, subprocess
    from hil.emulator import EmulatorProcess
    from hil.link import CanLink
    from hil.selftest import selftest
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "route", "add", "224.0.0.0/4", "dev", "lo"], check=True)
    with EmulatorProcess(["--can", "udp_multicast:239.74.163.2"], duration_s=30) as emu:
        link = CanLink("udp_multicast", "239.74.163.2", "flight")
        res = selftest(link, 50, 0.5)
        link.close()
    print(json.dumps({"selftest": res, "rig": emu.report}))
""")


def _unshare_allowed() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0


@pytest.mark.skipif(not _unshare_allowed(), reason="unshare -rn (private network namespace) not permitted here")
def test_udp_multicast_in_a_private_network_namespace():
    """Two processes on python-can's udp_multicast bus, in a network namespace that has only its own
    loopback: nothing reaches the host network."""
    r = subprocess.run(["unshare", "-rn", sys.executable, "-c", NETNS_SCRIPT], capture_output=True, text=True,
                       timeout=50, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["selftest"]["lost"] == 0 and res["rig"]["pongs"] == 50
    assert res["rig"]["link"]["ignored"] > 0  # the bus echoes each node's own frames; the link drops them
