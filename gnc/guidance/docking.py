"""Figures of merit of a docking phase, from a sequence of states (the truth, in the simulator).

Contact is the first sample at which the chaser reaches the docking port along the axis (distance to
the contact point <= 0) while docking or docked; the docking succeeded when that happened inside the
lateral tolerance, closing no faster than the abort limit at contact, with no time outside the cone.
"""

import numpy as np

from gnc.config import DockPhase
from gnc.guidance.modes import Mode, dock_geometry, dock_limits

NS = 1_000_000_000


class DockMonitor:
    """Accumulates cone-violation time and the contact figures over the samples given to ``add``."""

    def __init__(self, phases):
        self.phases = phases
        self.flown = False                # a dock phase was entered
        self.docked = False               # the flight code declared contact (DOCK -> DONE)
        self.cone_violation_s = 0.0
        self.contact: dict | None = None  # truth at contact: closing speed m/s, lateral miss m, t_s
        self._phase: DockPhase | None = None
        self._last_t_ns = None

    @property
    def keep_out_applies(self) -> bool:
        """False while docking or docked (as of the last sample): the target is then the destination."""
        return self._phase is None

    def add(self, t_ns: int, mode: int, phase_index: int, x: np.ndarray) -> None:
        """One sample: t_ns (ns), flight mode and phase index, state x = [r m, v m/s] in H."""
        dt = 0.0 if self._last_t_ns is None else (t_ns - self._last_t_ns) / NS
        self._last_t_ns = t_ns
        in_dock = mode == Mode.DOCK
        if in_dock:
            self.flown = True
            self._phase = self.phases[phase_index]
        elif mode == Mode.DONE and self._phase is not None:
            self.docked = True
        else:   # abort or another phase: not docking
            self._phase = None
        if self._phase is None:
            return
        along, lateral, closing = dock_geometry(self._phase, x)
        allowed_lateral, _ = dock_limits(self._phase, along)
        if in_dock and lateral > allowed_lateral:
            self.cone_violation_s += dt
        if self.contact is None and along <= 0.0:
            self.contact = {"t_s": t_ns / NS, "closing_speed_m_s": closing, "lateral_miss_m": lateral,
                            "speed_limit_m_s": dock_limits(self._phase, 0.0)[1],
                            "lateral_tol_m": self._phase.contact_pos_tol_m}

    @property
    def ok(self) -> bool:
        """True without a dock phase; else contact within the tolerances and never outside the cone."""
        if not self.flown:
            return True
        c = self.contact
        return (c is not None and self.cone_violation_s == 0.0 and c["lateral_miss_m"] <= c["lateral_tol_m"]
                and 0.0 < c["closing_speed_m_s"] <= c["speed_limit_m_s"])

    def summary(self) -> dict:
        """JSON-ready figures: dock_cone_violation_s and dock_contact (None when no dock phase was flown)."""
        if not self.flown:
            return {"dock_cone_violation_s": None, "dock_contact": None}
        return {"dock_cone_violation_s": self.cone_violation_s, "dock_contact": self.contact}
