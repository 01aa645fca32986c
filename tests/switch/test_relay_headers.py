"""The relay header rule: switch/calls/relay_headers.py, docs/BEHAVIOUR.md (Relaying)."""

from __future__ import annotations

import pytest

from sipstack.message import Request, Response, make_response
from sipstack.uri import parse_uri
from switch.calls.relay_headers import END_TO_END, copy_end_to_end

HOP_OR_DIALOG = [
    "via",
    "route",
    "record-route",
    "contact",
    "to",
    "from",
    "call-id",
    "cseq",
    "max-forwards",
    "content-length",
    "content-type",
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "www-authenticate",
    "proxy-require",
    "rseq",
    "rack",
    "session-expires",
    "min-se",
]


def _request() -> Request:
    headers = [
        ("via", "SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKx"),
        ("from", "<sip:a@t.test>;tag=a"),
        ("to", "<sip:b@t.test>;tag=b"),
        ("call-id", "c"),
        ("cseq", "2 INVITE"),
        ("contact", "<sip:a@127.0.0.1:7000>"),
    ]
    return Request("INVITE", parse_uri("sip:b@127.0.0.1:7001"), headers)


@pytest.mark.parametrize("name", HOP_OR_DIALOG)
def test_hop_and_dialog_headers_are_never_relayed(name: str) -> None:
    assert name not in END_TO_END


def test_only_a_redirect_passes_its_contact() -> None:
    for status, passes in ((302, True), (200, False), (486, False)):
        response = make_response(_request(), status)
        response.add("contact", "<sip:elsewhere@127.0.0.1:7999>")
        response.add("retry-after", "5")
        out = Response(status, "x", [])
        copy_end_to_end(response, out)
        assert out.get("retry-after") == "5"
        assert (out.get("contact") is not None) is passes, status


def test_request_headers_keep_their_order_and_repeats() -> None:
    request = _request()
    request.add("supported", "replaces")
    request.add("subject", "one")
    request.add("supported", "100rel")
    request.add("subject", "two")
    out = Request("INVITE", request.uri, [])
    copy_end_to_end(request, out)
    assert out.headers == [
        ("supported", "replaces"),
        ("subject", "one"),
        ("supported", "100rel"),
        ("subject", "two"),
    ]


def test_session_timer_headers_stay_on_their_leg() -> None:
    # RFC 4028 between the switch and each party: the far party's interval, refresher
    # and `timer` tag are not the other leg's (the switch adds its own there)
    request = _request()
    request.add("supported", "timer")
    request.add("require", "timer, 100rel")
    request.add("session-expires", "1800;refresher=uac")
    request.add("min-se", "90")
    out = Request("INVITE", request.uri, [])
    copy_end_to_end(request, out)
    assert out.headers == [("require", "100rel")]
