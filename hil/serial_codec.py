"""Serial codec: hil.messages <-> COBS-delimited CCSDS Space Packets with a CRC-16/CCITT-FALSE trailer.

Wire frame = COBS(packet) + 0x00, packet = primary header (6 B, CCSDS 133.0-B) + secondary header
(8 B: time tag, uint64 ns) + payload (big-endian) + CRC-16/CCITT-FALSE (2 B, over all before it).
Packet type TC toward the rig, TM from it; one APID per message; 14-bit sequence count per APID.
Pure functions: no state, no clock. Layouts are in docs/ICD.md.
"""

import math
import struct

import cobs.cobs
from fastcrc import crc16
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacket, SpacePacketHeader

from hil.messages import (MAX_THRUSTERS, ON_TIME_LSB_S, AccelCommand, Decoded, DecodeError, FaultCommand,
                          FaultKind, Heartbeat, ImuSample, Message, Ping, Pong, RigStatus, Source,
                          ThrusterCommand, to_rig)

HEADER_LEN = 6
TIME_LEN = 8
CRC_LEN = 2
MIN_PACKET = HEADER_LEN + TIME_LEN + CRC_LEN
MAX_PACKET = MIN_PACKET + 7 + 2 * MAX_THRUSTERS  # the longest payload: RigStatus of 16 thrusters
MAX_WIRE = MAX_PACKET + MAX_PACKET // 254 + 1 + 1  # + COBS overhead + delimiter
SEQ_MODULUS = 1 << 14

APID = {Heartbeat: 0x001, Ping: 0x002, Pong: 0x003, ThrusterCommand: 0x010, AccelCommand: 0x011,
        RigStatus: 0x020, ImuSample: 0x030, FaultCommand: 0x7E0}
_TYPE_OF_APID = {v: k for k, v in APID.items()}
_F3 = struct.Struct(">3f")
_SOURCES = frozenset(int(s) for s in Source)
_FAULT_KINDS = frozenset(int(k) for k in FaultKind)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout); check value 0x29B1."""
    return crc16.ibm_3740(bytes(data))


def _on_times(values) -> bytes:
    return bytes([len(values)]) + struct.pack(f">{len(values)}H", *(round(t / ON_TIME_LSB_S) for t in values))


def _payload(msg: Message) -> bytes:
    if isinstance(msg, ThrusterCommand):
        return _on_times(msg.on_time_s)
    if isinstance(msg, AccelCommand):
        return _F3.pack(*msg.accel_B)
    if isinstance(msg, ImuSample):
        return bytes([msg.flags]) + _F3.pack(*msg.dv_B) + _F3.pack(*msg.dtheta_B)
    if isinstance(msg, Heartbeat):
        return bytes([msg.source, msg.state])
    if isinstance(msg, RigStatus):
        return struct.pack(">BBHH", msg.state, msg.cmd_seq, msg.faults, msg.valves_open) + _on_times(msg.on_time_s)
    if isinstance(msg, (Ping, Pong)):
        return struct.pack(">H", msg.ping_id)
    if isinstance(msg, FaultCommand):
        return struct.pack(">BBHf", msg.kind, msg.target, msg.count, msg.value_s)
    raise TypeError(f"not a rig-link message: {msg!r}")


def encode(msg: Message, seq: int) -> bytes:
    """The wire frame (COBS-encoded packet + 0x00 delimiter) of msg with sequence count seq (0..16383)."""
    payload = _payload(msg)
    header = SpacePacketHeader(packet_type=PacketType.TC if to_rig(msg) else PacketType.TM, apid=APID[type(msg)],
                               seq_count=seq % SEQ_MODULUS, data_len=0, sec_header_flag=True,
                               seq_flags=SequenceFlags.UNSEGMENTED)
    header.set_data_len_from_packet_len(MIN_PACKET + len(payload))
    packet = SpacePacket(header, struct.pack(">Q", msg.t_ns), payload + bytes(CRC_LEN)).pack()
    packet[-CRC_LEN:] = struct.pack(">H", crc16_ccitt_false(packet[:-CRC_LEN]))
    return cobs.cobs.encode(bytes(packet)) + b"\x00"


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _read_on_times(body: bytes) -> tuple[float, ...] | None:
    n = body[0] if body else -1
    if not 0 <= n <= MAX_THRUSTERS or len(body) != 1 + 2 * n:
        return None
    return tuple(k * ON_TIME_LSB_S for k in struct.unpack(f">{n}H", body[1:]))


def _message(kind: type, t_ns: int, p: bytes) -> Message | DecodeError:
    if kind is ThrusterCommand:
        on = _read_on_times(p)
        return DecodeError("length", "thruster on-times") if on is None else ThrusterCommand(t_ns, on)
    if kind is RigStatus:
        on = _read_on_times(p[6:]) if len(p) >= 7 else None
        if on is None:
            return DecodeError("length", "rig status")
        state, cmd_seq, faults, valves = struct.unpack(">BBHH", p[:6])
        if state > 1 or cmd_seq > 15:
            return DecodeError("value", f"rig state {state}, cmd_seq {cmd_seq}")
        return RigStatus(t_ns, state, faults, cmd_seq, valves, on)
    size = {AccelCommand: 12, ImuSample: 25, Heartbeat: 2, Ping: 2, Pong: 2, FaultCommand: 8}[kind]
    if len(p) != size:
        return DecodeError("length", f"{kind.__name__} payload {len(p)} B, expected {size}")
    if kind is AccelCommand:
        a = _F3.unpack(p)
        return AccelCommand(t_ns, a) if _finite(*a) else DecodeError("value", "acceleration not finite")
    if kind is ImuSample:
        dv, dth = _F3.unpack(p[1:13]), _F3.unpack(p[13:])
        return ImuSample(t_ns, dv, dth, p[0]) if _finite(*dv, *dth) else DecodeError("value", "IMU not finite")
    if kind is Heartbeat:
        return Heartbeat(t_ns, p[0], p[1]) if p[0] in _SOURCES else DecodeError("value", f"source {p[0]}")
    if kind in (Ping, Pong):
        return kind(t_ns, struct.unpack(">H", p)[0])
    fk, target, count, value = struct.unpack(">BBHf", p)
    if fk not in _FAULT_KINDS or not (_finite(value) and value >= 0):
        return DecodeError("value", f"fault kind {fk}, value {value}")
    return FaultCommand(t_ns, fk, target, count, value)


def decode(frame: bytes) -> Decoded | DecodeError:
    """Decode one wire frame (the bytes between two 0x00 delimiters). Never raises."""
    try:
        packet = cobs.cobs.decode(frame)
    except cobs.cobs.DecodeError as exc:
        return DecodeError("cobs", str(exc))
    if not MIN_PACKET <= len(packet) <= MAX_PACKET:
        return DecodeError("length", f"packet of {len(packet)} B")
    if crc16_ccitt_false(packet[:-CRC_LEN]) != struct.unpack(">H", packet[-CRC_LEN:])[0]:
        return DecodeError("crc")
    h = SpacePacketHeader.unpack(packet)
    if h.ccsds_version != 0 or not h.sec_header_flag or h.seq_flags != SequenceFlags.UNSEGMENTED:
        return DecodeError("header", repr(h))
    if h.packet_len != len(packet):
        return DecodeError("length", f"length field says {h.packet_len} B, packet has {len(packet)}")
    kind = _TYPE_OF_APID.get(h.apid)
    if kind is None:
        return DecodeError("id", f"APID {h.apid:#x}")
    t_ns = struct.unpack(">Q", packet[HEADER_LEN:HEADER_LEN + TIME_LEN])[0]
    msg = _message(kind, t_ns, packet[HEADER_LEN + TIME_LEN:-CRC_LEN])
    if isinstance(msg, DecodeError):
        return msg
    if (h.packet_type == PacketType.TC) != to_rig(msg):
        return DecodeError("header", f"packet type {h.packet_type.name} for {kind.__name__}")
    return Decoded(msg, h.apid, h.seq_count)


class Deframer:
    """Splits a byte stream into wire frames at 0x00 delimiters; drops overlong runs (counted in ``overruns``)."""

    def __init__(self):
        self._buf = bytearray()
        self._discarding = False
        self.overruns = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by data (delimiters stripped, empty frames skipped)."""
        out = []
        parts = bytes(data).split(b"\x00")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if not self._discarding:
                self._buf += part
                if len(self._buf) > MAX_WIRE:
                    self.overruns += 1
                    self._buf.clear()
                    self._discarding = True
            if last:
                break
            if self._buf and not self._discarding:
                out.append(bytes(self._buf))
            self._buf.clear()
            self._discarding = False
        return out
