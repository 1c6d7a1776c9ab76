"""The rig emulator: plays a thruster/IMU rig on a serial or CAN link, in its own process.

It answers thruster (or acceleration) commands with RigStatus, streams ImuSample at a fixed rate,
sends Heartbeat and an unsolicited RigStatus every report period, answers Ping with Pong, closes all
valves when commands stop (watchdog), and injects faults on FaultCommand (see docs/ICD.md).

Physics (one rigid body that does not rotate, no gravity: what a rig's IMU feels on a bench air table or
in free fall): the sim's models. Each thruster's thrust follows its valve with the rise and fall of
``sim.rigid_body`` (level 0 -> 1 in rise_s, 1 -> 0 in fall_s; a pulse of t >= rise_s delivers
F (t + (fall_s - rise_s) / 2)), valves stay shut for commands under min_on_s, and each thruster carries a
scale error and a direction tilt drawn once from the seed (as ``sim.chaser6dof.true_thrusters``). The IMU is
``sim.imu.ImuChannel`` for the accelerometer (fed the mean specific force of each sample interval) and the
gyro (fed zero rate): scale, misalignment, turn-on bias, bias instability, white noise, quantisation and
saturation. The drawn errors are printed on start-up (``MODEL {json}``) so tests can check the output
against them.
"""

import copy
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
from numba import njit

from hil.faults import FRAME_FAULTS, FrameFaults
from sim.imu import ImuChannel
from hil.link import CanLink, Link, open_link
from hil.realtime import off_loop_cpus, use_fifo
from hil.messages import (MAX_THRUSTERS, ON_TIME_LSB_S, AccelCommand, FaultCommand, FaultKind, Heartbeat,
                          ImuFlag, ImuSample, Message, Ping, Pong, RigFault, RigState, RigStatus, Source,
                          ThrusterCommand, thruster_directions_B)

MAX_ON_TIME_S = 4095 * ON_TIME_LSB_S  # the largest on-time both wires carry (s)
_NEVER = math.inf


@dataclass(frozen=True)
class ImuErrors:
    """One IMU triad's error figures, as ``[imu.gyro]`` / ``[imu.accel]`` of a scenario (sim.imu.ImuChannel):
    noise_density (rad/sqrt(s) or m/s/sqrt(s)), bias_sigma and bias_instability (rad/s or m/s^2),
    bias_corr_time_s (s), scale_error_sigma (-), misalignment_sigma_rad (rad), quantum and full_scale
    (rad/s or m/s^2 per sample)."""

    noise_density: float
    bias_sigma: float
    bias_instability: float
    bias_corr_time_s: float
    scale_error_sigma: float
    misalignment_sigma_rad: float
    quantum: float
    full_scale: float

    def channel(self, dt_s: float, rng: np.random.Generator) -> ImuChannel:
        return ImuChannel(dt_s, self.noise_density, self.bias_sigma, self.bias_instability, self.bias_corr_time_s,
                          self.scale_error_sigma, self.misalignment_sigma_rad, self.quantum, self.full_scale, rng)


# A navigation-grade IMU on the rig: ARW 0.034 deg/sqrt(h), gyro bias 1 deg/h; VRW 0.006 m/s/sqrt(h) and an
# accelerometer bias of 20 ug turn-on, 5 ug instability (the rig's thrust is 170 ug: a tactical 1 mg would hide it).
GYRO_DEFAULT = ImuErrors(1e-5, 4.8e-6, 4.8e-7, 300.0, 1e-4, 1e-4, 1e-8, 5.0)
ACCEL_DEFAULT = ImuErrors(1e-4, 2e-4, 5e-5, 300.0, 3e-4, 1e-4, 1e-6, 20.0)


@dataclass(frozen=True)
class RigConfig:
    """The emulated rig. Thruster i pushes the body along axis (i // 2) % 6 of +x, -x, +y, -y, +z, -z.

    thrust_N: nominal N per thruster; thrust_scale_sigma (-) and misalignment_sigma_rad (rad, per axis of
    the tilt): each thruster's errors; rise_s, fall_s: thrust rise and fall after a valve edge (s); min_on_s:
    shorter commands leave a valve shut (s). mass_kg: kg. imu_rate_hz: Hz; gyro, accel: the IMU's errors.
    watchdog_s: s without a valid command before all valves close. report_period_s: s between heartbeats
    and unsolicited statuses.
    """

    n_thrusters: int = 12
    thrust_N: float = 0.25
    thrust_scale_sigma: float = 0.02
    misalignment_sigma_rad: float = 0.005
    rise_s: float = 0.002
    fall_s: float = 0.002
    min_on_s: float = 0.0
    mass_kg: float = 150.0
    imu_rate_hz: float = 100.0
    gyro: ImuErrors = GYRO_DEFAULT
    accel: ImuErrors = ACCEL_DEFAULT
    watchdog_s: float = 0.1
    report_period_s: float = 0.1

    def directions_B(self) -> np.ndarray:
        """(n_thrusters, 3) unit force directions in body axes."""
        return thruster_directions_B(self.n_thrusters)


@njit(cache=True)
def _level_step(level, i, is_open, dt_s, rise_s, fall_s):
    """Advance level[i] by dt_s toward 1 (valve open) or 0 at 1/rise_s or 1/fall_s (0: at once); returns its
    integral over dt_s (s)."""
    target = 1.0 if is_open else 0.0
    lv = level[i]
    ramp = rise_s if target > lv else fall_s
    if lv == target or ramp <= 0.0:
        level[i] = target
        return target * dt_s
    reach = abs(target - lv) * ramp  # s to reach the target
    if reach >= dt_s:
        end = lv + (dt_s if target > lv else -dt_s) / ramp
        level[i] = end
        return 0.5 * (lv + end) * dt_s
    level[i] = target
    return 0.5 * (lv + target) * reach + target * (dt_s - reach)


@njit(cache=True)
def advance_valves(t0_ns, t1_ns, start_ns, end_ns, stuck_on_ns, stuck_off_ns, rise_s, fall_s, level, thrust_s,
                   open_s):
    """Each thruster from t0_ns to t1_ns, piecewise between its valve edges: a valve is open on
    [start_ns, end_ns) unless stuck off (before stuck_off_ns), and open while stuck on (before stuck_on_ns);
    its thrust level follows (``_level_step``). Adds each level's integral (s at full thrust) to thrust_s and
    each valve-open time (s) to open_s; level is updated in place. All times float64 ns."""
    for i in range(level.size):
        a = t0_ns
        while a < t1_ns:
            b = t1_ns
            for e in (start_ns[i], end_ns[i], stuck_on_ns[i], stuck_off_ns[i]):
                if a < e < b:
                    b = e
            is_open = stuck_on_ns[i] > a or (start_ns[i] <= a < end_ns[i] and not stuck_off_ns[i] > a)
            dt = (b - a) * 1e-9
            thrust_s[i] += _level_step(level, i, is_open, dt, rise_s, fall_s)
            if is_open:
                open_s[i] += dt
            a = b


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
        thr_rng, gyro_rng, acc_rng = np.random.default_rng([seed, 3]).spawn(3)
        d = cfg.directions_B()
        tilt = cfg.misalignment_sigma_rad * thr_rng.standard_normal((n, 3))
        d = d + np.cross(tilt, d)
        self.scale = 1.0 + cfg.thrust_scale_sigma * thr_rng.standard_normal(n)
        self.true_dirs_B = d / np.linalg.norm(d, axis=1)[:, None]
        self.accel_per_s = self.true_dirs_B * (self.scale * cfg.thrust_N / cfg.mass_kg)[:, None]  # at full thrust (m/s^2)
        dt_imu = 1.0 / cfg.imu_rate_hz
        self.gyro, self.accel = cfg.gyro.channel(dt_imu, gyro_rng), cfg.accel.channel(dt_imu, acc_rng)
        copy.deepcopy(self.accel).sample(np.zeros(3))  # load the compiled kernels now, not at the first sample
        advance_valves(0.0, 1.0, *(np.zeros(n),) * 4, cfg.rise_s, cfg.fall_s, *(np.zeros(n),) * 3)
        self.level = np.zeros(n)  # thrust level of each thruster (0..1)
        self.thrust_imu = np.zeros(n)  # integral of the level over the current IMU interval (s)
        self.pulse_start = np.zeros(n)  # valve commands: open on [start, end) (ns, float64)
        self.pulse_end = np.zeros(n)
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

    def _open_mask(self, t_ns: float) -> np.ndarray:
        """Each valve open at t_ns (stuck-on and stuck-off override the commands)."""
        is_open = (self.pulse_start <= t_ns) & (t_ns < self.pulse_end)
        return (is_open & ~self._stuck(self.stuck_off_until, t_ns)) | self._stuck(self.stuck_on_until, t_ns)

    def _advance(self, t_ns: int) -> None:
        """Integrate valve-open time, thrust level and commanded acceleration from the last instant to t_ns."""
        if t_ns <= self.t_int:
            return
        advance_valves(float(self.t_int), float(t_ns), self.pulse_start, self.pulse_end, self.stuck_on_until,
                       self.stuck_off_until, self.cfg.rise_s, self.cfg.fall_s, self.level, self.thrust_imu,
                       self.open_status)
        self.dv_accel += self.accel_cmd_B * ((t_ns - self.t_int) / 1e9)
        self.t_int = t_ns

    def valves_open(self, t_ns: int) -> int:
        """Bit i set while thruster i's valve is open at t_ns."""
        return int(sum(1 << i for i in np.flatnonzero(self._open_mask(t_ns))))

    def _imu_sample(self, t_ns: int) -> ImuSample:
        self._advance(t_ns)
        dt = self.imu_period_ns / 1e9
        f_B = (self.accel_per_s.T @ self.thrust_imu + self.dv_accel) / dt  # mean specific force (m/s^2)
        dv, dth = self.accel.sample(f_B) * dt, self.gyro.sample(np.zeros(3)) * dt
        self.thrust_imu[:] = 0
        self.dv_accel[:] = 0
        if self.last_imu is not None and t_ns < self.stuck_imu_until:
            return self.last_imu  # a frozen sensor repeats its last output, time tag included
        self.last_imu = ImuSample(t_ns, tuple(float(x) for x in dv), tuple(float(x) for x in dth), int(ImuFlag.VALID))
        return self.last_imu

    def model(self) -> dict:
        """The errors drawn for this run: thrust scale factors and true directions (B) per thruster, the
        accelerometer's and gyro's M (I + scale + misalignment) and turn-on bias."""
        return {"thrust_scale": self.scale.tolist(), "dirs_B": self.true_dirs_B.tolist(),
                "accel_M": self.accel.M.tolist(), "accel_bias": self.accel.bias.tolist(),
                "gyro_M": self.gyro.M.tolist(), "gyro_bias": self.gyro.bias.tolist()}

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
            self.pulse_end[:] = [now + round(t * 1e9) if t >= self.cfg.min_on_s else now for t in msg.on_time_s]
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
    print("MODEL " + json.dumps(rig.model()), flush=True)
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
    ready_timeout_s) until it serves, sets ``pty_path`` when it made a pseudo-terminal and ``model`` (the
    rig's drawn errors); leaving stops it with SIGINT and keeps its JSON report in ``report``."""

    def __init__(self, link_args: list[str], duration_s: float = 120.0, ready_timeout_s: float = 30.0,
                 extra: tuple[str, ...] = ()):
        self.cmd = [sys.executable, "-m", "cli.main", "hil", "emulate", *link_args, "--duration-s", str(duration_s),
                    *extra]
        self.ready_timeout_s = ready_timeout_s
        self.pty_path: str | None = None
        self.model: dict | None = None  # the rig's drawn errors (RigEmulator.model)
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
            elif line.startswith("MODEL "):
                self.model = json.loads(line.split(maxsplit=1)[1])
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
