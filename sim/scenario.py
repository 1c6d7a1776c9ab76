"""Scenario files (TOML) -> a frozen, validated Scenario; the FlightConfig the flight code is given.

Units are named in the keys (``altitude_m``, ``inclination_deg``). Errors are ConfigError with one
line: the key path, its value and what is allowed. Unknown keys are errors.
"""

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gnc.config import (AttitudeConfig, ControlConfig, FdirConfig, FlightConfig, MissionConfig, NavConfig,
                        ThrustersConfig, Vec3, VehicleConfig)
from gnc.schema import ConfigError, load, spec
from sim.dispersions import Dispersions
from sim.faults import SIX_DOF_FAULTS, Fault
from sim.gravity import MU_EARTH, R_EARTH
from sim.imu import ACCEL_OUTPUTS


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Identity and length of the run."""

    name: str = spec()
    seed: int = spec(unit="-", ge=0, doc="seeds every random draw of the run")
    epoch_utc: str = spec(doc="ISO 8601 UTC start time, e.g. 2025-09-04T00:00:00Z")
    max_duration_s: float = spec(unit="s", gt=0, le=30 * 86400)

    def validate(self, path):
        try:
            dt.datetime.fromisoformat(self.epoch_utc.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{path}.epoch_utc", self.epoch_utc,
                              "must be an ISO 8601 UTC time like 2025-09-04T00:00:00Z") from None


@dataclass(frozen=True, kw_only=True)
class TargetOrbitConfig:
    """The target's initial osculating orbit. altitude_m = semi-major axis - Earth equatorial radius."""

    altitude_m: float = spec(unit="m", ge=100e3, le=100e6)
    eccentricity: float = spec(0.0, unit="-", ge=0, lt=0.9)
    inclination_deg: float = spec(unit="deg", ge=0, le=180)
    raan_deg: float = spec(0.0, unit="deg", ge=-360, le=360)
    arg_perigee_deg: float = spec(0.0, unit="deg", ge=-360, le=360)
    true_anomaly_deg: float = spec(0.0, unit="deg", ge=-360, le=360)

    @property
    def semi_major_axis_m(self) -> float:
        return R_EARTH + self.altitude_m

    def validate(self, path):
        if self.semi_major_axis_m * (1 - self.eccentricity) < R_EARTH + 100e3:
            raise ConfigError(f"{path}.eccentricity", self.eccentricity,
                              "perigee must stay above 100 km altitude; lower eccentricity or raise altitude_m")


@dataclass(frozen=True, kw_only=True)
class ChaserInitConfig:
    """The chaser's true initial state relative to the target (Hill frame, rotating-frame velocity)."""

    r0_CT_H_m: Vec3 = spec(unit="m")
    v0_CT_H_m_s: Vec3 = spec(unit="m/s")


@dataclass(frozen=True, kw_only=True)
class SurfaceForcesConfig:
    """Drag and solar radiation pressure on one spacecraft (cannonball models, sim.forces)."""

    drag: bool = spec(False, doc="atmospheric drag (NRLMSIS 2.1 density)")
    cd: float = spec(2.2, unit="-", gt=0, le=10, doc="drag coefficient")
    drag_area_m2: float = spec(1.0, unit="m^2", gt=0, doc="cross-section facing the flow")
    srp: bool = spec(False, doc="solar radiation pressure with a conical Earth shadow")
    cr: float = spec(1.3, unit="-", ge=0, le=2, doc="radiation pressure coefficient (1 absorbs, 2 mirrors)")
    srp_area_m2: float = spec(1.0, unit="m^2", gt=0, doc="cross-section facing the Sun")


@dataclass(frozen=True, kw_only=True)
class TargetForcesConfig(SurfaceForcesConfig):
    """The target's drag and SRP, and its mass (the chaser's is vehicle.mass_kg + truth.mass_error_kg)."""

    mass_kg: float = spec(500.0, unit="kg", gt=0)


@dataclass(frozen=True, kw_only=True)
class ThrusterTruthConfig:
    """How the true thrusters differ from ``[thrusters]`` (sim.rigid_body); errors drawn once per run."""

    rise_s: float = spec(0.0, unit="s", ge=0, le=1, doc="thrust ramp 0 -> full after the valve opens")
    fall_s: float = spec(0.0, unit="s", ge=0, le=1, doc="thrust ramp full -> 0 after the valve shuts")
    misalignment_sigma_deg: float = spec(0.0, unit="deg", ge=0, le=10, doc="1-sigma tilt per thruster")
    scale_error_sigma: float = spec(0.0, unit="-", ge=0, le=0.5, doc="true thrust x (1 + N(0, s^2)) per thruster")


@dataclass(frozen=True, kw_only=True)
class ThrusterFailure:
    """Thruster `index` of ``[thrusters]`` fails from onset_s on: shut (failed_off) or open (stuck_on)."""

    index: int = spec(unit="-", ge=0)
    mode: str = spec(choices=("failed_off", "stuck_on"))
    onset_s: float = spec(unit="s", ge=0)


@dataclass(frozen=True, kw_only=True)
class TruthConfig:
    """Truth propagation: integrator step and force models (sim.forces). Defaults: point mass + J2 only."""

    step_s: float = spec(unit="s", gt=0, le=60, doc="largest integrator step")
    j2: bool = spec(True, doc="with gravity_degree = 0: point mass + J2 (true) or point mass (false)")
    thrust_scale: float = spec(1.0, unit="-", gt=0, doc="true thrust = thrust_scale x commanded thrust")
    mass_error_kg: float = spec(0.0, unit="kg", doc="true chaser mass - vehicle.mass_kg (what the flight code assumes)")
    gravity_degree: int = spec(0, unit="-", ge=0, le=70,
                               doc="0: point mass (+ J2); 2..70: EGM2008 harmonics to this degree and order")
    third_body: bool = spec(False, doc="Sun and Moon gravity (analytic ephemerides)")
    f107_sfu: float = spec(150.0, unit="sfu", gt=0, le=400, doc="F10.7 of the previous day, for drag")
    f107a_sfu: float = spec(150.0, unit="sfu", gt=0, le=400, doc="81-day mean F10.7, for drag")
    ap: float = spec(15.0, unit="-", ge=0, le=400, doc="daily geomagnetic Ap, for drag")
    target: TargetForcesConfig = spec(TargetForcesConfig())
    chaser: SurfaceForcesConfig = spec(SurfaceForcesConfig())
    thrusters: ThrusterTruthConfig = spec(ThrusterTruthConfig())
    thruster_failures: tuple[ThrusterFailure, ...] = spec((), doc="thruster faults; the flight code is not told")

    def validate(self, path):
        if self.gravity_degree == 1:
            raise ConfigError(f"{path}.gravity_degree", 1, "must be 0 (point mass + J2) or 2..70 (harmonics)")
        if self.gravity_degree >= 2 and not self.j2:
            raise ConfigError(f"{path}.j2", False, f"must be true with gravity_degree = {self.gravity_degree} "
                              "(the harmonics include J2); set gravity_degree = 0 for point-mass gravity")


@dataclass(frozen=True, kw_only=True)
class RaeSensorConfig:
    """Range/azimuth/elevation sensor (lidar or radar) on the chaser, boresight on the target estimate."""

    period_s: float = spec(unit="s", gt=0, le=60)
    range_noise_m: float = spec(unit="m", ge=0)
    angle_noise_rad: float = spec(unit="rad", ge=0, lt=0.5)
    range_bias_m: float = spec(0.0, unit="m")
    angle_bias_rad: float = spec(0.0, unit="rad", ge=-0.1, le=0.1)
    fov_half_angle_deg: float = spec(unit="deg", gt=0, le=180)
    min_range_m: float = spec(0.0, unit="m", ge=0)
    max_range_m: float = spec(unit="m", gt=0)
    dropout_prob: float = spec(0.0, unit="-", ge=0, le=1)
    latency_s: float = spec(0.0, unit="s", ge=0, le=5, doc="delivery delay after the time of validity")

    def validate(self, path):
        if self.max_range_m <= self.min_range_m:
            raise ConfigError(f"{path}.max_range_m", self.max_range_m,
                              f"must be > min_range_m = {self.min_range_m}")


@dataclass(frozen=True, kw_only=True)
class _DelayedSensorConfig:
    """Sample grid, range limit, dropouts and delivery latency shared by the camera and the relative GNSS
    (sim.sensors._DelayedSensor)."""

    period_s: float = spec(unit="s", gt=0, le=60)
    max_range_m: float = spec(unit="m", gt=0, doc="no sample beyond this range")
    dropout_prob: float = spec(0.0, unit="-", ge=0, le=1)
    latency_s: float = spec(0.0, unit="s", ge=0, le=5, doc="delivery delay after the time of validity")
    latency_jitter_s: float = spec(0.0, unit="s", ge=0, le=5, doc="extra delay, uniform in [0, this]")


@dataclass(frozen=True, kw_only=True)
class CameraConfig(_DelayedSensorConfig):
    """Angles-only camera (sim.sensors.CameraSensor): azimuth and elevation of the target in Hill axes, no range;
    boresight with the lidar's (+X_B, on the target estimate)."""

    angle_noise_rad: float = spec(unit="rad", gt=0, lt=0.5, doc="1-sigma white noise on each angle")
    az_bias_rad: float = spec(0.0, unit="rad", ge=-0.1, le=0.1)
    el_bias_rad: float = spec(0.0, unit="rad", ge=-0.1, le=0.1)
    fov_half_angle_deg: float = spec(unit="deg", gt=0, le=180)


@dataclass(frozen=True, kw_only=True)
class RelGnssConfig(_DelayedSensorConfig):
    """Relative GNSS (sim.sensors.RelGnssSensor): the chaser's fix minus the target's (crosslink), in Hill axes."""

    pos_noise_m: float = spec(unit="m", gt=0, doc="1-sigma white noise per Hill axis")
    bias_H_m: Vec3 = spec((0.0, 0.0, 0.0), unit="m", doc="constant bias per Hill axis")


@dataclass(frozen=True, kw_only=True)
class SensorsConfig:
    """Which relative sensors fly. camera, rel_gnss: [sensors.camera], [sensors.rel_gnss], each held as a tuple
    of 0 or 1 (absent = (), as the 6-DOF tables); lidar = false leaves [sensor] on the ground (its table stays
    required: the dispersions and sensor faults are defined on it)."""

    lidar: bool = spec(True, doc="fly the [sensor] lidar")
    camera: tuple[CameraConfig, ...] = spec(())
    rel_gnss: tuple[RelGnssConfig, ...] = spec(())

    camera_config = property(lambda self: _single(self.camera))
    rel_gnss_config = property(lambda self: _single(self.rel_gnss))

    def validate(self, path):
        p = f"{path}." if path else ""
        for name in ("camera", "rel_gnss"):
            if len(getattr(self, name)) > 1:
                raise ConfigError(f"{p}{name}", "[...]", "must be a single table")
        if not (self.lidar or self.camera or self.rel_gnss):
            raise ConfigError(f"{p}lidar", False, "needs [sensors.camera] or [sensors.rel_gnss]: "
                                                  "the filter must have a relative sensor")


@dataclass(frozen=True, kw_only=True)
class InertialChannelConfig:
    """One IMU triad (sim.imu): unit is rad/s for the gyro, m/s^2 for the accelerometer."""

    noise_density: float = spec(unit="unit sqrt(s)", ge=0, doc="white noise: ARW (rad/sqrt(s)) or VRW (m/s/sqrt(s))")
    bias_sigma: float = spec(0.0, unit="unit", ge=0, doc="1-sigma turn-on bias per axis")
    bias_instability: float = spec(0.0, unit="unit", ge=0, doc="Allan-deviation floor / 0.664 (IEEE Std 952)")
    bias_corr_time_s: float = spec(100.0, unit="s", gt=0, doc="correlation time of the bias-instability process")
    scale_error_sigma: float = spec(0.0, unit="-", ge=0, le=0.1)
    misalignment_sigma_rad: float = spec(0.0, unit="rad", ge=0, le=0.1)
    quantum: float = spec(0.0, unit="unit", ge=0, doc="output resolution (0: none)")
    full_scale: float = spec(unit="unit", gt=0, doc="output saturates at +/- this")


@dataclass(frozen=True, kw_only=True)
class ImuConfig:
    """The chaser's IMU (sim.imu)."""

    period_s: float = spec(unit="s", gt=0, le=1)
    gyro: InertialChannelConfig = spec()
    accel: InertialChannelConfig = spec()
    accel_output: str = spec("instant", choices=ACCEL_OUTPUTS,
                             doc="the accelerometer reads the specific force at the sample time (instant) or its "
                                 "mean since the previous sample, Delta-v / dt (delta_v): sees the thruster pulses")


@dataclass(frozen=True, kw_only=True)
class StarTrackerConfig:
    """The chaser's star tracker (sim.star_tracker), boresight +Z_B."""

    period_s: float = spec(unit="s", gt=0, le=60)
    cross_sigma_rad: float = spec(unit="rad", ge=0, le=0.01, doc="1-sigma about X_B and Y_B")
    roll_sigma_rad: float = spec(unit="rad", ge=0, le=0.05, doc="1-sigma about the boresight Z_B")
    availability: float = spec(1.0, unit="-", ge=0, le=1, doc="probability that a sample gives a fix")
    latency_s: float = spec(0.0, unit="s", ge=0, le=5)


SIX_DOF_TABLES = ("thrusters", "attitude", "imu", "star_tracker")


def _single(tables: tuple):
    return tables[0] if tables else None


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A whole scenario file."""

    run: RunConfig = spec()
    target: TargetOrbitConfig = spec()
    chaser: ChaserInitConfig = spec()
    vehicle: VehicleConfig = spec()
    truth: TruthConfig = spec()
    sensor: RaeSensorConfig = spec()
    sensors: SensorsConfig = spec(SensorsConfig(), doc="which relative sensors fly: lidar ([sensor]), "
                                                      "[sensors.camera], [sensors.rel_gnss]")
    nav: NavConfig = spec()
    control: ControlConfig = spec()
    mission: MissionConfig = spec()
    dispersions: Dispersions = spec(Dispersions(), doc="Monte Carlo dispersions (sim.dispersions); none by default")
    faults: tuple[Fault, ...] = spec((), doc="faults injected into the truth (sim.faults); none by default")
    # The 6-DOF chaser's tables, each written [name] in a file and held as a tuple of 0 or 1 (absent = (), so a
    # scenario survives dataclasses.asdict and back, as the Monte Carlo campaign does); read them with the
    # *_config properties.
    thrusters: tuple[ThrustersConfig, ...] = spec((), doc="body-mounted thrusters; with [attitude], [imu], "
                                                        "[star_tracker]: the 6-DOF chaser (absent: 3-axis thrust, "
                                                        "ideal attitude)")
    attitude: tuple[AttitudeConfig, ...] = spec(())
    imu: tuple[ImuConfig, ...] = spec(())
    star_tracker: tuple[StarTrackerConfig, ...] = spec(())
    fdir: FdirConfig = spec(FdirConfig(), doc="fault detection settings of the flight code (gnc.config.FdirConfig)")

    @property
    def six_dof(self) -> bool:
        return bool(self.thrusters)

    # the table, or None when the scenario has none
    thruster_config = property(lambda self: _single(self.thrusters))
    attitude_config = property(lambda self: _single(self.attitude))
    imu_config = property(lambda self: _single(self.imu))
    star_tracker_config = property(lambda self: _single(self.star_tracker))

    @property
    def mean_motion_rad_s(self) -> float:
        return math.sqrt(MU_EARTH / self.target.semi_major_axis_m**3)

    @property
    def truth_accel_scale(self) -> float:
        """True acceleration per commanded acceleration (-): thrust scale x assumed mass / true mass."""
        m = self.vehicle.mass_kg
        return self.truth.thrust_scale * m / (m + self.truth.mass_error_kg)

    def flight(self) -> FlightConfig:
        """What the flight software is told (its knowledge, not the truth)."""
        return FlightConfig(n_rad_s=self.mean_motion_rad_s, vehicle=self.vehicle, nav=self.nav,
                            control=self.control, mission=self.mission, thrusters=self.thruster_config,
                            attitude=self.attitude_config, fdir=self.fdir, eccentricity=self.target.eccentricity,
                            true_anomaly0_rad=math.radians(self.target.true_anomaly_deg),
                            inclination_rad=math.radians(self.target.inclination_deg),
                            arg_perigee_rad=math.radians(self.target.arg_perigee_deg))

    def validate(self, path):
        six = [name for name in SIX_DOF_TABLES if getattr(self, name)]
        for name in six:
            if len(getattr(self, name)) > 1:
                raise ConfigError(name, "[...]", "must be a single table")
        if six and len(six) < 4:
            missing = sorted({"thrusters", "attitude", "imu", "star_tracker"} - set(six))
            raise ConfigError(missing[0], None, f"required with [{six[0]}]: a 6-DOF chaser needs [thrusters], "
                              "[attitude], [imu] and [star_tracker] (or none of them)")
        th = self.thruster_config
        if th is not None:
            n = len(th.position_B_m)
            for i, f in enumerate(self.truth.thruster_failures):
                if f.index >= n:
                    raise ConfigError(f"truth.thruster_failures[{i}].index", f.index, f"must be < {n} (thruster count)")
            t_min = th.min_impulse_bit_Ns / th.max_thrust_N
            if self.truth.thrusters.rise_s > t_min:
                raise ConfigError("truth.thrusters.rise_s", self.truth.thrusters.rise_s,
                                  f"must be <= the shortest pulse, thrusters.min_impulse_bit_Ns / max_thrust_N = {t_min}")
        elif self.truth.thruster_failures:
            raise ConfigError("truth.thruster_failures", "[...]", "needs a [thrusters] table")
        imu = self.imu_config
        if imu is not None and self.fdir.accel_output != imu.accel_output:
            raise ConfigError("fdir.accel_output", self.fdir.accel_output,
                              f"must say what the IMU reads: imu.accel_output = {imu.accel_output!r}")
        if self.nav.thrust_input == "imu" and (imu is None or imu.accel_output != "delta_v"):
            raise ConfigError("nav.thrust_input", self.nav.thrust_input,
                              "needs a delta-v accelerometer, [imu] accel_output = 'delta_v' (an instant one misses "
                              "the thruster pulses)")
        for i, f in enumerate(self.faults):
            if isinstance(f, SIX_DOF_FAULTS) and th is None:
                raise ConfigError(f"faults[{i}].kind", f.kind, "needs the 6-DOF chaser ([thrusters], [attitude], ...)")
            if hasattr(f, "index") and f.index >= len(th.position_B_m):
                raise ConfigError(f"faults[{i}].index", f.index, f"must be < {len(th.position_B_m)} (thruster count)")
        for table, key in (("camera", "camera_angle_sigma_rad"), ("rel_gnss", "rel_gnss_sigma_m")):
            if getattr(self.sensors, table) and getattr(self.nav, key) == 0:
                raise ConfigError(f"nav.{key}", 0.0, f"must be > 0 with [sensors.{table}] (the filter's noise model)")
        if self.vehicle.mass_kg + self.truth.mass_error_kg <= 0:
            raise ConfigError("truth.mass_error_kg", self.truth.mass_error_kg,
                              f"must be > -vehicle.mass_kg = {-self.vehicle.mass_kg} (the true mass must be > 0)")
        if self.control.keep_out_radius_m >= math.dist(self.chaser.r0_CT_H_m, (0, 0, 0)):
            raise ConfigError("chaser.r0_CT_H_m", self.chaser.r0_CT_H_m,
                              f"must start outside the keep-out sphere (control.keep_out_radius_m = "
                              f"{self.control.keep_out_radius_m})")


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Scenario from TOML text; ConfigError on any bad or unknown field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(file)", f"is not valid TOML: {exc}") from None
    return scenario_from_dict(data)


SENSOR_TABLES = ("camera", "rel_gnss")  # [sensors.camera], [sensors.rel_gnss]


def scenario_from_dict(data: dict) -> Scenario:
    """Scenario from parsed TOML (plain dicts); ConfigError on any bad or unknown field. A 6-DOF table
    ([thrusters], ...) or a [sensors.camera] / [sensors.rel_gnss] table becomes the 1-tuple the dataclass
    holds; errors name it without the [0]."""
    data = {k: [v] if k in SIX_DOF_TABLES and isinstance(v, dict) else v for k, v in data.items()}
    if isinstance(data.get("sensors"), dict):
        data["sensors"] = {k: [v] if k in SENSOR_TABLES and isinstance(v, dict) else v
                           for k, v in data["sensors"].items()}
    try:
        return load(Scenario, data)
    except ConfigError as exc:
        for name in SIX_DOF_TABLES + tuple(f"sensors.{t}" for t in SENSOR_TABLES):
            if exc.path.startswith(f"{name}[0]"):
                raise ConfigError(name + exc.path[len(name) + 3:], exc.value, exc.allowed) from None
        raise


def load_scenario(path: str | Path) -> Scenario:
    """Scenario from a TOML file; ConfigError on a missing file or any bad field."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(str(p), "(file)", f"cannot be read: {exc.strerror}") from None
    return parse_scenario(text, str(p))
