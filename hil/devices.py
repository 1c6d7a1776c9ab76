"""Device managers on the flight side of a rig link: the thruster valves and the IMU.

They sit between a Link (frames, codecs, counters) and the HIL VehicleIO: ``ThrusterValves`` turns
an acceleration into valve on-times, sends them and reads back what the rig reports (round trips,
rig faults, valves that disagree with their commands); ``ImuManager`` takes IMU samples and says
when the IMU is stale. Body axes B are taken equal to Hill axes H: the chaser holds its attitude in
the Hill frame (the flight code has no attitude loop yet), so accel_H is accel_B.
"""

from collections import Counter, deque

import numpy as np

from hil.link import Link
from hil.messages import (ON_TIME_LSB_S, ImuFlag, ImuSample, RigFault, RigStatus, ThrusterCommand,
                          thruster_directions_B)

STUCK_WINDOW = 20  # command periods compared when looking for a valve that disagrees with its commands
STUCK_OFF_MIN_S = 0.005  # on-time commanded within the window before a silent valve counts as stuck off (s)
STUCK_OFF_RATIO = 0.25  # ... when it reports less than this share of it
STUCK_ON_SHARE = 0.5  # stuck on: reported exceeds commanded by this share of the window (s / s)


class ThrusterValves:
    """Pulse-width modulation of a Hill-axis acceleration onto the rig's thrusters, and their read-back.

    n_thrusters, thrust_N (N per thruster), mass_kg: the rig as the flight code knows it (directions
    from hil.messages.thruster_directions_B). period_s: command period (s); each command's on-times
    fit in it. Quantisation to ON_TIME_LSB_S is carried to the next command (no bias). A thruster found
    stuck off is left out and its partners of the same direction take its share; one found stuck on
    is flagged (``stuck_on``) until its reports agree with its commands again.
    """

    def __init__(self, link: Link, n_thrusters: int, thrust_N: float, mass_kg: float, period_s: float):
        self.link, self.period_s = link, period_s
        dirs = thruster_directions_B(n_thrusters)
        self.accel_per_s = dirs * (thrust_N / mass_kg)  # acceleration while open (m/s^2, B), per thruster
        self.axis = np.argmax(np.abs(dirs), axis=1)  # 0, 1, 2
        self.sign = dirs[np.arange(n_thrusters), self.axis]
        self.residue = np.zeros(n_thrusters)
        self.stuck_off = np.zeros(n_thrusters, dtype=bool)
        self.stuck_on = np.zeros(n_thrusters, dtype=bool)
        self.commanded_s = np.zeros(n_thrusters)  # on-times of the last command sent (s)
        self._reported = np.zeros(n_thrusters)
        self._n_reports = 0
        self._cmd_hist: deque = deque(maxlen=STUCK_WINDOW + 2)
        self._rep_hist: deque = deque(maxlen=STUCK_WINDOW)
        self._off_streak = np.zeros(n_thrusters, dtype=int)
        self._on_streak = np.zeros(n_thrusters, dtype=int)
        self._sent_ns: dict[int, int] = {}
        self._fault_bits = 0
        self.roundtrip_us: list[float] = []
        self.last_status_ns: int | None = None
        self.last_status: RigStatus | None = None
        self.counts = Counter()  # commands, statuses, unmatched answers, rig fault edges, stuck detections

    def on_times(self, accel_H: np.ndarray) -> np.ndarray:
        """On-times (s) producing accel_H (m/s^2) on average over one period, with carried quantisation."""
        demand = np.maximum(self.sign * np.asarray(accel_H)[self.axis], 0.0)  # per thruster's direction
        usable = ~self.stuck_off
        share = np.zeros_like(demand)
        for a in range(3):
            for s in (-1.0, 1.0):
                group = (self.axis == a) & (self.sign == s) & usable
                if group.any():
                    share[group] = demand[group] / (np.abs(self.accel_per_s[group, a]).sum())
        want = np.clip(share, 0.0, 1.0) * self.period_s + self.residue
        q = np.clip(np.round(want / ON_TIME_LSB_S) * ON_TIME_LSB_S, 0.0, self.period_s)
        self.residue = np.clip(want - q, -ON_TIME_LSB_S, ON_TIME_LSB_S) * usable
        return q * usable

    def command(self, accel_H: np.ndarray | None, now_ns: int) -> np.ndarray:
        """Send the on-times for accel_H (None: all valves closed); returns them (s)."""
        on = np.zeros_like(self.residue) if accel_H is None else self.on_times(accel_H)
        self.link.send(ThrusterCommand(now_ns, tuple(float(x) for x in on)))
        self._sent_ns[self.link.last_tx_seq[ThrusterCommand] % 16] = now_ns
        self.commanded_s = on
        self.counts["commands"] += 1
        return on

    def on_status(self, msg: RigStatus, now_ns: int) -> None:
        """Account a RigStatus received at now_ns (flight clock, ns)."""
        self.counts["statuses"] += 1
        self._reported += msg.on_time_s
        self._n_reports += 1
        self.last_status_ns, self.last_status = now_ns, msg
        sent = self._sent_ns.pop(msg.cmd_seq, None)
        if sent is not None:
            self.roundtrip_us.append((now_ns - sent) / 1e3)
            self._sent_ns.clear()  # older commands went unanswered
        for bit in RigFault:
            if msg.faults & bit and not self._fault_bits & bit:
                self.counts[f"rig_{bit.name.lower()}"] += 1
        self._fault_bits = msg.faults

    def take_reported(self) -> tuple[np.ndarray, int]:
        """(valve-open times reported since the last call (s), statuses they came in); also runs the
        stuck-valve checks (see ``_check_stuck``)."""
        rep, n = self._reported, self._n_reports
        self._reported, self._n_reports = np.zeros_like(rep), 0
        self._rep_hist.append(rep)
        self._cmd_hist.append(self.commanded_s)
        if len(self._cmd_hist) == self._cmd_hist.maxlen:
            self._check_stuck()
        return rep, n

    def _check_stuck(self) -> None:
        """Compare STUCK_WINDOW periods of reports with the commands two periods older (a pulse is
        reported in the answer to the next command); a disagreement that lasts half a window is a
        stuck valve (edge effects of the two-period lag do not last)."""
        cmd = np.sum(list(self._cmd_hist)[:STUCK_WINDOW], axis=0)
        got = np.sum(self._rep_hist, axis=0)
        off = (cmd >= STUCK_OFF_MIN_S) & (got < STUCK_OFF_RATIO * cmd)
        on = got - cmd > STUCK_ON_SHARE * STUCK_WINDOW * self.period_s
        self._off_streak = np.where(off, self._off_streak + 1, 0)
        self._on_streak = np.where(on, self._on_streak + 1, 0)
        off, on = self._off_streak >= STUCK_WINDOW // 2, self._on_streak >= STUCK_WINDOW // 2
        self.counts["stuck_off_detected"] += int(np.sum(off & ~self.stuck_off))
        self.counts["stuck_on_detected"] += int(np.sum(on & ~self.stuck_on))
        self.stuck_off |= off
        self.stuck_on = on | (self.stuck_on & (self._on_streak > 0))

    def accel_B(self, on_time_s: np.ndarray, dt_s: float) -> np.ndarray:
        """Mean acceleration (m/s^2, B) over dt_s (s) of valves open for on_time_s (s)."""
        return self.accel_per_s.T @ on_time_s / dt_s


class ImuManager:
    """IMU samples in, staleness out. A sample is fresh when VALID and later than the last one (a frozen
    IMU repeats its time tag); stale when no fresh sample arrived for timeout_s (s). sample_period_s
    (s): the rig's grid, for counting gaps in it."""

    def __init__(self, sample_period_s: float, timeout_s: float):
        self.period_ns, self.timeout_ns = round(sample_period_s * 1e9), round(timeout_s * 1e9)
        self.last: ImuSample | None = None
        self.last_rx_ns: int | None = None
        self.dv_B = np.zeros(3)  # delta-velocity of the fresh samples since take_dv (m/s, B)
        self.counts = Counter()  # samples, frozen, invalid, grid_gaps, stale_entries

    def on_sample(self, msg: ImuSample, now_ns: int) -> None:
        if not msg.flags & ImuFlag.VALID:
            self.counts["invalid"] += 1
            return
        if self.last is not None and msg.t_ns <= self.last.t_ns:
            self.counts["frozen"] += 1
            return
        if self.last is not None and msg.t_ns - self.last.t_ns > 1.5 * self.period_ns:
            self.counts["grid_gaps"] += 1
        self.counts["samples"] += 1
        self.last, self.last_rx_ns = msg, now_ns
        self.dv_B += msg.dv_B

    def stale(self, now_ns: int) -> bool:
        return self.last_rx_ns is None or now_ns - self.last_rx_ns > self.timeout_ns

    def take_dv(self) -> np.ndarray:
        dv, self.dv_B = self.dv_B, np.zeros(3)
        return dv
