"""Fault detection of the sensors: the relative sensor from what navigation sees of it (silence, rejected
innovations); the IMU and star tracker from their samples (stale, stuck, silent).

Detections are logged as events (the same list as the mode transitions); the response to a sensor that
stays silent or rejected is the mission manager's: after mission.abort.sensor_timeout_s without an accepted
measurement it aborts to a passively safe drift. Times are integer ns since the scenario epoch.
"""

NS = 1_000_000_000


class SensorHealth:
    """Health of one relative sensor, updated once per navigation cycle.

    silent_after_s (s): no measurement offered for this long is declared a silence (detection of an outage).
    reject_limit: this many consecutive gate rejections isolate the sensor (detection of a bias jump or a
    diverged filter); the next accepted measurement restores it. log(t_ns, text) records each event.
    """

    def __init__(self, name: str, t0_ns: int, silent_after_s: float, reject_limit: int, log):
        if not silent_after_s > 0 or reject_limit < 1:
            raise ValueError(f"{name}: need silent_after_s > 0 and reject_limit >= 1")
        self.name, self.log = name, log
        self.silent_after_ns, self.reject_limit = round(silent_after_s * NS), int(reject_limit)
        self.last_offered_ns = t0_ns
        self.silent = self.isolated = False
        self.reject_streak = 0
        self.detections = 0

    def update(self, t_ns: int, accepted: list[bool]) -> None:
        """The outcomes (True accepted, False rejected) of this cycle's measurements, in order, at t_ns."""
        if accepted:
            if self.silent:
                self.silent = False
                self.log(t_ns, f"{self.name} measurements back after {(t_ns - self.last_offered_ns) / NS:.0f} s")
            self.last_offered_ns = t_ns
        elif not self.silent and t_ns - self.last_offered_ns > self.silent_after_ns:
            self.silent = True
            self.detections += 1
            self.log(t_ns, f"{self.name} silent: no measurement for {(t_ns - self.last_offered_ns) / NS:.0f} s")
        for ok in accepted:
            if ok:
                if self.isolated:
                    self.isolated = False
                    self.log(t_ns, f"{self.name} restored: measurement accepted after "
                                   f"{self.reject_streak} rejections")
                self.reject_streak = 0
                continue
            self.reject_streak += 1
            if self.reject_streak == self.reject_limit:
                self.isolated = True
                self.detections += 1
                self.log(t_ns, f"{self.name} isolated: {self.reject_limit} consecutive measurements rejected "
                               "by the innovation gate")


class AttitudeSensorHealth:
    """Health of the 6-DOF chaser's IMU and star tracker, from their samples' times and values.

    The IMU is declared stale when no sample with a new time tag came for imu_timeout_s (s), stuck when
    stuck_samples consecutive samples carry identical rates and specific forces (white noise makes that
    impossible in a live sensor); either latches imu_failed. The star tracker is declared silent after
    st_timeout_s without a fix (the attitude is then propagated on the gyro alone), and ``fix_age_s`` tells
    the executive how long the attitude has gone without one. log(t_ns, text) records each event.
    """

    def __init__(self, t0_ns: int, imu_timeout_s: float, stuck_samples: int, st_timeout_s: float, log):
        self.log = log
        self.imu_timeout_ns, self.stuck_samples = round(imu_timeout_s * NS), int(stuck_samples)
        self.st_timeout_ns = round(st_timeout_s * NS)
        self.last_imu_ns = self.last_fix_ns = t0_ns
        self._last_values = None
        self._same = 0
        self.imu_failed = self.st_silent = False

    def imu(self, t_ns: int, values: tuple) -> None:
        """An IMU sample with time tag t_ns (ns) and its values (rates, specific forces), received at t_ns."""
        if self.imu_failed:
            return
        if t_ns <= self.last_imu_ns:
            return  # not a new sample: the timeout will tell
        self.last_imu_ns = t_ns
        self._same = self._same + 1 if values == self._last_values else 0
        self._last_values = values
        if self._same + 1 >= self.stuck_samples:
            self.imu_failed = True
            self.log(t_ns, f"IMU stuck: {self.stuck_samples} identical samples")

    def fix(self, t_ns: int) -> None:
        """A star-tracker fix valid at t_ns (ns)."""
        if self.st_silent:
            self.st_silent = False
            self.log(t_ns, f"star tracker fixes back after {(t_ns - self.last_fix_ns) / NS:.0f} s")
        self.last_fix_ns = max(self.last_fix_ns, t_ns)

    def check(self, t_ns: int) -> None:
        """The timeouts at t_ns (ns), once per navigation cycle."""
        if not self.imu_failed and t_ns - self.last_imu_ns > self.imu_timeout_ns:
            self.imu_failed = True
            self.log(t_ns, f"IMU stale: no new sample for {(t_ns - self.last_imu_ns) / NS:.0f} s")
        if not self.st_silent and t_ns - self.last_fix_ns > self.st_timeout_ns:
            self.st_silent = True
            self.log(t_ns, f"star tracker silent: no fix for {(t_ns - self.last_fix_ns) / NS:.0f} s; "
                           "attitude propagated on the gyro")

    def fix_age_s(self, t_ns: int) -> float:
        return (t_ns - self.last_fix_ns) / NS
