"""Thruster failure detection and isolation from the IMU against the commanded on-times.

Residual. Between two IMU samples at t_a and t_b (dt = t_b - t_a) the body's mean torque is measured by the
gyro, tau_m = J (omega_b - omega_a) / dt + omega x J omega (Euler's equation, B), and the force at t_b by the
accelerometer, f_m = mass (accel_B - bias) (B; the turn-on bias estimated as the mean over the first
bias_window_s, then a slow average, frozen once a thruster is declared). The prediction is the same from the
flight code's own thruster table A ((6, n): ``gnc.control.allocation.wrench_matrix``) and what it commanded:
duty u_i = the fraction of [t_a, t_b] thruster i was commanded open (torque), on_i = 1 if it was commanded
open at t_b (force: the accelerometer samples instantaneously). r = [f_m - A_f on; tau_m - A_tau u].

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
the best and next hypothesis). Deterministic, no allocation in the per-sample kernel.
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


class ThrusterFdir:
    """See the module doc. A (6, n): full-thrust wrench per thruster ([N; N m], B); mass_kg; J (3, 3) kg m^2;
    gyro_noise_density (rad/sqrt(s)), accel_noise_density (m/s/sqrt(s)); threshold, isolate_margin (-);
    bias_window_s (s); noise_margin, model_error (-). Feed ``command`` every attitude cycle and ``imu`` every
    sample; ``imu`` returns
    (index, STUCK_ON | FAILED_OFF, detection statistic) when it declares a thruster, else None."""

    def __init__(self, A, mass_kg, J, gyro_noise_density, accel_noise_density, threshold, isolate_margin,
                 bias_window_s, noise_margin, model_error):
        self.A = np.ascontiguousarray(A, dtype=np.float64)
        self.mass, self.J = float(mass_kg), np.asarray(J, dtype=np.float64)
        self.n = self.A.shape[1]
        self.nd = (gyro_noise_density, accel_noise_density, noise_margin)
        self.model_error = float(model_error)
        self.col_norm = np.concatenate([np.linalg.norm(self.A[:3], axis=0), np.linalg.norm(self.A[3:], axis=0)])
        self.threshold, self.isolate_margin = float(threshold), float(isolate_margin)
        self.bias_window_ns = round(bias_window_s * NS)
        self.g = np.zeros((2, self.n))
        self.since_ns = np.zeros((2, self.n), dtype=np.int64)  # last IMU time each statistic was 0 (change onset)
        self.allowed = np.ones(self.n, dtype=np.bool_)
        self.stuck = np.zeros(self.n)  # 1 for a thruster declared stuck on (open all the time)
        self._cmds: list[tuple[int, np.ndarray]] = []  # (t_ns, on-times s) of the last commands, oldest first
        self._last = None  # the previous ImuSample
        self._t0_ns = None
        self.bias_B = np.zeros(3)
        self._bias_n = 0
        self.r = np.zeros(6)

    def command(self, t_ns: int, on_time_s) -> None:
        """The on-times (s) commanded at t_ns (ns), each valve open from t_ns."""
        self._cmds = self._cmds[-2:] + [(t_ns, np.asarray(on_time_s, dtype=np.float64))]

    def declare(self, i: int, mode: int) -> None:
        """Thruster i is taken out of the tests; stuck on, it is predicted open from now on."""
        self.allowed[i] = False
        if mode == STUCK_ON:
            self.stuck[i] = 1.0
        self.g[:] = 0.0

    def _duties(self, ta: int, tb: int):
        """(u, on): fraction of [ta, tb] each thruster was commanded open, and open at tb (commands + stuck)."""
        u, on = self.stuck.copy(), self.stuck.copy()
        for k, (tc, t_on) in enumerate(self._cmds):
            t_next = self._cmds[k + 1][0] if k + 1 < len(self._cmds) else math.inf
            end = np.minimum(tc + t_on * NS, t_next)
            u += np.clip(np.minimum(end, tb) - max(tc, ta), 0.0, None) / (tb - ta)
            if tc <= tb < t_next:
                on += t_on * NS >= tb - tc
        return np.minimum(u, 1.0), np.minimum(on, 1.0)

    def imu(self, m: ImuSample):
        prev, self._last = self._last, m
        if self._t0_ns is None:
            self._t0_ns = m.t_ns
        if prev is None or m.t_ns <= prev.t_ns or not self._cmds:
            return None
        dt = (m.t_ns - prev.t_ns) / NS
        wa, wb = np.array(prev.omega_BN_B), np.array(m.omega_BN_B)
        wm = 0.5 * (wa + wb)
        u, on = self._duties(prev.t_ns, m.t_ns)
        f_meas = self.mass * np.array(m.accel_B) - self.A[:3] @ on  # force residual with the bias still in
        warm = m.t_ns - self._t0_ns < self.bias_window_ns
        if self.allowed.all():  # the bias estimate freezes once a thruster is declared
            self._bias_n += 1
            self.bias_B += (f_meas - self.bias_B) / (self._bias_n if warm else self.bias_window_ns / NS / dt)
        self.r[:3] = f_meas - self.bias_B
        self.r[3:] = self.J @ (wb - wa) / dt + np.cross(wm, self.J @ wm) - self.A[3:] @ u
        gn, an, margin = self.nd
        sig_tau = margin * math.sqrt(2.0) * np.diag(self.J) * gn / math.sqrt(dt) / dt
        sig_f = np.full(3, margin * self.mass * an / math.sqrt(dt))
        n = self.n
        sig_model = self.model_error * np.repeat([self.col_norm[:n] @ on, self.col_norm[n:] @ u], 3)
        w = 1.0 / (np.concatenate([sig_f, sig_tau]) ** 2 + sig_model**2)
        if warm:
            w[:3] = 0.0  # the force channel waits for its bias estimate
        cusum_step(self.g, self.r, self.A, w, u, on, self.allowed)
        self.since_ns[self.g == 0.0] = m.t_ns
        mode, i, best, second = best_two(self.g)
        if best > self.threshold and best - second > self.isolate_margin:
            return i, mode, best
        return None
