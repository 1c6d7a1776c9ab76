"""Faults declared in a scenario's ``[[faults]]`` list, injected into the truth or around the flight code.

Relative sensor (outage, bias jump, outliers), IMU (stuck, stale), star tracker (loss): wrappers around the
simulated sensors' outputs. Thrusters (failed off, stuck on): the truth's thruster failure model
(``truth.thruster_failures``). MPC infeasible and stage overruns: a sim-side wrapper around the executive's
controllers and navigation input that turns a solve into a failure or advances the executive's injected
clock. The flight code is not told: it must notice and answer. Times are seconds since the scenario epoch.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from gnc.models.rae import wrap_angle
from gnc.schema import ConfigError, spec

NS = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class SensorOutage:
    """The relative sensor delivers nothing in [start_s, start_s + duration_s) (power loss, reboot, blinding)."""

    KIND = "sensor_outage"
    kind: str = spec(choices=("sensor_outage",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class SensorBiasJump:
    """From start_s on, the relative sensor's range and angle biases grow by these steps (a shifted mount)."""

    KIND = "sensor_bias_jump"
    kind: str = spec(choices=("sensor_bias_jump",))
    start_s: float = spec(unit="s", ge=0)
    range_bias_m: float = spec(0.0, unit="m")
    angle_bias_rad: float = spec(0.0, unit="rad", ge=-0.1, le=0.1, doc="added to azimuth and elevation")

    def validate(self, path):
        if self.range_bias_m == 0 and self.angle_bias_rad == 0:
            raise ConfigError(f"{path}.range_bias_m", 0.0, "a bias jump needs range_bias_m or angle_bias_rad != 0")


@dataclass(frozen=True, kw_only=True)
class SensorOutliers:
    """In [start_s, start_s + duration_s) each sample is, with probability prob, off by +/- range_m in range and
    +/- angle_rad in each angle (random signs): multipath, glints, a wrong feature tracked."""

    KIND = "sensor_outliers"
    kind: str = spec(choices=("sensor_outliers",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)
    prob: float = spec(unit="-", gt=0, le=1)
    range_m: float = spec(0.0, unit="m", ge=0)
    angle_rad: float = spec(0.0, unit="rad", ge=0, le=0.5)

    def validate(self, path):
        if self.range_m == 0 and self.angle_rad == 0:
            raise ConfigError(f"{path}.range_m", 0.0, "outliers need range_m or angle_rad > 0")


@dataclass(frozen=True, kw_only=True)
class ThrusterFailedOff:
    """Thruster `index` of [thrusters] delivers nothing from start_s on (a shut valve, a blocked line)."""

    KIND = "thruster_failed_off"
    kind: str = spec(choices=("thruster_failed_off",))
    index: int = spec(unit="-", ge=0)
    start_s: float = spec(unit="s", ge=0)


@dataclass(frozen=True, kw_only=True)
class ThrusterStuckOn:
    """Thruster `index` of [thrusters] fires at full thrust from start_s on, whatever it is commanded."""

    KIND = "thruster_stuck_on"
    kind: str = spec(choices=("thruster_stuck_on",))
    index: int = spec(unit="-", ge=0)
    start_s: float = spec(unit="s", ge=0)


@dataclass(frozen=True, kw_only=True)
class ImuStuck:
    """In [start_s, start_s + duration_s) the IMU repeats its last good rates and forces with fresh time tags."""

    KIND = "imu_stuck"
    kind: str = spec(choices=("imu_stuck",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class ImuStale:
    """In [start_s, start_s + duration_s) the IMU delivers no new sample: its last one again, time tag and all."""

    KIND = "imu_stale"
    kind: str = spec(choices=("imu_stale",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class StarTrackerLoss:
    """No star-tracker fix valid in [start_s, start_s + duration_s) (blinding, lost in space)."""

    KIND = "star_tracker_loss"
    kind: str = spec(choices=("star_tracker_loss",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class MpcInfeasible:
    """In [start_s, start_s + duration_s) every controller solve reports failure ('infeasible')."""

    KIND = "mpc_infeasible"
    kind: str = spec(choices=("mpc_infeasible",))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class StageOverrun:
    """In [start_s, start_s + duration_s) each run of a stage (nav or control) takes extra_s longer (a
    processor hogged by another task), on the executive's injected clock."""

    KIND = "stage_overrun"
    kind: str = spec(choices=("stage_overrun",))
    stage: str = spec(choices=("nav", "control"))
    start_s: float = spec(unit="s", ge=0)
    duration_s: float = spec(unit="s", gt=0)
    extra_s: float = spec(unit="s", gt=0, le=60)


Fault = (SensorOutage | SensorBiasJump | SensorOutliers | ThrusterFailedOff | ThrusterStuckOn | ImuStuck | ImuStale
         | StarTrackerLoss | MpcInfeasible | StageOverrun)
SIX_DOF_FAULTS = (ThrusterFailedOff, ThrusterStuckOn, ImuStuck, ImuStale, StarTrackerLoss)


def _windows(faults, kind):
    """[(start ns, end ns, fault)] of the faults of this class."""
    return [(round(f.start_s * NS), round((f.start_s + f.duration_s) * NS), f) for f in faults if isinstance(f, kind)]


def _inside(windows, t_ns) -> bool:
    return any(a <= t_ns < b for a, b, _ in windows)


class FaultySensor:
    """A relative sensor (``sim.sensors.RaeSensor``) with the scenario's faults applied to its samples.

    The wrapped sensor is sampled as usual (its random draws, hence its noise sequence, do not change);
    a sample inside an outage is discarded, bias jumps that have started are added to the rest, and inside an
    outlier window rng (numpy Generator, only drawn from there) picks the outliers and their signs.
    """

    def __init__(self, sensor, faults, rng):
        self.sensor, self.rng = sensor, rng
        self.outliers, self.outages = _windows(faults, SensorOutliers), _windows(faults, SensorOutage)
        self.jumps = [(round(f.start_s * NS), f.range_bias_m, f.angle_bias_rad)
                      for f in faults if isinstance(f, SensorBiasJump)]

    @property
    def next_t_ns(self) -> int:
        return self.sensor.next_t_ns

    def sample(self, t_ns, r_CT_H, point_H):
        """The wrapped sensor's sample at t_ns (int ns), or None; see the class doc."""
        m = self.sensor.sample(t_ns, r_CT_H, point_H)
        if m is None or _inside(self.outages, t_ns):
            return None
        d = np.zeros(3)  # range (m), azimuth, elevation (rad)
        for t0, dr, da in self.jumps:
            if t_ns >= t0:
                d += (dr, da, da)
        for t0, t1, f in self.outliers:
            if t0 <= t_ns < t1 and self.rng.random() < f.prob:
                d += self.rng.choice((-1.0, 1.0), 3) * (f.range_m, f.angle_rad, f.angle_rad)
        if not d.any():
            return m
        return dataclasses.replace(m, range_m=float(m.range_m + d[0]), az_rad=float(wrap_angle(m.az_rad + d[1])),
                                   el_rad=float(m.el_rad + d[2]))


def with_faults(sensor, faults, rng):
    """sensor itself when no fault touches it, else a FaultySensor around it (rng: its numpy Generator)."""
    return FaultySensor(sensor, faults, rng) if any(
        isinstance(f, (SensorOutage, SensorBiasJump, SensorOutliers)) for f in faults) else sensor


def thruster_failures(faults):
    """The truth's thruster failures (``sim.scenario.ThrusterFailure`` tables as dicts) the faults declare."""
    return [{"index": f.index, "mode": "failed_off" if isinstance(f, ThrusterFailedOff) else "stuck_on",
             "onset_s": f.start_s} for f in faults if isinstance(f, (ThrusterFailedOff, ThrusterStuckOn))]


class FaultyImu:
    """An IMU (``sim.imu.Imu``) whose samples are frozen (stuck: last good values, new time tags) or stale (the
    last sample again, old time tag) inside the faults' windows; sampled as usual, so its noise is unchanged."""

    def __init__(self, imu, faults):
        self.imu, self.last = imu, None
        self.stuck, self.stale = _windows(faults, ImuStuck), _windows(faults, ImuStale)

    @property
    def next_t_ns(self) -> int:
        return self.imu.next_t_ns

    @property
    def accel_output(self) -> str:
        return self.imu.accel_output

    def sample(self, t_ns, omega_BN_B, accel_B):
        m = self.imu.sample(t_ns, omega_BN_B, accel_B)
        if self.last is not None and _inside(self.stale, t_ns):
            return self.last
        if self.last is not None and _inside(self.stuck, t_ns):
            return dataclasses.replace(self.last, t_ns=m.t_ns)
        self.last = m
        return m


class FaultyStarTracker:
    """A star tracker (``sim.star_tracker.StarTracker``) whose fixes valid inside a loss window never arrive."""

    def __init__(self, tracker, faults):
        self.tracker, self.loss = tracker, _windows(faults, StarTrackerLoss)

    @property
    def next_t_ns(self) -> int:
        return self.tracker.next_t_ns

    def sample(self, t_ns, q_BH):
        self.tracker.sample(t_ns, q_BH)

    def read(self, now_ns):
        return [m for m in self.tracker.read(now_ns) if not _inside(self.loss, m.t_ns)]


def with_attitude_faults(imu, tracker, faults):
    """(imu, tracker), each wrapped when a fault touches it."""
    if _windows(faults, ImuStuck) or _windows(faults, ImuStale):
        imu = FaultyImu(imu, faults)
    if _windows(faults, StarTrackerLoss):
        tracker = FaultyStarTracker(tracker, faults)
    return imu, tracker


class FaultClock:
    """The executive's injected clock (int ns) plus offset_ns, which the fault wrappers advance."""

    def __init__(self, clock_ns):
        self.clock_ns, self.offset_ns = clock_ns, 0

    def __call__(self) -> int:
        return self.clock_ns() + self.offset_ns

    def overrun(self, windows, t_ns) -> None:
        """Advance by extra_s of every stage_overrun window of windows that holds t_ns."""
        for a, b, f in windows:
            if a <= t_ns < b:
                self.offset_ns += round(f.extra_s * NS)


class FaultyController:
    """A controller of the executive (RelativeMPC, LqrController) whose solves fail ('infeasible') inside an
    mpc_infeasible window and take extra_s longer on the clock inside a control stage_overrun window."""

    def __init__(self, ctrl, faults, clock: FaultClock, now_ns):
        self.ctrl, self.clock, self.now_ns = ctrl, clock, now_ns
        self.infeasible = _windows(faults, MpcInfeasible)
        self.overruns = [w for w in _windows(faults, StageOverrun) if w[2].stage == "control"]

    def __getattr__(self, name):
        return getattr(self.ctrl, name)

    def solve(self, x0, xref, uref=None, **kw):
        res = self.ctrl.solve(x0, xref, uref, **kw)
        t = self.now_ns()
        self.clock.overrun(self.overruns, t)
        return dataclasses.replace(res, ok=False, status="infeasible") if _inside(self.infeasible, t) else res


class FaultyNavInput:
    """The executive's VehicleIO with read_sensors (run by the navigation stage) taking extra_s longer on the
    clock inside a nav stage_overrun window."""

    def __init__(self, io, faults, clock: FaultClock):
        self.io, self.clock = io, clock
        self.overruns = [w for w in _windows(faults, StageOverrun) if w[2].stage == "nav"]

    def __getattr__(self, name):
        return getattr(self.io, name)

    def read_sensors(self):
        self.clock.overrun(self.overruns, self.io.now_ns())
        return self.io.read_sensors()


def inject_flight_faults(exe, clock: FaultClock, faults) -> None:
    """Wrap the executive's controllers and navigation input for the MPC and overrun faults (none: no change)."""
    if not (_windows(faults, MpcInfeasible) or _windows(faults, StageOverrun)):
        return
    now = exe.io.now_ns
    exe.mpc = exe.ctrl = FaultyController(exe.mpc, faults, clock, now)
    exe.dock_mpcs = {k: FaultyController(c, faults, clock, now) for k, c in exe.dock_mpcs.items()}
    exe.io = FaultyNavInput(exe.io, faults, clock)

