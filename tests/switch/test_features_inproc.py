"""Hunt groups, calling groups, pickup, member codes and voicemail in process (no sockets).

The same behaviours as the SIPp tests of `tests/integration/` (test_groups, test_pickup,
test_voicemail, test_mwi), on the real Endpoint + Switch with a fake clock and scripted
phones and media (`tests/support/inproc.py`), so each runs in milliseconds. The
configuration is this file's own: extensions 3xx, groups 8xx, pickup group 391 and
feature codes unlike the reference, so nothing here leans on the reference numbering.
Every assertion is on what a phone saw: who got INVITE, CANCEL or BYE, final statuses,
SDP addresses and NOTIFY bodies.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from sipstack.message import Request, Response, make_response
from sipstack.transport import Address
from switch.media import prompts
from switch.media.voicemail import Mailbox, VoicemailStore
from tests.support.inproc import (
    DialledCall,
    InProcessSwitch,
    ScriptedSession,
    Subscriber,
    answer,
)

DOMAIN = "omega.test"
PICKUP = "*7"
LOGIN, LOGOUT, BLOCK, UNBLOCK, VOICEMAIL = "*21", "*22", "*23", "*24", "*25"
ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
RING = 5  # ring_seconds of every hunt group below


def _ext(number: str, more: str = "") -> str:
    return (
        f'      - {{number: "{number}", name: E{number}, password: pw{number}, '
        f"user_group: staff{more}}}\n"
    )


CONFIG = (
    f"""
server: {{listen: ["udp:127.0.0.1:5060"], state_dir: /tmp/features-inproc-state}}
features:
  pickup: "{PICKUP}"
  pickup_numbering: "39X"
  hunt_login: "{LOGIN}"
  hunt_logout: "{LOGOUT}"
  hunt_block: "{BLOCK}"
  hunt_unblock: "{UNBLOCK}"
  voicemail: "{VOICEMAIL}"
customers:
  - name: omega
    domain: {DOMAIN}
    user_groups:
      - {{name: staff, allow_pickup: true}}
      - {{name: lobby, allow_pickup: false}}
    extension_lists:
      - {{name: floor, extensions: ["301", "302", "303"]}}
    pickup_groups:
      - {{name: floor, number: "391", extension_list: floor}}
    extensions:
"""
    + "".join(_ext(n) for n in ("301", "302", "303", "304", "305", "310"))
    + '      - {number: "306", name: Lobby, password: pw306, user_group: lobby}\n'
    + _ext("309", ", voicemail: true, coverage: {busy: voicemail, no_answer: voicemail}")
    + f"""    hunt_groups:
      - {{name: seq, number: "801", members: ["301", "302", "303"],
         ring_seconds: {RING}, default: "309"}}
      - {{name: rr, number: "802", strategy: round_robin, members: ["301", "302", "303"],
         ring_seconds: {RING}, default: "309"}}
      - {{name: dyn, number: "803", type: dynamic, password: "2468", auto_logout: true,
         members: ["301", "302"], ring_seconds: {RING}, default: "309"}}
    calling_groups:
      - {{name: all, number: "850", members: ["301", "302", "303", "304"],
         coverage: {{no_answer: "305"}}}}
      - {{name: bare, number: "851", members: ["301", "302"]}}
"""
)


def phone(number: str) -> Address:
    return ("127.0.0.1", 7000 + int(number))


CALLER = phone("310")
MAILBOX = phone("309")
BOX = Mailbox("omega", "309")
CALL_IDS = itertools.count(1)


def sdp(host: str, port: int) -> bytes:
    """An offer whose media address the pickup assertions can tell apart from another's."""
    return (
        f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    ).encode()


def media_of(body: bytes) -> tuple[str, int]:
    """(c= address, m=audio port) of an SDP body."""
    lines = body.decode().split("\r\n")
    host = next(line for line in lines if line.startswith("c=")).split()[-1]
    port = next(line for line in lines if line.startswith("m=audio")).split()[1]
    return host, int(port)


def switch(*registered: str, state_dir: Path | None = None) -> InProcessSwitch:
    return InProcessSwitch(
        CONFIG, registered={n: phone(n) for n in registered}, state_dir=state_dir
    )


def call_from(
    sw: InProcessSwitch, number: str, dialled: str, offer: bytes | None = None
) -> DialledCall:
    """`number`'s phone dials `dialled` (a fresh Call-ID each time: the clock may not move)."""
    call_id = f"c{next(CALL_IDS)}-{number}-{dialled}"
    if offer is None:
        return sw.dial(phone(number), number, f"pw{number}", dialled, call_id=call_id)
    return sw.dial(phone(number), number, f"pw{number}", dialled, call_id=call_id, offer=offer)


def invites(got: list[Request | Response]) -> list[Request]:
    """INVITE transactions (a retransmission, Timer A while the clock ran, counts once)."""
    by_branch: dict[str | None, Request] = {}
    for invite in of(got, "INVITE"):
        by_branch.setdefault(invite.get("via"), invite)
    return list(by_branch.values())


def of(got: list[Request | Response], method: str) -> list[Request]:
    return [m for m in got if isinstance(m, Request) and m.method == method]


def finals(got: list[Request | Response]) -> list[int]:
    return [m.status for m in got if isinstance(m, Response) and m.status >= 200]


def rings(sw: InProcessSwitch, number: str) -> Request:
    """The one INVITE `number`'s phone got; it answers 180 at once, as phones do (the
    switch may CANCEL only after a provisional, RFC 3261 §9.1, and stops resending)."""
    got = invites(sw.take(phone(number)))
    assert len(got) == 1, f"{number} got {len(got)} INVITEs"
    sw.send(make_response(got[0], 180, to_tag=f"t{number}"), phone(number))
    return got[0]


def answer_as(sw: InProcessSwitch, number: str, invite: Request) -> None:
    answer(sw, invite, phone(number), f"t{number}")


def decline(sw: InProcessSwitch, number: str, invite: Request, status: int = 486) -> None:
    sw.send(make_response(invite, status, to_tag=f"t{number}"), phone(number))


def cancelled(sw: InProcessSwitch, number: str) -> Request:
    """The CANCEL `number`'s phone got (answered 200, so it is not resent)."""
    got = of(sw.take(phone(number)), "CANCEL")
    assert got, f"{number} got no CANCEL"
    # one CANCEL, perhaps retransmitted (Timer E) while the clock ran on
    assert len({c.get("via") for c in got}) == 1, f"{number} got {len(got)} CANCELs"
    cancel = got[0]
    sw.send(make_response(cancel, 200), phone(number))
    return cancel


def hang_up(call: DialledCall) -> None:
    """The caller ACKs its 200 and hangs up, so the member is free for the next call."""
    call.answered()
    call.ack()
    call.bye()
    assert 200 in finals(call.switch.take(call.phone)), "the caller's BYE was not answered"


def local_session(sw: InProcessSwitch, call: DialledCall) -> ScriptedSession:
    """The switch answers `call` itself: its media session opens at the next pump."""
    sw.pump()
    sessions = [s for s in sw.media.sessions if s.call_id == call.call_id]
    assert len(sessions) == 1, "the switch opened no media session for the call"
    call.answered()
    call.ack()
    return sessions[0]


def feature(sw: InProcessSwitch, number: str, dialled: str) -> None:
    """`number` dials a member code: 200 from the switch, a confirmation, then BYE."""
    call = call_from(sw, number, dialled)
    session = local_session(sw, call)
    assert session.played, "no confirmation played"
    assert not of(sw.take(phone(number)), "BYE"), "BYE before the confirmation ended"
    session.finish_playing()
    assert len(of(sw.take(phone(number)), "BYE")) == 1, "no BYE after the confirmation"


# -- hunt groups ---------------------------------------------------------------------------


def test_sequential_hunt_rings_one_member_after_another() -> None:
    sw = switch("301", "302", "303")
    call = call_from(sw, "310", "801")
    first = rings(sw, "301")
    assert not sw.take(phone("302")) and not sw.take(phone("303")), "only 301 rings first"
    sw.advance(RING + 0.5)
    cancelled(sw, "301")
    second = rings(sw, "302")
    decline(sw, "301", first, 487)
    sw.advance(RING + 0.5)
    cancelled(sw, "302")
    answer_as(sw, "303", rings(sw, "303"))
    decline(sw, "302", second, 487)
    assert call.answered().status == 200


def test_round_robin_continues_from_the_cursor() -> None:
    sw = switch("301", "302", "303")
    started: list[str] = []
    for _ in range(4):
        call = call_from(sw, "310", "802")
        rang = {n: invites(sw.take(phone(n))) for n in ("301", "302", "303")}
        ringing = [n for n, got in rang.items() if got]
        assert len(ringing) == 1, f"one member rings at a time, not {ringing}"
        member = ringing[0]
        started.append(member)
        answer_as(sw, member, rang[member][0])
        hang_up(call)  # the member is free again: only the cursor decides who is next
    assert started == ["301", "302", "303", "301"]


def test_round_robin_cursor_follows_the_start_member_not_the_answerer() -> None:
    sw = switch("301", "302", "303")
    first = call_from(sw, "310", "802")
    ignored = rings(sw, "301")
    sw.advance(RING)
    cancelled(sw, "301")
    decline(sw, "301", ignored, 487)
    answer_as(sw, "302", rings(sw, "302"))
    hang_up(first)
    sw.take(phone("302"))
    call_from(sw, "310", "802")  # the first call started at 301: this one starts at 302
    assert not invites(sw.take(phone("301"))) and not sw.take(phone("303"))
    rings(sw, "302")


def test_hunt_skips_a_member_on_a_call() -> None:
    sw = switch("301", "302", "303", "304")
    direct = call_from(sw, "304", "301")
    answer_as(sw, "301", rings(sw, "301"))
    direct.answered()
    call_from(sw, "310", "801")
    assert not invites(sw.take(phone("301"))), "301 is on a call and must be skipped"
    rings(sw, "302")


def test_hunt_passes_over_a_486_at_once() -> None:
    sw = switch("301", "302", "303")
    call = call_from(sw, "310", "801")
    decline(sw, "301", rings(sw, "301"))
    # no time passes: 302 rings because 301 said busy, not because ring_seconds ran out
    answer_as(sw, "302", rings(sw, "302"))
    assert call.answered().status == 200
    assert not invites(sw.take(phone("303")))


def test_hunt_member_ringing_out_is_cancelled_and_next_rings() -> None:
    sw = switch("301", "302")
    call_from(sw, "310", "801")
    rings(sw, "301")
    sw.advance(RING - 0.5)
    assert not sw.take(phone("301")) and not sw.take(phone("302")), "too early to hunt on"
    sw.advance(1.0)
    cancelled(sw, "301")
    rings(sw, "302")


def test_auto_logout_after_a_ring_out() -> None:
    sw = switch("301", "302")
    feature(sw, "301", f"{LOGIN}803*2468")
    feature(sw, "302", f"{LOGIN}803*2468")
    first = call_from(sw, "310", "803")
    ignored = rings(sw, "301")
    sw.advance(RING + 0.5)
    cancelled(sw, "301")
    decline(sw, "301", ignored, 487)
    answer_as(sw, "302", rings(sw, "302"))
    hang_up(first)
    sw.take(phone("302"))
    call_from(sw, "310", "803")
    assert not invites(sw.take(phone("301"))), "301 let a call ring out: logged out"
    rings(sw, "302")


def test_hunt_skips_a_blocked_member() -> None:
    sw = switch("301", "302")
    # the state the block code leaves (the code itself: test_block_and_unblock_codes)
    sw.sw.hunt_state.set_blocked("omega", "301", True)
    call_from(sw, "310", "801")
    assert not invites(sw.take(phone("301"))), "a blocked member is not offered hunt calls"
    rings(sw, "302")


def test_hunt_with_nobody_free_goes_to_the_default_mailbox(tmp_path: Path) -> None:
    sw = switch(state_dir=tmp_path)  # no member registered
    call = call_from(sw, "310", "801")
    session = local_session(sw, call)
    assert session.played == [prompts.prompt("greeting") + prompts.beep()]
    for n in ("301", "302", "303"):
        assert not invites(sw.take(phone(n)))


# -- calling groups ------------------------------------------------------------------------


def test_calling_group_rings_everyone_and_the_first_answer_wins() -> None:
    sw = switch("301", "302", "303")  # 304 is a member with no phone
    second_303 = ("127.0.0.1", 8303)
    sw.register("303", second_303)  # every contact of a member rings, not just one
    call = call_from(sw, "310", "850")
    ringing = {n: rings(sw, n) for n in ("301", "302", "303")}
    other = invites(sw.take(second_303))
    assert len(other) == 1, "303's second phone must ring too"
    sw.send(make_response(other[0], 180, to_tag="t303b"), second_303)
    answer_as(sw, "302", ringing["302"])
    assert call.answered().status == 200
    for number in ("301", "303"):
        assert cancelled(sw, number).get("reason") == ELSEWHERE
    assert [c.get("reason") for c in of(sw.take(second_303), "CANCEL")] == [ELSEWHERE]
    assert not of(sw.take(phone("302")), "CANCEL"), "the winner is not cancelled"
    assert not sw.take(phone("304"))


def test_calling_group_with_nobody_registered_follows_its_coverage() -> None:
    sw = switch("305")
    call_from(sw, "310", "850")
    rings(sw, "305")
    for n in ("301", "302", "303", "304"):
        assert not sw.take(phone(n))


def test_calling_group_with_nobody_registered_and_no_coverage_is_480() -> None:
    sw = switch()
    call_from(sw, "310", "851")
    assert finals(sw.take(CALLER)) == [480]


# -- pickup --------------------------------------------------------------------------------

CALLER_SDP = ("10.0.0.10", 4010)
PICKER_SDP = ("10.0.0.3", 4003)


def test_pickup_by_extension_joins_caller_and_picker() -> None:
    sw = switch("301", "303")
    caller = call_from(sw, "310", "301", offer=sdp(*CALLER_SDP))
    rings(sw, "301")
    picker = call_from(sw, "303", f"{PICKUP}301", offer=sdp(*PICKER_SDP))
    assert cancelled(sw, "301").get("reason") == ELSEWHERE
    # each side's answer points its media at the other party's offer, not at the switch
    assert media_of(caller.answered().body) == PICKER_SDP
    assert media_of(picker.answered().body) == CALLER_SDP
    caller.ack()
    picker.ack()
    picker.bye()
    assert 200 in finals(sw.take(phone("303")))
    assert len(of(sw.take(CALLER), "BYE")) == 1, "the picker's BYE must reach the caller"
    assert not of(sw.take(phone("301")), "BYE"), "the phone that rang was never in the call"


def test_pickup_with_nothing_ringing_is_404() -> None:
    sw = switch("301", "303")
    call_from(sw, "303", f"{PICKUP}301")
    assert finals(sw.take(phone("303"))) == [404]


def test_pickup_not_allowed_is_403_and_leaves_the_call_ringing() -> None:
    sw = switch("301", "304", "303", "306")
    call_from(sw, "310", "304")
    rings(sw, "304")
    call_from(sw, "303", f"{PICKUP}304")  # 304 shares no pickup group with 303
    assert finals(sw.take(phone("303"))) == [403]
    call_from(sw, "305", "301")
    rings(sw, "301")
    call_from(sw, "306", f"{PICKUP}301")  # 306's user group has allow_pickup: false
    assert finals(sw.take(phone("306"))) == [403]
    assert not sw.take(phone("304")) and not sw.take(phone("301")), "nothing was cancelled"


# -- member codes --------------------------------------------------------------------------


def test_login_code_makes_a_dynamic_member_get_hunt_calls(tmp_path: Path) -> None:
    sw = switch("301", state_dir=tmp_path)
    before = call_from(sw, "310", "803")
    local_session(sw, before)  # nobody logged in: the group's mailbox answers
    assert not sw.take(phone("301"))
    feature(sw, "301", f"{LOGIN}803*2468")
    call_from(sw, "310", "803")
    rings(sw, "301")


def test_login_with_a_wrong_password_is_refused() -> None:
    sw = switch("301")
    call_from(sw, "301", f"{LOGIN}803*1357")
    assert finals(sw.take(phone("301"))) == [403]
    assert not sw.media.sessions


def test_logout_code_stops_hunt_calls(tmp_path: Path) -> None:
    sw = switch("301", "302", state_dir=tmp_path)
    feature(sw, "301", f"{LOGIN}803*2468")
    feature(sw, "302", f"{LOGIN}803*2468")
    feature(sw, "301", f"{LOGOUT}803")
    call_from(sw, "310", "803")
    assert not invites(sw.take(phone("301"))), "301 logged out"
    rings(sw, "302")


def test_block_and_unblock_codes() -> None:
    sw = switch("301", "302")
    feature(sw, "301", BLOCK)
    blocked = call_from(sw, "310", "801")
    assert not invites(sw.take(phone("301"))), "301 blocked itself from hunting"
    answer_as(sw, "302", rings(sw, "302"))
    hang_up(blocked)
    feature(sw, "301", UNBLOCK)
    call_from(sw, "310", "801")
    rings(sw, "301")


# -- voicemail -----------------------------------------------------------------------------


def deposit(sw: InProcessSwitch, seconds: float) -> None:
    """310 calls 309, whose phone is busy (486): 309's coverage takes a message."""
    call = call_from(sw, "310", "309")
    decline(sw, "309", invites(sw.take(MAILBOX))[0])
    session = local_session(sw, call)
    assert session.played == [prompts.prompt("greeting") + prompts.beep()]
    assert session.recording is None, "recording before the greeting ended"
    session.finish_playing()
    assert session.recording is not None, "no recording after the greeting"
    assert not of(sw.take(CALLER), "BYE"), "BYE while the caller is still speaking"
    session.stop_recording_after(seconds)


def notifications(sw: InProcessSwitch, who: Address) -> list[str]:
    """Bodies of the message-summary NOTIFYs `who` got."""
    got = of(sw.take(who), "NOTIFY")
    assert all(n.get("event") == "message-summary" for n in got)
    return [n.body.decode() for n in got]


def test_deposit_stores_the_message_and_lights_the_lamp(tmp_path: Path) -> None:
    sw = switch("309", state_dir=tmp_path)
    deposit(sw, 2.0)
    (stored,) = VoicemailStore(tmp_path).messages(BOX)
    assert (stored.duration, stored.caller, stored.complete) == (2.0, "310", True)
    assert len(of(sw.take(CALLER), "BYE")) == 1, "the switch hangs up after recording"
    (body,) = notifications(sw, MAILBOX)
    assert "Messages-Waiting: yes" in body and "Voice-Message: 1/0" in body


def listen(sw: InProcessSwitch) -> ScriptedSession:
    """309 dials the retrieval code: the count, then the newest message with the menu."""
    session = local_session(sw, call_from(sw, "309", VOICEMAIL))
    assert session.played == [prompts.message_count(1, 0)]
    session.finish_playing()
    assert session.played[-1].startswith(b"message "), "the message is not played"
    return session


def test_retrieval_7_deletes_the_message(tmp_path: Path) -> None:
    sw = switch("309", state_dir=tmp_path)
    deposit(sw, 2.0)
    sw.take(MAILBOX)
    session = listen(sw)
    session.dtmf("7")
    assert VoicemailStore(tmp_path).messages(BOX) == []
    (body,) = notifications(sw, MAILBOX)
    assert "Messages-Waiting: no" in body and "Voice-Message: 0/0" in body
    session.finish_playing()  # "deleted", then: no more messages, goodbye
    session.finish_playing()
    assert len(of(sw.take(MAILBOX), "BYE")) == 1


def test_retrieval_9_keeps_the_message_as_heard(tmp_path: Path) -> None:
    sw = switch("309", state_dir=tmp_path)
    deposit(sw, 2.0)
    sw.take(MAILBOX)
    session = listen(sw)
    session.dtmf("9")
    (kept,) = VoicemailStore(tmp_path).messages(BOX)
    assert kept.heard
    (body,) = notifications(sw, MAILBOX)
    assert "Messages-Waiting: no" in body and "Voice-Message: 0/1" in body


def _login_lamp(got: list[Request | Response]) -> list[str]:
    """The dialog states of the last dialog-info NOTIFY among `got`."""
    import xml.etree.ElementTree as ET

    notifies = [m for m in got if isinstance(m, Request) and m.method == "NOTIFY"]
    assert notifies, "no NOTIFY"
    root = ET.fromstring(notifies[-1].body)
    assert root.get("entity") == f"sip:803@{DOMAIN}"
    ns = {"d": "urn:ietf:params:xml:ns:dialog-info"}
    return [d.findtext("d:state", namespaces=ns) or "" for d in root.findall("d:dialog", ns)]


def test_the_login_lamp_of_a_dynamic_hunt_group_follows_the_members_login(
    tmp_path: Path,
) -> None:
    # docs/PRODUCT.md: "the indicator to the left of the button lights up when you are
    # logged in to the hunt group"; by code, and out again by auto logout
    sw = switch("301", "302", state_dir=tmp_path)
    key = ("127.0.0.1", 7601)  # 301's lamp key (its own address, as a phone's BLF has)
    lamp = Subscriber(sw, key, "301", "pw301", event="dialog", target="803")
    assert _login_lamp(lamp.subscribe()) == ["terminated"]
    feature(sw, "301", f"{LOGIN}803*2468")
    assert _login_lamp(sw.take(key)) == ["confirmed"]
    call_from(sw, "310", "803")  # 301 lets it ring out: auto_logout
    rings(sw, "301")
    sw.advance(RING + 1, step=1)
    assert _login_lamp(sw.take(key)) == ["terminated"]


def _replacing(
    sw: InProcessSwitch, number: str, ringing: Request, to_tag: str | None = None
) -> None:
    """`number`'s busy-lamp key picks up the call `ringing` rings: INVITE with Replaces
    naming that early dialog (RFC 3891; the to-tag is the switch's, as the lamp showed)."""
    tag = ringing.from_.tag if to_tag is None else to_tag
    replaces = f"{ringing.call_id};to-tag={tag};from-tag=t-ringing;early-only"
    sw.dial(phone(number), number, f"pw{number}", "301", call_id=f"r{next(CALL_IDS)}-{number}",
            offer=sdp(*PICKER_SDP), extra=[("replaces", replaces)])  # fmt: skip


def test_invite_with_replaces_of_a_ringing_dialog_picks_the_call_up() -> None:
    sw = switch("301", "303")
    caller = call_from(sw, "310", "301", offer=sdp(*CALLER_SDP))
    ringing = rings(sw, "301")
    _replacing(sw, "303", ringing)
    assert cancelled(sw, "301").get("reason") == ELSEWHERE
    assert media_of(caller.answered().body) == PICKER_SDP
    assert 200 in finals(sw.take(phone("303")))
    # the same dialog named again: that call was picked up already
    _replacing(sw, "302", ringing)
    assert finals(sw.take(phone("302"))) == [486]


def test_replaces_follows_the_pickup_rights_and_names_only_our_dialogs() -> None:
    sw = switch("301", "304", "306")
    call_from(sw, "310", "301")
    ringing = rings(sw, "301")
    _replacing(sw, "306", ringing)  # the lobby's user group may not pick up
    assert finals(sw.take(phone("306"))) == [403]
    _replacing(sw, "304", ringing)  # 304 shares no pickup group with 301
    assert finals(sw.take(phone("304"))) == [403]
    _replacing(sw, "303", ringing, to_tag="nobody")  # no such dialog (RFC 3891 §3)
    assert finals(sw.take(phone("303"))) == [481]
    assert not of(sw.take(phone("301")), "CANCEL"), "the ringing phone was left alone"
