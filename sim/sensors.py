"""Simulated relative sensors."""

import numpy as np
from numba import njit

from gnc.models.rae import rae_from_rel, wrap_angle
from gnc.ports import AnglesMeasurement, RaeMeasurement, RelPosMeasurement

NS = 1_000_000_000


@njit(cache=True)
def rae_in_view(r_CT_H, point_H, fov_half_angle_rad, min_range_m, max_range_m):
    """True when the target, seen from the chaser at r_CT_H (m, H), lies within [min_range_m, max_range_m]
    and within fov_half_angle_rad (rad) of the boresight direction point_H (H, any length)."""
    rng = np.sqrt(r_CT_H @ r_CT_H)
    if not min_range_m <= rng <= max_range_m:
        return False
    cos_off = -(r_CT_H @ point_H) / (rng * np.sqrt(point_H @ point_H))
    return cos_off >= np.cos(fov_half_angle_rad)


class RaeSensor:
    """Range/azimuth/elevation of the target seen from the chaser (``gnc.models.rae``), sampled on a grid.

    period_ns: sample period (int ns); samples fall due at 0, period_ns, 2 period_ns, ...
    range_noise_m, angle_noise_rad: 1-sigma white Gaussian noise (m, rad); angle noise on az and el alike.
    range_bias_m, angle_bias_rad: constant biases (m, rad) added to range and to both angles.
    fov_half_angle_rad: half-angle of the field-of-view cone about the boresight (rad).
    max_range_m, min_range_m: true range outside [min_range_m, max_range_m] gives no measurement.
    dropout_prob: probability that an otherwise valid sample is lost.
    rng: the only source of randomness. Every sample() draws exactly one uniform and three normals,
    visible or not, so the noise sequence depends on the seed and the sample count only.
    """

    def __init__(self, period_ns, range_noise_m, angle_noise_rad, range_bias_m, angle_bias_rad,
                 fov_half_angle_rad, max_range_m, min_range_m, dropout_prob, rng: np.random.Generator):
        if not (isinstance(period_ns, (int, np.integer)) and period_ns > 0):
            raise ValueError(f"period_ns must be a positive integer, got {period_ns!r}")
        if not (range_noise_m >= 0 and angle_noise_rad >= 0):
            raise ValueError("noise sigmas must be >= 0")
        if not 0 < fov_half_angle_rad <= np.pi:
            raise ValueError(f"fov_half_angle_rad must be in (0, pi], got {fov_half_angle_rad}")
        if not 0 < min_range_m < max_range_m:
            raise ValueError(f"need 0 < min_range_m < max_range_m, got {min_range_m}, {max_range_m}")
        if not 0 <= dropout_prob <= 1:
            raise ValueError(f"dropout_prob must be in [0, 1], got {dropout_prob}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.period_ns = int(period_ns)
        self.sigma = np.array([range_noise_m, angle_noise_rad, angle_noise_rad], dtype=np.float64)
        self.bias = np.array([range_bias_m, angle_bias_rad, angle_bias_rad], dtype=np.float64)
        self.fov_half_angle_rad = float(fov_half_angle_rad)
        self.max_range_m = float(max_range_m)
        self.min_range_m = float(min_range_m)
        self.dropout_prob = float(dropout_prob)
        self._rng = rng
        self.next_t_ns = 0

    def due(self, t_ns):
        """True when a sample is due at t_ns (int ns)."""
        return t_ns >= self.next_t_ns

    def sample(self, t_ns, r_CT_H, point_H):
        """Measure at t_ns (int ns) the chaser at r_CT_H (m, H) with boresight along point_H (H).

        Schedules the next sample at the first grid time after t_ns. Returns None when the target is
        outside the field of view or the range limits, or the sample drops out.
        """
        self.next_t_ns = (int(t_ns) // self.period_ns + 1) * self.period_ns
        drop = self._rng.random() < self.dropout_prob
        noise = self._rng.standard_normal(3)
        r_CT_H = np.asarray(r_CT_H, dtype=np.float64)
        point_H = np.asarray(point_H, dtype=np.float64)
        if drop or not rae_in_view(r_CT_H, point_H, self.fov_half_angle_rad, self.min_range_m, self.max_range_m):
            return None
        z = rae_from_rel(r_CT_H) + self.bias + self.sigma * noise
        return RaeMeasurement(t_ns=int(t_ns), range_m=float(z[0]), az_rad=float(wrap_angle(z[1])), el_rad=float(z[2]))


class _DelayedSensor:
    """Sample grid, dropouts and delivery latency shared by CameraSensor and RelGnssSensor.

    period_ns: sample period (int ns, samples due at 0, period_ns, ...). dropout_prob: probability
    that an otherwise valid sample is lost. latency_ns: delay (int ns, >= 0) from a sample's time of
    validity to its delivery; latency_jitter_ns: extra delay uniform in [0, jitter] (int ns), so that
    samples can arrive out of order when the jitter exceeds the period. rng: the only randomness;
    each sample() draws one uniform (dropout), one uniform (jitter) and the sensor's normals.
    """

    def __init__(self, period_ns, dropout_prob, latency_ns, latency_jitter_ns, rng):
        if not (isinstance(period_ns, (int, np.integer)) and period_ns > 0):
            raise ValueError(f"period_ns must be a positive integer, got {period_ns!r}")
        if not 0 <= dropout_prob <= 1:
            raise ValueError(f"dropout_prob must be in [0, 1], got {dropout_prob}")
        if not (latency_ns >= 0 and latency_jitter_ns >= 0):
            raise ValueError(f"latency_ns and latency_jitter_ns must be >= 0, got {latency_ns}, {latency_jitter_ns}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        self.period_ns = int(period_ns)
        self.dropout_prob = float(dropout_prob)
        self.latency_ns, self.latency_jitter_ns = int(latency_ns), int(latency_jitter_ns)
        self._rng = rng
        self._pending = []  # (arrival t_ns, sequence, measurement)
        self._seq = 0
        self.next_t_ns = 0

    def due(self, t_ns):
        """True when a sample is due at t_ns (int ns)."""
        return t_ns >= self.next_t_ns

    def _queue(self, t_ns, n_normals):
        """Schedule the next sample; draw the randomness; (lost, arrival_ns, normals)."""
        self.next_t_ns = (int(t_ns) // self.period_ns + 1) * self.period_ns
        lost = self._rng.random() < self.dropout_prob
        jitter = int(self._rng.random() * self.latency_jitter_ns)
        return lost, int(t_ns) + self.latency_ns + jitter, self._rng.standard_normal(n_normals)

    def _push(self, arrival_ns, meas):
        self._pending.append((arrival_ns, self._seq, meas))
        self._seq += 1

    def read(self, now_ns):
        """Measurements delivered by now_ns (int ns), in order of arrival (time tags may be out of order)."""
        out = sorted(p for p in self._pending if p[0] <= now_ns)
        self._pending = [p for p in self._pending if p[0] > now_ns]
        return [p[2] for p in out]


class CameraSensor(_DelayedSensor):
    """Angles-only camera: azimuth and elevation of the target (``gnc.models.rae``) in Hill axes.

    angle_noise_rad: 1-sigma white noise on each angle (rad); az_bias_rad, el_bias_rad: constant
    biases (rad); fov_half_angle_rad: cone about the boresight (rad); max_range_m: the target is not
    resolved beyond it (m). Other arguments as ``_DelayedSensor``. sample() draws two normals.
    """

    def __init__(self, period_ns, angle_noise_rad, az_bias_rad, el_bias_rad, fov_half_angle_rad, max_range_m,
                 dropout_prob, latency_ns, latency_jitter_ns, rng):
        super().__init__(period_ns, dropout_prob, latency_ns, latency_jitter_ns, rng)
        if not angle_noise_rad >= 0:
            raise ValueError(f"angle_noise_rad must be >= 0, got {angle_noise_rad}")
        if not 0 < fov_half_angle_rad <= np.pi:
            raise ValueError(f"fov_half_angle_rad must be in (0, pi], got {fov_half_angle_rad}")
        if not max_range_m > 0:
            raise ValueError(f"max_range_m must be > 0, got {max_range_m}")
        self.sigma = float(angle_noise_rad)
        self.bias = np.array([az_bias_rad, el_bias_rad], dtype=np.float64)
        self.fov_half_angle_rad, self.max_range_m = float(fov_half_angle_rad), float(max_range_m)

    @classmethod
    def from_config(cls, c, rng):
        """The camera of a ``sim.scenario.CameraConfig`` c, drawing from rng."""
        return cls(round(c.period_s * NS), c.angle_noise_rad, c.az_bias_rad, c.el_bias_rad,
                   np.radians(c.fov_half_angle_deg), c.max_range_m, c.dropout_prob, round(c.latency_s * NS),
                   round(c.latency_jitter_s * NS), rng)

    def sample(self, t_ns, r_CT_H, point_H):
        """Measure at t_ns the chaser at r_CT_H (m, H) with boresight point_H (H); queue it for delivery
        at t_ns + latency (+ jitter) unless it is out of view or drops out. Returns nothing."""
        lost, arrival, noise = self._queue(t_ns, 2)
        r_CT_H = np.asarray(r_CT_H, dtype=np.float64)
        if lost or not rae_in_view(r_CT_H, np.asarray(point_H, dtype=np.float64), self.fov_half_angle_rad,
                                   0.0, self.max_range_m):
            return
        z = rae_from_rel(r_CT_H)[1:] + self.bias + self.sigma * noise
        self._push(arrival, AnglesMeasurement(int(t_ns), float(wrap_angle(z[0])), float(z[1])))


class RelGnssSensor(_DelayedSensor):
    """Relative GNSS: the chaser's fix minus the cooperative target's (received over the crosslink),
    rotated into Hill axes: r_CT_H + bias + noise.

    pos_noise_m: 1-sigma white noise per Hill axis (m); bias_m: constant bias per axis (3,) (m);
    max_range_m: crosslink range (m). Other arguments as ``_DelayedSensor``. sample() draws three normals.
    """

    def __init__(self, period_ns, pos_noise_m, bias_m, max_range_m, dropout_prob, latency_ns, latency_jitter_ns,
                 rng):
        super().__init__(period_ns, dropout_prob, latency_ns, latency_jitter_ns, rng)
        bias_m = np.asarray(bias_m, dtype=np.float64)
        if not (pos_noise_m >= 0 and bias_m.shape == (3,) and max_range_m > 0):
            raise ValueError("need pos_noise_m >= 0, bias_m of 3 values and max_range_m > 0")
        self.sigma, self.bias, self.max_range_m = float(pos_noise_m), bias_m, float(max_range_m)

    @classmethod
    def from_config(cls, c, rng):
        """The relative GNSS of a ``sim.scenario.RelGnssConfig`` c, drawing from rng."""
        return cls(round(c.period_s * NS), c.pos_noise_m, c.bias_H_m, c.max_range_m, c.dropout_prob,
                   round(c.latency_s * NS), round(c.latency_jitter_s * NS), rng)

    def sample(self, t_ns, r_CT_H):
        """Measure at t_ns the chaser at r_CT_H (m, H); queue it for delivery unless the crosslink is out
        of range or the sample drops out. Returns nothing."""
        lost, arrival, noise = self._queue(t_ns, 3)
        r_CT_H = np.asarray(r_CT_H, dtype=np.float64)
        if lost or not np.sqrt(r_CT_H @ r_CT_H) <= self.max_range_m:
            return
        z = r_CT_H + self.bias + self.sigma * noise
        self._push(arrival, RelPosMeasurement(int(t_ns), (float(z[0]), float(z[1]), float(z[2]))))
