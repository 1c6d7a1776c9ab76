"""Raw frames of a link, both ways, recorded for replay.

CAN: python-can's own log formats through ``can.Logger`` (the file suffix picks it: .asc, .blf, .log,
.csv, ...), tx frames marked ``is_rx = False``, times on the flight clock (s). Serial: a raw log of
wire frames, one record per frame: t_ns (u64, flight clock), direction (u8: 0 sent, 1 received),
length (u16), the frame's bytes with its 0x00 delimiter; big-endian. ``replay`` decodes either back
into messages.
"""

import copy
import struct
from pathlib import Path

import can

from hil import can_codec, serial_codec
from hil.link import CanLink, Link
from hil.messages import DecodeError

_REC = struct.Struct(">QBH")
TX, RX = 0, 1


class FrameRecorder:
    """Installs itself as the tx_filter and rx_filter of a flight-side link (passing every frame on)."""

    def __init__(self, link: Link, path: str | Path):
        self.path, self.is_can = Path(path), isinstance(link, CanLink)
        self.frames = 0
        if self.is_can:
            self._log = can.Logger(str(self.path))
        else:
            self._file = open(self.path, "wb")
        link.tx_filter = lambda frames, now: self._record(frames, now, TX)
        link.rx_filter = lambda frames, now: self._record(frames, now, RX)

    def _record(self, frames: list, now_ns: int, direction: int) -> list:
        for f in frames:
            if self.is_can:
                m = copy.copy(f)
                m.timestamp, m.is_rx = now_ns / 1e9, direction == RX
                self._log.on_message_received(m)
            else:
                raw = f if direction == TX else f + b"\x00"
                self._file.write(_REC.pack(now_ns, direction, len(raw)) + raw)
        self.frames += len(frames)
        return frames

    def close(self) -> None:
        if self.is_can:
            self._log.stop()
        else:
            self._file.close()


def read_serial_log(path: str | Path) -> list[tuple[int, int, bytes]]:
    """(t_ns, direction, wire frame) of every record in a serial raw log."""
    data, out, i = Path(path).read_bytes(), [], 0
    while i + _REC.size <= len(data):
        t_ns, direction, n = _REC.unpack_from(data, i)
        i += _REC.size
        out.append((t_ns, direction, data[i:i + n]))
        i += n
    return out


def replay(path: str | Path, n_thrusters: int = 12) -> list[tuple[float, int, object]]:
    """(t_s, direction, message or DecodeError) of every frame of a log, in order. CAN parts are joined
    per direction as a receiver would (a message completes at its last part)."""
    path = Path(path)
    out = []
    if path.suffix == ".bin":
        for t_ns, direction, frame in read_serial_log(path):
            d = serial_codec.decode(frame.rstrip(b"\x00"))
            out.append((t_ns / 1e9, direction, d if isinstance(d, DecodeError) else d.msg))
        return out
    assemblers = {TX: can_codec.Assembler(n_thrusters), RX: can_codec.Assembler(n_thrusters)}
    for m in can.LogReader(str(path)):
        direction = RX if m.is_rx else TX
        part = can_codec.decode_frame(m)
        t_ns = round(m.timestamp * 1e9)
        results = [part] if isinstance(part, DecodeError) else assemblers[direction].push(part, t_ns)
        out += [(m.timestamp, direction, r) for r in results]
    return out
