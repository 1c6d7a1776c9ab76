"""The port the flight loop talks to (VehicleIO) and the messages that cross it.

Every message is a small frozen dataclass stamped with ``t_ns`` (integer nanoseconds since the
scenario epoch). Simulation (``sim``) and hardware rigs (``hil``) implement VehicleIO; the flight
code never knows which one it talks to.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RaeMeasurement:
    """A range/azimuth/elevation sample of the target seen from the chaser (see gnc.models.rae).

    t_ns: time of validity (ns since epoch). range_m: m. az_rad, el_rad: rad, in Hill axes.
    sensor: name of the sensor that produced it.
    """

    t_ns: int
    range_m: float
    az_rad: float
    el_rad: float
    sensor: str = "rel_rae"

    def as_array(self) -> np.ndarray:
        return np.array([self.range_m, self.az_rad, self.el_rad])


@dataclass(frozen=True)
class ActuatorCommand:
    """What the flight code asks of the chaser.

    t_ns: time the command takes effect (ns). accel_H: commanded chaser acceleration (m/s^2, Hill
    axes), held until the next command. point_H: unit vector (Hill axes) along which the relative
    sensor's boresight is to point (ideal attitude when there is no attitude loop). on_time_s: for a 6-DOF
    chaser, each body-mounted thruster's on-time (s) from t_ns (gnc.control.attitude); accel_H is then what
    they were allocated to deliver. Empty: the vehicle applies accel_H directly (3-axis, ideal attitude).
    """

    t_ns: int
    accel_H: tuple[float, float, float]
    point_H: tuple[float, float, float]
    on_time_s: tuple[float, ...] = ()


class VehicleIO(Protocol):
    """The world as the executive sees it: a clock, sensors and actuators."""

    def now_ns(self) -> int:
        """Current time (ns since epoch)."""

    def wait_until(self, t_ns: int) -> None:
        """Return once the world's time is t_ns (simulated: propagate; hardware: sleep)."""

    def read_sensors(self) -> list[RaeMeasurement]:
        """Measurements that arrived since the last call, oldest first."""

    def write_actuators(self, cmd: ActuatorCommand) -> None:
        """Apply cmd from cmd.t_ns on."""


@dataclass(frozen=True)
class AnglesMeasurement:
    """A camera line of sight to the target: azimuth and elevation as in gnc.models.rae, no range.

    t_ns: time of validity (ns since epoch). az_rad, el_rad: rad, in Hill axes (the camera frame
    rotated into H with the known attitude). sensor: name of the sensor that produced it.
    """

    t_ns: int
    az_rad: float
    el_rad: float
    sensor: str = "camera"

    def as_array(self) -> np.ndarray:
        return np.array([self.az_rad, self.el_rad])


@dataclass(frozen=True)
class RelPosMeasurement:
    """Relative position of the chaser from differenced GNSS fixes (the target's via crosslink).

    t_ns: time of validity (ns since epoch). r_CT_H_m: (x, y, z) chaser relative to target, Hill axes
    (m). sensor: name of the sensor that produced it.
    """

    t_ns: int
    r_CT_H_m: tuple[float, float, float]
    sensor: str = "rel_gnss"

    def as_array(self) -> np.ndarray:
        return np.array(self.r_CT_H_m, dtype=np.float64)


@dataclass(frozen=True)
class ImuSample:
    """Gyro and accelerometer output of the chaser's IMU.

    t_ns: sampling time (ns since epoch). omega_BN_B: angular rate of B relative to N (rad/s, B).
    accel_B: specific force, non-gravitational acceleration (m/s^2, B): at t_ns, or its mean over the sample
    interval ending at t_ns for a delta-v accelerometer ([fdir] accel_output).
    """

    t_ns: int
    omega_BN_B: tuple[float, float, float]
    accel_B: tuple[float, float, float]
    sensor: str = "imu"


@dataclass(frozen=True)
class AttitudeMeasurement:
    """Star-tracker attitude referred to the target's Hill frame (the inertial fix rotated with the onboard
    orbit solution).

    t_ns: time of validity (ns since epoch). q_BH: unit quaternion, scalar-first (gnc.frames), v_B = C_BH v_H.
    """

    t_ns: int
    q_BH: tuple[float, float, float, float]
    sensor: str = "star_tracker"


@dataclass(frozen=True)
class SpecificForceMeasurement:
    """The chaser accelerometer's specific force (non-gravitational acceleration) over a nav period, with the
    part of it the flight code commanded: a measurement of the acceleration it did not command.

    t_ns: time of validity (ns since epoch; the end of the averaging window). f_H_m_s2: mean measured specific
    force of the window's samples, bias-corrected, each rotated body -> Hill with the attitude estimate at its
    time (m/s^2, H). u_H_m_s2: mean specific force the commanded thrusters give at the same samples (m/s^2, H).
    sensor: name of the sensor that produced it.
    """

    t_ns: int
    f_H_m_s2: tuple[float, float, float]
    u_H_m_s2: tuple[float, float, float]
    sensor: str = "imu"

    def as_array(self) -> np.ndarray:
        return np.array(self.f_H_m_s2, dtype=np.float64)
