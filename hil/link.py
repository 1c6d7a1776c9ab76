"""Links: a transport (pyserial byte stream or python-can bus) with its codec, sequence checks and counters.

``SerialLink`` opens anything ``serial.serial_for_url`` does (a device path, a pty, ``socket://``,
``loop://``); ``CanLink`` any python-can interface by name and channel. The special endpoint
``pty`` (``--serial pty``, ``--can slcan:pty``) creates a pseudo-terminal pair, serves on its master
and exposes the other end's path as ``pty_path``: what the rig emulator offers a flight computer.
Both links drop duplicates, count sequence gaps and errors, and deliver only the messages addressed
to their role (the rig receives commands, the flight computer telemetry). ``start_reader`` moves the
receiving side into a thread (what a real-time loop wants: see there).
"""

import ctypes
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import can
import serial

from hil import can_codec, serial_codec
from hil.messages import DecodeError, Heartbeat, Message, to_rig
from hil.realtime import helper_thread

ROLES = ("flight", "rig")
WRITE_TIMEOUT_S = 0.02  # a write that cannot go out within this is dropped and counted (tx_errors)
WRITE_RETRY_S = 0.0005  # pause between attempts at a full device (s)
EMPTY_READ_PAUSE_S = 0.001  # pause after a read that found nothing although select said ready (s)
MAX_DRAIN = 256  # CAN frames read per poll before giving the caller control back
READER_WAIT_S = 0.05  # the reader thread's longest wait for a frame (how soon it notices stop_reader)

FrameFilter = Callable[[list, int], list]  # (frames, now_ns) -> frames to pass now


@dataclass
class LinkCounters:
    """What a link saw. frames_*: wire frames (serial packets or CAN frames); seq_gaps: discontinuities
    of a sequence count; incomplete: multi-frame CAN messages abandoned; timeouts: requests unanswered;
    ignored: well-formed frames addressed to the other end (a shared bus echoing our own frames)."""

    frames_tx: int = 0
    frames_rx: int = 0
    crc_errors: int = 0
    decode_errors: int = 0
    seq_gaps: int = 0
    duplicates: int = 0
    incomplete: int = 0
    timeouts: int = 0
    tx_errors: int = 0
    ignored: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _open_pty_master(fd: int) -> tuple[str, int]:
    """Unlock the pty whose master is fd; return the slave path and an fd holding the slave open
    (so the master never sees a hang-up while flight computers come and go)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptsname.restype = ctypes.c_char_p
    if libc.grantpt(fd) != 0 or libc.unlockpt(fd) != 0:
        raise OSError(ctypes.get_errno(), "cannot unlock the pseudo-terminal")
    path = libc.ptsname(fd).decode()
    return path, os.open(path, os.O_RDWR | os.O_NOCTTY)


class Link:
    """Send messages, poll for received ones. Subclasses supply _encode, _write, _read and _decode."""

    modulus: int

    def __init__(self, role: str, clock_ns: Callable[[], int] = time.monotonic_ns):
        if role not in ROLES:
            raise ValueError(f"role {role!r}: must be one of {ROLES}")
        self.role, self.clock_ns = role, clock_ns
        self.counters = LinkCounters()
        self.tx_filter: FrameFilter | None = None
        self.rx_filter: FrameFilter | None = None
        self.pty_path: str | None = None
        self._pty_hold: int | None = None
        self._tx_seq: dict = {}
        self._rx_seq: dict = {}
        self.last_tx_seq: dict[type, int] = {}  # per message type: sequence count of the last one sent
        self.last_rx_seq: dict[type, int] = {}  # ... and of the last one received
        self._rxq: queue.SimpleQueue | None = None
        self._reader: threading.Thread | None = None
        self._rx_errors = self._rx_errors_seen = 0  # garbled input: counted by _read, added to counters by poll

    def _next_seq(self, key) -> int:
        seq = self._tx_seq.get(key, 0)
        self._tx_seq[key] = (seq + 1) % self.modulus
        return seq

    def _accept(self, key, seq: int) -> bool:
        """Sequence check of one received count: False for a duplicate; a jump counts one gap."""
        last = self._rx_seq.get(key)
        if last is not None:
            delta = (seq - last) % self.modulus
            if delta == 0:
                self.counters.duplicates += 1
                return False
            if delta != 1:
                self.counters.seq_gaps += 1
        self._rx_seq[key] = seq
        return True

    def _count(self, results: list) -> list[Message]:
        """Count errors and messages for the other end; return the messages for this role."""
        out = []
        for r in results:
            if isinstance(r, DecodeError):
                if r.kind == "crc":
                    self.counters.crc_errors += 1
                elif r.kind == "incomplete":
                    self.counters.incomplete += 1
                else:
                    self.counters.decode_errors += 1
            elif to_rig(r) == (self.role == "rig"):
                out.append(r)
            else:
                self.counters.ignored += 1
        return out

    def send(self, msg: Message) -> None:
        frames = self._encode(msg)
        if self.tx_filter is not None:
            frames = self.tx_filter(frames, self.clock_ns())
        self._write(frames)

    def start_reader(self) -> None:
        """From now on a thread (on the CPUs off a pinned loop's: hil.realtime) reads the device and poll takes
        its frames, stamped with their arrival time: the caller then never blocks in the device's kernel
        locks. A pty's (and a USB serial adapter's) received bytes reach its line discipline through an
        ordinary kernel worker, and the tty's poll, read and TIOCINQ wait for that worker: on a busy
        machine tens of ms, even for a SCHED_FIFO caller. The link's sending side stays with the caller."""
        self._rxq = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read_loop, name="link-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        helper_thread()
        try:
            while self._reader is not None:
                if raws := self._read(READER_WAIT_S):
                    self._rxq.put((self.clock_ns(), raws))
        except Exception as exc:  # a dead device: raised in poll, as without the thread
            self._rxq.put((self.clock_ns(), exc))

    def stop_reader(self) -> None:
        """Back to reading in poll (frames the thread read and poll did not take yet are kept)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.join()

    def _receive(self, timeout_s: float) -> tuple[int, list]:
        """(arrival time ns, raw frames) of what came within timeout_s (s), from the device or the reader."""
        if self._rxq is not None:
            try:
                t_ns, raws = self._rxq.get(timeout=timeout_s) if timeout_s > 0 else self._rxq.get_nowait()
            except queue.Empty:
                if self._reader is not None:
                    return self.clock_ns(), []
                self._rxq = None
            else:
                if isinstance(raws, Exception):
                    self._reader = None
                    raise raws
                return t_ns, raws
        return self.clock_ns(), self._read(timeout_s)

    def poll(self, timeout_s: float) -> list[Message]:
        """Messages received within timeout_s (s), returned as soon as at least one has arrived."""
        deadline = self.clock_ns() + round(timeout_s * 1e9)
        out: list[Message] = []
        while True:
            now, raws = self._receive(0.0 if out else max(0.0, (deadline - self.clock_ns()) / 1e9))
            self.counters.frames_rx += len(raws)
            errors = self._rx_errors  # the reader thread's count, if any: the counters are only written here
            self.counters.decode_errors += errors - self._rx_errors_seen
            self._rx_errors_seen = errors
            if self.rx_filter is not None:
                raws = self.rx_filter(raws, now)
            for raw in raws:
                out += self._count(self._decode(raw, now))
            if self.tx_filter is not None:
                self._write(self.tx_filter([], now))
            if out or self.clock_ns() >= deadline:
                return out

    def request(self, msg: Message, match: Callable[[Message], bool], timeout_s: float
                ) -> tuple[Message | None, list[Message]]:
        """Send msg and wait up to timeout_s (s) for the first received message that match accepts.
        Returns it (None on timeout, counted) and the other messages received meanwhile."""
        self.send(msg)
        deadline = self.clock_ns() + round(timeout_s * 1e9)
        others: list[Message] = []
        while (left := deadline - self.clock_ns()) > 0:
            batch = self.poll(left / 1e9)
            for i, m in enumerate(batch):
                if match(m):
                    return m, others + batch[:i] + batch[i + 1:]
            others += batch
        self.counters.timeouts += 1
        return None, others

    def close(self) -> None:
        self.stop_reader()
        if self._pty_hold is not None:
            os.close(self._pty_hold)
            self._pty_hold = None


class SerialLink(Link):
    """CCSDS/COBS frames (hil.serial_codec) over a pyserial port. url: anything serial_for_url opens, or "pty"."""

    modulus = serial_codec.SEQ_MODULUS

    def __init__(self, url: str, role: str, baudrate: int = 230400, clock_ns: Callable[[], int] = time.monotonic_ns):
        super().__init__(role, clock_ns)
        self.port = serial.serial_for_url("/dev/ptmx" if url == "pty" else url, baudrate=baudrate, timeout=0,
                                          write_timeout=WRITE_TIMEOUT_S)
        self._fd = self.port.fileno() if isinstance(self.port, serial.Serial) else None
        if url == "pty":
            self.pty_path, self._pty_hold = _open_pty_master(self._fd)
        elif self._fd is not None:
            self.port.reset_input_buffer()  # stale bytes from before we opened
        self.deframer = serial_codec.Deframer()

    def _encode(self, msg: Message) -> list[bytes]:
        self.last_tx_seq[type(msg)] = seq = self._next_seq(serial_codec.APID[type(msg)])
        return [serial_codec.encode(msg, seq)]

    def _write(self, frames: list[bytes]) -> None:
        for f in frames:
            try:
                self._write_fd(f) if self._fd is not None else self.port.write(f)
                self.counters.frames_tx += 1
            except serial.SerialException:  # includes SerialTimeoutException: nobody reads the other end
                self.counters.tx_errors += 1

    def _write_fd(self, frame: bytes) -> None:
        """Write a frame to the (non-blocking) device, retrying for at most WRITE_TIMEOUT_S while it is full.
        No select/poll on the tty: a tty's poll waits for the kernel worker of its receive side (start_reader)."""
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        view = memoryview(frame)
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                pass
            except OSError as e:
                raise serial.SerialException(f"write failed: {e}") from None
            if view:
                if time.monotonic() > deadline:
                    raise serial.SerialTimeoutException("Write timeout")
                time.sleep(WRITE_RETRY_S)

    def _read_bytes(self, timeout_s: float) -> bytes:
        if self._fd is not None:  # select, then read what is there (no TIOCINQ: it write-locks the tty's termios)
            if not select.select([self._fd], [], [], timeout_s)[0]:
                return b""
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return b""
            except OSError as e:
                raise serial.SerialException(f"read failed: {e}") from None
            if not data:  # ready yet empty (a raw tty with VMIN = 0 reads 0 bytes when its input went meanwhile);
                time.sleep(EMPTY_READ_PAUSE_S)  # a device that is gone raises (EIO) instead
            return data
        if self.port.timeout != timeout_s:
            self.port.timeout = timeout_s
        data = self.port.read(1)
        return data + self.port.read(self.port.in_waiting) if data else data

    def _read(self, timeout_s: float) -> list[bytes]:
        frames = self.deframer.feed(self._read_bytes(timeout_s))
        self._rx_errors = self.deframer.overruns
        return frames

    def _decode(self, raw: bytes, t_rx_ns: int) -> list:
        d = serial_codec.decode(raw)
        if isinstance(d, DecodeError):
            return [d]
        if not self._accept(d.key, d.seq):
            return []
        self.last_rx_seq[type(d.msg)] = d.seq
        return [d.msg]

    def wire_time_ns(self, frame: bytes) -> int:
        """Time frame takes on the line at the port's baud rate, 8N1 (10 bits a byte), ns."""
        return len(frame) * 10 * 1_000_000_000 // self.port.baudrate

    @staticmethod
    def corrupt_frame(frame: bytes, rng) -> bytes:
        """Flip one bit of a wire frame, never creating or removing a delimiter."""
        b = bytearray(frame)
        body = len(b) - (1 if b.endswith(b"\x00") else 0)
        while True:
            i, bit = int(rng.integers(0, body)), 1 << int(rng.integers(0, 8))
            if b[i] ^ bit:
                b[i] ^= bit
                return bytes(b)

    @staticmethod
    def truncate_frame(frame: bytes, rng) -> bytes:
        """Keep a random non-empty head of the frame (and its delimiter)."""
        tail = b"\x00" if frame.endswith(b"\x00") else b""
        body = frame[:len(frame) - len(tail)]
        return body[:int(rng.integers(1, len(body)))] + tail

    def close(self) -> None:
        self.stop_reader()
        self.port.close()
        super().close()


def parse_can_spec(spec: str) -> tuple[str, str]:
    """"INTERFACE:CHANNEL" -> (interface, channel); the channel may itself contain colons."""
    interface, sep, channel = spec.partition(":")
    if not sep or not interface or not channel:
        raise ValueError(f"--can {spec!r}: expected INTERFACE:CHANNEL, e.g. socketcan:can0 or slcan:/dev/ttyACM0")
    return interface, channel


class CanLink(Link):
    """Frames of hil/rig.dbc (hil.can_codec) over a python-can bus chosen by interface name and channel.

    channel "pty" with interface "slcan" serves slcan on a new pseudo-terminal (see module docstring).
    """

    modulus = can_codec.COUNTER_MODULUS

    def __init__(self, interface: str, channel: str, role: str, n_thrusters: int = 12, bitrate: int = 1_000_000,
                 clock_ns: Callable[[], int] = time.monotonic_ns):
        super().__init__(role, clock_ns)
        kwargs = {"sleep_after_open": 0} if interface == "slcan" else {}
        use_pty = interface == "slcan" and channel == "pty"
        self.bus = can.Bus(interface=interface, channel="/dev/ptmx" if use_pty else channel, bitrate=bitrate,
                           **kwargs)
        if use_pty:
            self.pty_path, self._pty_hold = _open_pty_master(self.bus.serialPortOrig.fileno())
        self.n_thrusters, self.bitrate = n_thrusters, bitrate
        self.assembler = can_codec.Assembler(n_thrusters)
        try:  # where the bus has a file descriptor, drain only what is already there
            self._fd: int | None = self.bus.fileno()
        except NotImplementedError:
            self._fd = None

    def _encode(self, msg: Message) -> list[can.Message]:
        key = (type(msg), msg.source) if isinstance(msg, Heartbeat) else type(msg)
        self.last_tx_seq[type(msg)] = seq = self._next_seq(key)
        return can_codec.encode(msg, seq, self.n_thrusters)

    def _write(self, frames: list[can.Message]) -> None:
        for f in frames:
            try:
                self.bus.send(f, timeout=WRITE_TIMEOUT_S)
                self.counters.frames_tx += 1
            except can.CanError:
                self.counters.tx_errors += 1

    def _read(self, timeout_s: float) -> list[can.Message]:
        out = []
        while len(out) < MAX_DRAIN:
            if out and self._fd is not None and not select.select([self._fd], [], [], 0)[0]:
                break
            try:
                frame = self.bus.recv(timeout_s if not out else 0.0)
            except (can.CanError, ValueError, IndexError):  # an unparsable slcan line, a dead adapter
                self._rx_errors += 1
                continue
            if frame is None:
                break
            out.append(frame)
        return out

    def _decode(self, raw: can.Message, t_rx_ns: int) -> list:
        part = can_codec.decode_frame(raw)
        if isinstance(part, DecodeError):
            return [part]
        if not self._accept(part.key, part.counter):
            return []
        out = self.assembler.push(part, t_rx_ns)
        for r in out:
            if not isinstance(r, DecodeError):
                self.last_rx_seq[type(r)] = part.counter
        return out

    def wire_time_ns(self, frame: can.Message) -> int:
        """Time a classic base-format frame takes on the bus: 47 + 8 x DLC bits (no stuff bits, a lower
        bound) at the bitrate, ns."""
        return (47 + 8 * len(frame.data)) * 1_000_000_000 // self.bitrate

    @staticmethod
    def corrupt_frame(frame: can.Message, rng) -> can.Message:
        """Flip one data bit (a fault past the CAN controller's own CRC: a bad transceiver or firmware)."""
        data = bytearray(frame.data)
        data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        return can.Message(arbitration_id=frame.arbitration_id, is_extended_id=False, data=data)

    @staticmethod
    def truncate_frame(frame: can.Message, rng) -> can.Message:
        """Send the frame with a shorter DLC."""
        return can.Message(arbitration_id=frame.arbitration_id, is_extended_id=False,
                           data=frame.data[:int(rng.integers(0, len(frame.data)))])

    def close(self) -> None:
        self.stop_reader()
        try:
            self.bus.shutdown()
        except can.CanError:  # slcan's goodbye ("C") cannot be written: nobody reads the other end
            self.counters.tx_errors += 1
        super().close()


def open_link(role: str, serial_url: str | None = None, can_spec: str | None = None, n_thrusters: int = 12,
              baudrate: int = 230400, bitrate: int = 1_000_000) -> Link:
    """A SerialLink (serial_url) or a CanLink (can_spec "INTERFACE:CHANNEL"): exactly one of them."""
    if (serial_url is None) == (can_spec is None):
        raise ValueError("give exactly one of --serial URL and --can INTERFACE:CHANNEL")
    if serial_url is not None:
        return SerialLink(serial_url, role, baudrate=baudrate)
    return CanLink(*parse_can_spec(can_spec), role, n_thrusters=n_thrusters, bitrate=bitrate)

