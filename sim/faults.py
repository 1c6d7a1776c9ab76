"""Faults of the relative sensor declared in a scenario's ``[[faults]]`` list, injected into the truth.

The flight code is not told: it must notice (missing measurements, rejected innovations) and answer
(coast, then abort to a passively safe drift after mission.abort.sensor_timeout_s). Times are seconds
since the scenario epoch.
"""

import dataclasses
from dataclasses import dataclass

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


SensorFault = SensorOutage | SensorBiasJump


class FaultySensor:
    """A relative sensor (``sim.sensors.RaeSensor``) with the scenario's faults applied to its samples.

    The wrapped sensor is sampled as usual (its random draws, hence its noise sequence, do not change);
    a sample inside an outage is discarded, and bias jumps that have started are added to the rest.
    """

    def __init__(self, sensor, faults):
        self.sensor = sensor
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
        d_range = sum(dr for t0, dr, _ in self.jumps if t_ns >= t0)
        d_angle = sum(da for t0, _, da in self.jumps if t_ns >= t0)
        if d_range == 0 and d_angle == 0:
            return m
        return dataclasses.replace(m, range_m=m.range_m + d_range, az_rad=float(wrap_angle(m.az_rad + d_angle)),
                                   el_rad=m.el_rad + d_angle)


def with_faults(sensor, faults):
    """sensor itself when faults is empty, else a FaultySensor around it."""
    return FaultySensor(sensor, faults) if faults else sensor

