"""Busy lamps on the wire (RFC 4235 over RFC 6665; docs/BEHAVIOUR.md, "BLF lamps"): a
phone subscribed to another extension's dialog state sees it ring, answer and hang up,
in that order, within a second each; another customer's phone is refused."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import PASSWORDS, customer, extension, start_switch
from nated import DOMAIN, NatedCall, nated_sdp, next_of
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


def test_a_lamps_key_picks_up_the_ringing_call_with_replaces(tmp_path: Path) -> None:
    # 203 watches 202; 201 calls 202, which rings; 203 presses the lamp's key: an INVITE
    # with Replaces naming the early dialog the NOTIFY showed (RFC 3891, RFC 4235)
    extensions = [extension(n, PASSWORDS[n]) for n in ("201", "202", "203")]
    acme = customer(
        "acme", DOMAIN, extensions,
        extension_lists=[{"name": "desk", "extensions": ["202", "203"]}],
        pickup_groups=[{"name": "desk", "number": "551", "extension_list": "desk"}],
    )  # fmt: skip
    switch = start_switch(tmp_path / "switch", customers=[acme])
    lamp = RawPhone(switch.host, switch.port, "203", DOMAIN)
    ringing_phone = RawPhone(switch.host, switch.port, "202", DOMAIN)
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    try:
        registered = ringing_phone.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        assert _subscribe(lamp, PASSWORDS["203"], "202") == 200
        _lamp(lamp)
        sdp = ["Content-Type: application/sdp"]
        offer = nated_sdp("127.0.0.77", 40000)
        ring = caller.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], sdp, to=f"<sip:202@{DOMAIN}>",
            body=offer,
        )  # fmt: skip
        assert ring is None
        invite = next_of(ringing_phone, "INVITE")
        assert isinstance(invite, Request)
        ringing = make_response(invite, 180, to_tag="t202")
        ringing_phone.sock.sendto(serialize(ringing), ringing_phone.target)
        early = _dialog(lamp)
        assert early.get("call-id") == invite.call_id
        replaces = f"Replaces: {early.get('call-id')};to-tag={early.get('remote-tag')}"
        picked = lamp.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["203"], [*sdp, replaces],
            to=f"<sip:202@{DOMAIN}>", body=nated_sdp("127.0.0.78", 40002),
        )  # fmt: skip
        assert picked is not None and picked.status == 200, picked
        assert next_of(caller, 200).status == 200  # type: ignore[union-attr]
        cancel = next_of(ringing_phone, "CANCEL")
        assert isinstance(cancel, Request)
        assert "Call completed elsewhere" in (cancel.get("reason") or "")
    finally:
        for phone in (lamp, ringing_phone, caller):
            phone.close()
        switch.stop()


def _dialog(phone: RawPhone) -> ET.Element:
    """The first <dialog> of the next new NOTIFY (early, while the phone rings)."""
    seen: set[int] = getattr(phone, "seen_notifies", set())
    phone.seen_notifies = seen  # type: ignore[attr-defined]
    while True:
        notify = phone.next_message(
            1.0, lambda m: isinstance(m, Request) and m.method == "NOTIFY"
        )
        assert isinstance(notify, Request), "no NOTIFY within a second"
        phone.sock.sendto(serialize(make_response(notify, 200)), phone.target)
        if notify.cseq.seq not in seen:
            seen.add(notify.cseq.seq)
            dialog = ET.fromstring(notify.body).find("d:dialog", NS)
            assert dialog is not None, notify.body
            return dialog


def test_after_a_restart_the_lamp_is_told_to_subscribe_again(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch")
    lamp = RawPhone(switch.host, switch.port, "203", DOMAIN)
    try:
        assert _subscribe(lamp, PASSWORDS["203"], "202") == 200
        _lamp(lamp)
        switch.restart()  # SIGTERM, then the same state_dir
        notify = lamp.next_message(
            5.0, lambda m: isinstance(m, Request) and m.method == "NOTIFY"
        )
        assert isinstance(notify, Request), "the restarted switch said nothing to the lamp"
        assert notify.get("subscription-state") == "terminated;reason=deactivated"
        # the phone subscribes again at once and gets the state
        lamp.call_id += "-again"
        assert _subscribe(lamp, PASSWORDS["203"], "202") == 200
    finally:
        lamp.close()
        switch.stop()


def test_the_login_lamp_lights_when_the_member_logs_in_with_the_code(tmp_path: Path) -> None:
    acme = customer(
        "acme", DOMAIN, [extension(n, PASSWORDS[n]) for n in ("201", "202", "203")],
        hunt_groups=[{"name": "desk", "number": "300", "type": "dynamic", "password": "1234",
                      "members": ["203"], "ring_seconds": 10}],
    )  # fmt: skip
    switch = start_switch(tmp_path / "switch", customers=[acme])
    lamp = RawPhone(switch.host, switch.port, "203", DOMAIN)
    member = RawPhone(switch.host, switch.port, "203", DOMAIN)
    try:
        assert _subscribe(lamp, PASSWORDS["203"], "300") == 200
        assert _lamp(lamp)[1] == ["terminated"]  # not logged in
        code = "*61300*1234"
        answered = member.authenticated(
            "INVITE", f"sip:{code}@{DOMAIN}", PASSWORDS["203"],
            ["Content-Type: application/sdp"], to=f"<sip:{code}@{DOMAIN}>",
            body=nated_sdp("127.0.0.1", 40000),
        )  # fmt: skip
        assert answered is not None and answered.status == 200, answered
        member.cseq = answered.cseq.seq - 1
        ack = member.request("ACK", str(answered.contacts[0].uri), to=answered.get("to"))
        member.sock.sendto(ack, member.target)
        assert _lamp(lamp)[1] == ["confirmed"]
    finally:
        lamp.close()
        member.close()
        switch.stop()
