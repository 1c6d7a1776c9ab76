"""Thruster failure detection and isolation from the IMU against the commanded on-times.

Residual. Between two IMU samples at t_a and t_b (dt = t_b - t_a) the body's mean torque is measured by the
gyro, tau_m = J (omega_b - omega_a) / dt + omega x J omega (Euler's equation, B), and the force at t_b by the
accelerometer, f_m = mass (accel_B - bias) (B; the turn-on bias estimated as the mean over the first
bias_window_s, then a slow average, frozen once a thruster is declared). The prediction is the same from the
flight code's own thruster table A ((6, n): ``gnc.control.allocation.wrench_matrix``) and what it commanded:
duty u_i = the fraction of [t_a, t_b] thruster i was commanded open (torque), on_i = 1 if it was commanded
open at t_b (force: an accelerometer that samples instantaneously) or on_i = u_i (one that reads the mean over
the interval, a delta-v IMU: ``accel_mean``). r = [f_m - A_f on; tau_m - A_tau u].

Hypotheses. Thruster i stuck on adds s A[:, i] with s = 1 - u_i (torque) / 1 - on_i (force); failed off adds
s = -u_i / -on_i. For each of the 2 n hypotheses a CUSUM (Page 1954) of the log-likelihood ratio of the
known signature against none, g <- max(0, g + s a.W r - s^2 |a|_W^2 / 2), W = diag(1 / sigma^2), runs every
IMU sample. sigma: the white noise per sample, gyro sqrt(2) J_ii sigma_g / dt (a difference of two samples,
sigma_g = gyro_noise_density / sqrt(dt)) and accelerometer mass sigma_a (sigma_a = accel_noise_density /
sqrt(dt)), each times noise_margin (correlated differences, quantisation), in quadrature with the error of the
thruster model: model_error x the sum over firing thrusters of |force| on_i (force) and |torque| u_i (torque), the
fraction of a firing thruster's wrench the table does not predict (thrust scale, misalignment, mass).
The threshold h on g bounds the false-alarm rate: without a fault g crosses h about
once in e^h samples per hypothesis (Siegmund's approximation of a CUSUM's average run length), so h = 25
gives < 1e-6 false alarms per hypothesis over a 10^5-sample mission. A thruster is declared when its
statistic exceeds h and leads every other thruster's by isolate_margin (a likelihood ratio e^margin between
the best and next hypothesis). Deterministic; one numba kernel per sample (``fdir_sample``).
"""

import math

import numpy as np
from numba import njit

from gnc.ports import ImuSample

NS = 1_000_000_000
STUCK_ON, FAILED_OFF = 0, 1
MODE_NAMES = ("stuck on", "failed off")


@njit(cache=True)
def cusum_step(g, r, A, w, u, on, allowed):
    """Advance the 2n CUSUM statistics g ((2, n): stuck-on, failed-off) in place with residual r (6,) and
    weights w (6,) = 1 / sigma^2; u (n,) torque duties, on (n,) force on-flags over the interval; only
    thrusters with allowed[i] are tested (others keep g = 0)."""
    n = A.shape[1]
    for i in range(n):
        if not allowed[i]:
            g[0, i] = g[1, i] = 0.0
            continue
        for mode in range(2):
            llr = 0.0
            for k in range(6):
                s = (1.0 - (on[i] if k < 3 else u[i])) if mode == 0 else -(on[i] if k < 3 else u[i])
                a = s * A[k, i]
                llr += a * w[k] * r[k] - 0.5 * a * a * w[k]
            g[mode, i] = max(0.0, g[mode, i] + llr)


@njit(cache=True)
def best_two(g):
    """(mode, index, value) of the largest statistic in g (2, n) and the largest among the other thrusters."""
    best_m, best_i, best = 0, 0, -1.0
    for m in range(2):
        for i in range(g.shape[1]):
            if g[m, i] > best:
                best_m, best_i, best = m, i, g[m, i]
    second = 0.0
    for m in range(2):
        for i in range(g.shape[1]):
            if i != best_i and g[m, i] > second:
                second = g[m, i]
    return best_m, best_i, best, second


@njit(cache=True)
def fdir_sample(cmd_t, cmd_on, n_cmds, stuck, ta, tb, wa, wb, accel_B, A, J, mass, nd, model_error, col_norm,
                warm, bias_B, bias_n, bias_window_s, g, r, allowed, u, on, accel_mean):
    """One IMU sample of the FDIR (module doc) between the samples at ta and tb (ns): duties u and on-flags
    on (n,) from the last n_cmds commands (cmd_t (3,) ns, cmd_on (3, n) on-times s, oldest first) and stuck
    (n,); the residual r (6,) [N; N m] from rates wa, wb (rad/s, B) and specific force accel_B (m/s^2, B);
    the force bias bias_B (3,) N updated in place (its sample count bias_n, returned) while every thruster is
    allowed; the CUSUMs g advanced. nd = (gyro, accel noise density, noise margin); warm: in the bias window;
    accel_mean: accel_B is the mean over [ta, tb] (force predicted from the duties).
    Returns (bias_n, mode, index, best, second) of ``best_two``."""
    n = A.shape[1]
    dt_ns = tb - ta
    for i in range(n):
        u[i] = stuck[i]
        on[i] = stuck[i]
    for k in range(n_cmds):
        tc = cmd_t[k]
        t_next = cmd_t[k + 1] if k + 1 < n_cmds else np.inf
        for i in range(n):
            end = min(tc + cmd_on[k, i] * NS, t_next)
            u[i] += max(min(end, tb) - max(tc, ta), 0.0) / dt_ns
            if tc <= tb < t_next and cmd_on[k, i] * NS >= tb - tc:
                on[i] += 1.0
    for i in range(n):
        u[i] = min(u[i], 1.0)
        on[i] = u[i] if accel_mean else min(on[i], 1.0)
    dt = dt_ns / NS
    all_allowed = True
    for i in range(n):
        all_allowed = all_allowed and allowed[i]
    if all_allowed:
        bias_n += 1
    div = bias_n if warm else bias_window_s / dt
    wm = 0.5 * (wa + wb)
    Jw = np.zeros(3)
    dw = np.zeros(3)
    for k in range(3):
        for j in range(3):
            Jw[k] += J[k, j] * wm[j]
            dw[k] += J[k, j] * (wb[j] - wa[j])
    cross = (wm[1] * Jw[2] - wm[2] * Jw[1], wm[2] * Jw[0] - wm[0] * Jw[2], wm[0] * Jw[1] - wm[1] * Jw[0])
    f_on = 0.0
    t_u = 0.0
    for i in range(n):
        f_on += col_norm[i] * on[i]
        t_u += col_norm[n + i] * u[i]
    gn, an, margin = nd
    sig_f = margin * mass * an / math.sqrt(dt)
    w = np.empty(6)
    for k in range(3):
        af = 0.0
        at = 0.0
        for i in range(n):
            af += A[k, i] * on[i]
            at += A[3 + k, i] * u[i]
        f_meas = mass * accel_B[k] - af
        if all_allowed:
            bias_B[k] += (f_meas - bias_B[k]) / div
        r[k] = f_meas - bias_B[k]
        r[3 + k] = dw[k] / dt + cross[k] - at
        sig_tau = margin * math.sqrt(2.0) * J[k, k] * gn / math.sqrt(dt) / dt
        w[k] = 0.0 if warm else 1.0 / (sig_f**2 + (model_error * f_on) ** 2)
        w[3 + k] = 1.0 / (sig_tau**2 + (model_error * t_u) ** 2)
    cusum_step(g, r, A, w, u, on, allowed)
    mode, i, best, second = best_two(g)
    return bias_n, mode, i, best, second


class ThrusterFdir:
    """See the module doc. A (6, n): full-thrust wrench per thruster ([N; N m], B); mass_kg; J (3, 3) kg m^2;
    gyro_noise_density (rad/sqrt(s)), accel_noise_density (m/s/sqrt(s)); threshold, isolate_margin (-);
    bias_window_s (s); noise_margin, model_error (-); accel_mean: the accelerometer reads its mean over each
    sample interval (a delta-v IMU), not the instant value. Feed ``command`` every attitude cycle and ``imu``
    every sample; ``imu`` returns (index, STUCK_ON | FAILED_OFF, detection statistic) when it declares a
    thruster, else None."""

    def __init__(self, A, mass_kg, J, gyro_noise_density, accel_noise_density, threshold, isolate_margin,
                 bias_window_s, noise_margin, model_error, accel_mean=False):
        self.A = np.ascontiguousarray(A, dtype=np.float64)
        self.mass, self.J = float(mass_kg), np.ascontiguousarray(J, dtype=np.float64)
        self.n = self.A.shape[1]
        self.nd = (float(gyro_noise_density), float(accel_noise_density), float(noise_margin))
        self.model_error = float(model_error)
        self.col_norm = np.concatenate([np.linalg.norm(self.A[:3], axis=0), np.linalg.norm(self.A[3:], axis=0)])
        self.threshold, self.isolate_margin = float(threshold), float(isolate_margin)
        self.bias_window_ns = round(bias_window_s * NS)
        self.g = np.zeros((2, self.n))
        self.since_ns = np.zeros((2, self.n), dtype=np.int64)  # last IMU time each statistic was 0 (change onset)
        self.allowed = np.ones(self.n, dtype=np.bool_)
        self.stuck = np.zeros(self.n)  # 1 for a thruster declared stuck on (open all the time)
        self._cmd_t = np.zeros(3, dtype=np.int64)  # the last commands, oldest first: t_ns and on-times (s)
        self._cmd_on = np.zeros((3, self.n))
        self._n_cmds = 0
        self._last = None  # the previous ImuSample
        self._t0_ns = None
        self.bias_B = np.zeros(3)
        self._bias_n = 0
        self.r = np.zeros(6)
        self._u, self._on = np.zeros(self.n), np.zeros(self.n)
        self.accel_mean = bool(accel_mean)

    def command(self, t_ns: int, on_time_s) -> None:
        """The on-times (s) commanded at t_ns (ns), each valve open from t_ns."""
        k = self._n_cmds
        if k == 3:
            self._cmd_t[:2], self._cmd_on[:2] = self._cmd_t[1:], self._cmd_on[1:]
            k = 2
        self._cmd_t[k], self._cmd_on[k] = t_ns, on_time_s
        self._n_cmds = k + 1

    def declare(self, i: int, mode: int) -> None:
        """Thruster i is taken out of the tests; stuck on, it is predicted open from now on."""
        self.allowed[i] = False
        if mode == STUCK_ON:
            self.stuck[i] = 1.0
        self.g[:] = 0.0

    def imu(self, m: ImuSample):
        prev, self._last = self._last, m
        if self._t0_ns is None:
            self._t0_ns = m.t_ns
        if prev is None or m.t_ns <= prev.t_ns or not self._n_cmds:
            return None
        self._bias_n, mode, i, best, second = fdir_sample(
            self._cmd_t, self._cmd_on, self._n_cmds, self.stuck, prev.t_ns, m.t_ns, np.array(prev.omega_BN_B),
            np.array(m.omega_BN_B), np.array(m.accel_B), self.A, self.J, self.mass, self.nd, self.model_error,
            self.col_norm, m.t_ns - self._t0_ns < self.bias_window_ns, self.bias_B, self._bias_n,
            self.bias_window_ns / NS, self.g, self.r, self.allowed, self._u, self._on, self.accel_mean)
        self.since_ns[self.g == 0.0] = m.t_ns
        if best > self.threshold and best - second > self.isolate_margin:
            return i, mode, best
        return None
