"""Relative-sensor health monitor: silence and consecutive gate rejections become events, once each."""

import pytest

from gnc.fdir import NS, SensorHealth


def _monitor():
    events = []
    return SensorHealth("lidar", 0, 5.0, 3, lambda t, x: events.append((t // NS, x))), events


def test_silence_is_detected_once_and_its_end_logged():
    h, ev = _monitor()
    for t in range(0, 20):
        h.update(t * NS, [True] if t < 4 or t >= 15 else [])
    assert ev == [(9, "lidar silent: no measurement for 6 s"), (15, "lidar measurements back after 12 s")]
    assert h.detections == 1 and not h.silent


def test_consecutive_rejections_isolate_and_an_acceptance_restores():
    h, ev = _monitor()
    h.update(1 * NS, [False, False])
    h.update(2 * NS, [True])  # a streak of 2 < 3 is just gating
    assert ev == [] and not h.isolated
    h.update(3 * NS, [False, False, False, False])
    assert h.isolated and ev == [(3, "lidar isolated: 3 consecutive measurements rejected by the innovation gate")]
    h.update(4 * NS, [True])
    assert not h.isolated and ev[-1] == (4, "lidar restored: measurement accepted after 4 rejections")
    assert h.detections == 1


@pytest.mark.parametrize("silent_after_s, limit", [(0.0, 3), (5.0, 0)])
def test_bad_settings_are_refused(silent_after_s, limit):
    with pytest.raises(ValueError, match="lidar"):
        SensorHealth("lidar", 0, silent_after_s, limit, print)
