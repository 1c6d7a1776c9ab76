"""Frame faults the rig emulator injects on one direction of its link (a Link tx_filter / rx_filter),
and the optional pacing of frames at the line rate."""

from collections import Counter, deque
from collections.abc import Callable

import numpy as np

from hil.messages import FaultKind

FRAME_FAULTS = (FaultKind.DROP, FaultKind.CORRUPT, FaultKind.TRUNCATE, FaultKind.DUPLICATE, FaultKind.DELAY)


class FrameFaults:
    """Drops, corrupts, truncates, duplicates or delays the next frames through it; silences all during a
    disconnect. A delayed frame holds back the frames behind it (a latency spike: no reordering).

    corrupt, truncate: how to damage one frame of this transport (see SerialLink / CanLink).
    ``applied`` counts what was done, per FaultKind name, for comparison with what the far end detected.
    """

    def __init__(self, rng: np.random.Generator, corrupt: Callable, truncate: Callable,
                 wire_time_ns: Callable | None = None):
        self.rng, self._corrupt, self._truncate = rng, corrupt, truncate
        self.wire_time_ns = wire_time_ns  # frame -> ns it occupies the line: pace like a real UART or bus
        self._line_free_ns = 0
        self.pending: Counter = Counter()
        self.delay_ns = 0
        self.disconnected_until_ns = 0
        self.silence = "DISCONNECT"  # what a silenced frame is counted as: DISCONNECT or BUS_OFF
        self.applied: Counter = Counter()
        self._held: deque = deque()  # (release time ns, frame), release times non-decreasing

    def arm(self, kind: FaultKind, count: int, value_s: float) -> None:
        """Affect the next count frames with kind (for DELAY, each delayed by value_s seconds)."""
        self.pending[kind] += count
        if kind == FaultKind.DELAY:
            self.delay_ns = round(value_s * 1e9)

    def next_release_ns(self) -> int | None:
        """When the next held frame is due (ns), or None."""
        return self._held[0][0] if self._held else None

    def clear(self) -> None:
        self.pending.clear()
        self.disconnected_until_ns = 0

    def __call__(self, frames: list, now_ns: int) -> list:
        for frame in frames:
            if now_ns < self.disconnected_until_ns:
                self.applied[self.silence] += 1
                continue
            kind = next((k for k in FRAME_FAULTS if self.pending[k] > 0), None)
            if kind is not None:
                self.pending[kind] -= 1
                self.applied[kind.name] += 1
            if kind == FaultKind.DROP:
                continue
            if kind == FaultKind.CORRUPT:
                frame = self._corrupt(frame, self.rng)
            elif kind == FaultKind.TRUNCATE:
                frame = self._truncate(frame, self.rng)
            release = now_ns + (self.delay_ns if kind == FaultKind.DELAY else 0)
            release = max(release, self._held[-1][0]) if self._held else release
            if self.wire_time_ns is not None:  # the frame is on the far side once its last bit is
                release = self._line_free_ns = max(release, self._line_free_ns) + self.wire_time_ns(frame)
            self._held.extend([(release, frame)] * (2 if kind == FaultKind.DUPLICATE else 1))
        out = []
        while self._held and self._held[0][0] <= now_ns:
            out.append(self._held.popleft()[1])
        return out
