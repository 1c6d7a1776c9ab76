"""The drag spacecraft's density between NRLMSIS samples: sampled every RESAMPLE_S, extrapolated between.

NRLMSIS costs ~50 us a call (both spacecraft, two heights each): as much as the rest of a closed-loop truth
tick. Along the orbit the log-density changes by the height (the local scale height H covers it) and by
the horizontal and temporal structure (latitude, local time: a few % in 20 s at 500 km). With the log of
the last three samples, heights referred to the newest through its H, a quadratic in time carries the
latter: ln rho(t, r) = ln rho0 - (|r| - r0) / H + c1 tau + c2 tau^2, tau = t - t0 (``sim.forces.model``'s
p block). Measured against NRLMSIS every second over one orbit of the default scenario (500 km,
tests/sim/test_forces_drag.py): 1.4e-4 relative at most at 20 s (holding the sample with only its scale
height: 1.9e-2; a linear drift from two samples: 1.1e-3). Until three samples exist the density is
sampled every step.
"""

import math

import numpy as np

from sim.forces.model import P_SC, SC_RHO_C1, SC_RHO_C2, SC_SIZE

RESAMPLE_S = 20.0


class DensityTrack:
    """Per-run density state of a ``ForceModel`` with drag, written into its kernel array p (see module doc).

    resample_s: time between NRLMSIS samples (s); 0 samples at every step (the extrapolation never acts).
    """

    def __init__(self, forces, resample_s: float = RESAMPLE_S):
        if not resample_s >= 0.0:
            raise ValueError(f"resample_s must be >= 0, got {resample_s}")
        self.forces, self.resample_s = forces, float(resample_s)
        self._hist: list[tuple[float, list]] = []  # (t s, [(spacecraft, ln rho0, r0 m, H m)]), newest last
        self._t_sampled = -math.inf
        self.n_samples = 0

    def update(self, t_s: float, y: np.ndarray, p: np.ndarray) -> None:
        """Before a step from t_s (s) of the 12-state y (m, m/s, N): sample NRLMSIS into p if due."""
        if t_s == self._t_sampled or (len(self._hist) == 3 and
                                      t_s - self._t_sampled < self.resample_s * (1.0 - 1e-12)):
            return
        got = [(i, math.log(rho), r0, h) for i, rho, r0, h in self.forces.sample_density(t_s, y, p)]
        self._t_sampled = t_s
        self.n_samples += 1
        if not self._hist or t_s - self._hist[-1][0] >= self.resample_s * (1.0 - 1e-12):
            self._hist = (self._hist + [(t_s, got)])[-3:]
        if len(self._hist) < 3 or self._hist[-1][0] != t_s:
            return
        (t2, s2), (t1, s1), (t0, s0) = self._hist
        for k, (i, l0, r0, h) in enumerate(s0):
            # log-density with the height referred to r0 (its scale height h): the horizontal and temporal part
            w0, w1, w2 = l0, s1[k][1] + (s1[k][2] - r0) / h, s2[k][1] + (s2[k][2] - r0) / h
            d1, d2 = (w0 - w1) / (t0 - t1), (w1 - w2) / (t1 - t2)
            c2 = (d1 - d2) / (t0 - t2)
            b = P_SC + i * SC_SIZE
            p[b + SC_RHO_C1], p[b + SC_RHO_C2] = d1 + c2 * (t0 - t1), c2
