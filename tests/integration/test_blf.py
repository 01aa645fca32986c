"""Busy lamps on the wire (RFC 4235 over RFC 6665; docs/BEHAVIOUR.md, "BLF lamps"): a
phone subscribed to another extension's dialog state sees it ring, answer and hang up,
in that order, within a second each; another customer's phone is refused."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import PASSWORDS, start_switch
from nated import DOMAIN, NatedCall
from rawsip import RawPhone

from sipstack.message import Request, make_response
from sipstack.serialize import serialize

pytestmark = pytest.mark.integration

NS = {"d": "urn:ietf:params:xml:ns:dialog-info"}


def _lamp(phone: RawPhone, within: float = 1.0) -> tuple[float, list[str]]:
    """The next new NOTIFY's arrival time and its dialogs' states; each answered 200
    (a retransmission, sent while the test was busy elsewhere, is answered and skipped)."""
    seen: set[int] = getattr(phone, "seen_notifies", set())
    phone.seen_notifies = seen  # type: ignore[attr-defined]
    while True:
        notify = phone.next_message(
            within, lambda m: isinstance(m, Request) and m.method == "NOTIFY"
        )
        assert isinstance(notify, Request), "no NOTIFY within a second"
        phone.sock.sendto(serialize(make_response(notify, 200)), phone.target)
        if notify.cseq.seq not in seen:
            break
    seen.add(notify.cseq.seq)
    assert notify.get("content-type") == "application/dialog-info+xml"
    root = ET.fromstring(notify.body)
    states = [d.findtext("d:state", namespaces=NS) or "" for d in root.findall("d:dialog", NS)]
    return time.monotonic(), states


def _subscribe(phone: RawPhone, password: str, target: str, domain: str = DOMAIN) -> int:
    final = phone.authenticated(
        "SUBSCRIBE", f"sip:{target}@{domain}", password,
        ["Event: dialog", "Accept: application/dialog-info+xml", "Expires: 600"],
        to=f"<sip:{target}@{domain}>",
    )  # fmt: skip
    assert final is not None
    return final.status


def test_a_busy_lamp_follows_ringing_answer_and_hang_up(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch")
    lamp = RawPhone(switch.host, switch.port, "203", DOMAIN)
    try:
        assert _subscribe(lamp, PASSWORDS["203"], "202") == 200
        assert _lamp(lamp)[1] == []  # 202 is idle
        call = NatedCall(switch)  # 201 calls 202, 202 answers
        try:
            assert _lamp(lamp)[1] == ["early"]
            assert _lamp(lamp)[1] == ["confirmed"]
            hung_up = time.monotonic()
            call.hang_up()
            seen, states = _lamp(lamp)
            assert states == [] and seen - hung_up < 1.0
        finally:
            call.close()
    finally:
        lamp.close()
        switch.stop()


def test_another_customers_phone_gets_no_lamp(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch")
    stranger = RawPhone(switch.host, switch.port, "201", "globex.test")
    try:
        # globex's 201 asks for acme's 202: its credentials are not acme's
        status = _subscribe(stranger, "gina-pw", "202")
        assert status == 403, status
        assert stranger.next_message(0.5, lambda m: isinstance(m, Request)) is None
    finally:
        stranger.close()
        switch.stop()
