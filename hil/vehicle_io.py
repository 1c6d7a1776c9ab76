"""VehicleIO on a real (or emulated) thruster/IMU rig, paced by the wall clock.

Orbit dynamics and the relative sensor stay simulated (a ``sim.vehicle_io.SimVehicleIO``); the
thrusters and the IMU are the rig's. Each ``wait_until(t)`` is one HIL cycle: sleep until t on the
wall clock (receiving frames as they arrive), propagate the truth over the cycle just ended with
the valve-open times the rig reported (or with the on-times commanded, when the rig reported none
or frames were lost), then command the next cycle's valves from the flight code's last
acceleration. Flight's safe mode: while the IMU is stale, the rig's status is stale or a valve is
stuck open, every valve is commanded closed. Time is ns since the scenario epoch on both clocks:
the simulated clock follows the schedule, the wall clock is CLOCK_MONOTONIC offset at the first cycle.
"""

import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from gnc.ports import ActuatorCommand, RaeMeasurement
from hil.devices import ImuManager, ThrusterValves
from hil.link import Link
from hil.messages import Heartbeat, ImuSample, RigStatus, Source

STATUS_TIMEOUT_S = 0.2  # no RigStatus for this long: the rig is not listening (docs/ICD.md section 5)
HEARTBEAT_PERIOD_NS = 100_000_000
RX_GUARD_NS = 1_000_000  # no frame handling in the last ms before a cycle's wake-up
SPIN_NS = 500_000  # sleep until this long before a wake-up, then spin: the kernel's timer wake-up was up to
# ~300 us late at p99 on an idle VM even under SCHED_FIFO; the spin costs ~5 % of the loop's core
FC_NOMINAL, FC_SAFE = 1, 2  # Heartbeat state of the flight computer


class HilVehicleIO:
    """See the module docstring. sim_io: the simulated world and relative sensor (anything with
    now_ns, wait_until, read_sensors, write_actuators). ``record`` holds the last cycle's figures for
    telemetry; lateness_ns, period_ns, busy_ns every cycle's timing (ns)."""

    def __init__(self, sim_io, link: Link, valves: ThrusterValves, imu: ImuManager,
                 clock_ns: Callable[[], int] = time.monotonic_ns):
        self.sim, self.link, self.valves, self.imu, self.clock_ns = sim_io, link, valves, imu, clock_ns
        self.wall0_ns: int | None = None
        self.accel_H = np.zeros(3)
        self.point_H = (0.0, 1.0, 0.0)
        self.safe = False
        self.lateness_ns: list[int] = []
        self.period_ns: list[int] = []
        self.busy_ns: list[int] = []  # per cycle: wake-up to the next wait_until (I/O, truth, flight, telemetry)
        self.deadline_misses = 0
        self.counts = Counter()  # cycles, safe_entries, safe_cycles, thrust_from_command
        self.record: dict = {}
        self._last_wake: int | None = None
        self._next_heartbeat = 0
        self._gaps_seen = 0
        self._started = False

    def now_ns(self) -> int:
        return self.sim.now_ns()

    def _dispatch(self, msgs, now_ns: int) -> None:
        for m in msgs:
            if isinstance(m, ImuSample):
                self.imu.on_sample(m, now_ns)
            elif isinstance(m, RigStatus):
                self.valves.on_status(m, now_ns)

    def _sleep_until(self, wall_ns: int) -> int:
        """Receive until RX_GUARD_NS before wall_ns, then only sleep (a frame handled then would make the
        wake-up late; it waits in the link for the cycle) and spin the last SPIN_NS; returns the wake-up
        time (ns)."""
        while (left := wall_ns - self.clock_ns()) > RX_GUARD_NS:
            self._dispatch(self.link.poll((left - RX_GUARD_NS) / 1e9), self.clock_ns())
        if left > SPIN_NS:
            time.sleep((left - SPIN_NS) / 1e9)
        while (woke := self.clock_ns()) < wall_ns:
            pass
        self._dispatch(self.link.poll(0.0), woke)
        return woke

    def _propagate(self, t_ns: int) -> np.ndarray:
        """Truth to t_ns with the thrust of the cycle just ended; returns the on-times used (s)."""
        reported, n = self.valves.take_reported()
        gaps = self.link.counters.seq_gaps + self.link.counters.incomplete
        lost, self._gaps_seen = gaps != self._gaps_seen, gaps
        on = reported
        if n == 0 or lost:
            on = np.maximum(reported, self.valves.commanded_s)
            self.counts["thrust_from_command"] += 1
        dt_s = (t_ns - self.sim.now_ns()) / 1e9
        a = self.valves.accel_B(on, dt_s) if dt_s > 0 else np.zeros(3)
        self.sim.write_actuators(ActuatorCommand(self.sim.now_ns(), tuple(a), self.point_H))
        self.sim.wait_until(t_ns)
        return on

    def wait_until(self, t_ns: int) -> None:
        if self.wall0_ns is None:
            self._first_cycle(t_ns)
            return
        deadline = self.wall0_ns + t_ns
        entry = self.clock_ns()
        if self._last_wake is not None:
            self.busy_ns.append(entry - self._last_wake)
            if entry > deadline:
                self.deadline_misses += 1  # the previous cycle's work ran into this one
        woke = self._sleep_until(deadline)
        self.lateness_ns.append(woke - deadline)
        if self._last_wake is not None:
            self.period_ns.append(woke - self._last_wake)
        self._last_wake = woke
        on_rig = self._propagate(t_ns)
        stale_imu = self.imu.stale(woke)
        stale_rig = self.valves.last_status_ns is None or woke - self.valves.last_status_ns > STATUS_TIMEOUT_S * 1e9
        safe = stale_imu or stale_rig or bool(self.valves.stuck_on.any())
        self.counts["safe_entries"] += safe and not self.safe
        self.counts["safe_cycles"] += safe
        self.counts["cycles"] += 1
        self.safe = safe
        on_cmd = self.valves.command(None if safe else self.accel_H, woke)
        if t_ns >= self._next_heartbeat:
            self.link.send(Heartbeat(woke, int(Source.FLIGHT), FC_SAFE if safe else FC_NOMINAL))
            self._next_heartbeat = t_ns + HEARTBEAT_PERIOD_NS
        self.record = dict(on_time_cmd_s=on_cmd, on_time_rig_s=on_rig, imu_dv_B=self.imu.take_dv(),
                           imu_stale=stale_imu, rig_stale=stale_rig, safe=safe,
                           lateness_us=self.lateness_ns[-1] / 1e3,
                           period_us=self.period_ns[-1] / 1e3 if self.period_ns else np.nan)

    def _first_cycle(self, t_ns: int) -> None:
        """The flight code's first cycle sets up its solvers (tens of ms): run it before the wall clock
        starts, without a valve command (the rig stays SAFE, its watchdog unarmed). The next cycle
        starts the clock."""
        if self._started:
            self.wall0_ns = self.clock_ns() - t_ns
            self.wait_until(t_ns)
            return
        self._started = True
        self.counts["cycles"] += 1
        while msgs := self.link.poll(0.0):  # what queued up since the link opened
            self._dispatch(msgs, self.clock_ns())
        on = self._propagate(t_ns)
        self.record = dict(on_time_cmd_s=np.zeros_like(on), on_time_rig_s=on, imu_dv_B=self.imu.take_dv(),
                           imu_stale=False, rig_stale=False, safe=False, lateness_us=0.0, period_us=np.nan)

    def read_sensors(self) -> list[RaeMeasurement]:
        return self.sim.read_sensors()

    def write_actuators(self, cmd: ActuatorCommand) -> None:
        """Held until the next cycle, which turns it into valve on-times (B = H, see hil.devices)."""
        self.accel_H = np.asarray(cmd.accel_H, dtype=float)
        self.point_H = tuple(cmd.point_H)
