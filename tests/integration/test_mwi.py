"""Message waiting (RFC 3842) over real sockets (docs/BEHAVIOUR.md#voicemail-and-message-waiting).

SIPp phones watch a mailbox while a Python phone leaves messages in it
(`sipua.leave_message`): one SUBSCRIBEs (tests/sipp/subscribe_mwi.xml) and gets NOTIFYs in
its dialog; one only REGISTERs (register_listen.xml) and gets unsolicited NOTIFYs on
every change and after each REGISTER. Both see the right counts again after the switch
restarts, since the counts come from the mailbox files. A hunt group member may watch
the group's default mailbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    HOST,
    SippHandle,
    SippMessage,
    SippResult,
    SwitchProcess,
    _read,
    free_port,
    make_config,
    parse_trace,
    run_sipp,
    start_switch,
)
from sipua import leave_message, mailbox_customers, tone, write_greeting

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

PASSWORDS = {"201": "alice-pw", "202": "bert-pw", "203": "maryanne-pw", "209": "support-pw"}


@pytest.fixture
def switch(tmp_path: Path, sipp_required: None) -> Iterator[SwitchProcess]:
    port = free_port()
    state = tmp_path / "switch" / "state"
    config = make_config(port=port, state_dir=state, customers=mailbox_customers())
    # a short greeting of the box's own keeps each message quick to leave
    write_greeting(state / "voicemail" / "acme" / "209" / "greeting.wav", 1000, 0.2)
    proc = start_switch(tmp_path / "switch", config=config)
    try:
        yield proc
    finally:
        proc.stop()
        (tmp_path / "switch" / "switch.log").write_text(proc.log_text() + "\n")


def summary(message: SippMessage) -> tuple[str, str]:
    """(Messages-Waiting, new/old) of a message-summary NOTIFY."""
    assert message.header("Event") == "message-summary", message.text
    assert message.header("Content-Type") == "application/simple-message-summary"
    fields = {}
    for line in message.body.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields["messages-waiting"], fields["voice-message"].split()[0]


def notifies(trace: str) -> list[SippMessage]:
    return [m for m in parse_trace(trace)
            if m.direction == "received" and m.is_request and m.method == "NOTIFY"]


def wait_notifies(handle: SippHandle, count: int, timeout: float = 5.0) -> list[SippMessage]:
    deadline = time.monotonic() + timeout
    while True:
        found = notifies(_read(handle.trace_file))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def subscribe(switch: SwitchProcess, workdir: Path, user: str, box: str,
              background: bool) -> SippResult | SippHandle:
    return run_sipp("subscribe_mwi.xml", switch.target, workdir=workdir, auth_user=user,
                    auth_pass=PASSWORDS[user], service=box, timeout=15, background=background)


def test_subscriber_is_notified_and_counts_survive_a_restart(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    watcher = subscribe(switch, sipp_dir, "209", "209", background=True)
    assert isinstance(watcher, SippHandle)
    first = wait_notifies(watcher, 1)
    assert first and summary(first[0]) == ("no", "0/0")
    assert (first[0].header("Subscription-State") or "").startswith("active")
    leave_message((HOST, switch.port), "209", tone(440, 0.5))
    result = watcher.wait(15).assert_ok("a NOTIFY with Messages-Waiting: yes")
    got = result.received_requests("NOTIFY")
    assert summary(got[-1]) == ("yes", "1/0"), [m.body for m in got]
    # every NOTIFY belongs to the subscription dialog (its Call-ID)
    dialog = result.sent("SUBSCRIBE")[-1].header("Call-ID")
    assert {m.header("Call-ID") for m in got} == {dialog}

    switch.restart()
    again = subscribe(switch, sipp_dir, "209", "209", background=False)
    assert isinstance(again, SippResult)
    again.assert_ok("after a restart the first NOTIFY already says yes")
    assert summary(again.received_requests("NOTIFY")[0]) == ("yes", "1/0")


def test_registered_phone_gets_unsolicited_notify_and_again_after_restart(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    phone = run_sipp("register_listen.xml", switch.target, workdir=sipp_dir,
                     auth_user="209", auth_pass=PASSWORDS["209"], ooc="ooc_notify.xml",
                     pause_ms=8000, timeout=20, background=True)
    assert isinstance(phone, SippHandle)
    after_register = wait_notifies(phone, 1)
    assert after_register and summary(after_register[0]) == ("no", "0/0")
    # 209 is the hunt group's default: the call to 600 lands in its box, its phone stays idle
    leave_message((HOST, switch.port), "600", tone(440, 0.5))
    leave_message((HOST, switch.port), "600", tone(440, 0.5))
    seen = wait_notifies(phone, 3)
    assert [summary(m) for m in seen[1:3]] == [("yes", "1/0"), ("yes", "2/0")]
    assert all(m.header("Call-ID") != seen[0].header("Call-ID") for m in seen[1:]), \
        "unsolicited NOTIFYs are out of dialog"
    phone.kill()

    switch.restart()
    again = run_sipp("register_listen.xml", switch.target, workdir=sipp_dir,
                     auth_user="209", auth_pass=PASSWORDS["209"], ooc="ooc_notify.xml",
                     pause_ms=1500, timeout=15)
    assert isinstance(again, SippResult)
    again.assert_ok()
    counts = [summary(m) for m in again.received_requests("NOTIFY")]
    assert counts and counts[0] == ("yes", "2/0"), counts


def test_hunt_group_member_watches_the_group_mailbox(
    switch: SwitchProcess, sipp_dir: Path
) -> None:
    # 203 is a member of hunt group 600, whose default mailbox is 209's
    watcher = subscribe(switch, sipp_dir, "203", "209", background=True)
    assert isinstance(watcher, SippHandle)
    first = wait_notifies(watcher, 1)
    assert first and summary(first[0]) == ("no", "0/0")
    leave_message((HOST, switch.port), "600", tone(440, 0.5))
    result = watcher.wait(15).assert_ok("the member's lamp lights")
    assert summary(result.received_requests("NOTIFY")[-1]) == ("yes", "1/0")
    assert "sip:209@acme.test" in result.received_requests("NOTIFY")[-1].body


def test_non_member_may_not_watch_a_mailbox(switch: SwitchProcess, sipp_dir: Path) -> None:
    refused = subscribe(switch, sipp_dir, "201", "209", background=True)
    assert isinstance(refused, SippHandle)
    result = refused.wait(20)
    assert result.received("SUBSCRIBE", status=403), result.describe()
    assert not result.received_requests("NOTIFY")
