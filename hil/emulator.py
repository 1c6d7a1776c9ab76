"""The rig emulator: plays a thruster/IMU rig on a serial or CAN link, in its own process.

It answers thruster (or acceleration) commands with RigStatus, streams ImuSample at a fixed rate,
sends Heartbeat and an unsolicited RigStatus every report period, answers Ping with Pong, closes all
valves when commands stop (watchdog), and injects faults on FaultCommand (see docs/ICD.md).

TEMPORARY PHYSICS, until the simulator's thruster and IMU models exist: thrusters are ideal on/off
valves of fixed thrust along fixed body directions (no rise time, no torque, no attitude motion);
the IMU measures the resulting acceleration integrated over each sample interval plus seeded white
noise (velocity and angle random walk), with no bias, scale factor or gravity. Good for exercising
links, timing and fault handling; not a model of any real rig.
"""

import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hil.faults import FRAME_FAULTS, FrameFaults
from hil.link import CanLink, Link, open_link
from hil.realtime import off_loop_cpus, use_fifo
from hil.messages import (MAX_THRUSTERS, ON_TIME_LSB_S, AccelCommand, FaultCommand, FaultKind, Heartbeat,
                          ImuFlag, ImuSample, Message, Ping, Pong, RigFault, RigState, RigStatus, Source,
                          ThrusterCommand, thruster_directions_B)

MAX_ON_TIME_S = 4095 * ON_TIME_LSB_S  # the largest on-time both wires carry (s)
_NEVER = math.inf


@dataclass(frozen=True)
class RigConfig:
    """The emulated rig. Thruster i pushes the body along axis (i // 2) % 6 of +x, -x, +y, -y, +z, -z.

    thrust_N: N per thruster. mass_kg: kg. imu_rate_hz: Hz. vrw_m_s_sqrt_s: velocity random walk
    (m/s/sqrt(s)); arw_rad_sqrt_s: angle random walk (rad/sqrt(s)). watchdog_s: s without a valid
    command before all valves close. report_period_s: s between heartbeats and unsolicited statuses.
    """

    n_thrusters: int = 12
    thrust_N: float = 0.25
    mass_kg: float = 150.0
    imu_rate_hz: float = 100.0
    vrw_m_s_sqrt_s: float = 1e-4
    arw_rad_sqrt_s: float = 1e-5
    watchdog_s: float = 0.1
    report_period_s: float = 0.1

    def directions_B(self) -> np.ndarray:
        """(n_thrusters, 3) unit force directions in body axes."""
        return thruster_directions_B(self.n_thrusters)


class RigEmulator:
    """The rig state machine over a Link with role "rig"; call step() in a loop, or run()."""

    def __init__(self, link: Link, cfg: RigConfig, seed: int, clock_ns: Callable[[], int] = time.monotonic_ns,
                 throttle: bool = False):
        if not 1 <= cfg.n_thrusters <= MAX_THRUSTERS:
            raise ValueError(f"n_thrusters = {cfg.n_thrusters}: must be 1..{MAX_THRUSTERS}")
        self.link, self.cfg, self.clock_ns = link, cfg, clock_ns
        self.rng = np.random.default_rng(seed)
        link.tx_filter = FrameFaults(np.random.default_rng([seed, 1]), link.corrupt_frame, link.truncate_frame,
                                     link.wire_time_ns if throttle else None)
        link.rx_filter = FrameFaults(np.random.default_rng([seed, 2]), link.corrupt_frame, link.truncate_frame)
        n = cfg.n_thrusters
        self.accel_per_s = cfg.directions_B() * (cfg.thrust_N / cfg.mass_kg)  # dv per second open (m/s^2)
        self.pulse_start = np.zeros(n, dtype=np.int64)
        self.pulse_end = np.zeros(n, dtype=np.int64)
        self.stuck_on_until = np.zeros(n)
        self.stuck_off_until = np.zeros(n)
        self.stuck_imu_until = 0.0
        self.bus_off_until = _NEVER
        self.faults_sent = RigFault(0)  # fault bits carried by a status that went out
        self.accel_cmd_B = np.zeros(3)
        self.state, self.faults, self.cmd_seq = RigState.SAFE, RigFault(0), 0
        self.last_cmd_ns: int | None = None
        self.imu_period_ns = round(1e9 / cfg.imu_rate_hz)
        now = clock_ns()
        self.t_int = now
        self.open_imu = np.zeros(n)  # valve-open time in the current IMU interval (s)
        self.open_status = np.zeros(n)  # ... since the previous RigStatus (s)
        self.dv_accel = np.zeros(3)  # dv from AccelCommand in the current IMU interval (m/s)
        self.next_imu = now + self.imu_period_ns
        self.next_report = now
        self.last_imu: ImuSample | None = None
        self.errors_reported = 0
        self.stats = {"imu_samples": 0, "commands": 0, "rejected": 0, "watchdog_trips": 0, "pongs": 0,
                      "faults_ignored": 0}

    # -- valve and IMU bookkeeping --------------------------------------------------------------
    def _stuck(self, until: np.ndarray, t_ns: int) -> np.ndarray:
        return until > t_ns

    def _advance(self, t_ns: int) -> None:
        """Integrate valve-open time and commanded acceleration from the last instant to t_ns."""
        if t_ns <= self.t_int:
            return
        dt = (t_ns - self.t_int) / 1e9
        overlap = (np.minimum(self.pulse_end, t_ns) - np.maximum(self.pulse_start, self.t_int)).clip(0) / 1e9
        overlap = np.where(self._stuck(self.stuck_off_until, self.t_int), 0.0, overlap)
        overlap = np.where(self._stuck(self.stuck_on_until, self.t_int), dt, overlap)
        self.open_imu += overlap
        self.open_status += overlap
        self.dv_accel += self.accel_cmd_B * dt
        self.t_int = t_ns

    def valves_open(self, t_ns: int) -> int:
        """Bit i set while thruster i's valve is open at t_ns."""
        is_open = (self.pulse_start <= t_ns) & (t_ns < self.pulse_end)
        is_open = (is_open & ~self._stuck(self.stuck_off_until, t_ns)) | self._stuck(self.stuck_on_until, t_ns)
        return int(sum(1 << i for i in np.flatnonzero(is_open)))

    def _imu_sample(self, t_ns: int) -> ImuSample:
        self._advance(t_ns)
        dt = self.imu_period_ns / 1e9
        dv = self.accel_per_s.T @ self.open_imu + self.dv_accel + self.rng.normal(0, self.cfg.vrw_m_s_sqrt_s
                                                                                  * math.sqrt(dt), 3)
        dth = self.rng.normal(0, self.cfg.arw_rad_sqrt_s * math.sqrt(dt), 3)
        self.open_imu[:] = 0
        self.dv_accel[:] = 0
        if self.last_imu is not None and t_ns < self.stuck_imu_until:
            return self.last_imu  # a frozen sensor repeats its last output, time tag included
        self.last_imu = ImuSample(t_ns, tuple(float(x) for x in dv), tuple(float(x) for x in dth), int(ImuFlag.VALID))
        return self.last_imu

    def status(self, t_ns: int) -> RigStatus:
        self._advance(t_ns)
        errors = sum(getattr(self.link.counters, k) for k in ("crc_errors", "decode_errors", "seq_gaps", "incomplete"))
        faults = self.faults | (RigFault.RX_ERRORS if errors > self.errors_reported else 0)
        self.errors_reported = errors
        if t_ns >= self.link.tx_filter.disconnected_until_ns:  # this status goes out
            self.faults_sent |= faults
        on = tuple(min(round(x / ON_TIME_LSB_S), 4095) * ON_TIME_LSB_S for x in self.open_status)
        self.open_status[:] = 0
        return RigStatus(t_ns, int(self.state), int(faults), self.cmd_seq, self.valves_open(t_ns), on)

    # -- commands -------------------------------------------------------------------------------
    def _accept_command(self, msg: ThrusterCommand | AccelCommand, now: int) -> None:
        self._advance(now)
        self.stats["commands"] += 1
        self.cmd_seq = self.link.last_rx_seq.get(type(msg), 0) % 16
        if isinstance(msg, ThrusterCommand):
            ok = len(msg.on_time_s) == self.cfg.n_thrusters and all(0 <= t <= MAX_ON_TIME_S for t in msg.on_time_s)
        else:
            ok = all(math.isfinite(a) for a in msg.accel_B)
        if not ok:
            self.stats["rejected"] += 1
            self.faults |= RigFault.CMD_INVALID
            return
        latched = (RigFault.WATCHDOG | RigFault.BUS_OFF) & self.faults_sent  # cleared once the FC was told
        self.faults &= ~(RigFault.CMD_INVALID | latched)
        self.faults_sent &= ~latched
        self.state, self.last_cmd_ns = RigState.ACTIVE, now
        if isinstance(msg, ThrusterCommand):
            self.pulse_start[:] = now
            self.pulse_end[:] = [now + round(t * 1e9) for t in msg.on_time_s]
            self.accel_cmd_B[:] = 0
        else:
            self.pulse_end[:] = np.minimum(self.pulse_end, now)
            self.accel_cmd_B[:] = msg.accel_B

    def _inject(self, f: FaultCommand, now: int) -> None:
        until = now + f.value_s * 1e9 if f.value_s > 0 else _NEVER
        kind = FaultKind(f.kind)
        if kind == FaultKind.CLEAR:
            self.link.tx_filter.clear()
            self.link.rx_filter.clear()
            self.stuck_on_until[:] = self.stuck_off_until[:] = 0
            self.stuck_imu_until = 0.0
        elif kind in FRAME_FAULTS and f.target in (0, 1):
            (self.link.tx_filter if f.target == 0 else self.link.rx_filter).arm(kind, f.count, f.value_s)
        elif kind == FaultKind.STUCK_IMU:
            self.stuck_imu_until = until
        elif kind in (FaultKind.THRUSTER_STUCK_ON, FaultKind.THRUSTER_STUCK_OFF) and f.target < self.cfg.n_thrusters:
            self._advance(now)
            stuck = self.stuck_on_until if kind == FaultKind.THRUSTER_STUCK_ON else self.stuck_off_until
            stuck[f.target] = until
        elif kind == FaultKind.DISCONNECT and f.value_s > 0:  # a bounded outage: nothing could end an endless one
            self._silence(until, "DISCONNECT")
        elif kind == FaultKind.BUS_OFF and f.value_s > 0 and isinstance(self.link, CanLink):
            self._silence(until, "BUS_OFF")  # the controller neither sends nor hears until it recovers
            self.bus_off_until = until
        else:
            self.stats["faults_ignored"] += 1

    def _silence(self, until: float, kind: str) -> None:
        for f in (self.link.tx_filter, self.link.rx_filter):
            f.disconnected_until_ns, f.silence = int(until), kind

    def handle(self, msg: Message, now: int) -> None:
        if isinstance(msg, (ThrusterCommand, AccelCommand)):
            self._accept_command(msg, now)
            self.link.send(self.status(now))
        elif isinstance(msg, Ping):
            self.stats["pongs"] += 1
            self.link.send(Pong(now, msg.ping_id))
        elif isinstance(msg, FaultCommand):
            self._inject(msg, now)

    # -- the loop ---------------------------------------------------------------------------------
    def step(self, max_wait_s: float = 0.01) -> None:
        """Wait for frames until the next scheduled event (at most max_wait_s), then act on everything due."""
        now = self.clock_ns()
        release = self.link.tx_filter.next_release_ns()
        wait_ns = min(self.next_imu, self.next_report, now + 10**10 if release is None else release) - now
        msgs = self.link.poll(min(max(wait_ns, 0) / 1e9, max_wait_s))
        now = self.clock_ns()
        behind = 0
        while self.next_imu <= now:
            if behind < 100:  # after a long stall, skip the backlog rather than flood the link
                self.link.send(self._imu_sample(self.next_imu))
                self.stats["imu_samples"] += 1
            behind += 1
            self.next_imu += self.imu_period_ns
        if now >= self.bus_off_until:  # back on the bus: say so before anything else
            self.bus_off_until = _NEVER
            self.faults |= RigFault.BUS_OFF
            self.link.send(self.status(now))
        for m in msgs:
            self.handle(m, now)
        if self.state == RigState.ACTIVE and now - self.last_cmd_ns > self.cfg.watchdog_s * 1e9:
            self._advance(now)
            self.pulse_end[:] = np.minimum(self.pulse_end, now)
            self.accel_cmd_B[:] = 0
            self.state = RigState.SAFE
            self.faults |= RigFault.WATCHDOG
            self.stats["watchdog_trips"] += 1
            self.link.send(self.status(now))
        if now >= self.next_report:
            self.link.send(Heartbeat(now, int(Source.RIG), int(self.state)))
            self.link.send(self.status(now))
            self.next_report = max(self.next_report + round(self.cfg.report_period_s * 1e9), now)

    def run(self, duration_s: float, stop: Callable[[], bool]) -> None:
        end = self.clock_ns() + duration_s * 1e9
        while not stop() and self.clock_ns() < end:
            self.step()

    def report(self) -> dict:
        """Link counters, faults applied per direction, and what the rig did."""
        return {"link": self.link.counters.as_dict(), "faults_applied": {
            "tx": dict(self.link.tx_filter.applied), "rx": dict(self.link.rx_filter.applied)}, **self.stats}


def main(args) -> int:
    """`gnc hil emulate`: serve until SIGINT/SIGTERM or --duration-s; print the report as JSON on exit."""
    if args.rt_priority is not None:
        use_fifo(args.rt_priority)
    cfg = RigConfig(n_thrusters=args.n_thrusters, imu_rate_hz=args.imu_rate_hz, watchdog_s=args.watchdog_s)
    link = open_link("rig", serial_url=args.serial, can_spec=args.can, n_thrusters=cfg.n_thrusters,
                     baudrate=args.baudrate)
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    if link.pty_path:
        print(f"PTY {link.pty_path}", flush=True)
    rig = RigEmulator(link, cfg, args.seed, throttle=args.throttle)
    print("READY", flush=True)
    try:
        rig.run(args.duration_s, lambda: bool(stopping))
    finally:
        link.close()
        json.dump(rig.report(), sys.stdout)
        print(flush=True)
    return 0


class EmulatorProcess:
    """`gnc hil emulate LINK_ARGS` in a child process, as a context manager: entering waits (at most
    ready_timeout_s) until it serves and sets ``pty_path`` when it made a pseudo-terminal; leaving
    stops it with SIGINT and keeps its JSON report in ``report``."""

    def __init__(self, link_args: list[str], duration_s: float = 120.0, ready_timeout_s: float = 30.0,
                 extra: tuple[str, ...] = ()):
        self.cmd = [sys.executable, "-m", "cli.main", "hil", "emulate", *link_args, "--duration-s", str(duration_s),
                    *extra]
        self.ready_timeout_s = ready_timeout_s
        self.pty_path: str | None = None
        self.report: dict | None = None

    def __enter__(self) -> "EmulatorProcess":
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen(self.cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        if (cpus := off_loop_cpus()) is not None:  # off the HIL loop's CPU (hil.realtime.isolate_loop)
            os.sched_setaffinity(self.proc.pid, cpus)
        deadline, seen = time.monotonic() + self.ready_timeout_s, b""
        while b"READY\n" not in seen:  # raw reads: a buffered reader would hide lines from select
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                self._stop()
                raise TimeoutError(f"rig emulator not ready within {self.ready_timeout_s} s: {self.cmd}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self._stop()
                raise RuntimeError(f"rig emulator exited: {self.proc.stderr.read()[-2000:]}")
            seen += chunk
        for line in seen.decode().splitlines():
            if line.startswith("PTY "):
                self.pty_path = line.split(maxsplit=1)[1].strip()
        return self

    def _stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        if self.proc.returncode != 0:
            raise RuntimeError(f"rig emulator failed ({self.proc.returncode}): {err.decode()[-2000:]}")
        return out.decode()

    def __exit__(self, *exc) -> None:
        lines = [ln for ln in self._stop().splitlines() if ln.startswith("{")]
        self.report = json.loads(lines[-1]) if lines else None
