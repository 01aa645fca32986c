"""Hunt groups, calling groups, hunt feature codes and coverage over real sockets
(docs/BEHAVIOUR.md#hunt-groups, #calling-groups, #coverage).

Every test runs its own switch on a configuration unlike the reference configuration: other
customer and group names, four-digit numbers, other feature codes (`*41` login, `*42`
logout, `*43` block, `*44` unblock) and short ring times, so nothing depends on the
reference's numbering. Phones are SIPp processes (`phone.xml` + an out-of-call behaviour);
the assertions are on what each phone saw, with the times SIPp traced: who rang, when,
who got CANCEL and with which Reason, and the caller's final response.
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
    cancels,
    invites,
    mailboxes,
    reasons,
    sent_invite_time,
    wait_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

DOMAIN = "zeta.example"
FEATURES = {
    "pickup": "*8",
    "pickup_numbering": "39X",
    "hunt_login": "*41",
    "hunt_logout": "*42",
    "hunt_block": "*43",
    "hunt_unblock": "*44",
    "voicemail": "*45",
}
# 3101..3109: the phones of customer zeta; passwords pw-<number>
NUMBERS = [str(n) for n in range(3101, 3110)]
CALLER = "3109"
MAILBOXES = {"3106", "3108"}
SLACK = 0.45  # seconds of scheduling slack allowed around each expected ring time


def pw(number: str) -> str:
    return f"pw-{number}"


def zeta(
    *,
    hunt_groups: list[dict[str, Any]] | None = None,
    calling_groups: list[dict[str, Any]] | None = None,
    coverage: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    exts = []
    for n in NUMBERS:
        # mailboxes only where no phone registers (a phone with a mailbox gets a NOTIFY)
        more: dict[str, Any] = {"voicemail": n in MAILBOXES}
        if coverage and n in coverage:
            more["coverage"] = coverage[n]
        exts.append(extension(n, pw(n), user_group="agents", **more))
    return {
        "name": "zeta",
        "domain": DOMAIN,
        "access_code": "77",
        "user_groups": [{"name": "agents", "allow_pickup": True}],
        "extensions": exts,
        "hunt_groups": hunt_groups or [],
        "calling_groups": calling_groups or [],
    }


@pytest.fixture
def make_switch(tmp_path: Path, sipp_required: None):  # type: ignore[no-untyped-def]
    started: list[SwitchProcess] = []

    def start(**kw: Any) -> SwitchProcess:
        port = free_port()
        config = make_config(
            port=port,
            state_dir=tmp_path / "switch" / "state",
            customers=[zeta(**kw)],
            features=FEATURES,
        )
        proc = start_switch(tmp_path / "switch", config=config, port=port)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
        (tmp_path / "switch.log").write_text(proc.log_text() + "\n", encoding="utf-8")


def phones(
    switch: SwitchProcess, workdir: Path, numbers: list[str], behaviour: str, **kw: Any
) -> list[Phone]:
    return start_phones(
        switch, workdir, [(n, pw(n)) for n in numbers], behaviour=behaviour, domain=DOMAIN, **kw
    )


def call(switch: SwitchProcess, workdir: Path, dialled: str, **kw: Any) -> SippResult:
    caller = kw.pop("caller", CALLER)
    result = dial(switch, workdir, caller, pw(caller), dialled, domain=DOMAIN, **kw)
    assert isinstance(result, SippResult)
    return result


def call_bg(switch: SwitchProcess, workdir: Path, dialled: str, **kw: Any) -> SippHandle:
    caller = kw.pop("caller", CALLER)
    handle = dial(
        switch, workdir, caller, pw(caller), dialled, domain=DOMAIN, background=True, **kw
    )
    assert isinstance(handle, SippHandle)
    return handle


def expect(switch: SwitchProcess, workdir: Path, dialled: str, status: int, **kw: Any) -> None:
    result = call(switch, workdir, dialled, scenario="uac_expect.xml", expect_status=status, **kw)
    result.assert_ok(f"{dialled} should be answered {status}")
    assert result.final_statuses()[-1] == status


def feature(switch: SwitchProcess, workdir: Path, caller: str, dialled: str) -> SippResult:
    """A feature code that succeeds: 200 OK from the switch, then its BYE."""
    result = call(switch, workdir, dialled, caller=caller, scenario="uac_answered_bye_in.xml")
    result.assert_ok(f"{caller} dialling {dialled} must get 200 and then BYE")
    assert result.final_statuses()[-1] == 200
    assert result.received_requests("BYE"), result.describe()
    return result










def finish(phone: Phone, what: str) -> SippResult:
    return phone.wait(30).assert_ok(f"phone {phone.number}: {what}")








# ---------------------------------------------------------------------------------------
# hunt groups: order and timing


def test_sequential_hunt_rings_one_member_after_another(make_switch, sipp_dir: Path) -> None:
    # 3104 is listed first but has nothing registered: skipped at once.
    switch = make_switch(hunt_groups=[{
        "name": "helpdesk", "number": "3500", "strategy": "sequential",
        "members": ["3104", "3101", "3102", "3103"], "ring_seconds": 1,
    }])
    a, b = phones(switch, sipp_dir, ["3101", "3102"], "ooc_ring.xml")
    (c,) = phones(switch, sipp_dir, ["3103"], "ooc_answer.xml", pause_ms=200)
    result = call(switch, sipp_dir, "3500")
    result.assert_ok("the hunt call is answered by the third free member")
    t0 = sent_invite_time(result)
    ra, rb, rc = finish(a, "rang out"), finish(b, "rang out"), finish(c, "answered")
    times = [invites(r.messages)[0].time for r in (ra, rb, rc)]
    assert all(t is not None for t in times)
    ta, tb, tc = (float(t) for t in times)  # type: ignore[arg-type]
    assert abs(ta - t0) < SLACK, "the first free member rings at once"
    assert abs(tb - (ta + 1)) < SLACK, "the next member rings after ring_seconds"
    assert abs(tc - (tb + 1)) < SLACK
    for rang_out, t_next in ((ra, tb), (rb, tc)):
        (cancel,) = cancels(rang_out.messages)
        assert cancel.time is not None and abs(cancel.time - t_next) < SLACK
    assert [len(invites(r.messages)) for r in (ra, rb, rc)] == [1, 1, 1]
    assert result.final_statuses()[-1] == 200


def test_round_robin_nine_calls_start_three_times_at_each(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "sales-line", "number": "3510", "strategy": "round_robin",
        "members": ["3101", "3102", "3103"], "ring_seconds": 2, "default": "3108",
    }])
    members = phones(switch, sipp_dir, ["3101", "3102", "3103"], "ooc_answer.xml",
                     calls=3, pause_ms=50, timeout=60)
    for _ in range(9):
        call(switch, sipp_dir, "3510", pause_ms=50).assert_ok("round-robin call")
    rang: list[tuple[float, str]] = []
    for phone in members:
        got = invites(finish(phone, "three calls").messages)
        assert len(got) == 3, f"{phone.number} started {len(got)} calls, not 3"
        rang += [(float(m.time or 0), phone.number) for m in got]
    order = [number for _, number in sorted(rang)]
    assert order == ["3101", "3102", "3103"] * 3


def test_round_robin_continues_down_the_list(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "sales-line", "number": "3510", "strategy": "round_robin",
        "members": ["3101", "3102", "3103"], "ring_seconds": 1,
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_ring.xml")
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_answer.xml", pause_ms=50, calls=2)
    (c,) = phones(switch, sipp_dir, ["3103"], "ooc_answer.xml", pause_ms=50)
    # call 1 starts at 3101, which rings out: on down the list to 3102
    first = call(switch, sipp_dir, "3510", pause_ms=50)
    first.assert_ok("3102 answers after 3101 rang out")
    # call 2 starts at the member after 3101: 3102; call 3 after that: 3103
    second = call(switch, sipp_dir, "3510", pause_ms=50)
    second.assert_ok("3102 answers at once")
    third = call(switch, sipp_dir, "3510", pause_ms=50)
    third.assert_ok("3103 answers at once")
    ra, rb, rc = finish(a, "rang out"), finish(b, "two calls"), finish(c, "one call")
    t1, t2, t3 = (sent_invite_time(r) for r in (first, second, third))
    (ta,) = (float(m.time or 0) for m in invites(ra.messages))
    tb1, tb2 = (float(m.time or 0) for m in invites(rb.messages))
    (tc,) = (float(m.time or 0) for m in invites(rc.messages))
    assert abs(ta - t1) < SLACK and abs(tb1 - (t1 + 1)) < SLACK
    assert abs(tb2 - t2) < SLACK
    assert abs(tc - t3) < SLACK


# ---------------------------------------------------------------------------------------
# hunt groups: who is skipped


def test_hunt_skips_a_member_on_a_call(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "helpdesk", "number": "3500", "strategy": "sequential",
        "members": ["3101", "3102"], "ring_seconds": 2,
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_answer.xml", pause_ms=50)
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_answer.xml", pause_ms=50)
    # 3107 talks to 3101 for three seconds
    busy_call = call_bg(switch, sipp_dir, "3101", caller="3107", pause_ms=3000)
    a.handle.wait_for("ACK")
    result = call(switch, sipp_dir, "3500", pause_ms=100)
    result.assert_ok("hunt call answered by the free member")
    busy_call.wait().assert_ok("the direct call to 3101")
    ra, rb = finish(a, "one direct call"), finish(b, "the hunt call")
    assert len(invites(ra.messages)) == 1, "the member on a call is not offered the hunt call"
    assert len(invites(rb.messages)) == 1
    assert abs(float(invites(rb.messages)[0].time or 0) - sent_invite_time(result)) < SLACK


def test_hunt_moves_on_at_once_when_a_member_answers_busy(make_switch, sipp_dir: Path) -> None:
    # 3101's phone says 486: the hunt does not wait ring_seconds, nor follow 3101's coverage
    switch = make_switch(
        hunt_groups=[{"name": "helpdesk", "number": "3500", "strategy": "sequential",
                      "members": ["3101", "3102"], "ring_seconds": 5}],
        coverage={"3101": {"busy": "voicemail:3106"}},
    )
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_busy.xml")
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_answer.xml", pause_ms=50)
    result = call(switch, sipp_dir, "3500", pause_ms=50)
    result.assert_ok("3102 answers")
    finish(a, "busy")
    (got,) = invites(finish(b, "answered").messages)
    assert abs(float(got.time or 0) - sent_invite_time(result)) < SLACK
    assert mailboxes(switch) == []


def test_block_with_code_then_unblock_restores_hunting(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "helpdesk", "number": "3500", "strategy": "sequential",
        "members": ["3101", "3102"], "ring_seconds": 2,
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_answer.xml", pause_ms=50)
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_answer.xml", pause_ms=50, calls=2)
    feature(switch, sipp_dir, "3101", "*43")
    wait_event(switch, "feature.applied", feature="HuntBlock", extension="3101")
    call(switch, sipp_dir, "3500", pause_ms=50).assert_ok("hunt call while 3101 is blocked")
    assert not invites(a.handle.messages()), "a blocked member is not offered hunt calls"
    assert len(b.handle.wait_for("INVITE")) == 1
    # direct calls still reach a blocked extension (blocking is about hunting only)
    call(switch, sipp_dir, "3102", pause_ms=50).assert_ok("direct call to 3102")
    feature(switch, sipp_dir, "3101", "*44")
    call(switch, sipp_dir, "3500", pause_ms=50).assert_ok("hunt call after unblocking")
    ra, rb = finish(a, "hunt call after *44"), finish(b, "two calls")
    assert len(invites(ra.messages)) == 1
    assert len(invites(rb.messages)) == 2


def test_dynamic_group_login_logout_and_refusals(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "night", "number": "3520", "strategy": "sequential", "type": "dynamic",
        "password": "2468", "members": ["3101", "3102"], "ring_seconds": 1,
        "default": "3106",
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_answer.xml", pause_ms=50)
    # nobody logged in: the call goes to the default's voicemail (the switch answers)
    call(switch, sipp_dir, "3520", pause_ms=100).assert_ok("to the default mailbox")
    assert mailboxes(switch) == ["3106"]
    # wrong password, and a caller that is not a member: 403
    expect(switch, sipp_dir, "*413520*1111", 403, caller="3101")
    expect(switch, sipp_dir, "*413520*2468", 403, caller="3103")
    feature(switch, sipp_dir, "3101", "*413520*2468")
    call(switch, sipp_dir, "3520", pause_ms=50).assert_ok("3101 is logged in and answers")
    assert len(invites(finish(a, "the hunt call after login").messages)) == 1
    feature(switch, sipp_dir, "3101", "*423520")
    call(switch, sipp_dir, "3520", pause_ms=100).assert_ok("logged out again: mailbox")
    assert mailboxes(switch) == ["3106", "3106"]


def test_auto_logout_after_a_ring_out(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[{
        "name": "night", "number": "3520", "strategy": "sequential", "type": "dynamic",
        "password": "2468", "auto_logout": True, "members": ["3101", "3102"],
        "ring_seconds": 1,
    }])
    feature(switch, sipp_dir, "3101", "*413520*2468")
    feature(switch, sipp_dir, "3102", "*413520*2468")
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_ring.xml")
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_answer.xml", pause_ms=50, calls=2)
    first = call(switch, sipp_dir, "3520", pause_ms=50)
    first.assert_ok("3101 rings out, 3102 answers")
    wait_event(switch, "hunt.auto_logout", member="3101")
    second = call(switch, sipp_dir, "3520", pause_ms=50)
    second.assert_ok("3102 answers at once")
    ra, rb = finish(a, "rang out once"), finish(b, "two calls")
    assert len(invites(ra.messages)) == 1, "logged out after letting the call ring out"
    got = invites(rb.messages)
    assert len(got) == 2
    assert abs(float(got[1].time or 0) - sent_invite_time(second)) < SLACK


# ---------------------------------------------------------------------------------------
# hunt groups: where unanswered calls go


def test_hunt_fallback_default_and_last_member_mailbox(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[
        {"name": "with-default", "number": "3530", "members": ["3101", "3102"],
         "ring_seconds": 1, "default": "3106"},
        {"name": "no-default", "number": "3531", "members": ["3101", "3103"],
         "ring_seconds": 1},
    ])
    # 3101 rings out (twice), nobody else is registered
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_ring.xml", calls=2)
    first = call(switch, sipp_dir, "3530", pause_ms=100)
    first.assert_ok("voicemail of the default answers")
    second = call(switch, sipp_dir, "3531", pause_ms=100)
    second.assert_ok("voicemail of the last member answers")
    finish(a, "rang out twice")
    assert mailboxes(switch) == ["3106", "3103"]
    # the member rang its ring_seconds before the mailbox took the call
    for result in (first, second):
        answered = result.received("INVITE", status=200)[0].time
        assert answered is not None and answered - sent_invite_time(result) > 1 - SLACK


def test_group_coverage_wins_and_member_coverage_is_ignored(make_switch, sipp_dir: Path) -> None:
    # 3101's own coverage would send unanswered calls to 3105 after 1 s; through the group
    # the group's coverage (3104) applies instead.
    switch = make_switch(
        hunt_groups=[{"name": "helpdesk", "number": "3500", "members": ["3101"],
                      "ring_seconds": 2, "default": "3106",
                      "coverage": {"no_answer": "3104"}}],
        coverage={"3101": {"no_answer_seconds": 1, "no_answer": "3105"}},
    )
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_ring.xml")
    (d,) = phones(switch, sipp_dir, ["3104"], "ooc_answer.xml", pause_ms=50)
    (e,) = phones(switch, sipp_dir, ["3105"], "ooc_answer.xml", timeout=8)
    result = call(switch, sipp_dir, "3500", pause_ms=50)
    result.assert_ok("the group's coverage answers")
    ra, rd = finish(a, "rang out"), finish(d, "coverage target")
    t_d = float(invites(rd.messages)[0].time or 0)
    assert abs(t_d - (sent_invite_time(result) + 2)) < SLACK
    assert abs(float(cancels(ra.messages)[0].time or 0) - t_d) < SLACK
    assert not invites(e.handle.messages()), "the member's own coverage is not followed"
    e.kill()


# ---------------------------------------------------------------------------------------
# calling groups


def test_calling_group_rings_all_first_answer_wins(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(calling_groups=[{
        "name": "front", "number": "3600", "members": ["3101", "3102", "3103"],
        "ring_seconds": 5,
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_answer.xml", pause_ms=600)
    others = phones(switch, sipp_dir, ["3102", "3103"], "ooc_ring.xml")
    result = call(switch, sipp_dir, "3600", pause_ms=100)
    result.assert_ok("the first member to answer gets the call")
    t0 = sent_invite_time(result)
    ra = finish(a, "answered")
    t_answer = float(ra.sent("INVITE", status=200)[0].time or 0)
    for phone in [a, *others]:
        r = finish(phone, "rang") if phone is not a else ra
        assert abs(float(invites(r.messages)[0].time or 0) - t0) < SLACK, "all ring at once"
    for phone in others:
        (cancel,) = cancels(phone.wait().messages)
        assert REASON_ELSEWHERE in reasons(cancel), cancel.text
        assert abs(float(cancel.time or 0) - t_answer) < SLACK
    assert result.final_statuses()[-1] == 200


def test_calling_group_no_answer_goes_to_coverage(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(calling_groups=[{
        "name": "front", "number": "3600", "members": ["3101", "3102"], "ring_seconds": 1,
        "coverage": {"no_answer": "3104"},
    }])
    ringing = phones(switch, sipp_dir, ["3101", "3102"], "ooc_ring.xml")
    (d,) = phones(switch, sipp_dir, ["3104"], "ooc_answer.xml", pause_ms=50)
    result = call(switch, sipp_dir, "3600", pause_ms=50)
    result.assert_ok("coverage answers")
    t0 = sent_invite_time(result)
    rd = finish(d, "coverage")
    assert abs(float(invites(rd.messages)[0].time or 0) - (t0 + 1)) < SLACK
    for phone in ringing:
        r = finish(phone, "rang out")
        (cancel,) = cancels(r.messages)
        assert abs(float(cancel.time or 0) - (t0 + 1)) < SLACK
        assert REASON_ELSEWHERE not in reasons(cancel), "nobody answered it elsewhere"


def test_calling_group_no_answer_to_voicemail(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(calling_groups=[{
        "name": "front", "number": "3600", "members": ["3101"], "ring_seconds": 1,
        "coverage": {"no_answer": "voicemail:3106"},
    }])
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_ring.xml")
    call(switch, sipp_dir, "3600", pause_ms=100).assert_ok("the mailbox answers")
    finish(a, "rang out")
    assert mailboxes(switch) == ["3106"]


# ---------------------------------------------------------------------------------------
# coverage per extension


def test_extension_coverage_busy_and_no_answer(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(coverage={
        "3101": {"busy": "voicemail:3108"},
        "3102": {"busy": "3104", "no_answer": "voicemail:3106"},
        "3103": {"no_answer_seconds": 1, "no_answer": "3104"},
    })
    (a,) = phones(switch, sipp_dir, ["3101"], "ooc_busy.xml")
    (b,) = phones(switch, sipp_dir, ["3102"], "ooc_busy.xml")
    (c,) = phones(switch, sipp_dir, ["3103"], "ooc_ring.xml")
    (d,) = phones(switch, sipp_dir, ["3104"], "ooc_answer.xml", pause_ms=50, calls=2)
    call(switch, sipp_dir, "3101", pause_ms=100).assert_ok("busy -> voicemail:3108")
    assert mailboxes(switch) == ["3108"]
    call(switch, sipp_dir, "3102", pause_ms=50).assert_ok("busy -> 3104")
    slow = call(switch, sipp_dir, "3103", pause_ms=50)
    slow.assert_ok("no answer in 1 s -> 3104")
    for phone in (a, b):
        finish(phone, "busy")
    rc, rd = finish(c, "rang out"), finish(d, "covered twice")
    t_second = float(invites(rd.messages)[1].time or 0)
    assert abs(t_second - (sent_invite_time(slow) + 1)) < SLACK
    assert abs(float(cancels(rc.messages)[0].time or 0) - t_second) < SLACK
    # no coverage: the failures table
    expect(switch, sipp_dir, "3105", 480)  # nothing registered


# ---------------------------------------------------------------------------------------
# persistence


def test_round_robin_logins_and_blocks_survive_a_restart(make_switch, sipp_dir: Path) -> None:
    switch = make_switch(hunt_groups=[
        {"name": "rr", "number": "3510", "strategy": "round_robin",
         "members": ["3101", "3102", "3103"], "ring_seconds": 2},
        {"name": "night", "number": "3520", "type": "dynamic", "password": "2468",
         "members": ["3104", "3105"], "ring_seconds": 2},
    ])
    feature(switch, sipp_dir, "3105", "*413520*2468")  # 3105 logs in (3104 does not)
    feature(switch, sipp_dir, "3102", "*43")  # 3102 blocks hunting
    rr = phones(switch, sipp_dir, ["3101", "3103"], "ooc_answer.xml", pause_ms=50,
                timeout=40)
    (dyn,) = phones(switch, sipp_dir, ["3105"], "ooc_answer.xml", pause_ms=50, timeout=40)
    (other,) = phones(switch, sipp_dir, ["3104"], "ooc_answer.xml", timeout=40)
    # cursor 0: 3101 answers; the cursor moves past it
    call(switch, sipp_dir, "3510", pause_ms=50).assert_ok("first round-robin call")
    assert len(rr[0].handle.wait_for("BYE")) == 1
    switch.restart()
    # cursor 1: 3102 is still blocked, so the call starts at 3103
    call(switch, sipp_dir, "3510", pause_ms=50).assert_ok("after the restart")
    # the login survived: 3105 gets the dynamic group's call, 3104 (not logged in) does not
    call(switch, sipp_dir, "3520", pause_ms=50).assert_ok("dynamic group after restart")
    finish(rr[0], "before the restart")
    assert len(invites(finish(rr[1], "after the restart").messages)) == 1
    assert len(invites(finish(dyn, "logged in before the restart").messages)) == 1
    assert not invites(other.handle.messages())
    other.kill()
