"""VehicleIO implemented by the simulator: simulated time, as fast as the host can go."""

import numpy as np

from gnc.frames import dcm_from_quat
from gnc.ports import ActuatorCommand, RaeMeasurement
from sim.sensors import RaeSensor
from sim.truth import TruthWorld

BORESIGHT_B = np.array([1.0, 0.0, 0.0])  # the relative sensors look along +X_B (gnc.config.ThrustersConfig)


class SimVehicleIO:
    """The truth world seen through its sensors and driven by the flight code's commands.

    wait_until propagates the truth, sampling every sensor at each of its grid times on the way;
    read_sensors hands over what was delivered since, oldest first. 3-DOF world: the relative sensor's
    boresight is the one last commanded (ideal attitude) and accel_H is applied. 6-DOF world
    (``TruthWorld.attach_rigid_body``, with imu and star_tracker; the IMU's accelerometer fed the instant or the
    mean specific force as its accel_output says): the boresight is +X_B of the true
    attitude, the command's thruster on-times are fired, and the relative sensor's samples are delivered
    rae_latency_ns (int ns) after their time of validity. sensor None: no lidar. camera, rel_gnss
    (``sim.sensors.CameraSensor``, ``RelGnssSensor``, optional) are sampled on their own grids, the camera along
    the lidar's boresight, and deliver with their own latency and jitter.
    """

    def __init__(self, world: TruthWorld, sensor: RaeSensor | None, imu=None, star_tracker=None,
                 rae_latency_ns: int = 0, camera=None, rel_gnss=None):
        self.world, self.sensor, self.imu, self.star_tracker = world, sensor, imu, star_tracker
        self.camera, self.rel_gnss = camera, rel_gnss
        self._sensors = [s for s in (sensor, imu, star_tracker, camera, rel_gnss) if s is not None]
        self.rae_latency_ns = int(rae_latency_ns)
        self.accel_H = np.zeros(3)
        self.point_H = np.array([0.0, 1.0, 0.0])
        self._queue: list[tuple[int, int, object]] = []  # (delivery t_ns, sequence, measurement)
        self._seq = 0
        self._boresight = (-1, None)  # (world t_ns, +X_B in H then; read-only)

    def now_ns(self) -> int:
        return self.world.t_ns

    def boresight_H(self):
        """Unit vector (H) of the relative sensors' boresight now: +X_B of the true attitude, or the commanded
        pointing in a 3-DOF world. Read-only; computed once per truth time (the sensors and the truth's
        telemetry ask for it at the same instant)."""
        w = self.world
        if w.att is None:
            return self.point_H
        if self._boresight[0] != w.t_ns:
            b = w.hill_dcm() @ (dcm_from_quat(w.att[:4]).T @ BORESIGHT_B)
            b.flags.writeable = False
            self._boresight = (w.t_ns, b)
        return self._boresight[1]

    def _push(self, t_ns, m) -> None:
        self._queue.append((t_ns, self._seq, m))
        self._seq += 1

    def _sample(self, t_ns: int) -> None:
        w = self.world
        if self.sensor is not None and self.sensor.next_t_ns <= t_ns:
            m = self.sensor.sample(t_ns, w.relative_state()[0], self.boresight_H())
            if m is not None:
                self._push(t_ns + self.rae_latency_ns, m)
        if self.camera is not None and self.camera.next_t_ns <= t_ns:
            self.camera.sample(t_ns, w.relative_state()[0], self.boresight_H())
        if self.rel_gnss is not None and self.rel_gnss.next_t_ns <= t_ns:
            self.rel_gnss.sample(t_ns, w.relative_state()[0])
        if self.imu is not None and self.imu.next_t_ns <= t_ns:
            f_B = w.mean_specific_force_B() if self.imu.accel_output == "delta_v" else w.specific_force_B()
            self._push(t_ns, self.imu.sample(t_ns, w.att[4:7], f_B))
        if self.star_tracker is not None and self.star_tracker.next_t_ns <= t_ns:
            self.star_tracker.sample(t_ns, w.q_BH())

    def wait_until(self, t_ns: int) -> None:
        while True:
            t_next = max(min(s.next_t_ns for s in self._sensors), self.world.t_ns)
            if t_next > t_ns:
                break
            self.world.advance_to(t_next, self.accel_H)
            self._sample(t_next)
        self.world.advance_to(t_ns, self.accel_H)

    def read_sensors(self) -> list:
        now = self.world.t_ns
        for s in (self.star_tracker, self.camera, self.rel_gnss):
            if s is not None:
                for m in s.read(now):
                    self._push(now, m)
        due = sorted(q for q in self._queue if q[0] <= now)
        self._queue = [q for q in self._queue if q[0] > now]
        return [q[2] for q in due]

    def write_actuators(self, cmd: ActuatorCommand) -> None:
        self.accel_H = np.asarray(cmd.accel_H, dtype=float)
        self.point_H = np.asarray(cmd.point_H, dtype=float)
        if cmd.on_time_s:
            self.world.fire(cmd.on_time_s)
