"""What real peers send, over a real socket: the fixed protocol defects as a phone sees them.

One switch for the module (the reference-like configuration of the harness); each test
speaks raw SIP from its own UDP port. The in-process twins are in
tests/switch/test_protocol_defects.py.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PASSWORDS, SwitchProcess, customer, extension, free_port, start_switch
from rawsip import RawPhone

from sipstack.header_values import parse_auth
from sipstack.message import Request, Response, make_response
from sipstack.parse import parse_message
from sipstack.serialize import serialize
from switch.auth import answer_challenge

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


def test_late_offer_call_to_voicemail_hears_the_greeting(tmp_path: Path) -> None:
    # The answer in the ACK tells the media session where to send: before, it was thrown
    # away and a late-offer phone (or trunk) heard nothing and recorded nothing.
    box = extension("201", PASSWORDS["201"], voicemail=True)
    switch = start_switch(
        tmp_path / "switch",
        features={"voicemail": "#45"},
        customers=[customer("acme", DOMAIN, [box])],
    )
    phone = RawPhone(switch.host, switch.port, "201", DOMAIN)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    try:
        ok = phone.authenticated(
            "INVITE", f"sip:#45@{DOMAIN}", PASSWORDS["201"], to=f"<sip:#45@{DOMAIN}>"
        )
        assert ok is not None and ok.status == 200 and b"m=audio" in ok.body, ok
        port = rtp.getsockname()[1]
        answer = (
            f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ).encode()
        ack = phone.request(
            "ACK",
            str(ok.contacts[0].uri),
            ["Content-Type: application/sdp"],
            answer,
            to=ok.get("to"),
        )
        phone.sock.sendto(ack, phone.target)
        rtp.settimeout(3.0)
        packet = rtp.recv(2048)
        assert len(packet) > 12 and packet[0] >> 6 == 2, "no RTP from the greeting"
    finally:
        rtp.close()
        phone.close()
        switch.stop()


def test_switch_listening_on_the_wildcard_puts_a_reachable_via(tmp_path: Path) -> None:
    port = free_port()
    switch = start_switch(
        tmp_path / "switch",
        port=port,
        server_extra={"listen": [f"udp:0.0.0.0:{port}"], "advertise": "127.0.0.1"},
    )
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    callee = RawPhone(switch.host, switch.port, "202", DOMAIN)
    try:
        registered = callee.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        caller.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], to=f"<sip:202@{DOMAIN}>"
        )
        offered = next(
            m
            for m in map(parse_message, callee.receive_all())
            if isinstance(m, Request) and m.method == "INVITE"
        )
        top_via = offered.get_all("via")[0]
        assert top_via.startswith(f"SIP/2.0/UDP 127.0.0.1:{port};"), top_via
    finally:
        caller.close()
        callee.close()
        switch.stop()


def test_trunk_named_by_a_host_name_fails_the_call_not_the_switch(tmp_path: Path) -> None:
    # uvloop's sendto takes addresses only; the failed send must fail that one call.
    acme = customer("acme", DOMAIN, [extension("201", PASSWORDS["201"])])
    acme["trunks"] = [
        {"name": "carrier", "uri": "sip:carrier.invalid:5090", "outbound_prefix": "0"}
    ]
    switch = start_switch(tmp_path / "switch", customers=[acme])
    phone = RawPhone(switch.host, switch.port, "201", DOMAIN)
    try:
        final = phone.authenticated(
            "INVITE", f"sip:055501@{DOMAIN}", PASSWORDS["201"], to=f"<sip:055501@{DOMAIN}>"
        )
        assert final is not None and final.status >= 400, final
        registered = phone.register(PASSWORDS["201"])  # the switch still serves
        assert registered is not None and registered.status == 200
    finally:
        phone.close()
        switch.stop()
    assert "transport.send_failed" in switch.log_text()


def test_repeated_nonce_count_gets_stale_challenges_never_the_throttle(tmp_path: Path) -> None:
    # One office NAT retransmitting a phone's REGISTER must not lock its phones out.
    switch = start_switch(
        tmp_path / "switch", server_extra={"auth": {"max_failures": 3, "failure_window": 60}}
    )
    phone = RawPhone(switch.host, switch.port, "201", DOMAIN)
    try:
        uri = f"sip:{DOMAIN}"
        first = phone.send(phone.request("REGISTER", uri, ["Expires: 300"]))
        assert first is not None and first.status == 401
        challenge = parse_auth(first.get_all("www-authenticate")[0])
        auth = answer_challenge(
            challenge,
            method="REGISTER",
            uri=uri,
            username="201",
            password=PASSWORDS["201"],
            cnonce="nat1",
        )
        answers = [
            phone.send(phone.request("REGISTER", uri, ["Expires: 300", f"Authorization: {auth}"]))
            for _ in range(6)
        ]
        statuses = [a.status if a is not None else None for a in answers]
        assert statuses[0] == 200 and 403 not in statuses, statuses
        assert all(
            "stale=true" in ",".join(a.get_all("www-authenticate"))
            for a in answers[1:]
            if a is not None
        )
        again = phone.register(PASSWORDS["201"])
        assert again is not None and again.status == 200
    finally:
        phone.close()
        switch.stop()
    assert "auth.throttled" not in switch.log_text()


def test_invite_answered_for_another_number_gets_400(phone: RawPhone) -> None:
    # RFC 7616 §3.4.6: credentials computed for one dialled number are refused for another
    assert (registered := phone.register(PASSWORDS["201"])) and registered.status == 200
    # 205 is never registered in this module: a call let through ends at once (480), while
    # 202 may still have a binding from an earlier test and ring past the read timeout
    to = f"<sip:205@{DOMAIN}>"
    answer = phone.authenticated(
        "INVITE", f"sip:205@{DOMAIN}", PASSWORDS["201"], to=to, digest_uri=f"sip:203@{DOMAIN}"
    )
    assert answer is not None and answer.status == 400, answer
    assert "uri" in answer.reason.lower()
    # §17.1.1.3: ACK the 400, or its Timer G retransmission is read as the next answer
    phone.ack(answer)
    phone.receive_all(0.2)
    # the same phone, answering for the number it dials, is let through (no throttle)
    good = phone.authenticated("INVITE", f"sip:205@{DOMAIN}", PASSWORDS["201"], to=to)
    assert good is not None and good.status not in (400, 401, 403, 407), good
    phone.ack(good)


def test_mwi_notify_answered_481_ends_the_subscription(tmp_path: Path) -> None:
    # A phone that rebooted answers 481 to the old dialog's NOTIFY; after that its
    # REGISTER must bring an unsolicited NOTIFY again, or the lamp stays wrong for hours.
    box = extension("201", PASSWORDS["201"], voicemail=True)
    switch = start_switch(tmp_path / "switch", customers=[customer("acme", DOMAIN, [box])])
    phone = RawPhone(switch.host, switch.port, "201", DOMAIN)
    try:
        ok = phone.authenticated(
            "SUBSCRIBE",
            f"sip:201@{DOMAIN}",
            PASSWORDS["201"],
            ["Event: message-summary", "Expires: 3600"],
        )
        assert ok is not None and ok.status == 200
        notify = next(
            m
            for m in map(parse_message, phone.receive_all())
            if isinstance(m, Request) and m.method == "NOTIFY"
        )
        phone.sock.sendto(serialize(make_response(notify, 481)), phone.target)
        phone.receive_all(0.3)
        registered = phone.register(PASSWORDS["201"])
        assert registered is not None and registered.status == 200
        unsolicited = [
            m
            for m in map(parse_message, phone.receive_all())
            if isinstance(m, Request) and m.method == "NOTIFY"
        ]
        assert unsolicited, "no NOTIFY after the re-REGISTER: the dead subscription lives on"
        assert unsolicited[0].call_id != notify.call_id and unsolicited[0].get("contact")
    finally:
        phone.close()
        switch.stop()


def test_latin1_display_name_and_local_time_date_are_served(phone: RawPhone) -> None:
    options = phone.request(
        "OPTIONS", f"sip:{DOMAIN}", ["Date: Fri, 01 Jan 2010 16:00:00 EST"]
    ).replace(
        f"From: <sip:201@{DOMAIN}>".encode(),
        f'From: "Jos\xe9" <sip:201@{DOMAIN}>'.encode("latin-1"),
    )
    answer = phone.send(options)
    assert answer is not None and answer.status == 200, answer


@pytest.mark.parametrize("method", ["OPTIONS", "REGISTER"])
def test_cancel_of_an_answered_non_invite_gets_200(phone: RawPhone, method: str) -> None:
    # RFC 3261 §9.2: "A CANCEL request has no impact on the processing of transactions
    # with any other method" and "as long as the CANCEL matched an existing transaction,
    # the UAS answers the CANCEL request itself with a 200 (OK) response."
    uri = f"sip:{DOMAIN}" if method == "REGISTER" else f"sip:201@{DOMAIN}"
    original = phone.request(method, uri)
    first = phone.send(original)
    assert first is not None and first.cseq.method == method, first
    # §9.1: the CANCEL repeats the Request-URI, Call-ID, To, From, CSeq number and the
    # top Via (its branch) of the request it cancels
    seq = first.cseq.seq
    cancel = original.replace(f"{method} {uri} SIP/2.0".encode(), f"CANCEL {uri} SIP/2.0".encode())
    cancel = cancel.replace(f"CSeq: {seq} {method}".encode(), f"CSeq: {seq} CANCEL".encode())
    answer = phone.send(cancel)
    assert answer is not None and answer.cseq.method == "CANCEL", answer
    assert answer.status == 200
    # the original transaction is untouched: its retransmission gets the same answer
    again = phone.send(original)
    assert again is not None and (again.status, again.cseq.method) == (first.status, method)


def test_cancel_matching_nothing_still_gets_481(phone: RawPhone) -> None:
    answer = phone.send(phone.request("CANCEL", f"sip:201@{DOMAIN}"))
    assert answer is not None and (answer.status, answer.cseq.method) == (481, "CANCEL")


OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _got(phone: RawPhone, timeout: float = 0.5) -> list[Request | Response]:
    return [parse_message(d) for d in phone.receive_all(timeout)]


def _send(phone: RawPhone, message: Request | Response) -> None:
    phone.sock.sendto(serialize(message), phone.target)


def _ok_with_sdp(request: Request, tag: str, contact: str) -> Response:
    ok = make_response(request, 200, to_tag=tag)
    ok.add("contact", contact)
    ok.add("content-type", "application/sdp")
    ok.body = OFFER
    return ok


class Bridged:
    """201 calls 202 over raw sockets; 202 answers, 201 ACKs."""

    def __init__(self, switch: SwitchProcess) -> None:
        self.caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
        self.callee = RawPhone(switch.host, switch.port, "202", DOMAIN)
        registered = self.callee.register(PASSWORDS["202"])
        assert registered is not None and registered.status == 200
        self.to = f"<sip:202@{DOMAIN}>"
        sdp = ["Content-Type: application/sdp"]
        ringing = self.caller.authenticated(
            "INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], sdp, to=self.to, body=OFFER
        )
        assert ringing is None, ringing
        self.offered = next(
            m for m in _got(self.callee) if isinstance(m, Request) and m.method == "INVITE"
        )
        self.callee_contact = f"<sip:202@127.0.0.1:{self.callee.port}>"
        _send(self.callee, _ok_with_sdp(self.offered, "t202", self.callee_contact))
        self.ok = next(m for m in _got(self.caller) if isinstance(m, Response) and m.status == 200)
        self.caller.cseq = self.ok.cseq.seq - 1
        self.caller.sock.sendto(self.in_dialog("ACK"), self.caller.target)
        _got(self.callee)  # the switch's ACK to 202

    def in_dialog(self, method: str, extra: list[str] | None = None, body: bytes = b"") -> bytes:
        """A request from 201 inside its dialog with the switch."""
        uri = str(self.ok.contacts[0].uri)
        return self.caller.request(method, uri, extra, body, to=self.ok.get("to"))

    def from_callee(self, method: str, cseq: int) -> Request:
        """A request from 202 inside the dialog the switch's INVITE made."""
        port = self.callee.port
        headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{method}{cseq}t202;rport"),
            ("from", f"{self.offered.get('to')};tag=t202"),
            ("to", self.offered.get("from") or ""),
            ("call-id", self.offered.call_id),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
            ("contact", self.callee_contact),
        ]
        return Request(method, self.offered.contacts[0].uri, headers)

    def close(self) -> None:
        self.caller.close()
        self.callee.close()


def test_relayed_reinvite_and_its_refusal_keep_their_end_to_end_headers(tmp_path: Path) -> None:
    switch = start_switch(tmp_path / "switch")
    call = Bridged(switch)
    try:
        extra = [
            "Content-Type: application/sdp",
            "Supported: timer",
            "Session-Expires: 3600;refresher=uac",
            "Content-Disposition: session",
        ]
        call.caller.sock.sendto(call.in_dialog("INVITE", extra, OFFER), call.caller.target)
        reinvite = next(
            m for m in _got(call.callee) if isinstance(m, Request) and m.method == "INVITE"
        )
        # the session timer is each leg's own (RFC 4028): the callee's leg keeps the
        # switch's 1800 s, which the switch refreshes (the callee's 200 named no refresher)
        assert reinvite.get("supported") == "timer"
        assert reinvite.get("session-expires") == "1800;refresher=uac"
        assert reinvite.get("content-disposition") == "session"
        glare = make_response(reinvite, 491)
        glare.add("retry-after", "3")
        _send(call.callee, glare)
        final = next(m for m in _got(call.caller) if isinstance(m, Response) and m.status > 100)
        assert final.status == 491 and final.get("retry-after") == "3", final
    finally:
        call.close()
        switch.stop()


def test_update_moves_the_remote_target_on_the_wire(tmp_path: Path) -> None:
    # RFC 3311 §5.1: "UPDATE is a target refresh request" -- and so is its 2xx.
    switch = start_switch(tmp_path / "switch")
    call = Bridged(switch)
    try:
        moved = f"<sip:201-moved@127.0.0.1:{call.caller.port}>"
        # with an offer: an UPDATE without SDP is a session refresh the switch answers
        offer = call.in_dialog("UPDATE", ["Content-Type: application/sdp"], OFFER)
        update = offer.replace(
            f"Contact: <sip:201@127.0.0.1:{call.caller.port}>".encode(),
            f"Contact: {moved}".encode(),
        )
        call.caller.sock.sendto(update, call.caller.target)
        relayed = next(
            m for m in _got(call.callee) if isinstance(m, Request) and m.method == "UPDATE"
        )
        _send(
            call.callee, _ok_with_sdp(relayed, "", f"<sip:202-moved@127.0.0.1:{call.callee.port}>")
        )
        _got(call.caller)
        _send(call.callee, call.from_callee("INFO", 1))
        info = next(m for m in _got(call.caller) if isinstance(m, Request) and m.method == "INFO")
        assert str(info.uri) == moved.strip("<>"), "the UPDATE's Contact was ignored"
        _send(call.caller, make_response(info, 200))
        call.caller.sock.sendto(call.in_dialog("INFO"), call.caller.target)
        info = next(m for m in _got(call.callee) if isinstance(m, Request) and m.method == "INFO")
        assert info.uri.user == "202-moved", "the 2xx to UPDATE's Contact was ignored"
    finally:
        call.close()
        switch.stop()


def test_reinvite_200_never_acked_ends_the_call_with_bye_to_both(tmp_path: Path) -> None:
    # RFC 3261 §13.3.1.4: after 64*T1 (32 s) without ACK "the session SHOULD be
    # terminated. This is accomplished with a BYE." Before, the event was dropped and
    # the call (and both lines) stayed up.
    switch = start_switch(tmp_path / "switch")
    call = Bridged(switch)
    try:
        sdp = ["Content-Type: application/sdp"]
        call.caller.sock.sendto(call.in_dialog("INVITE", sdp, OFFER), call.caller.target)
        reinvite = next(
            m for m in _got(call.callee) if isinstance(m, Request) and m.method == "INVITE"
        )
        _send(call.callee, _ok_with_sdp(reinvite, "t202", call.callee_contact))
        caller_byes = []
        for _ in range(40):  # the caller never ACKs the 200 it keeps getting
            caller_byes = [
                m for m in _got(call.caller, 1.0) if isinstance(m, Request) and m.method == "BYE"
            ]
            if caller_byes:
                break
        assert caller_byes, "no BYE to the caller after the re-INVITE's 200 went unACKed"
        callee_byes = [m for m in _got(call.callee) if isinstance(m, Request) and m.method == "BYE"]
        assert callee_byes, "no BYE to the callee"
        _send(call.caller, make_response(caller_byes[0], 200))
        _send(call.callee, make_response(callee_byes[0], 200))
    finally:
        call.close()
        switch.stop()
    states = {
        e.get("extension"): e.get("state")
        for e in switch.events()
        if e.get("event") == "extension.state"
    }
    assert states == {"201": "idle", "202": "idle"}, states


# -- RFC 3261 §18.1.1: a request over 1300 bytes goes by TCP ----------------------------

BIG_SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    + b"".join(b"a=fmtp:%d mode=%s\r\n" % (i, b"x" * 40) for i in range(60))
)


def read_tcp_message(conn: socket.socket, timeout: float = 3.0) -> bytes | None:
    """One SIP message framed by Content-Length from a TCP stream, or None."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65535)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l"):
                length = int(value)
        while len(rest) < length:
            chunk = conn.recv(65535)
            if not chunk:
                return None
            rest += chunk
    except TimeoutError:
        return None
    return head + b"\r\n\r\n" + rest[:length]


def test_invite_over_1300_bytes_reaches_the_callee_over_tcp(switch: SwitchProcess) -> None:
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    callee = RawPhone(switch.host, switch.port, "203", DOMAIN)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # the callee listens on TCP at its UDP address: where §18.1.1 sends the INVITE
        listener.bind(("127.0.0.1", callee.port))
        listener.listen(1)
        listener.settimeout(5.0)
        registered = callee.register(PASSWORDS["203"])
        assert registered is not None and registered.status == 200
        to = f"<sip:203@{DOMAIN}>"
        answer = caller.authenticated(
            "INVITE",
            f"sip:203@{DOMAIN}",
            PASSWORDS["201"],
            ["Content-Type: application/sdp"],
            to=to,
            body=BIG_SDP,
        )
        assert answer is None, answer  # still ringing: no final answer yet
        over_udp = [
            m
            for m in map(parse_message, callee.receive_all())
            if isinstance(m, Request) and m.method == "INVITE"
        ]
        assert over_udp == [], "a request over 1300 bytes went out over UDP"
        conn, _ = listener.accept()
        with conn:
            data = read_tcp_message(conn)
            assert data is not None, "no INVITE over TCP"
            assert len(data) > 1300
            invite = parse_message(data)
            assert isinstance(invite, Request) and invite.method == "INVITE"
            assert invite.top_via.transport == "TCP"
            # the offer as the media relay passes it on: every attribute kept
            assert invite.body.count(b"a=fmtp:") == 60, invite.body
            conn.sendall(serialize(make_response(invite, 486, to_tag="busy203")))
            finals = [
                m
                for m in map(parse_message, caller.receive_all(timeout=2.0))
                if isinstance(m, Response) and m.status >= 200
            ]
            assert finals and {m.status for m in finals} == {486}, finals
            caller.ack(finals[0])
    finally:
        listener.close()
        caller.close()
        callee.close()


def _big_invite_is_answered_513(switch: SwitchProcess, callee_user: str) -> None:
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    callee = RawPhone(switch.host, switch.port, callee_user, DOMAIN)
    try:
        registered = callee.register(PASSWORDS[callee_user])
        assert registered is not None and registered.status == 200
        answer = caller.authenticated(
            "INVITE",
            f"sip:{callee_user}@{DOMAIN}",
            PASSWORDS["201"],
            ["Content-Type: application/sdp"],
            to=f"<sip:{callee_user}@{DOMAIN}>",
            body=BIG_SDP,
        )
        assert answer is not None and answer.status == 513, answer
        caller.ack(answer)
        sent = [m for m in map(parse_message, callee.receive_all()) if isinstance(m, Request)]
        assert sent == [], "a request over 1300 bytes went out over UDP"
    finally:
        caller.close()
        callee.close()


def test_invite_over_1300_bytes_without_tcp_is_answered_513(tmp_path: Path) -> None:
    udp_only = start_switch(tmp_path / "switch", transports=("udp",))
    try:
        _big_invite_is_answered_513(udp_only, "202")
    finally:
        udp_only.stop()


class TcpPhone:
    """A phone registered over TCP: its REGISTER, and what comes down its connection."""

    def __init__(self, switch: SwitchProcess, user: str) -> None:
        self.user = user
        self.conn = socket.create_connection((switch.host, switch.port), timeout=3.0)
        self.port = int(self.conn.getsockname()[1])
        self.cseq = 0

    def _register(self, auth: str | None) -> Response:
        self.cseq += 1
        lines = [
            f"REGISTER sip:{DOMAIN} SIP/2.0",
            f"Via: SIP/2.0/TCP 127.0.0.1:{self.port};branch=z9hG4bKtcp{self.cseq};rport",
            f"From: <sip:{self.user}@{DOMAIN}>;tag=tcp{self.user}",
            f"To: <sip:{self.user}@{DOMAIN}>",
            f"Call-ID: tcp-reg-{self.user}-{self.port}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port};transport=tcp>",
            "Expires: 300",
            *([f"Authorization: {auth}"] if auth else []),
            "Content-Length: 0",
            "",
            "",
        ]
        self.conn.sendall("\r\n".join(lines).encode())
        while True:
            data = read_tcp_message(self.conn)
            assert data is not None, "no answer to REGISTER over TCP"
            message = parse_message(data)
            if isinstance(message, Response) and message.status >= 200:
                return message

    def register(self, password: str) -> Response:
        first = self._register(None)
        if first.status != 401:
            return first
        auth = answer_challenge(
            parse_auth(first.get_all("www-authenticate")[0]),
            method="REGISTER",
            uri=f"sip:{DOMAIN}",
            username=self.user,
            password=password,
            cnonce="tcpcnonce",
        )
        return self._register(auth)

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0): the phone crashed or was unplugged."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.conn.close()


def first_final(phone: RawPhone, within: float) -> Response | None:
    """The first final response to reach `phone` within `within` seconds."""
    message = phone.next_message(within, lambda m: isinstance(m, Response) and m.status >= 200)
    return message if isinstance(message, Response) else None


def test_callee_whose_tcp_connection_resets_fails_the_call_at_once(switch: SwitchProcess) -> None:
    # Before, the INVITE transaction over the dead connection waited for Timer B (32 s)
    # and the caller heard nothing; the reset is a transport error (RFC 3261 §17.1.4).
    callee = TcpPhone(switch, "204")
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    try:
        assert callee.register(PASSWORDS["204"]).status == 200
        to = f"<sip:204@{DOMAIN}>"
        answer = caller.authenticated("INVITE", f"sip:204@{DOMAIN}", PASSWORDS["201"], to=to)
        assert answer is None, answer  # ringing
        data = read_tcp_message(callee.conn)
        assert data is not None, "the INVITE never came down the phone's connection"
        invite = parse_message(data)
        assert isinstance(invite, Request) and invite.method == "INVITE"
        callee.reset()
        reset_at = time.monotonic()
        final = first_final(caller, within=5.0)
        assert final is not None, "the caller heard nothing: the reset failed no transaction"
        assert time.monotonic() - reset_at < 5.0
        assert final.status == 480, final  # the callee could not be reached
        caller.ack(final)
    finally:
        caller.close()
        callee.conn.close()


def test_invite_over_1300_bytes_to_a_udp_only_callee_is_answered_513(
    switch: SwitchProcess,
) -> None:
    # §18.1.1 sends it by TCP; the callee listens on UDP only (the connect is refused):
    # the INVITE is too large for that callee, never squeezed into UDP.
    _big_invite_is_answered_513(switch, "205")


def test_forked_early_answers_reach_the_caller_on_an_early_dialog_each(
    switch: SwitchProcess,
) -> None:
    # Two phones of 202 answer 183 with SDP; the second then answers. RFC 3261 §13.2.1:
    # one early answer per early dialog, and the 2xx on the dialog of its own 183.
    caller = RawPhone(switch.host, switch.port, "201", DOMAIN)
    desk = RawPhone(switch.host, switch.port, "202", DOMAIN)
    soft = RawPhone(switch.host, switch.port, "202", DOMAIN)
    phones = (desk, soft)
    try:
        for phone in phones:
            registered = phone.register(PASSWORDS["202"])
            assert registered is not None and registered.status == 200
        to = f"<sip:202@{DOMAIN}>"
        answer = caller.authenticated("INVITE", f"sip:202@{DOMAIN}", PASSWORDS["201"], to=to)
        assert answer is None, answer
        invites: list[Request] = []
        for phone in phones:
            invite = phone.next_message(
                3.0, lambda m: isinstance(m, Request) and m.method == "INVITE"
            )
            assert isinstance(invite, Request), "a contact of 202 was not rung"
            invites.append(invite)
        for phone, invite, codec in ((desk, invites[0], 0), (soft, invites[1], 8)):
            sdp = (
                f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {phone.port + 2} RTP/AVP {codec}\r\n"
            ).encode()
            for status in (183, 200) if phone is soft else (183,):
                response = make_response(invite, status, to_tag=f"tag{phone.port}")
                response.add("contact", f"<sip:202@127.0.0.1:{phone.port}>")
                response.add("content-type", "application/sdp")
                response.body = sdp
                phone.sock.sendto(serialize(response), caller.target)
                time.sleep(0.1)  # the 183s first, in this order
        got = []
        while len(got) < 3:
            message = caller.next_message(
                3.0, lambda m: isinstance(m, Response) and m.status in (183, 200)
            )
            assert isinstance(message, Response), f"only {[m.status for m in got]}"
            got.append(message)
        assert [m.status for m in got] == [183, 183, 200]
        desk_tag, soft_tag, final_tag = (m.to.tag for m in got)
        assert desk_tag != soft_tag, "two forks' early answers on one early dialog"
        assert final_tag == soft_tag, "the 2xx is not on the dialog of the winner's 183"
        bye = caller.request("BYE", f"sip:202@{DOMAIN}", to=got[2].get("to"))
        caller.sock.sendto(bye, caller.target)
        assert soft.next_message(3.0, lambda m: isinstance(m, Request) and m.method == "BYE"), (
            "the winner never got the caller's BYE"
        )
    finally:
        for phone in (caller, *phones):
            phone.close()
