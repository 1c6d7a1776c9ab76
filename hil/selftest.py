"""Link self-test: Ping/Pong round trips against a rig (or the emulator), before a run."""

import json
from collections import Counter

import numpy as np

from hil.link import Link, open_link
from hil.messages import Ping, Pong


def selftest(link: Link, count: int, timeout_s: float) -> dict:
    """Send count pings one after another, each waiting up to timeout_s (s) for its pong.

    Returns round-trip figures in microseconds (link clock), pings lost, what else arrived
    meanwhile (per message type) and the link counters.
    """
    rtt_us, seen = [], Counter()
    for i in range(count):
        ping_id = i % 65536
        t0 = link.clock_ns()
        reply, others = link.request(Ping(t0, ping_id), lambda m: isinstance(m, Pong) and m.ping_id == ping_id,
                                     timeout_s)
        if reply is not None:
            rtt_us.append((link.clock_ns() - t0) / 1e3)
        seen.update(type(m).__name__ for m in others)
    out = {"sent": count, "received": len(rtt_us), "lost": count - len(rtt_us)}
    if rtt_us:
        out |= {"roundtrip_us_p50": float(np.percentile(rtt_us, 50)), "roundtrip_us_p99": float(np.percentile(rtt_us, 99)),
                "roundtrip_us_min": float(min(rtt_us)), "roundtrip_us_max": float(max(rtt_us))}
    return out | {"also_received": dict(seen), "link": link.counters.as_dict()}


def main(args) -> int:
    """`gnc hil selftest`: exit 0 when every ping was answered."""
    link = open_link("flight", serial_url=args.serial, can_spec=args.can, n_thrusters=args.n_thrusters,
                     baudrate=args.baudrate)
    try:
        result = selftest(link, args.count, args.timeout_s)
    finally:
        link.close()
    for k, v in result.items():
        print(f"  {k:<18} {v:.1f}" if isinstance(v, float) else f"  {k:<18} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if result["lost"] == 0 else 1
