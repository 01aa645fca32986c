"""What real peers send, over a real socket: the review's defects as a phone sees them.

One switch for the module (the reference-like configuration of the harness); each test
speaks raw SIP from its own UDP port. The in-process twins are in
tests/switch/test_protocol_defects.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PASSWORDS, SwitchProcess, start_switch
from rawsip import RawPhone

from sipstack.message import Request, Response, make_response
from sipstack.parse import parse_message
from sipstack.serialize import serialize

pytestmark = [pytest.mark.integration]

DOMAIN = "acme.test"


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchProcess]:
    process = start_switch(Path(tmp_path_factory.mktemp("protocol")))
    yield process
    process.stop()


@pytest.fixture
def phone(switch: SwitchProcess) -> Iterator[RawPhone]:
    raw = RawPhone(switch.host, switch.port, "201", DOMAIN)
    yield raw
    raw.close()


def test_register_requiring_path_gets_420_unsupported(phone: RawPhone) -> None:
    answer = phone.send(phone.request("REGISTER", f"sip:{DOMAIN}", ["Require: path"]))
    assert answer is not None and answer.status == 420
    assert answer.get("unsupported") == "path"


def test_invite_requiring_replaces_gets_420_unsupported(phone: RawPhone) -> None:
    invite = phone.request(
        "INVITE", f"sip:202@{DOMAIN}", ["Require: replaces"], to=f"<sip:202@{DOMAIN}>"
    )
    answer = phone.send(invite)
    assert answer is not None and answer.status == 420
    assert answer.get("unsupported") == "replaces"


def test_subscribe_200_carries_the_record_route(phone: RawPhone) -> None:
    extra = [
        "Event: message-summary",
        "Expires: 60",
        "Record-Route: <sip:edge.acme.test;lr>",
        "Record-Route: <sip:sbc.acme.test;lr>",
    ]
    ok = phone.authenticated("SUBSCRIBE", f"sip:201@{DOMAIN}", PASSWORDS["201"], extra)
    assert ok is not None and ok.status == 200, ok
    assert ok.get_all("record-route") == ["<sip:edge.acme.test;lr>", "<sip:sbc.acme.test;lr>"]


def test_bye_on_an_early_dialog_cancels_the_ringing_phone(switch: SwitchProcess) -> None:
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    callee = RawPhone(switch.host, switch.port, "202", DOMAIN)
    try:
        registered = callee.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        to = f"<sip:202@{DOMAIN}>"
        # INVITE, 407, INVITE with credentials: no final answer while 202 rings
        answer = caller.authenticated("INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], to=to)
        assert answer is None, answer
        offered = next(
            m
            for m in map(parse_message, callee.receive_all())
            if isinstance(m, Request) and m.method == "INVITE"
        )
        callee.sock.sendto(serialize(make_response(offered, 180, to_tag="ring202")), caller.target)
        ringing = [
            m
            for m in map(parse_message, caller.receive_all())
            if isinstance(m, Response) and m.status == 180
        ]
        assert ringing, "the caller never heard 180"
        early_to = ringing[0].get("to") or ""
        bye = caller.request("BYE", f"sip:202@{DOMAIN}", to=early_to)
        caller.sock.sendto(bye, caller.target)
        finals = sorted(
            m.status
            for m in map(parse_message, caller.receive_all())
            if isinstance(m, Response) and m.status >= 200
        )
        assert 200 in finals and 487 in finals, finals
        cancels = [
            m
            for m in map(parse_message, callee.receive_all())
            if isinstance(m, Request) and m.method == "CANCEL"
        ]
        assert cancels, "the ringing phone was never told to stop"
    finally:
        caller.close()
        callee.close()
