"""Messages on the rig link (flight computer <-> thruster/IMU rig), independent of the wire.

Each is a small frozen dataclass; both codecs (``hil.serial_codec``, ``hil.can_codec``) map them to
and from bytes. ``t_ns`` is the sender's time tag (ns) where the wire carries one; see docs/ICD.md
for the time base, ranges and resolution on each wire.
"""

from dataclasses import dataclass
from enum import IntEnum, IntFlag

import numpy as np

MAX_THRUSTERS = 16
ON_TIME_LSB_S = 1e-4  # thruster on-time quantum on both wires (s)
_AXES_B = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float)


def thruster_directions_B(n_thrusters: int) -> np.ndarray:
    """(n, 3) unit force directions, body axes: thruster i pushes along (i // 2) mod 6 of +x, -x, +y, -y,
    +z, -z (two per direction for 12 thrusters; docs/ICD.md section 7)."""
    return _AXES_B[[(i // 2) % 6 for i in range(n_thrusters)]]


class Source(IntEnum):
    """Who sent a Heartbeat."""

    FLIGHT = 0
    RIG = 1


class RigState(IntEnum):
    SAFE = 0  # all valves closed, waiting for a valid command
    ACTIVE = 1  # executing commands


class RigFault(IntFlag):
    WATCHDOG = 1  # no valid command within the watchdog timeout: valves forced closed
    CMD_INVALID = 2  # last command rejected (wrong thruster count, on-time out of range)
    RX_ERRORS = 4  # the rig saw CRC/decode errors or sequence gaps since the previous status
    BUS_OFF = 8  # the rig's CAN controller went bus-off (and recovered) since the last valid command


class ImuFlag(IntFlag):
    VALID = 1
    SATURATED = 2
    SELFTEST_FAIL = 4


class FaultKind(IntEnum):
    """Fault the rig emulator injects on a FaultCommand (test equipment only; see docs/ICD.md)."""

    CLEAR = 0
    DROP = 1
    CORRUPT = 2
    TRUNCATE = 3
    DELAY = 4
    DUPLICATE = 5
    STUCK_IMU = 6
    THRUSTER_STUCK_ON = 7
    THRUSTER_STUCK_OFF = 8
    DISCONNECT = 9
    BUS_OFF = 10


@dataclass(frozen=True)
class ThrusterCommand:
    """Valve on-times for one command period, starting when the rig receives the command.

    t_ns: sender time tag (ns). on_time_s: per thruster, s, multiples of ON_TIME_LSB_S (0 = closed).
    """

    t_ns: int
    on_time_s: tuple[float, ...]


@dataclass(frozen=True)
class AccelCommand:
    """Acceleration the rig is to produce, held until the next command (rigs that allocate themselves).

    t_ns: sender time tag (ns). accel_B: m/s^2, chaser body axes.
    """

    t_ns: int
    accel_B: tuple[float, float, float]


@dataclass(frozen=True)
class ImuSample:
    """One IMU integration interval, ending at t_ns.

    t_ns: rig time tag of the interval end (ns). dv_B: delta-velocity, m/s, body axes.
    dtheta_B: delta-angle, rad, body axes. flags: ImuFlag bits.
    """

    t_ns: int
    dv_B: tuple[float, float, float]
    dtheta_B: tuple[float, float, float]
    flags: int


@dataclass(frozen=True)
class Heartbeat:
    """Liveness, sent by both ends at 10 Hz. source: Source. state: sender's state (RigState for the rig)."""

    t_ns: int
    source: int
    state: int


@dataclass(frozen=True)
class RigStatus:
    """What the rig did, sent in answer to each command and at 10 Hz.

    t_ns: rig time tag (ns). state: RigState. faults: RigFault bits. cmd_seq: sequence count of
    the last command applied, modulo 16. valves_open: bit i set while thruster i's valve is open
    (at t_ns). on_time_s: per thruster, valve-open time measured since the previous RigStatus (s).
    """

    t_ns: int
    state: int
    faults: int
    cmd_seq: int
    valves_open: int
    on_time_s: tuple[float, ...]


@dataclass(frozen=True)
class Ping:
    """Link self-test request; the rig answers with a Pong carrying the same ping_id (0..65535)."""

    t_ns: int
    ping_id: int


@dataclass(frozen=True)
class Pong:
    """Answer to Ping. t_ns: rig time tag (ns)."""

    t_ns: int
    ping_id: int


@dataclass(frozen=True)
class FaultCommand:
    """Tells the rig emulator to inject a fault (test equipment only; a real rig ignores it).

    kind: FaultKind. target: 0 = frames the rig sends, 1 = frames it receives (frame faults), or the
    thruster index (stuck thruster). count: frames affected (frame faults). value_s: duration (s) of
    a stuck IMU, stuck thruster or disconnect (0 = until CLEAR), or the added latency of DELAY.
    """

    t_ns: int
    kind: int
    target: int
    count: int
    value_s: float


Message = ThrusterCommand | AccelCommand | ImuSample | Heartbeat | RigStatus | Ping | Pong | FaultCommand

TO_RIG = (ThrusterCommand, AccelCommand, Ping, FaultCommand)  # plus Heartbeat from Source.FLIGHT


def to_rig(msg: Message) -> bool:
    """True if msg travels from the flight computer to the rig."""
    return isinstance(msg, TO_RIG) or (isinstance(msg, Heartbeat) and msg.source == Source.FLIGHT)


@dataclass(frozen=True)
class Decoded:
    """A frame decoded: msg, and the sequence key (APID or CAN part) and count it carried."""

    msg: Message
    key: object
    seq: int


@dataclass(frozen=True)
class DecodeError:
    """A frame that did not decode. kind: "crc" (checksum), "cobs", "length", "header", "id"
    (unknown APID or CAN id), "value" (field out of range or not finite). Decoders return it,
    never raise; links count it."""

    kind: str
    detail: str = ""
