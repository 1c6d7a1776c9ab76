"""VehicleIO implemented by the simulator: simulated time, as fast as the host can go."""

import numpy as np

from gnc.ports import ActuatorCommand, RaeMeasurement
from sim.sensors import RaeSensor
from sim.truth import TruthWorld


class SimVehicleIO:
    """The truth world seen through its sensors and driven by the flight code's commands.

    wait_until propagates the truth, sampling the relative sensor at each of its grid times on the
    way (with the boresight last commanded); read_sensors hands over what was sampled since.
    """

    def __init__(self, world: TruthWorld, sensor: RaeSensor):
        self.world, self.sensor = world, sensor
        self.accel_H = np.zeros(3)
        self.point_H = np.array([0.0, 1.0, 0.0])
        self._queue: list[RaeMeasurement] = []

    def now_ns(self) -> int:
        return self.world.t_ns

    def wait_until(self, t_ns: int) -> None:
        while True:
            t_next = max(self.sensor.next_t_ns, self.world.t_ns)
            if t_next > t_ns:
                break
            self.world.advance_to(t_next, self.accel_H)
            m = self.sensor.sample(t_next, self.world.relative_state()[0], self.point_H)
            if m is not None:
                self._queue.append(m)
        self.world.advance_to(t_ns, self.accel_H)

    def read_sensors(self) -> list[RaeMeasurement]:
        out, self._queue = self._queue, []
        return out

    def write_actuators(self, cmd: ActuatorCommand) -> None:
        self.accel_H = np.asarray(cmd.accel_H, dtype=float)
        self.point_H = np.asarray(cmd.point_H, dtype=float)
