"""The switch core over real sockets, with SIPp phones.

What is checked: docs/BEHAVIOUR.md#registration and #failure-table.

Every test runs its own switch (`switch` fixture: acme 201-205 with the reference's
passwords, UDP and TCP on one free port) and asserts what the phones saw in their
SIPp message traces, besides SIPp's exit status (0: every scenario step happened).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import (
    PASSWORDS,
    Phone,
    SippResult,
    SwitchProcess,
    free_port,
    run_sipp,
    start_phone,
)

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

REASON_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


def caller(
    switch: SwitchProcess,
    workdir: Path,
    scenario: str,
    dialled: str,
    *,
    number: str = "201",
    password: str | None = None,
    transport: str = "u1",
    pause_ms: int = 200,
    extra_vars: dict[str, str] | None = None,
    timeout: float = 20,
) -> SippResult:
    result = run_sipp(
        scenario,
        switch.target,
        workdir=workdir,
        auth_user=number,
        auth_pass=password or PASSWORDS[number],
        service=dialled,
        transport=transport,
        pause_ms=pause_ms,
        extra_vars=extra_vars,
        timeout=timeout,
    )
    assert isinstance(result, SippResult)
    return result


def finish(phone: Phone, what: str) -> SippResult:
    return phone.wait(30).assert_ok(what)


def expect_final(
    switch: SwitchProcess, workdir: Path, dialled: str, status: int, *, transport: str = "u1"
) -> SippResult:
    result = caller(
        switch,
        workdir,
        "uac_expect.xml",
        dialled,
        transport=transport,
        extra_vars={"expect_status": str(status)},
    )
    result.assert_ok(f"call to {dialled} should end with {status}")
    assert result.final_statuses()[-1] == status
    return result


def only_sdp_invite(phone_result: SippResult) -> None:
    invites = phone_result.received_requests("INVITE")
    assert invites, phone_result.describe()
    first = invites[0]
    assert first.header("Content-Type") == "application/sdp"
    assert "m=audio " in first.body and "c=IN IP4 " in first.body


# ---------------------------------------------------------------------------------------
# registration


def test_register_with_good_password(switch: SwitchProcess, sipp_dir: Path) -> None:
    port = free_port()
    result = run_sipp(
        "register.xml",
        switch.target,
        workdir=sipp_dir,
        local_port=port,
        auth_user="201",
        auth_pass=PASSWORDS["201"],
    )
    assert isinstance(result, SippResult)
    result.assert_ok()
    challenge = result.received("REGISTER", status=401)[0]
    algorithms = " ".join(challenge.headers("WWW-Authenticate"))
    assert "Digest" in algorithms and "MD5" in algorithms
    assert 'realm="acme.test"' in algorithms
    ok = result.received("REGISTER", status=200)[-1]
    assert any(f"127.0.0.1:{port}" in c for c in ok.headers("Contact")), ok.text


def test_register_with_bad_password_binds_nothing(switch: SwitchProcess, sipp_dir: Path) -> None:
    result = run_sipp(
        "register_badpw.xml",
        switch.target,
        workdir=sipp_dir,
        auth_user="202",
        auth_pass="not-bert-pw",
    )
    assert isinstance(result, SippResult)
    result.assert_ok("a wrong password must be refused with 401 or 403")
    assert result.received("REGISTER", status=200) == []
    assert result.final_statuses("REGISTER")[-1] in (401, 403)
    # no binding: a call to 202 finds nothing registered
    expect_final(switch, sipp_dir, "202", 480)


def test_unregister_removes_the_binding(switch: SwitchProcess, sipp_dir: Path) -> None:
    ok = run_sipp(
        "register.xml", switch.target, workdir=sipp_dir, auth_user="202", auth_pass=PASSWORDS["202"]
    )
    assert isinstance(ok, SippResult)
    ok.assert_ok()
    gone = run_sipp(
        "unregister.xml",
        switch.target,
        workdir=sipp_dir,
        auth_user="202",
        auth_pass=PASSWORDS["202"],
    )
    assert isinstance(gone, SippResult)
    gone.assert_ok()
    expect_final(switch, sipp_dir, "202", 480)


# ---------------------------------------------------------------------------------------
# calls


@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
def test_basic_call_with_sdp(switch: SwitchProcess, sipp_dir: Path, transport: str) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], transport=transport)
    call = caller(switch, sipp_dir, "uac_call.xml", "202", transport=transport)
    call.assert_ok("caller")
    callee = finish(phone, "callee")
    only_sdp_invite(callee)
    assert call.received("INVITE", status=180)
    answer = call.received("INVITE", status=200)[-1]
    assert "m=audio " in answer.body
    assert callee.received_requests("ACK"), callee.describe()
    assert callee.received_requests("BYE"), "the caller's BYE reaches the callee"
    if transport == "t1":
        assert {m.transport for m in callee.messages} == {"TCP"}
        assert {m.transport for m in call.messages} == {"TCP"}


def test_caller_cancel(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], behaviour="uas_ring_cancel.xml")
    call = caller(switch, sipp_dir, "uac_cancel.xml", "202", pause_ms=300)
    call.assert_ok("caller")
    assert call.final_statuses()[-1] == 487
    callee = finish(phone, "callee")
    assert callee.received_requests("CANCEL")
    assert callee.received_requests("ACK")


def test_callee_hangs_up(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(
        switch, sipp_dir, "202", PASSWORDS["202"], behaviour="uas_hangup.xml", pause_ms=300
    )
    call = caller(switch, sipp_dir, "uac_call_callee_bye.xml", "202")
    call.assert_ok("caller")
    assert call.received_requests("BYE"), "the callee's BYE reaches the caller"
    callee = finish(phone, "callee")
    assert callee.received("BYE", status=200)


def test_busy_callee(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], behaviour="uas_busy.xml")
    expect_final(switch, sipp_dir, "202", 486)
    callee = finish(phone, "callee")
    assert callee.received_requests("ACK"), "the switch ACKs the 486"


def test_unknown_number_is_404(switch: SwitchProcess, sipp_dir: Path) -> None:
    expect_final(switch, sipp_dir, "299", 404)


def test_unregistered_extension_is_480(switch: SwitchProcess, sipp_dir: Path) -> None:
    expect_final(switch, sipp_dir, "203", 480)


def test_two_contacts_ring_and_the_loser_is_cancelled(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    # the winner rings 600 ms before answering, so both phones ring together
    winner = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], pause_ms=600)
    loser = start_phone(
        switch,
        sipp_dir,
        "202",
        PASSWORDS["202"],
        behaviour="uas_ring_cancel.xml",
        extra_vars={"want_reason": "1"},
    )
    call = caller(switch, sipp_dir, "uac_call.xml", "202")
    call.assert_ok("caller")
    won = finish(winner, "answering contact")
    lost = finish(loser, "cancelled contact (must see the Reason header)")
    only_sdp_invite(won)
    assert lost.received_requests("INVITE")
    cancel = lost.received_requests("CANCEL")[0]
    reasons = [re.sub(r"\s*([;=])\s*", r"\1", r) for r in cancel.headers("Reason")]
    assert REASON_ELSEWHERE in reasons, cancel.text
    assert lost.received_requests("ACK"), "the switch ACKs the 487"


def test_hold_and_resume_by_reinvite(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"])
    call = caller(switch, sipp_dir, "uac_reinvite.xml", "202")
    call.assert_ok("caller")
    callee = finish(phone, "callee")
    invites = callee.received_requests("INVITE")
    assert len(invites) == 3, [m.first_line for m in callee.messages]
    assert "a=sendonly" in invites[1].body, "hold is relayed to the callee"
    assert "a=sendonly" not in invites[2].body and "a=inactive" not in invites[2].body
    answers = call.received("INVITE", status=200)
    assert "a=recvonly" in answers[1].body or "a=inactive" in answers[1].body


def test_bindings_survive_a_restart(switch: SwitchProcess, sipp_dir: Path) -> None:
    phone = start_phone(switch, sipp_dir, "202", PASSWORDS["202"], timeout=40)
    switch.restart()  # same configuration, same state_dir
    call = caller(switch, sipp_dir, "uac_call.xml", "202")
    call.assert_ok("call after the restart")
    callee = finish(phone, "callee registered before the restart")
    only_sdp_invite(callee)


def test_switch_answers_options(switch: SwitchProcess) -> None:
    from harness import options_ping

    answer = options_ping(switch.host, switch.port, timeout=2.0)
    assert answer is not None and answer.startswith(b"SIP/2.0 ")
