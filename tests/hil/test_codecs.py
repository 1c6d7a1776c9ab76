"""Codecs: round trips (Hypothesis), published CRC check values, and damaged frames that always decode
to a counted error, never an exception."""

import math
import struct

import can
import cobs.cobs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil import can_codec, serial_codec
from hil.messages import (ON_TIME_LSB_S, AccelCommand, Decoded, DecodeError, FaultCommand, FaultKind, Heartbeat,
                          ImuSample, Ping, Pong, RigStatus, ThrusterCommand)

N = 12
t_ns = st.integers(0, 2**64 - 1)
f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def quantized(lsb, lo, hi):
    return st.integers(lo, hi).map(lambda k: k * lsb)


def on_times(n, max_k):
    return st.tuples(*[quantized(ON_TIME_LSB_S, 0, max_k)] * n)


def serial_messages():
    n = st.integers(0, 16)
    return st.one_of(
        n.flatmap(lambda k: st.builds(ThrusterCommand, t_ns, on_times(k, 65535))),
        st.builds(AccelCommand, t_ns, st.tuples(f32, f32, f32)),
        st.builds(ImuSample, t_ns, st.tuples(f32, f32, f32), st.tuples(f32, f32, f32), st.integers(0, 255)),
        st.builds(Heartbeat, t_ns, st.integers(0, 1), st.integers(0, 255)),
        n.flatmap(lambda k: st.builds(RigStatus, t_ns, st.integers(0, 1), st.integers(0, 65535), st.integers(0, 15),
                                      st.integers(0, 65535), on_times(k, 65535))),
        st.builds(Ping, t_ns, st.integers(0, 65535)),
        st.builds(Pong, t_ns, st.integers(0, 65535)),
        st.builds(FaultCommand, t_ns, st.sampled_from(list(FaultKind)), st.integers(0, 255), st.integers(0, 65535),
                  f32.filter(lambda v: v >= 0)))


def can_messages():
    """Messages as CAN carries them: t_ns only on ImuSample (whole us), values on each signal's grid."""
    i16 = st.integers(-32768, 32767)
    rx = 123_456_789
    return st.one_of(
        st.builds(ThrusterCommand, st.just(rx), on_times(N, 4095)),
        st.builds(AccelCommand, st.just(rx), st.tuples(*[i16.map(lambda k: k * 1e-6)] * 3)),
        st.builds(ImuSample, st.integers(0, 2**48 - 1).map(lambda us: us * 1000),
                  st.tuples(*[i16.map(lambda k: k * 1e-7)] * 3), st.tuples(*[i16.map(lambda k: k * 1e-7)] * 3),
                  st.integers(0, 15)),
        st.builds(Heartbeat, st.just(rx), st.integers(0, 1), st.integers(0, 15)),
        st.builds(RigStatus, st.just(rx), st.integers(0, 1), st.integers(0, 65535), st.integers(0, 15),
                  st.integers(0, 65535), on_times(N, 4095)),
        st.builds(Ping, st.just(rx), st.integers(0, 65535)),
        st.builds(Pong, st.just(rx), st.integers(0, 65535)),
        st.builds(FaultCommand, st.just(rx), st.sampled_from(list(FaultKind)), st.integers(0, 255),
                  st.integers(0, 65535), st.integers(0, 2**24 - 1).map(lambda k: k * 1e-3)))


def can_decode_all(frames, t_rx_ns=123_456_789):
    asm = can_codec.Assembler(N)
    out = []
    for f in frames:
        part = can_codec.decode_frame(f)
        out += [part] if isinstance(part, DecodeError) else asm.push(part, t_rx_ns)
    return out


def test_crc_check_values():
    """Published check values of the CRC catalogue (Greg Cook, 'Catalogue of parametrised CRC algorithms')."""
    assert serial_codec.crc16_ccitt_false(b"123456789") == 0x29B1
    assert can_codec.crc8_sae_j1850(b"123456789") == 0x4B


@settings(max_examples=300, deadline=None)
@given(serial_messages(), st.integers(0, serial_codec.SEQ_MODULUS - 1))
def test_serial_round_trip(msg, seq):
    wire = serial_codec.encode(msg, seq)
    assert wire.endswith(b"\x00") and b"\x00" not in wire[:-1] and len(wire) <= serial_codec.MAX_WIRE
    assert serial_codec.decode(wire[:-1]) == Decoded(msg, serial_codec.APID[type(msg)], seq)


@settings(max_examples=300, deadline=None)
@given(can_messages(), st.integers(0, 15))
def test_can_round_trip(msg, counter):
    frames = can_codec.encode(msg, counter, N)
    assert all(len(f.data) == 8 and not f.is_extended_id for f in frames)
    assert can_decode_all(frames) == [msg]
    assert {can_codec.decode_frame(f).counter for f in frames} == {counter}


def test_can_ids_and_layout_come_from_the_dbc():
    ids = {m.name: m.frame_id for m in can_codec.DB.messages}
    assert ids["THR_CMD"] == 0x100 and ids["IMU_DV"] == 0x200 and ids["HEARTBEAT_FLIGHT"] == 0x080
    assert all(m.length == 8 for m in can_codec.DB.messages)
    assert len(can_codec.encode(ThrusterCommand(0, (0.0,) * N), 0, N)) == 3  # 12 thrusters, 4 per frame


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_serial_decoder_never_raises_on_random_bytes(data):
    r = serial_codec.decode(data)
    assert isinstance(r, (Decoded, DecodeError))


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 0x7FF), st.binary(max_size=8), st.booleans())
def test_can_decoder_never_raises_on_random_frames(arb_id, data, extended):
    frame = can.Message(arbitration_id=arb_id, data=data, is_extended_id=extended)
    part = can_codec.decode_frame(frame)
    assert isinstance(part, (can_codec.Part, DecodeError))
    if isinstance(part, can_codec.Part):
        assert all(isinstance(r, (DecodeError, *serial_codec.APID)) for r in can_codec.Assembler(N).push(part, 0))


SAMPLES = [ThrusterCommand(10**15, tuple(k * ON_TIME_LSB_S for k in range(N))),
           RigStatus(7, 1, 5, 3, 0x0F0F, (0.0123,) * N),
           ImuSample(2_000_000_000_000, (1e-4, -2e-4, 3e-5), (1e-6, 0.0, -1e-6), 1),
           AccelCommand(1, (1e-3, 0.0, -2e-3)), Heartbeat(5, 0, 1), Ping(9, 77), Pong(9, 77),
           FaultCommand(3, int(FaultKind.DELAY), 0, 2, 0.25)]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_serial_every_single_bit_flip_and_truncation_is_caught(msg):
    packet = cobs.cobs.decode(serial_codec.encode(msg, 42)[:-1])
    for bit in range(8 * len(packet)):
        bad = bytearray(packet)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert serial_codec.decode(cobs.cobs.encode(bytes(bad))) == DecodeError("crc")
    wire = serial_codec.encode(msg, 42)[:-1]
    for n in range(len(wire)):
        assert isinstance(serial_codec.decode(wire[:n]), DecodeError)


def _resealed(packet: bytearray) -> bytes:
    """COBS frame of packet with its CRC recomputed: damage the checksum cannot see."""
    packet[-2:] = struct.pack(">H", serial_codec.crc16_ccitt_false(packet[:-2]))
    return cobs.cobs.encode(bytes(packet))


def test_serial_semantic_errors_have_their_kind():
    good = bytearray(cobs.cobs.decode(serial_codec.encode(Ping(1, 2), 0)[:-1]))
    wrong_len = bytearray(good)
    wrong_len[5] += 1  # data length field one too many
    assert serial_codec.decode(_resealed(wrong_len)).kind == "length"
    wrong_apid = bytearray(good)
    wrong_apid[1] = 0x55
    assert serial_codec.decode(_resealed(wrong_apid)).kind == "id"
    wrong_type = bytearray(good)
    wrong_type[0] &= ~0x10  # a Ping sent as telemetry
    assert serial_codec.decode(_resealed(wrong_type)).kind == "header"
    nan = bytearray(cobs.cobs.decode(serial_codec.encode(AccelCommand(1, (0.0, 0.0, 0.0)), 0)[:-1]))
    nan[14:18] = struct.pack(">f", math.nan)
    assert serial_codec.decode(_resealed(nan)).kind == "value"
    bad_n = bytearray(cobs.cobs.decode(serial_codec.encode(ThrusterCommand(1, (0.0,)), 0)[:-1]))
    bad_n[14] = 17  # more thrusters than the wire allows
    assert serial_codec.decode(_resealed(bad_n)).kind == "length"


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_can_every_single_bit_flip_and_short_frame_is_caught(msg):
    for frame in can_codec.encode(msg, 5, N):
        for bit in range(64):
            data = bytearray(frame.data)
            data[bit // 8] ^= 1 << (bit % 8)
            bad = can.Message(arbitration_id=frame.arbitration_id, data=data, is_extended_id=False)
            assert can_codec.decode_frame(bad) == DecodeError("crc", can_codec._BY_ID[frame.arbitration_id].name)
        for n in range(8):
            short = can.Message(arbitration_id=frame.arbitration_id, data=frame.data[:n], is_extended_id=False)
            assert can_codec.decode_frame(short).kind == "length"


def test_can_frame_errors_have_their_kind():
    (frame,) = can_codec.encode(Ping(0, 1), 0, N)
    assert can_codec.decode_frame(can.Message(arbitration_id=0x123, data=frame.data, is_extended_id=False)).kind == "id"
    ext = can.Message(arbitration_id=frame.arbitration_id, data=frame.data, is_extended_id=True)
    assert can_codec.decode_frame(ext).kind == "header"
    (fault,) = can_codec.encode(FaultCommand(0, 1, 0, 1, 0.0), 0, N)
    data = bytearray(fault.data)
    data[1] |= 0xF0  # FAULT_KIND 15 is no FaultKind
    data[0] = can_codec.e2e_crc(fault.arbitration_id, data)
    assert can_codec.decode_frame(can.Message(arbitration_id=fault.arbitration_id, data=data,
                                              is_extended_id=False)).kind == "value"


def test_can_assembler_abandons_a_message_missing_a_part():
    first = can_codec.encode(ImuSample(1000, (0.0,) * 3, (0.0,) * 3, 1), 3, N)
    second = can_codec.encode(ImuSample(2000, (1e-7,) * 3, (0.0,) * 3, 1), 4, N)
    out = can_decode_all(first[:2] + second)
    assert [type(r) for r in out] == [DecodeError, ImuSample]
    assert out[0].kind == "incomplete" and out[1].t_ns == 2000
    (stray,) = can_codec.encode(ThrusterCommand(0, (0.0,) * 16), 0, 16)[3:]  # group 3 on a 12-thruster rig
    assert can_decode_all([stray])[0].kind == "value"
