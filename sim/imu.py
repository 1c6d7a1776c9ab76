"""The chaser's IMU: gyro and accelerometer channels with the error model of IEEE Std 952-1997 (Annex C).

Per channel (3 axes), output y = clip(quantise(M x + b + g + w), range): x the true rate (rad/s) or specific
force (m/s^2) in B; M = I + diag(scale errors) + skew(misalignment angles) (drawn once per run); b a
turn-on bias (drawn once); g the bias instability, a first-order Gauss-Markov process with correlation time
tau_c whose Allan deviation peaks at sqrt(2 ln 2 / pi) B = 0.664 B, the flat floor flicker noise of bias
instability B gives (IEEE 952 Table C.1; El-Sheimy, Hou & Niu 2008, IEEE TIM 57(1), Table 1), so that the
declared B is what an Allan analysis of the output reads; w white noise of density N (rad/s/sqrt(Hz) =
rad/sqrt(s), angle random walk; m/s/sqrt(s), velocity random walk): sigma_w = N / sqrt(dt) at sample
period dt, Allan deviation N / sqrt(tau).

The gyro's x is the rate at the sample time. The accelerometer's x (``Imu.accel_output``): "instant", the
specific force at the sample time; "delta_v", its mean over the interval since the previous sample, Delta-v / dt
(``sim.truth.TruthWorld.mean_specific_force_B``), as a tactical IMU's integrating accelerometer outputs it.
"""

import math

import numpy as np
from numba import njit

from gnc.ports import ImuSample


def gauss_markov_allan_peak() -> float:
    """max over tau of sigma_A(tau) / sigma for a first-order Gauss-Markov process of stationary deviation
    sigma: sigma_A^2 = (2 sigma^2 T / tau) [1 - T / (2 tau) (3 - 4 e^(-tau/T) + e^(-2 tau/T))] (El-Sheimy
    et al. 2008, Table 1, with q_c^2 = 2 sigma^2 / T), maximised on a fine grid of tau / T."""
    u = np.linspace(0.5, 5.0, 20001)  # tau / T
    avar = (2.0 / u) * (1.0 - (3.0 - 4.0 * np.exp(-u) + np.exp(-2.0 * u)) / (2.0 * u))
    return float(np.sqrt(avar.max()))


FLICKER_FLOOR = math.sqrt(2.0 * math.log(2.0) / math.pi)  # Allan floor / bias instability (IEEE 952)
GM_PEAK = gauss_markov_allan_peak()
ACCEL_OUTPUTS = ("instant", "delta_v")  # what the accelerometer's x is (module doc)


@njit(cache=True)
def channel_step(x, M, bias, gm, phi, drive_sigma, white_sigma, quantum, full_scale, z):
    """One output (3,) of a channel for the true x (3,); gm (3,), the Gauss-Markov state, is advanced in
    place; z (6,): standard normals (3 drive, 3 white)."""
    y = np.empty(3)
    for i in range(3):
        gm[i] = phi * gm[i] + drive_sigma * z[i]
        v = M[i, 0] * x[0] + M[i, 1] * x[1] + M[i, 2] * x[2] + bias[i] + gm[i] + white_sigma * z[3 + i]
        if quantum > 0.0:
            v = quantum * np.round(v / quantum)
        y[i] = min(full_scale, max(-full_scale, v))
    return y


@njit(cache=True)
def channel_run(xs, M, bias, gm, phi, drive_sigma, white_sigma, quantum, full_scale, zs):
    """channel_step over rows of xs (n, 3) with normals zs (n, 6): outputs (n, 3)."""
    out = np.empty_like(xs)
    for k in range(xs.shape[0]):
        out[k] = channel_step(xs[k], M, bias, gm, phi, drive_sigma, white_sigma, quantum, full_scale, zs[k])
    return out


class ImuChannel:
    """One triad (gyro or accelerometer); see the module doc. dt_s: sample period (s). noise_density (unit
    sqrt(s)/s), bias_sigma, bias_instability (unit), bias_corr_time_s (s), scale_error_sigma (-),
    misalignment_sigma_rad, quantum (unit, 0: none), full_scale (unit). rng draws the per-run errors now
    and 6 normals a sample."""

    def __init__(self, dt_s, noise_density, bias_sigma, bias_instability, bias_corr_time_s, scale_error_sigma,
                 misalignment_sigma_rad, quantum, full_scale, rng: np.random.Generator):
        if not (dt_s > 0 and bias_corr_time_s > 0 and full_scale > 0):
            raise ValueError("need dt_s, bias_corr_time_s and full_scale > 0")
        if min(noise_density, bias_sigma, bias_instability, scale_error_sigma, misalignment_sigma_rad, quantum) < 0:
            raise ValueError("noise, bias, scale, misalignment and quantum figures must be >= 0")
        self._rng = rng
        e = rng.standard_normal(3) * misalignment_sigma_rad
        skew = np.array([[0.0, -e[2], e[1]], [e[2], 0.0, -e[0]], [-e[1], e[0], 0.0]])
        self.M = np.eye(3) + np.diag(rng.standard_normal(3) * scale_error_sigma) + skew
        self.bias = rng.standard_normal(3) * bias_sigma
        sigma_gm = FLICKER_FLOOR * bias_instability / GM_PEAK
        self.phi = math.exp(-dt_s / bias_corr_time_s)
        self.drive_sigma = sigma_gm * math.sqrt(1.0 - self.phi**2)
        self.gm = rng.standard_normal(3) * sigma_gm  # stationary from the start
        self.white_sigma = noise_density / math.sqrt(dt_s)
        self.quantum, self.full_scale = float(quantum), float(full_scale)

    def _args(self):
        return self.M, self.bias, self.gm, self.phi, self.drive_sigma, self.white_sigma, self.quantum, self.full_scale

    def sample(self, x):
        return channel_step(np.asarray(x, dtype=np.float64), *self._args(), self._rng.standard_normal(6))

    def run(self, xs):
        """Outputs (n, 3) for the true values xs (n, 3), as n calls of sample()."""
        xs = np.ascontiguousarray(xs, dtype=np.float64)
        return channel_run(xs, *self._args(), self._rng.standard_normal((xs.shape[0], 6)))


class Imu:
    """Gyro and accelerometer sampled every period_ns (int ns) on the grid 0, period_ns, ...; accel_output: one of
    ACCEL_OUTPUTS (module doc), which the caller of sample honours."""

    def __init__(self, period_ns: int, gyro: ImuChannel, accel: ImuChannel, accel_output: str = "instant"):
        if accel_output not in ACCEL_OUTPUTS:
            raise ValueError(f"accel_output must be one of {ACCEL_OUTPUTS}, got {accel_output!r}")
        self.period_ns, self.gyro, self.accel = int(period_ns), gyro, accel
        self.accel_output = accel_output
        self.next_t_ns = 0

    def sample(self, t_ns, omega_BN_B, accel_B) -> ImuSample:
        self.next_t_ns = (int(t_ns) // self.period_ns + 1) * self.period_ns
        w, a = self.gyro.sample(omega_BN_B), self.accel.sample(accel_B)
        return ImuSample(int(t_ns), tuple(w.tolist()), tuple(a.tolist()))
