"""Flight-software configuration: frozen, validated dataclasses (see gnc.schema for loading).

Units are named in the field names and their specs; everything inside the flight code is SI.
"""

import math
from dataclasses import dataclass

from gnc.schema import ConfigError, spec

Vec3 = tuple[float, float, float]


@dataclass(frozen=True, kw_only=True)
class VehicleConfig:
    """The chaser as the flight code knows it."""

    mass_kg: float = spec(unit="kg", gt=0, doc="wet mass")
    max_thrust_N: float = spec(unit="N", gt=0, doc="maximum thrust per Hill axis")

    @property
    def max_accel_m_s2(self) -> float:
        return self.max_thrust_N / self.mass_kg


@dataclass(frozen=True, kw_only=True)
class ThrustersConfig:
    """The chaser's body-mounted thrusters as the flight code knows them (B: body axes, origin at the
    centre of mass; the relative sensors look along +X_B)."""

    position_B_m: tuple[Vec3, ...] = spec(unit="m", doc="thruster positions from the centre of mass, B")
    direction_B: tuple[Vec3, ...] = spec(unit="-", doc="thrust directions (force on the vehicle), B; normalised")
    max_thrust_N: float = spec(unit="N", gt=0, doc="thrust of each thruster when on")
    min_impulse_bit_Ns: float = spec(unit="N s", ge=0, doc="smallest impulse a pulse can deliver")

    def validate(self, path):
        if not self.position_B_m or len(self.direction_B) != len(self.position_B_m):
            raise ConfigError(f"{path}.direction_B", len(self.direction_B),
                              f"must list one direction per position ({len(self.position_B_m)}), at least one")
        for i, d in enumerate(self.direction_B):
            if sum(c * c for c in d) < 1e-12:
                raise ConfigError(f"{path}.direction_B[{i}]", d, "must be a non-zero vector")


@dataclass(frozen=True, kw_only=True)
class AttitudeConfig:
    """Attitude loop (gnc.control.attitude): points +X_B at the target with thrusters, star tracker and gyro."""

    period_s: float = spec(unit="s", gt=0, le=10, doc="attitude and thruster-allocation cycle (PWM period)")
    inertia_B_kg_m2: tuple[Vec3, Vec3, Vec3] = spec(unit="kg m^2", doc="inertia about the centre of mass, B")
    bandwidth_rad_s: float = spec(unit="rad/s", gt=0, doc="natural frequency of the closed attitude loop")
    damping: float = spec(0.9, unit="-", gt=0, le=2)
    torque_scale_Nm: float = spec(unit="N m", gt=0, doc="allocation weight: a torque error of this size costs "
                                                           "as much as a force error of vehicle.max_thrust_N")

    def validate(self, path):
        J = self.inertia_B_kg_m2
        if any(abs(J[i][k] - J[k][i]) > 1e-9 * abs(J[i][i]) for i in range(3) for k in range(3)) or min(
                J[0][0], J[1][1], J[2][2]) <= 0:
            raise ConfigError(f"{path}.inertia_B_kg_m2", J, "must be symmetric with positive diagonal")


@dataclass(frozen=True, kw_only=True)
class NavConfig:
    """Relative-navigation EKF tuning."""

    period_s: float = spec(unit="s", gt=0, le=60)
    q_psd_m2_s3: float = spec(unit="m^2/s^3", gt=0, doc="white acceleration noise PSD per axis")
    range_sigma_m: float = spec(unit="m", gt=0, doc="assumed range noise")
    angle_sigma_rad: float = spec(unit="rad", gt=0, lt=0.5, doc="assumed azimuth/elevation noise")
    gate_chi2: float = spec(unit="-", gt=0, doc="chi-square innovation gate (3 dof)")
    init_pos_sigma_m: float = spec(unit="m", gt=0)
    init_vel_sigma_m_s: float = spec(unit="m/s", gt=0)
    thrust_noise_frac: float = spec(0.0, unit="-", ge=0, lt=1,
                                    doc="1-sigma thrust magnitude error / commanded, new each prediction interval")
    thrust_noise_dir_rad: float = spec(0.0, unit="rad", ge=0, lt=0.5,
                                       doc="1-sigma thrust direction error per axis across the command")
    range_bias_sigma_m: float = spec(0.0, unit="m", ge=0, doc="prior sigma of a range-bias state (0: none)")
    angle_bias_sigma_rad: float = spec(0.0, unit="rad", ge=0, lt=0.5,
                                       doc="prior sigma of azimuth/elevation bias states (0: none; "
                                           "needs range_bias_sigma_m > 0)")
    history_s: float = spec(0.0, unit="s", ge=0, le=600,
                            doc="late (out-of-order) samples up to this old are re-processed from the filter's "
                                "history, older ones skipped and counted (n_late) (0: no history, late samples skipped)")
    thrust_scale_sigma: float = spec(0.0, unit="-", ge=0, lt=1,
                                     doc="prior sigma of a constant thrust-scale state (0: none; needs both "
                                         "bias states)")
    process: str = spec("hcw", choices=("hcw", "ya", "nerm", "nerm_j2"),
                        doc="process model (gnc.nav.process): HCW, Yamanaka-Ankersen, nonlinear two-body, or "
                            "nonlinear point-mass + J2 (needs the target's inclination_rad)")
    init_los_sigma_rad: float = spec(0.0, unit="rad", ge=0, lt=0.5,
                                     doc="> 0: the initial position sigma is init_pos_sigma_m along the line of "
                                         "sight and range x this across it (an angles-only prior: direction known, "
                                         "range not); 0: init_pos_sigma_m on every axis")
    camera_angle_sigma_rad: float = spec(0.0, unit="rad", ge=0, lt=0.5,
                                         doc="assumed camera azimuth/elevation noise (0: no camera model)")
    rel_gnss_sigma_m: float = spec(0.0, unit="m", ge=0, doc="assumed relative-GNSS noise per Hill axis "
                                                            "(0: no relative-GNSS model)")
    accel_state_sigma_m_s2: float = spec(0.0, unit="m/s^2", ge=0,
                                         doc="steady-state sigma per Hill axis of an unmodelled-acceleration state d "
                                             "(first-order Gauss-Markov, v_dot += d; 0: no state)")
    accel_state_tau_s: float = spec(600.0, unit="s", gt=0, doc="correlation time of the state d")
    specific_force_noise_density: float = spec(
        0.0, unit="m/s/sqrt(s)", ge=0, doc="accelerometer velocity random walk assumed by nav: > 0 hands the IMU's "
                                           "mean specific force of each nav period to the filter as a measurement "
                                           "of d (6-DOF chaser with an IMU; needs accel_state_sigma_m_s2 > 0)")
    specific_force_floor_m_s2: float = spec(1e-7, unit="m/s^2", ge=0,
                                            doc="1-sigma per axis added to the specific-force noise for what the "
                                                "accelerometer sees and nav does not model (chaser drag, SRP)")
    specific_force_bias_m_s2: float = spec(0.0, unit="m/s^2", ge=0,
                                           doc="1-sigma per axis of the accelerometer bias left after the thruster "
                                               "FDIR's estimate (bias instability), added to the noise as white")
    thrust_input: str = spec("commanded", choices=("commanded", "imu"),
                             doc="the acceleration the filter predicts with: the commanded one, or the IMU's mean "
                                 "specific force of each nav period (6-DOF chaser with a delta-v accelerometer; "
                                 "its noise from specific_force_noise_density, floor and bias, "
                                 "``relnav.specific_force_variance``)")

    def validate(self, path):
        if self.thrust_scale_sigma > 0 and self.angle_bias_sigma_rad == 0:
            raise ConfigError(f"{path}.thrust_scale_sigma", self.thrust_scale_sigma,
                              "needs the bias states: set range_bias_sigma_m and angle_bias_sigma_rad > 0")
        if self.angle_bias_sigma_rad > 0 and self.range_bias_sigma_m == 0:
            raise ConfigError(f"{path}.angle_bias_sigma_rad", self.angle_bias_sigma_rad,
                              "needs the range-bias state: set range_bias_sigma_m > 0")
        if self.thrust_input == "imu":
            if self.specific_force_noise_density == 0:
                raise ConfigError(f"{path}.thrust_input", self.thrust_input,
                                  "needs the accelerometer's noise: set specific_force_noise_density > 0")
            if self.thrust_scale_sigma > 0:
                raise ConfigError(f"{path}.thrust_scale_sigma", self.thrust_scale_sigma,
                                  "a thrust-scale state scales the commanded thrust: set it to 0 with "
                                  "thrust_input = 'imu'")
        elif self.specific_force_noise_density > 0 and self.accel_state_sigma_m_s2 == 0:
            raise ConfigError(f"{path}.specific_force_noise_density", self.specific_force_noise_density,
                              "needs the unmodelled-acceleration state: set accel_state_sigma_m_s2 > 0")


@dataclass(frozen=True, kw_only=True)
class ControlConfig:
    """MPC set-up. Weights act on the non-dimensional states and inputs of gnc.control.mpc."""

    period_s: float = spec(unit="s", gt=0, le=600, doc="MPC cycle and model step")
    horizon_steps: int = spec(unit="-", ge=2, le=200)
    controller: str = spec("mpc", choices=("mpc", "lqr"),
                           doc="the MPC, or the LQR baseline (gnc.control.lqr: no constraints but saturation)")
    mpc_path: str = spec("fast", choices=("fast", "cvxpy"),
                         doc="fast: cvxpy's canonical problem data solved by one OSQP instance set up once; "
                             "cvxpy: problem.solve with `solver`")
    solver: str = spec("CLARABEL", choices=("CLARABEL", "OSQP"), doc="solver of mpc_path = 'cvxpy'")
    model: str = spec("hcw", choices=("hcw", "ya"),
                      doc="MPC prediction model: HCW (circular orbit) or Yamanaka-Ankersen (eccentric, time-varying)")
    keep_out_radius_m: float = spec(unit="m", gt=0)
    closing_speed_min_m_s: float = spec(unit="m/s", gt=0, doc="closing-speed limit at the keep-out sphere")
    closing_speed_gain_per_s: float = spec(unit="1/s", ge=0, doc="limit grows by this per metre of range")
    q_pos: float = spec(1.0, unit="-", ge=0)
    q_vel: float = spec(1.0, unit="-", ge=0)
    r_u: float = spec(1.0, unit="-", gt=0)
    fuel_weight: float = spec(0.0, unit="-", ge=0)
    reference: str = spec("fuel_optimal", choices=("fuel_optimal", "two_impulse"),
                          doc="transfer reference: guidance's fuel-optimal plan (gnc.guidance.plan), re-solved "
                              "from the estimate every replan_s and tracked with its thrust as feedforward; "
                              "or the free two-impulse HCW arc")
    plan_fuel_weight: float = spec(2.0, unit="-", ge=0,
                                   doc="fuel_weight while a fuel-optimal plan is flown (on the corrections to its thrust)")
    replan_s: float = spec(300.0, unit="s", gt=0, doc="re-planning period of the fuel-optimal reference")
    plan_vel_sigma_m_s: float = spec(0.01, unit="m/s", gt=0,
                                     doc="a transfer's first fuel-optimal plan waits, coasting, until the "
                                         "estimate's velocity 1-sigma (root of the covariance trace) is below this")
    budget_s: float = spec(unit="s", gt=0, doc="compute budget of one guidance+MPC cycle")
    approach_ellipsoid_m: Vec3 = spec((0.0, 0.0, 0.0), unit="m",
                                      doc="approach ellipsoid semi-axes (radial, along-track, cross-track) about the "
                                          "target, entered only along the corridor about guidance's reference "
                                          "(gnc.control.mpc); all zero: none")
    corridor_half_width_m: float = spec(50.0, unit="m", gt=0, doc="corridor half-width inside the approach ellipsoid")
    terminal_set: bool = spec(False, doc="constrain the MPC's last planned state to the LQR-invariant terminal box")

    def validate(self, path):
        ae = self.approach_ellipsoid_m
        if any(a != 0.0 for a in ae) and not all(a > 0.0 for a in ae):
            raise ConfigError(f"{path}.approach_ellipsoid_m", ae, "must be three semi-axes > 0 m, or all zero (none)")

    @property
    def approach_ellipsoid(self):
        """The approach ellipsoid's semi-axes (m, H), or None."""
        return self.approach_ellipsoid_m if any(a > 0.0 for a in self.approach_ellipsoid_m) else None


@dataclass(frozen=True, kw_only=True)
class ApproachPhase:
    """Transfer to a point of the Hill frame, arriving at rest after transfer_s."""

    KIND = "approach"
    kind: str = spec(choices=("approach", "depart"))
    name: str = spec()
    to_H_m: Vec3 = spec(unit="m")
    transfer_s: float = spec(unit="s", gt=0)
    arrive_pos_tol_m: float = spec(unit="m", gt=0)
    arrive_vel_tol_m_s: float = spec(unit="m/s", gt=0)


@dataclass(frozen=True, kw_only=True)
class DepartPhase(ApproachPhase):
    """Transfer away from the target; the mission ends on arrival."""

    KIND = "depart"


@dataclass(frozen=True, kw_only=True)
class HoldPhase:
    """Station-keeping at a fixed point of the Hill frame for duration_s."""

    KIND = "hold"
    kind: str = spec(choices=("hold",))
    name: str = spec()
    at_H_m: Vec3 = spec(unit="m")
    duration_s: float = spec(unit="s", gt=0)


@dataclass(frozen=True, kw_only=True)
class InspectPhase:
    """Passively safe inspection ellipse centred on the target, by parallel relative e/i vectors.

    Radial and cross-track oscillations are in quadrature, so the radial/cross-track distance
    never falls below min(radial_amp_m, cross_amp_m) even if along-track drift builds up.
    """

    KIND = "inspect"
    kind: str = spec(choices=("inspect",))
    name: str = spec()
    radial_amp_m: float = spec(unit="m", gt=0)
    cross_amp_m: float = spec(unit="m", gt=0)
    min_distance_m: float = spec(unit="m", gt=0, doc="required passive-safety distance")
    orbits: float = spec(unit="orbits", gt=0)
    entry_s: float = spec(unit="s", gt=0, doc="transfer time from the previous point to the ellipse")

    def validate(self, path):
        if min(self.radial_amp_m, self.cross_amp_m) < self.min_distance_m:
            raise ConfigError(f"{path}.radial_amp_m", self.radial_amp_m,
                              f"radial and cross amplitudes must be >= min_distance_m = {self.min_distance_m}")


@dataclass(frozen=True, kw_only=True)
class DockPhase:
    """Final approach to contact inside a line-of-sight cone about the docking axis.

    The cone's apex is the contact point (contact_m along axis_H from the target's centre); the
    closing speed follows contact_speed_m_s + closing_speed_gain_per_s * (distance to contact).
    The keep-out sphere does not apply in this phase; the cone and the closing-speed law do.
    """

    KIND = "dock"
    kind: str = spec(choices=("dock",))
    name: str = spec()
    axis_H: Vec3 = spec(unit="-", doc="docking axis, from the target outwards, Hill frame")
    contact_m: float = spec(unit="m", ge=0)
    cone_half_angle_deg: float = spec(unit="deg", gt=0, lt=90)
    contact_speed_m_s: float = spec(unit="m/s", gt=0, le=0.2)
    closing_speed_gain_per_s: float = spec(unit="1/s", ge=0, le=0.1)
    contact_pos_tol_m: float = spec(unit="m", gt=0, doc="allowed lateral miss at contact")

    def validate(self, path):
        if sum(c * c for c in self.axis_H) < 1e-12:
            raise ConfigError(f"{path}.axis_H", self.axis_H, "must be a non-zero vector (direction of the docking axis)")


Phase = ApproachPhase | DepartPhase | HoldPhase | InspectPhase | DockPhase


@dataclass(frozen=True, kw_only=True)
class AbortConfig:
    """When to abort and how: a burn to a passively safe drift, then thrusters off."""

    nav_pos_sigma_max_m: float = spec(unit="m", gt=0, doc="abort when 1-sigma position uncertainty exceeds")
    sensor_timeout_s: float = spec(unit="s", gt=0, doc="abort when no relative measurement for this long")
    mpc_fail_limit: int = spec(unit="-", ge=1, doc="abort after this many consecutive failed solves")
    keep_out_margin_m: float = spec(unit="m", ge=0, doc="abort when the estimate comes this close to keep-out")
    escape_dv_m_s: float = spec(unit="m/s", gt=0, doc="largest escape burn considered")
    safe_drift_s: float = spec(unit="s", gt=0, doc="free drift after the escape must stay outside keep-out")
    drift_sigma_k: float = spec(3.0, unit="-", ge=0, doc="the escape's free drift must clear keep-out + margin by "
                                "this many 1-sigma of the estimate along the line of sight")
    recheck_s: float = spec(60.0, unit="s", gt=0, doc="after the abort, re-check the free drift this often and "
                            "burn again when it comes within keep-out + margin")


@dataclass(frozen=True, kw_only=True)
class MissionConfig:
    """The phases flown in order, and the abort rules."""

    phases: tuple[Phase, ...] = spec()
    abort: AbortConfig = spec()

    def validate(self, path):
        if not self.phases:
            raise ConfigError(f"{path}.phases", [], "must list at least one phase")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ConfigError(f"{path}.phases", names, "phase names must be unique")


@dataclass(frozen=True, kw_only=True)
class FdirConfig:
    """Fault detection of the 6-DOF chaser's thrusters, IMU and star tracker (gnc.fdir_thrusters, gnc.fdir).
    Noise figures are the IMU datasheet's (what the flight code may know)."""

    gyro_noise_density: float = spec(4.4e-5, unit="rad/sqrt(s)", gt=0, doc="gyro angle random walk")
    accel_noise_density: float = spec(8e-4, unit="m/s/sqrt(s)", gt=0, doc="accelerometer velocity random walk")
    noise_margin: float = spec(2.0, unit="-", ge=1, doc="residual sigmas x this for what the model leaves out")
    thrust_model_error: float = spec(0.1, unit="-", ge=0, doc="fraction of a firing thruster's force and torque "
                                                             "the thruster table does not predict (1-sigma)")
    thruster_threshold: float = spec(25.0, unit="-", gt=0, doc="CUSUM log-likelihood ratio that declares a "
                                                              "thruster (false alarms ~ e^-h per sample)")
    thruster_isolate_margin: float = spec(10.0, unit="-", ge=0, doc="log-likelihood lead over the next thruster")
    accel_bias_window_s: float = spec(60.0, unit="s", gt=0, doc="accelerometer bias averaging time")
    accel_output: str = spec("instant", choices=("instant", "delta_v"),
                             doc="what the accelerometer reads: the specific force at the sample instant, or its "
                                 "mean over the sample interval (a delta-v IMU)")
    imu_timeout_s: float = spec(3.0, unit="s", gt=0, doc="IMU declared stale after no new sample for this long")
    imu_stuck_samples: int = spec(5, unit="-", ge=2, doc="IMU declared stuck after this many identical samples")
    star_tracker_timeout_s: float = spec(10.0, unit="s", gt=0, doc="star tracker declared silent after this")
    attitude_fix_limit_s: float = spec(600.0, unit="s", gt=0, doc="abort after this long without an attitude "
                                                                  "fix (gyro-only propagation)")
    nav_overrun_limit: int = spec(5, unit="-", ge=1, doc="abort after this many consecutive navigation overruns")


@dataclass(frozen=True, kw_only=True)
class FlightConfig:
    """Everything the flight software is told. n_rad_s: target mean motion (rad/s). thrusters and attitude:
    the 6-DOF chaser (None: 3-axis acceleration commands with ideal attitude). fdir: fault detection settings."""

    n_rad_s: float
    vehicle: VehicleConfig
    nav: NavConfig
    control: ControlConfig
    mission: MissionConfig
    thrusters: ThrustersConfig | None = None
    attitude: AttitudeConfig | None = None
    fdir: FdirConfig = FdirConfig()
    eccentricity: float = 0.0      # the target orbit as the flight code knows it (Keplerian): eccentricity (-)
    true_anomaly0_rad: float = 0.0  # and true anomaly at the run's start (rad); read by the YA MPC
    inclination_rad: float | None = None  # inclination to the Earth's equator (rad, [0, pi]); None: unknown
    arg_perigee_rad: float = 0.0    # argument of perigee (rad); with the two above, read by nav.process 'nerm_j2'

    def __post_init__(self):
        i = self.inclination_rad
        if i is not None and not (math.isfinite(i) and 0.0 <= i <= math.pi):
            raise ConfigError("inclination_rad", i, "must be in [0, pi] rad")
        if not math.isfinite(self.arg_perigee_rad):
            raise ConfigError("arg_perigee_rad", self.arg_perigee_rad, "must be a finite number (rad)")
        if self.nav.process == "nerm_j2" and i is None:
            raise ConfigError("inclination_rad", i, "the target's inclination is needed by nav.process = 'nerm_j2'")
