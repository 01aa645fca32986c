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
    invite = phone.request("INVITE", f"sip:202@{DOMAIN}", ["Require: replaces"],
                           to=f"<sip:202@{DOMAIN}>")
    answer = phone.send(invite)
    assert answer is not None and answer.status == 420
    assert answer.get("unsupported") == "replaces"


def test_subscribe_200_carries_the_record_route(phone: RawPhone) -> None:
    extra = ["Event: message-summary", "Expires: 60",
             "Record-Route: <sip:edge.acme.test;lr>", "Record-Route: <sip:sbc.acme.test;lr>"]
    ok = phone.authenticated("SUBSCRIBE", f"sip:201@{DOMAIN}", PASSWORDS["201"], extra)
    assert ok is not None and ok.status == 200, ok
    assert ok.get_all("record-route") == ["<sip:edge.acme.test;lr>", "<sip:sbc.acme.test;lr>"]
