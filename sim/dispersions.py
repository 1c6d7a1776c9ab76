"""Monte Carlo dispersions: what a campaign varies from run to run, and one run's draw applied to a Scenario.

A scenario's optional ``[dispersions]`` section declares the spreads (all zero by default: no dispersion).
``disperse(scn, seed)`` draws one run's values and returns the dispersed Scenario: its truth (initial
state, sensor, thrust, mass) differs from the nominal, while what the flight code is told (vehicle, nav,
control, mission) does not. The result is validated like a loaded file, so a draw that makes the scenario
invalid (e.g. a start inside the keep-out sphere) raises ConfigError naming the field.

Each group draws from its own child stream (``SeedSequence([seed, STREAM_TAG]).spawn``, in the fixed order
of GROUPS) and always draws the same number of values, so enabling a group, or appending a new group for
a later dispersion, leaves every other group's draws unchanged.
"""

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from gnc.config import Vec3
from gnc.schema import ConfigError, load, spec

STREAM_TAG = 0x44495350  # "DISP": keeps the dispersion streams apart from the run's own seed streams
GROUPS = ("initial_state", "sensor", "vehicle", "faults", "faults_6dof")


@dataclass(frozen=True, kw_only=True)
class InitialStateDispersion:
    """Gaussian error of the chaser's true initial relative state, per Hill axis (x radial, y along, z normal).

    The flight code's initial estimate stays within nav.init_*_sigma of the dispersed truth.
    """

    pos_sigma_H_m: Vec3 = spec((0.0, 0.0, 0.0), unit="m", ge=0, doc="1-sigma of r0_CT_H per axis")
    vel_sigma_H_m_s: Vec3 = spec((0.0, 0.0, 0.0), unit="m/s", ge=0,
                                 doc="1-sigma of v0_CT_H per axis (rotating-frame derivative)")


@dataclass(frozen=True, kw_only=True)
class SensorDispersion:
    """Errors of the true relative sensor; the navigation filter keeps its nominal noise model."""

    noise_scale_log_sigma: float = spec(0.0, unit="-", ge=0, le=2,
                                        doc="true noise sigmas x exp(N(0, s^2)) (log-normal scale factor)")
    range_bias_sigma_m: float = spec(0.0, unit="m", ge=0, doc="range bias += N(0, s^2)")
    angle_bias_sigma_rad: float = spec(0.0, unit="rad", ge=0, doc="angle bias += N(0, s^2)")
    dropout_prob_max: float = spec(0.0, unit="-", ge=0, le=1,
                                   doc="dropout probability uniform in [sensor.dropout_prob, max(that, this)]")


@dataclass(frozen=True, kw_only=True)
class VehicleDispersion:
    """Thrust and mass errors of the truth; the flight code keeps vehicle.mass_kg and vehicle.max_thrust_N."""

    mass_sigma_kg: float = spec(0.0, unit="kg", ge=0, doc="truth.mass_error_kg += N(0, s^2)")
    thrust_scale_sigma: float = spec(0.0, unit="-", ge=0, doc="truth.thrust_scale x= 1 + N(0, s^2)")
    drag_area_log_sigma: float = spec(0.0, unit="-", ge=0, le=2,
                                      doc="truth.chaser.drag_area_m2 x exp(N(0, s^2)) (attitude-dependent area)")


@dataclass(frozen=True, kw_only=True)
class FaultDispersion:
    """Random faults of the truth (``sim.faults``), added to those the scenario declares."""

    sensor_outage_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one relative-sensor outage")
    outage_duration_s: tuple[float, float] = spec((10.0, 120.0), unit="s", gt=0,
                                                  doc="outage duration uniform in [min, max]")
    bias_jump_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one relative-sensor bias jump")
    bias_jump_range_sigma_m: float = spec(10.0, unit="m", ge=0, doc="its range step ~ N(0, s^2)")
    bias_jump_angle_sigma_rad: float = spec(2e-3, unit="rad", ge=0, le=0.02, doc="its angle step ~ N(0, s^2)")
    outliers_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one burst of outliers")
    outliers_duration_s: float = spec(300.0, unit="s", gt=0, doc="length of the burst")
    outliers_rate: float = spec(0.1, unit="-", gt=0, le=1, doc="fraction of the burst's samples hit")
    outliers_range_m: float = spec(30.0, unit="m", ge=0, doc="range error of an outlier (random sign)")
    outliers_angle_rad: float = spec(0.02, unit="rad", ge=0, le=0.5, doc="angle error of an outlier (random signs)")
    thruster_failed_off_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one thruster failed off "
                                                                        "(6-DOF; index uniform)")
    thruster_stuck_on_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one thruster stuck on")
    imu_stuck_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of the IMU output freezing")
    imu_stale_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of the IMU delivering no new samples")
    imu_fault_duration_s: tuple[float, float] = spec((10.0, 600.0), unit="s", gt=0,
                                                     doc="IMU fault duration uniform in [min, max]")
    star_tracker_loss_prob: float = spec(0.0, unit="-", ge=0, le=1, doc="probability of one star-tracker loss")
    star_tracker_loss_duration_s: tuple[float, float] = spec((30.0, 1200.0), unit="s", gt=0,
                                                             doc="loss duration uniform in [min, max]")

    def validate(self, path):
        for name in ("outage_duration_s", "imu_fault_duration_s", "star_tracker_loss_duration_s"):
            lo, hi = getattr(self, name)
            if hi < lo:
                raise ConfigError(f"{path}.{name}", [lo, hi], "must be [min, max] with min <= max")


@dataclass(frozen=True, kw_only=True)
class Dispersions:
    """The ``[dispersions]`` section: one table per group; an absent table means no dispersion."""

    initial_state: InitialStateDispersion = spec(InitialStateDispersion())
    sensor: SensorDispersion = spec(SensorDispersion())
    vehicle: VehicleDispersion = spec(VehicleDispersion())
    faults: FaultDispersion = spec(FaultDispersion())


def draw(scn, seed: int) -> dict:
    """One run's dispersion values for Scenario scn and run seed (int >= 0), JSON-ready.

    Keys: dr0_H_m, dv0_H_m_s (added to the initial state), noise_scale (x sensor noise sigmas),
    d_range_bias_m, d_angle_bias_rad (added), dropout_prob (replaces), d_mass_kg (added to
    truth.mass_error_kg), thrust_scale (x truth.thrust_scale), drag_area_scale (x truth.chaser.drag_area_m2),
    faults (a list of ``sim.faults`` tables appended to the scenario's: an outage, a bias jump, a burst of
    outliers, and for a 6-DOF chaser a thruster failed off, one stuck on, the IMU stuck or stale, a star-tracker
    loss, each with its probability, starting uniformly within run.max_duration_s).
    """
    i, s, v, f = (scn.dispersions.initial_state, scn.dispersions.sensor, scn.dispersions.vehicle,
                  scn.dispersions.faults)
    streams = np.random.SeedSequence([seed, STREAM_TAG]).spawn(len(GROUPS))
    g = {name: np.random.default_rng(ss) for name, ss in zip(GROUPS, streams)}
    z_state = g["initial_state"].standard_normal(6)
    z_sensor = g["sensor"].standard_normal(3)
    z_vehicle = g["vehicle"].standard_normal(3)
    u_fault, z_fault = g["faults"].random(7), g["faults"].standard_normal(2)
    t_end = scn.run.max_duration_s
    u6 = g["faults_6dof"].random(15)  # its own stream: the relative-sensor faults' draws are unchanged
    n_thr = len(scn.thruster_config.position_B_m) if scn.six_dof else 0

    def span(lo_hi, u):
        return float(lo_hi[0] + u * (lo_hi[1] - lo_hi[0]))

    faults = [
        (f.sensor_outage_prob, {"kind": "sensor_outage", "start_s": float(u_fault[1] * t_end),
                                "duration_s": float(f.outage_duration_s[0]
                                                    + u_fault[2] * np.diff(f.outage_duration_s)[0])}),
        (f.bias_jump_prob, {"kind": "sensor_bias_jump", "start_s": float(u_fault[4] * t_end),
                            "range_bias_m": f.bias_jump_range_sigma_m * float(z_fault[0]),
                            "angle_bias_rad": f.bias_jump_angle_sigma_rad * float(z_fault[1])}),
        (f.outliers_prob, {"kind": "sensor_outliers", "start_s": float(u_fault[6] * t_end),
                           "duration_s": f.outliers_duration_s, "prob": f.outliers_rate,
                           "range_m": f.outliers_range_m, "angle_rad": f.outliers_angle_rad}),
    ]
    faults_6dof = [
        (f.thruster_failed_off_prob, {"kind": "thruster_failed_off", "index": int(u6[1] * n_thr),
                                      "start_s": float(u6[2] * t_end)}),
        (f.thruster_stuck_on_prob, {"kind": "thruster_stuck_on", "index": int(u6[4] * n_thr),
                                    "start_s": float(u6[5] * t_end)}),
        (f.imu_stuck_prob, {"kind": "imu_stuck", "start_s": float(u6[7] * t_end),
                            "duration_s": span(f.imu_fault_duration_s, u6[8])}),
        (f.imu_stale_prob, {"kind": "imu_stale", "start_s": float(u6[10] * t_end),
                            "duration_s": span(f.imu_fault_duration_s, u6[11])}),
        (f.star_tracker_loss_prob, {"kind": "star_tracker_loss", "start_s": float(u6[13] * t_end),
                                    "duration_s": span(f.star_tracker_loss_duration_s, u6[14])}),
    ]
    p0 = scn.sensor.dropout_prob
    return {
        "dr0_H_m": (np.array(i.pos_sigma_H_m) * z_state[:3]).tolist(),
        "dv0_H_m_s": (np.array(i.vel_sigma_H_m_s) * z_state[3:]).tolist(),
        "noise_scale": math.exp(s.noise_scale_log_sigma * z_sensor[0]),
        "d_range_bias_m": s.range_bias_sigma_m * float(z_sensor[1]),
        "d_angle_bias_rad": s.angle_bias_sigma_rad * float(z_sensor[2]),
        "dropout_prob": float(g["sensor"].uniform(p0, max(p0, s.dropout_prob_max))),
        "d_mass_kg": v.mass_sigma_kg * float(z_vehicle[0]),
        "thrust_scale": 1.0 + v.thrust_scale_sigma * float(z_vehicle[1]),
        "drag_area_scale": math.exp(v.drag_area_log_sigma * z_vehicle[2]),
        "faults": [fault for (prob, fault), u in zip(faults, u_fault[[0, 3, 5]]) if u < prob]
        + [fault for (prob, fault), u in zip(faults_6dof, u6[[0, 3, 6, 9, 12]]) if u < prob and n_thr],
    }


def apply(scn, values: dict, seed: int):
    """Scenario scn with the draw values (see ``draw``) applied, run.seed = seed and no dispersions left.

    Validated as a loaded file: ConfigError names the field a draw made invalid.
    """
    data = dataclasses.asdict(scn)
    data["run"]["seed"] = seed
    c, sen, tr = data["chaser"], data["sensor"], data["truth"]
    c["r0_CT_H_m"] = [a + b for a, b in zip(c["r0_CT_H_m"], values["dr0_H_m"])]
    c["v0_CT_H_m_s"] = [a + b for a, b in zip(c["v0_CT_H_m_s"], values["dv0_H_m_s"])]
    sen["range_noise_m"] *= values["noise_scale"]
    sen["angle_noise_rad"] *= values["noise_scale"]
    sen["range_bias_m"] += values["d_range_bias_m"]
    sen["angle_bias_rad"] += values["d_angle_bias_rad"]
    sen["dropout_prob"] = values["dropout_prob"]
    tr["mass_error_kg"] += values["d_mass_kg"]
    tr["thrust_scale"] *= values["thrust_scale"]
    tr["chaser"]["drag_area_m2"] *= values["drag_area_scale"]
    data["faults"] = list(data["faults"]) + values["faults"]
    data["dispersions"] = dataclasses.asdict(Dispersions())
    return load(type(scn), data)


def disperse(scn, seed: int):
    """(dispersed Scenario, draw values) of the run with this seed; see ``draw`` and ``apply``."""
    values = draw(scn, seed)
    return apply(scn, values, seed), values


def to_toml(data: dict, _prefix: str = "") -> str:
    """TOML text of a nested dict of tables, arrays of tables and scalar/array values (e.g. asdict(Scenario)).

    Floats are written with repr, so ``parse_scenario(to_toml(asdict(scn))) == scn`` exactly.
    """
    scalars, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict) or (isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v)):
            tables.append((k, v))
        else:
            scalars.append(f"{k} = {_toml_value(v)}")
    parts = ["\n".join(scalars)] if scalars else []
    for k, v in tables:
        name = f"{_prefix}{k}"
        if isinstance(v, dict):
            parts.append(f"[{name}]\n" + to_toml(v, name + "."))
        else:
            parts.extend(f"[[{name}]]\n" + to_toml(x, name + ".") for x in v)
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"to_toml: unsupported value {v!r}")
