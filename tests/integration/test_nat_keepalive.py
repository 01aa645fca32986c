"""NAT keep-alives over real sockets: a phone registered from behind a "router" (its
Contact names 127.0.0.77:5099, where nothing listens, while it really is at 127.0.0.1)
gets OPTIONS at the address its REGISTER came from; once it stops answering, its binding
is dropped and a call to it gets 480. A phone whose Contact is where it is gets none.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import PASSWORDS, start_switch
from rawsip import RawPhone

from sipstack.message import Request, make_response
from sipstack.serialize import serialize

pytestmark = pytest.mark.integration

DOMAIN = "acme.test"


def _next_options(phone: RawPhone, within: float) -> Request | None:
    message = phone.next_message(within, lambda m: isinstance(m, Request) and m.method == "OPTIONS")
    return message if isinstance(message, Request) else None


def test_nated_phone_is_kept_open_then_dropped_when_silent(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch", server_extra={"nat": {"keepalive_seconds": 1}})
    nated = RawPhone(switch.host, switch.port, "201", DOMAIN, contact_address="127.0.0.77:5099")
    direct = RawPhone(switch.host, switch.port, "202", DOMAIN)
    caller = RawPhone(switch.host, switch.port, "203", DOMAIN)
    try:
        for phone, user in ((nated, "201"), (direct, "202"), (caller, "203")):
            answer = phone.register(PASSWORDS[user])
            assert answer is not None and answer.status == 200, user
        for _ in range(2):
            options = _next_options(nated, within=3.0)
            assert options is not None, "no keep-alive OPTIONS reached the NATed phone"
            assert str(options.uri) == "sip:201@127.0.0.77:5099"  # its Contact, sent to its source
            nated.sock.sendto(serialize(make_response(options, 200, to_tag="ka")), nated.target)
        assert _next_options(direct, within=1.5) is None, "a phone not behind NAT was pinged"
        # the NATed phone goes silent: three unanswered keep-alives remove its binding
        deadline = time.monotonic() + 10
        while "nat.binding_dropped" not in switch.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "nat.binding_dropped" in switch.log_text()
        to = f"<sip:201@{DOMAIN}>"
        call = caller.authenticated("INVITE", f"sip:201@{DOMAIN}", PASSWORDS["203"], to=to)
        assert call is not None and call.status == 480, call
    finally:
        for phone in (nated, direct, caller):
            phone.close()
        switch.stop()
