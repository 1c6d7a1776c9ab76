"""What the cross-process tests do to a rig emulator: command it, collect what it sends, inject faults."""

import time

from hil.link import Link
from hil.messages import FaultCommand, FaultKind, ImuSample, Message, RigFault, RigStatus, ThrusterCommand

N = 12


def collect(link: Link, seconds: float) -> list[Message]:
    """Everything received during the next `seconds` s."""
    end = time.monotonic() + seconds
    out = []
    while (left := end - time.monotonic()) > 0:
        out += link.poll(left)
    return out


def wait_for(link: Link, pred, timeout_s: float) -> tuple[Message | None, list[Message]]:
    """The first received message pred accepts (None after timeout_s) and all received before it."""
    end = time.monotonic() + timeout_s
    seen = []
    while (left := end - time.monotonic()) > 0:
        for m in link.poll(left):
            if pred(m):
                return m, seen
            seen.append(m)
    return None, seen


def fire(link: Link, on_time_s: dict[int, float], seconds: float, period_s: float = 0.01,
         answer_timeout_s: float = 0.0) -> list[Message]:
    """Send a ThrusterCommand every period_s for `seconds` s (thruster index -> on-time); collect replies, and
    then, given answer_timeout_s, until the RigStatus answering the last command (a loaded machine delays
    the link: what counts is that every command is answered, not how soon)."""
    cmd = tuple(on_time_s.get(i, 0.0) for i in range(N))
    out, t_next, end = [], time.monotonic(), time.monotonic() + seconds
    while t_next < end:
        link.send(ThrusterCommand(time.monotonic_ns(), cmd))
        t_next += period_s
        while (left := t_next - time.monotonic()) > 0:
            out += link.poll(left)
    if answer_timeout_s > 0:
        last = link.last_tx_seq[ThrusterCommand] % 16
        answer, seen = wait_for(link, lambda m: isinstance(m, RigStatus) and m.cmd_seq == last, answer_timeout_s)
        out += seen + ([answer] if answer is not None else [])
    return out


def inject(link: Link, kind: FaultKind, target: int = 0, count: int = 0, value_s: float = 0.0) -> None:
    link.send(FaultCommand(time.monotonic_ns(), int(kind), target, count, value_s))


def clear(link: Link) -> None:
    """Clear faults, let the watchdog close the valves, and drain."""
    inject(link, FaultKind.CLEAR)
    collect(link, 0.25)


def diff(before: dict, link: Link) -> dict:
    return {k: v - before[k] for k, v in link.counters.as_dict().items()}


def frame_fault_effect(link: Link, kind: FaultKind, count: int = 5) -> tuple[dict, int]:
    """Damage the next `count` frames the rig sends; (counter changes once they show, IMU samples received).

    Waits (at most 3 s, for a loaded machine) until some counter moves, then 0.3 s more."""
    clear(link)
    before = link.counters.as_dict()
    inject(link, kind, target=0, count=count)
    got, end = [], time.monotonic() + 3.0
    watched = ("crc_errors", "decode_errors", "duplicates", "seq_gaps", "incomplete")
    while time.monotonic() < end and not any(diff(before, link)[k] for k in watched):
        got += collect(link, 0.05)
    got += collect(link, 0.3)
    return diff(before, link), sum(isinstance(m, ImuSample) for m in got)


def is_watchdog_status(m: Message) -> bool:
    return isinstance(m, RigStatus) and bool(m.faults & RigFault.WATCHDOG)
