"""Links in one process: pyserial's loop:// and python-can's virtual bus. Sequence checks, counters,
role filtering, deframing of arbitrary chunks, and the fault filter the emulator puts on its link."""

import itertools

import cobs.cobs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil import serial_codec
from hil.faults import FrameFaults
from hil.link import CanLink, SerialLink, parse_can_spec
from hil.messages import ON_TIME_LSB_S, FaultKind, ImuSample, Ping, Pong, RigStatus, ThrusterCommand

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

N = 12
_virtual = itertools.count()


def imu(t_ns):
    return ImuSample(t_ns, (2.0**-16, 0.0, 0.0), (0.0, 0.0, 2.0**-20), 1)  # exact in float32


@pytest.fixture
def loop():
    link = SerialLink("loop://", "flight")
    yield link
    link.close()


@pytest.fixture
def can_pair():
    channel = f"test{next(_virtual)}"
    flight, rig = CanLink("virtual", channel, "flight", N), CanLink("virtual", channel, "rig", N)
    yield flight, rig
    flight.close()
    rig.close()


def test_serial_sequence_gaps_duplicates_and_errors_are_counted(loop):
    w = loop.port.write
    for seq in (0, 1, 1, 2, 5, 6):  # one duplicate, one gap of two
        w(serial_codec.encode(imu(seq), seq))
    w(b"\x01\x02\x03\x00")  # not a frame
    bad = bytearray(cobs.cobs.decode(serial_codec.encode(imu(7), 7)[:-1]))
    bad[20] ^= 0x04  # a payload bit: the CRC catches it
    w(cobs.cobs.encode(bytes(bad)) + b"\x00")
    got = loop.poll(0.2)
    assert [m.t_ns for m in got] == [0, 1, 2, 5, 6]
    c = loop.counters
    assert (c.frames_rx, c.duplicates, c.seq_gaps, c.decode_errors, c.crc_errors) == (8, 1, 1, 1, 1)
    assert loop.last_rx_seq[ImuSample] == 6


def test_serial_link_delivers_only_messages_for_its_role(loop):
    loop.send(Ping(1, 5))  # a command echoed back by loop:// is not for the flight computer
    loop.send(Pong(2, 5))
    assert loop.poll(0.2) == [Pong(2, 5)]
    assert loop.counters.ignored == 1 and loop.counters.frames_tx == 2
    assert loop.last_tx_seq == {Ping: 0, Pong: 0}


def test_request_times_out_and_counts(loop):
    reply, others = loop.request(Ping(0, 1), lambda m: isinstance(m, Pong), timeout_s=0.05)
    assert reply is None and others == [] and loop.counters.timeouts == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 200), max_size=20))
def test_deframer_is_independent_of_chunking(cuts):
    stream = b"".join(serial_codec.encode(imu(t), t) for t in range(10))
    d = serial_codec.Deframer()
    frames, pos = [], 0
    for c in sorted(cuts) + [len(stream)]:
        frames += d.feed(stream[pos:c])
        pos = max(pos, c)
    assert [serial_codec.decode(f).msg.t_ns for f in frames] == list(range(10))


def test_deframer_drops_overlong_garbage_and_resynchronises():
    d = serial_codec.Deframer()
    frames = d.feed(b"\x55" * 3 * serial_codec.MAX_WIRE + b"\x00" + serial_codec.encode(imu(3), 0))
    assert d.overruns == 1 and [serial_codec.decode(f).msg for f in frames] == [imu(3)]


def test_can_link_round_trip_and_reassembly(can_pair):
    flight, rig = can_pair
    cmd = ThrusterCommand(0, tuple(10 * k * ON_TIME_LSB_S for k in range(N)))
    flight.send(cmd)
    (got,) = rig.poll(0.5)
    assert got.on_time_s == cmd.on_time_s and rig.last_rx_seq[ThrusterCommand] == flight.last_tx_seq[ThrusterCommand]
    status = RigStatus(5, 1, 0, 3, 0b101, (20 * ON_TIME_LSB_S,) * N)
    rig.send(status)
    (back,) = flight.poll(0.5)
    assert back.on_time_s == status.on_time_s and back.valves_open == 0b101 and back.cmd_seq == 3
    assert flight.counters.frames_rx == 1 + 3 and rig.counters.frames_tx == 4


def test_can_link_counts_gaps_duplicates_and_incomplete_messages(can_pair):
    flight, rig = can_pair
    frames = [rig._encode(imu(t * 1000)) for t in range(4)]  # counters 0..3, three frames each
    rig._write(frames[0] + frames[0][:1])  # IMU_DV of sample 0 again: a duplicate
    rig._write(frames[1][:2])  # sample 1 loses IMU_TIME
    rig._write(frames[3])  # sample 2 lost entirely
    got = flight.poll(0.5) + flight.poll(0.1)
    assert [m.t_ns for m in got] == [0, 3000]
    c = flight.counters
    assert (c.duplicates, c.incomplete, c.seq_gaps) == (1, 1, 3)  # IMU_TIME jumps 0->3, DV and DTH 1->3


def test_parse_can_spec():
    assert parse_can_spec("socketcan:can0") == ("socketcan", "can0")
    assert parse_can_spec("udp_multicast:ff15::1") == ("udp_multicast", "ff15::1")
    with pytest.raises(ValueError, match="INTERFACE:CHANNEL"):
        parse_can_spec("can0")


def test_frame_faults_drop_duplicate_delay_in_order():
    f = FrameFaults(np.random.default_rng(0), lambda x, r: x, lambda x, r: x)
    f.arm(FaultKind.DROP, 1, 0.0)
    f.arm(FaultKind.DUPLICATE, 1, 0.0)
    assert f(["a", "b", "c"], 0) == ["b", "b", "c"]
    f.arm(FaultKind.DELAY, 1, 0.5)
    assert f(["d", "e"], 10**9) == []  # e waits behind d: latency, never reordering
    assert f([], 10**9 + 499_999_999) == []
    assert f(["g"], 10**9 + 5 * 10**8) == ["d", "e", "g"]
    f.disconnected_until_ns = 3 * 10**9
    assert f(["h"], 2 * 10**9) == [] and f(["i"], 3 * 10**9) == ["i"]
    assert dict(f.applied) == {"DROP": 1, "DUPLICATE": 1, "DELAY": 1, "DISCONNECT": 1}


@pytest.mark.parametrize("link_cls", [SerialLink, CanLink])
def test_frame_damage_keeps_delimiters_and_is_detected(link_cls, can_pair, loop):
    rng = np.random.default_rng(1)
    link = loop if link_cls is SerialLink else can_pair[1]
    for t in range(200):
        (frame, *_) = link._encode(imu(t))
        for damage in (link.corrupt_frame, link.truncate_frame):
            bad = damage(frame, rng)
            assert bad != frame
            if link_cls is SerialLink:
                assert bad.endswith(b"\x00") and b"\x00" not in bad[:-1]
                assert isinstance(serial_codec.decode(bad[:-1]), type(serial_codec.decode(b"")))
            else:
                assert link._decode(bad, 0)[0].kind in ("crc", "length")
