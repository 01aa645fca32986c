"""What the admin endpoint shows: a status snapshot (JSON) and Prometheus metrics.

Pure: reads the switch's state at `now` (one observable view of registrations,
per-extension call state and calls; docs/PRODUCT.md, "What operators miss").
"""

from __future__ import annotations

from typing import Any

from ..core import Switch


def status(switch: Switch, now: float) -> dict[str, Any]:
    bindings = switch.location.all_bindings(now)
    return {
        "registrations": [
            {
                "aor": b.aor,
                "contact": b.contact,
                "transport": b.transport,
                "source": f"{b.source[0]}:{b.source[1]}",
                "expires_in": b.remaining(now),
                "user_agent": b.user_agent,
            }
            for b in bindings
        ],
        "extensions": [
            {
                "customer": key[0],
                "extension": key[1],
                "state": state.value,
                "calls": list(switch.lines.calls(key)),
            }
            for key, state in sorted(switch.lines.snapshot().items())
        ],
        "calls": [
            {
                "call_id": call.call_id,
                "phase": call.phase.value,
                "caller": call.a.caller[1] if call.a.caller else None,
                "customer": call.a.caller[0] if call.a.caller else None,
                "forks": len(call.forks),
                "since": round(now - call.started_at, 3),
            }
            for call in switch.calls.values()
        ],
        "counters": dict(switch.counters),
    }


def metrics(switch: Switch, now: float) -> str:
    lines = [
        "# HELP softswitch_registrations Registered contacts.",
        "# TYPE softswitch_registrations gauge",
        f"softswitch_registrations {len(switch.location.all_bindings(now))}",
        "# HELP softswitch_calls_active Calls in progress.",
        "# TYPE softswitch_calls_active gauge",
        f"softswitch_calls_active {len(switch.calls)}",
        "# HELP softswitch_calls_total Calls ended, by whether they were answered.",
        "# TYPE softswitch_calls_total counter",
    ]
    for result in ("answered", "unanswered"):
        lines.append(
            f'softswitch_calls_total{{result="{result}"}} {switch.counters[f"calls_{result}"]}'
        )
    lines += [
        "# HELP softswitch_sip_rejected_total Malformed SIP messages refused or dropped.",
        "# TYPE softswitch_sip_rejected_total counter",
        f"softswitch_sip_rejected_total {switch.counters['sip_rejected']}",
    ]
    return "\n".join(lines) + "\n"
