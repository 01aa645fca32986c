"""SDP offer/answer on the signalling path (RFC 3264), outside the media engine.

Call pickup joins two parties that both made an offer: the original caller (its
INVITE went to the ringing phones) and the picker (its own INVITE). The switch
answers each offer itself, pointing each side's media at the other one, so RTP
flows directly between them both ways without a re-INVITE (docs/ARCHITECTURE.md, "Pickup SDP").
"""

from __future__ import annotations

import msgspec

from ..media.sdp import Negotiated, SdpError, build_answer, negotiate_offer, parse_sdp


def bridge_offers(offer_a: bytes, offer_b: bytes, session_id: int) -> tuple[bytes, bytes] | None:
    """(answer to a, answer to b) that connect a's and b's media, or None if they can't meet.

    Each answer echoes its own offer's payload numbers (RFC 3264 §6.1) and carries the
    other party's address and port; both sides must have chosen the same codec.
    """
    try:
        sdp_a, sdp_b = parse_sdp(offer_a), parse_sdp(offer_b)
        chosen_a, chosen_b = negotiate_offer(sdp_a), negotiate_offer(sdp_b)
    except SdpError:
        return None
    if chosen_a.codec != chosen_b.codec:
        return None
    if (chosen_a.dtmf_payload_type is None) != (chosen_b.dtmf_payload_type is None):
        # telephone-event only where both ends offered it
        chosen_a = _without_dtmf(chosen_a)
        chosen_b = _without_dtmf(chosen_b)
    host_a, host_b = chosen_a.remote_host, chosen_b.remote_host
    if host_a is None or host_b is None:
        return None
    to_a = build_answer(
        sdp_a, chosen_a, host=host_b, port=chosen_b.remote_port, session_id=session_id
    )
    to_b = build_answer(
        sdp_b, chosen_b, host=host_a, port=chosen_a.remote_port, session_id=session_id + 1
    )
    return to_a, to_b


def _without_dtmf(chosen: Negotiated) -> Negotiated:
    return msgspec.structs.replace(chosen, dtmf_payload_type=None)
