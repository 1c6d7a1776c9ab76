"""Star tracker: the chaser's attitude with white noise per tracker axis, at a rate, with outages and latency.

The tracker looks along +Z_B: its error is a small rotation with 1-sigma cross_sigma_rad about X_B and Y_B
(cross-boresight) and roll_sigma_rad about Z_B (about the boresight, typically several times larger). The
measured inertial attitude is referred to the target's Hill frame as the onboard orbit solution would
(``gnc.ports.AttitudeMeasurement``): q_meas = q_BH (x) [1, e / 2] normalised, e the error rotation (rad, B).
"""

import numpy as np

from gnc.frames import quat_mult
from gnc.ports import AttitudeMeasurement
from sim.sensors import _DelayedSensor


def rotation_error(q_meas, q_true):
    """Rotation vector (rad, B) taking the true attitude to the measured one: 2 vec(q_true^-1 (x) q_meas)."""
    q_inv = np.array([q_true[0], -q_true[1], -q_true[2], -q_true[3]])
    d = quat_mult(q_inv, np.asarray(q_meas, dtype=np.float64))
    return 2.0 * np.sign(d[0]) * d[1:]


class StarTracker(_DelayedSensor):
    """See the module doc. period_ns, latency_ns, latency_jitter_ns: as ``sim.sensors._DelayedSensor``;
    availability: probability that a sample yields a fix (sun/earth blinding, lost in space). sample()
    draws two uniforms and three normals."""

    def __init__(self, period_ns, cross_sigma_rad, roll_sigma_rad, availability, latency_ns, latency_jitter_ns, rng):
        super().__init__(period_ns, 1.0 - availability, latency_ns, latency_jitter_ns, rng)
        if not (cross_sigma_rad >= 0 and roll_sigma_rad >= 0):
            raise ValueError("noise sigmas must be >= 0")
        self.sigma = np.array([cross_sigma_rad, cross_sigma_rad, roll_sigma_rad], dtype=np.float64)

    def sample(self, t_ns, q_BH):
        """Measure the true attitude q_BH at t_ns (int ns); queue it for delivery unless unavailable."""
        lost, arrival, noise = self._queue(t_ns, 3)
        if lost:
            return
        e = self.sigma * noise
        q = quat_mult(np.asarray(q_BH, dtype=np.float64), np.array([1.0, 0.5 * e[0], 0.5 * e[1], 0.5 * e[2]]))
        q /= np.linalg.norm(q)
        self._push(arrival, AttitudeMeasurement(int(t_ns), tuple(q.tolist())))
