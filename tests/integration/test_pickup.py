"""Call pickup over real sockets with SIPp phones (docs/PRODUCT.md, "Call pickup").

The configuration is not the reference's: customer "orbit" (orbit.example), pickup code
`*8`, pickup group numbers in "39X" (391: 4101-4103, 392: 4104-4105), extensions 41xx,
user group "desk" may pick up and "visitors" may not. Media: the caller and the picker
offer audio on ports of `RtpProbe` sockets; after the pickup each is told to send to the
other, and RTP sent each way arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import (
    Phone,
    SippHandle,
    SippResult,
    SwitchProcess,
    dial,
    extension,
    free_port,
    make_config,
    start_phones,
    start_switch,
)
from observe import (
    REASON_ELSEWHERE,
    RtpProbe,
    cancels,
    events,
    invites,
    reasons,
    sdp_media,
    wait_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

DOMAIN = "orbit.example"
FEATURES = {
    "pickup": "*8",
    "pickup_numbering": "39X",
    "hunt_login": "*51",
    "hunt_logout": "*52",
    "hunt_block": "*53",
    "hunt_unblock": "*54",
    "voicemail": "*55",
}
VISITOR = "4107"


def pw(number: str) -> str:
    return f"secret-{number}"


def orbit() -> dict[str, Any]:
    numbers = [str(n) for n in range(4101, 4110)]
    return {
        "name": "orbit",
        "domain": DOMAIN,
        "user_groups": [
            {"name": "desk", "allow_pickup": True},
            {"name": "visitors", "allow_pickup": False},
        ],
        "extension_lists": [
            {"name": "floor-one", "extensions": ["4101", "4102", "4103", VISITOR]},
            {"name": "floor-two", "extensions": ["4104", "4105"]},
        ],
        "extensions": [
            extension(n, pw(n), user_group="visitors" if n == VISITOR else "desk")
            for n in numbers
        ],
        "pickup_groups": [
            {"name": "first-floor", "number": "391", "extension_list": "floor-one"},
            {"name": "second-floor", "number": "392", "extension_list": "floor-two"},
        ],
        "hunt_groups": [
            {"name": "queue", "number": "4600", "members": ["4104", "4101"], "ring_seconds": 5},
        ],
        "calling_groups": [
            {"name": "all-hands", "number": "4700", "members": ["4101", "4102"],
             "ring_seconds": 10},
        ],
    }


@pytest.fixture
def switch(tmp_path: Path, sipp_required: None):  # type: ignore[no-untyped-def]
    port = free_port()
    config = make_config(
        port=port, state_dir=tmp_path / "switch" / "state", customers=[orbit()],
        features=FEATURES,
    )
    proc = start_switch(tmp_path / "switch", config=config, port=port)
    yield proc
    proc.stop()
    (tmp_path / "switch.log").write_text(proc.log_text() + "\n", encoding="utf-8")


def ringing_phone(switch: SwitchProcess, workdir: Path, number: str) -> Phone:
    (phone,) = start_phones(switch, workdir, [(number, pw(number))], behaviour="ooc_ring.xml",
                            domain=DOMAIN)
    return phone


def place(switch: SwitchProcess, workdir: Path, caller: str, dialled: str,
          **kw: Any) -> SippHandle:
    handle = dial(switch, workdir, caller, pw(caller), dialled, domain=DOMAIN,
                  background=True, **kw)
    assert isinstance(handle, SippHandle)
    return handle


def expect(switch: SwitchProcess, workdir: Path, caller: str, dialled: str,
           status: int) -> SippResult:
    result = dial(switch, workdir, caller, pw(caller), dialled, domain=DOMAIN,
                  scenario="uac_expect.xml", expect_status=status)
    assert isinstance(result, SippResult)
    result.assert_ok(f"{caller} dialling {dialled} must get {status}")
    assert result.final_statuses()[-1] == status
    return result


def pick_up_and_talk(switch: SwitchProcess, workdir: Path, ringing: list[Phone],
                     caller: str, dialled: str, picker: str, code: str) -> None:
    """`caller` dials `dialled`, which rings the `ringing` phones; `picker` dials `code`.
    The ringing phones get CANCEL with "Call completed elsewhere", caller and picker both
    get 200 with SDP of the media relay, RTP flows both ways, the caller's BYE ends it for
    the picker."""
    caller_rtp, picker_rtp = RtpProbe(), RtpProbe()
    try:
        talk = place(switch, workdir, caller, dialled, rtp_port=caller_rtp.port, pause_ms=1500)
        for phone in ringing:
            phone.handle.wait_for("INVITE")
        pick = place(switch, workdir, picker, code, rtp_port=picker_rtp.port,
                     scenario="uac_answered_bye_in.xml")
        (to_caller,) = talk.wait_for("INVITE", status=200)
        (to_picker,) = pick.wait_for("INVITE", status=200)
        # through the media relay: each side is told the switch's address and a port of
        # its own, and hears the other through it
        to_c, to_p = sdp_media(to_caller.body), sdp_media(to_picker.body)
        assert to_c[0] == switch.host and to_p[0] == switch.host, (to_c, to_p)
        assert to_c[1] not in (picker_rtp.port, caller_rtp.port, to_p[1]), (to_c, to_p)
        caller_rtp.send(sdp_media(to_caller.body))
        picker_rtp.send(sdp_media(to_picker.body))
        assert {s for s, _ in picker_rtp.receive(want=10)} == {caller_rtp.ssrc}
        assert {s for s, _ in caller_rtp.receive(want=10)} == {picker_rtp.ssrc}
        talk.wait().assert_ok("the caller talks to the picker, then hangs up")
        picked = pick.wait().assert_ok("the picker is answered and gets the caller's BYE")
        assert picked.received_requests("BYE")
    finally:
        caller_rtp.close()
        picker_rtp.close()
    for phone in ringing:
        rang = phone.wait(20).assert_ok(f"{phone.number} rang and was cancelled")
        (cancel,) = cancels(rang.messages)
        assert REASON_ELSEWHERE in reasons(cancel), cancel.text
    wait_event(switch, "call.picked_up", picker=picker)


def test_pickup_any_call_of_my_groups(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = ringing_phone(switch, sipp_dir, "4101")
    pick_up_and_talk(switch, sipp_dir, [phone], "4109", "4101", "4102", "*8")


def test_pickup_by_group_number_takes_the_most_recent(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    older = ringing_phone(switch, sipp_dir, "4101")
    newer = ringing_phone(switch, sipp_dir, "4103")
    # an older call rings on 4101; its caller gives up after 2.5 s, untouched by the pickup
    first = place(switch, sipp_dir, "4108", "4101", scenario="uac_cancel.xml", pause_ms=2500)
    older.handle.wait_for("INVITE")
    pick_up_and_talk(switch, sipp_dir, [newer], "4109", "4103", "4102", "*8391")
    first.wait().assert_ok("the other call rang on until its caller hung up")
    (cancel,) = cancels(older.wait().assert_ok("still ringing").messages)
    assert REASON_ELSEWHERE not in reasons(cancel)


def test_pickup_by_extension(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = ringing_phone(switch, sipp_dir, "4103")
    pick_up_and_talk(switch, sipp_dir, [phone], "4109", "4103", "4101", "*84103")


def test_pickup_of_a_calling_group_call(switch: SwitchProcess, sipp_dir: Path) -> None:
    both = [ringing_phone(switch, sipp_dir, n) for n in ("4101", "4102")]
    pick_up_and_talk(switch, sipp_dir, both, "4109", "4700", "4103", "*8")


def test_pickup_of_a_hunt_group_call(switch: SwitchProcess, sipp_dir: Path) -> None:
    # 4104 (first member) is not registered: the hunt rings 4101, which 4103 picks up
    phone = ringing_phone(switch, sipp_dir, "4101")
    pick_up_and_talk(switch, sipp_dir, [phone], "4109", "4600", "4103", "*84101")


def test_pickup_refusals(switch: SwitchProcess, sipp_dir: Path) -> None:
    # a call rings on 4104 (second floor) the whole time; nothing here may touch it
    (answering,) = start_phones(switch, sipp_dir, [("4104", pw("4104"))],
                                behaviour="ooc_answer.xml", domain=DOMAIN, pause_ms=3000)
    other = place(switch, sipp_dir, "4109", "4104", pause_ms=100)
    answering.handle.wait_for("INVITE")
    expect(switch, sipp_dir, "4101", "*8", 404)  # nothing ringing in 4101's groups
    expect(switch, sipp_dir, "4101", "*8391", 404)
    expect(switch, sipp_dir, "4102", "*84103", 404)  # 4103 is not ringing
    expect(switch, sipp_dir, VISITOR, "*8", 403)  # no allow_pickup
    expect(switch, sipp_dir, "4101", "*8392", 403)  # not a member of that group
    expect(switch, sipp_dir, "4101", "*84104", 403)  # shares no pickup group
    expect(switch, sipp_dir, "4101", "391", 404)  # a pickup group number is not dialable
    other.wait().assert_ok("the call ringing on 4104 is answered there, untouched")
    answered = answering.wait().assert_ok("4104 answers")
    assert not cancels(answered.messages)
    assert len(invites(answered.messages)) == 1
    assert not events(switch, "call.picked_up")
