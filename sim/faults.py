"""Faults of the relative sensor declared in a scenario's ``[[faults]]`` list, injected into the truth.

The flight code is not told: it must notice (missing measurements, rejected innovations) and answer
(coast, then abort to a passively safe drift after mission.abort.sensor_timeout_s). Times are seconds
since the scenario epoch.
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


SensorFault = SensorOutage | SensorBiasJump | SensorOutliers


class FaultySensor:
    """A relative sensor (``sim.sensors.RaeSensor``) with the scenario's faults applied to its samples.

    The wrapped sensor is sampled as usual (its random draws, hence its noise sequence, do not change);
    a sample inside an outage is discarded, bias jumps that have started are added to the rest, and inside an
    outlier window rng (numpy Generator, only drawn from there) picks the outliers and their signs.
    """

    def __init__(self, sensor, faults, rng):
        self.sensor, self.rng = sensor, rng
        self.outliers = [(round(f.start_s * NS), round((f.start_s + f.duration_s) * NS), f)
                         for f in faults if isinstance(f, SensorOutliers)]
        self.outages_ns = [(round(f.start_s * NS), round((f.start_s + f.duration_s) * NS))
                           for f in faults if isinstance(f, SensorOutage)]
        self.jumps = [(round(f.start_s * NS), f.range_bias_m, f.angle_bias_rad)
                      for f in faults if isinstance(f, SensorBiasJump)]

    @property
    def next_t_ns(self) -> int:
        return self.sensor.next_t_ns

    def sample(self, t_ns, r_CT_H, point_H):
        """The wrapped sensor's sample at t_ns (int ns), or None; see the class doc."""
        m = self.sensor.sample(t_ns, r_CT_H, point_H)
        if m is None or any(a <= t_ns < b for a, b in self.outages_ns):
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
    """sensor itself when faults is empty, else a FaultySensor around it (rng: its numpy Generator)."""
    return FaultySensor(sensor, faults, rng) if faults else sensor

