"""CAN codec: hil.messages <-> classic CAN frames declared in hil/rig.dbc, coded with cantools.

Every frame has an 11-bit identifier and DLC 8. Byte 0 is an end-to-end CRC (CRC-8/SAE-J1850 over
the identifier, 2 bytes big-endian, and bytes 1..7) and bits 8..11 a 4-bit counter. Messages wider
than one frame (thruster command, rig status, IMU sample) are sent as several parts sharing the
counter; ``Assembler`` joins them. ``encode`` and ``decode_frame`` are pure; layouts in docs/ICD.md.
"""

from dataclasses import dataclass
from pathlib import Path

import can
import cantools
from fastcrc import crc8

from hil.messages import (ON_TIME_LSB_S, AccelCommand, DecodeError, FaultCommand, FaultKind, Heartbeat,
                          ImuSample, Message, Ping, Pong, RigState, RigStatus, Source, ThrusterCommand)

DBC_PATH = Path(__file__).with_name("rig.dbc")
DB = cantools.database.load_file(DBC_PATH)
COUNTER_MODULUS = 16
PER_GROUP = 4  # thrusters per THR_CMD / RIG_THR frame
_BY_ID = {m.frame_id: m for m in DB.messages}
_FAULT_KINDS = frozenset(int(k) for k in FaultKind)
_RIG_STATES = frozenset(int(s) for s in RigState)


def crc8_sae_j1850(data: bytes) -> int:
    """CRC-8/SAE-J1850 (poly 0x1D, init 0xFF, xorout 0xFF); check value 0x4B."""
    return crc8.sae_j1850(bytes(data))


def e2e_crc(frame_id: int, data: bytes) -> int:
    """The E2E_CRC byte of a frame with identifier frame_id and 8 data bytes."""
    return crc8_sae_j1850(frame_id.to_bytes(2, "big") + bytes(data[1:8]))


def n_groups(n_thrusters: int) -> int:
    return -(-n_thrusters // PER_GROUP)


@dataclass(frozen=True)
class Part:
    """One decoded frame. name: DBC message name; group: THR_GROUP of multiplexed frames, else None;
    counter: E2E_COUNTER (0..15); signals: physical values as cantools gives them."""

    name: str
    group: int | None
    counter: int
    signals: dict

    @property
    def key(self) -> tuple[str, int | None]:
        """Sequence key: one counter stream per identifier and group."""
        return self.name, self.group


def _frame(name: str, counter: int, signals: dict) -> can.Message:
    m = DB.get_message_by_name(name)
    data = bytearray(m.encode({"E2E_CRC": 0, "E2E_COUNTER": counter % COUNTER_MODULUS, **signals}))
    data[0] = e2e_crc(m.frame_id, data)
    return can.Message(arbitration_id=m.frame_id, is_extended_id=False, data=data)


def _groups(name: str, prefix: str, counter: int, times: tuple[float, ...], n_thrusters: int) -> list[can.Message]:
    if len(times) != n_thrusters:
        raise ValueError(f"{len(times)} on-times for a {n_thrusters}-thruster rig")
    padded = tuple(times) + (0.0,) * (n_groups(n_thrusters) * PER_GROUP - n_thrusters)
    return [_frame(name, counter, {"THR_GROUP": g, **{f"{prefix}_{i}": padded[i]
                                                       for i in range(g * PER_GROUP, (g + 1) * PER_GROUP)}})
            for g in range(n_groups(n_thrusters))]


def encode(msg: Message, counter: int, n_thrusters: int) -> list[can.Message]:
    """The frames of msg, all carrying E2E_COUNTER = counter mod 16. t_ns goes on the wire only for
    ImuSample (as whole microseconds); on-times must be multiples of 1e-4 s up to 0.4095 s."""
    if isinstance(msg, ThrusterCommand):
        return _groups("THR_CMD", "ON_TIME", counter, msg.on_time_s, n_thrusters)
    if isinstance(msg, RigStatus):
        head = _frame("RIG_STATUS", counter, {"RIG_STATE": msg.state, "CMD_SEQ": msg.cmd_seq, "FAULTS": msg.faults,
                                              "VALVES_OPEN": msg.valves_open})
        return [head] + _groups("RIG_THR", "OPEN_TIME", counter, msg.on_time_s, n_thrusters)
    if isinstance(msg, ImuSample):
        return [_frame("IMU_DV", counter, {"IMU_FLAGS": msg.flags, **dict(zip(("DV_X", "DV_Y", "DV_Z"), msg.dv_B))}),
                _frame("IMU_DTH", counter, dict(zip(("DTH_X", "DTH_Y", "DTH_Z"), msg.dtheta_B))),
                _frame("IMU_TIME", counter, {"TIME_US": msg.t_ns // 1000})]
    if isinstance(msg, AccelCommand):
        return [_frame("ACCEL_CMD", counter, dict(zip(("ACCEL_X", "ACCEL_Y", "ACCEL_Z"), msg.accel_B)))]
    if isinstance(msg, Heartbeat):
        name = "HEARTBEAT_FLIGHT" if msg.source == Source.FLIGHT else "HEARTBEAT_RIG"
        return [_frame(name, counter, {"STATE": msg.state})]
    if isinstance(msg, (Ping, Pong)):
        return [_frame(type(msg).__name__.upper(), counter, {"PING_ID": msg.ping_id})]
    if isinstance(msg, FaultCommand):
        return [_frame("FAULT_CMD", counter, {"FAULT_KIND": msg.kind, "FAULT_TARGET": msg.target,
                                              "FAULT_COUNT": msg.count, "FAULT_VALUE": msg.value_s})]
    raise TypeError(f"not a rig-link message: {msg!r}")


def decode_frame(frame: can.Message) -> Part | DecodeError:
    """Check and decode one received frame. Never raises."""
    if frame.is_extended_id or frame.is_remote_frame or frame.is_error_frame or frame.is_fd:
        return DecodeError("header", "extended, remote, error or FD frame")
    spec = _BY_ID.get(frame.arbitration_id)
    if spec is None:
        return DecodeError("id", f"identifier {frame.arbitration_id:#x}")
    data = bytes(frame.data)
    if len(data) != 8:
        return DecodeError("length", f"{spec.name} with {len(data)} data bytes")
    if data[0] != e2e_crc(spec.frame_id, data):
        return DecodeError("crc", spec.name)
    try:
        sig = spec.decode(data, decode_choices=False)
    except (cantools.database.DecodeError, ValueError, KeyError) as exc:
        return DecodeError("value", f"{spec.name}: {exc}")
    if spec.name == "FAULT_CMD" and sig["FAULT_KIND"] not in _FAULT_KINDS:
        return DecodeError("value", f"fault kind {sig['FAULT_KIND']}")
    if spec.name == "RIG_STATUS" and sig["RIG_STATE"] not in _RIG_STATES:
        return DecodeError("value", f"rig state {sig['RIG_STATE']}")
    return Part(spec.name, sig.get("THR_GROUP"), sig["E2E_COUNTER"], sig)


def _parts_of(name: str, n_thrusters: int) -> tuple[str, frozenset]:
    """(logical message, the part keys that complete it) for a frame name."""
    groups = range(n_groups(n_thrusters))
    if name == "THR_CMD":
        return "THR_CMD", frozenset(("THR_CMD", g) for g in groups)
    if name in ("RIG_STATUS", "RIG_THR"):
        return "RIG_STATUS", frozenset([("RIG_STATUS", None)] + [("RIG_THR", g) for g in groups])
    if name.startswith("IMU_"):
        return "IMU", frozenset({("IMU_DV", None), ("IMU_DTH", None), ("IMU_TIME", None)})
    return name, frozenset({(name, None)})


def _times(parts: dict, name: str, prefix: str, n_thrusters: int) -> tuple[float, ...]:
    sig = {}
    for g in range(n_groups(n_thrusters)):
        sig.update(parts[(name, g)].signals)
    return tuple(round(sig[f"{prefix}_{i}"] / ON_TIME_LSB_S) * ON_TIME_LSB_S for i in range(n_thrusters))


def _message(logical: str, parts: dict, t_rx_ns: int, n_thrusters: int) -> Message:
    one = next(iter(parts.values())).signals
    if logical == "THR_CMD":
        return ThrusterCommand(t_rx_ns, _times(parts, "THR_CMD", "ON_TIME", n_thrusters))
    if logical == "RIG_STATUS":
        s = parts[("RIG_STATUS", None)].signals
        return RigStatus(t_rx_ns, s["RIG_STATE"], s["FAULTS"], s["CMD_SEQ"], s["VALVES_OPEN"],
                         _times(parts, "RIG_THR", "OPEN_TIME", n_thrusters))
    if logical == "IMU":
        dv, dth = parts[("IMU_DV", None)].signals, parts[("IMU_DTH", None)].signals
        return ImuSample(parts[("IMU_TIME", None)].signals["TIME_US"] * 1000,
                         (dv["DV_X"], dv["DV_Y"], dv["DV_Z"]), (dth["DTH_X"], dth["DTH_Y"], dth["DTH_Z"]),
                         dv["IMU_FLAGS"])
    if logical == "ACCEL_CMD":
        return AccelCommand(t_rx_ns, (one["ACCEL_X"], one["ACCEL_Y"], one["ACCEL_Z"]))
    if logical.startswith("HEARTBEAT"):
        return Heartbeat(t_rx_ns, Source.FLIGHT if logical == "HEARTBEAT_FLIGHT" else Source.RIG, one["STATE"])
    if logical in ("PING", "PONG"):
        return (Ping if logical == "PING" else Pong)(t_rx_ns, one["PING_ID"])
    return FaultCommand(t_rx_ns, one["FAULT_KIND"], one["FAULT_TARGET"], one["FAULT_COUNT"], one["FAULT_VALUE"])


class Assembler:
    """Joins decoded parts into messages. Messages without a time tag on the wire take t_rx_ns.

    A part whose counter differs from the parts collected so far for its message abandons them
    (returned as a DecodeError of kind "incomplete"); a part of a group the rig does not have is
    a "value" error.
    """

    def __init__(self, n_thrusters: int):
        self.n_thrusters = n_thrusters
        self._pending: dict[str, tuple[int, dict]] = {}

    def push(self, part: Part, t_rx_ns: int) -> list[Message | DecodeError]:
        logical, needed = _parts_of(part.name, self.n_thrusters)
        if part.key not in needed:
            return [DecodeError("value", f"{part.name} group {part.group} on a {self.n_thrusters}-thruster rig")]
        out: list[Message | DecodeError] = []
        counter, parts = self._pending.get(logical, (part.counter, {}))
        if counter != part.counter and parts:
            out.append(DecodeError("incomplete", f"{logical} counter {counter}: {len(parts)} of {len(needed)} parts"))
            parts = {}
        parts[part.key] = part
        if parts.keys() == needed:
            self._pending.pop(logical, None)
            out.append(_message(logical, parts, t_rx_ns, self.n_thrusters))
        else:
            self._pending[logical] = (part.counter, parts)
        return out
