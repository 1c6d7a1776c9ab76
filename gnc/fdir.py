"""Fault detection of the relative sensor from what navigation sees of it: silence and rejected innovations.

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
