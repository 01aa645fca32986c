"""Call detail records: one JSON line per ended call, kept in the state store.

Who called whom, what was dialled, who answered, when it started, was answered and
ended, the final status the caller saw and why the call ended.
"""

from __future__ import annotations

import msgspec

from .call import Call
from .legs import OutboundLeg

CDR_NAMESPACE = "cdr"


def cdr_key(call: Call) -> str:
    """Sortable by start time; unique by Call-ID."""
    return f"{call.started_at:017.6f} {call.call_id}"


def call_record(call: Call) -> str:
    """One CDR as JSON."""
    b = call.b
    callee = b.callee if isinstance(b, OutboundLeg) else (b.caller if b is not None else None)
    a_uri = call.a.invite.uri
    caller = call.a.caller
    return msgspec.json.encode(
        {
            "call_id": call.call_id,
            "caller": caller[1] if caller else None,
            "customer": caller[0] if caller else None,
            "dialed": getattr(a_uri, "user", None),
            "answered_by": callee[1] if callee else None,
            "start": call.started_at,
            "answer": call.answered_at,
            "end": call.ended_at,
            "status": call.final_status,
            "end_reason": call.end_reason,
        }
    ).decode()
