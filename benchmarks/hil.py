"""`gnc bench hil`: link round-trip latency against the rig emulator running in another process.

Serial: CCSDS/COBS frames over a pseudo-terminal the emulator creates. CAN: hil/rig.dbc frames over
python-can's slcan on a pseudo-terminal. Each round trip is one Ping answered by one Pong, timed on
the flight side with CLOCK_MONOTONIC, one at a time, while the emulator also streams IMU samples
(100 Hz), heartbeats and statuses (10 Hz). Figures: serial_roundtrip_us_p50/_p99,
can_roundtrip_us_p50/_p99, pings per link and pings lost.
"""

from hil.emulator import EmulatorProcess
from hil.link import CanLink, SerialLink
from hil.selftest import selftest

WARMUP = 20


def _measure(link_args: list[str], open_flight, count: int) -> dict:
    with EmulatorProcess(link_args, duration_s=600) as emu:
        link = open_flight(emu.pty_path)
        try:
            selftest(link, WARMUP, 0.5)
            return selftest(link, count, 0.5)
        finally:
            link.close()


def run(quick: bool = False) -> dict:
    count = 100 if quick else 2000
    ser = _measure(["--serial", "pty"], lambda path: SerialLink(path, "flight"), count)
    can_ = _measure(["--can", "slcan:pty"], lambda path: CanLink("slcan", path, "flight"), count)
    out = {}
    for name, r in (("serial", ser), ("can", can_)):
        out |= {f"{name}_roundtrip_us_p50": r["roundtrip_us_p50"], f"{name}_roundtrip_us_p99": r["roundtrip_us_p99"],
                f"{name}_pings": r["sent"], f"{name}_lost": r["lost"]}
    return out | {"serial_transport": "pty (a pty does not pace the line rate)", "can_transport": "slcan over pty"}
