"""pyVoIP 1.6.8 as a real phone library against the switch (a real phone library, end to end).

pyVoIP registers (MD5 digest without qop, uri `sip:SERVER;transport=UDP`, its own
quirks), is called through the switch by a phone of the same customer, answers, and
media flows both ways: the caller's tone reaches pyVoIP's jitter buffer and pyVoIP's
RTP reaches the caller.

pyVoIP names its server's address as the SIP domain (From/To `user@SERVER`), so the
customer here has the domain `localhost`.

pyVoIP placing a call: pyVoIP 1.6.8 authenticates an INVITE only after a
401; the switch challenges INVITEs with 407 (docs/BEHAVIOUR.md#failure-table), which pyVoIP
drops ("TODO: Add 500 Error on Receiving SIP Response"; `SIPClient.invite` has returned
already on the 100 Trying), so its call stays DIALING. Tried by hand against this switch
with a registered SIPp callee.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness import HOST, SwitchProcess, free_port, make_config, start_switch
from sipua import SipPhone, dominant_frequency, tone

pyVoIP = pytest.importorskip("pyVoIP")
from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone  # noqa: E402

pytestmark = [pytest.mark.integration]

DOMAIN = "localhost"


class _DaemonTimer(threading.Timer):
    """pyVoIP's threads as daemons: one stuck inside the library (seen once: its RTP
    receiver's Thread.start never returned) must fail its test, not keep pytest alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.daemon = True


@pytest.fixture(autouse=True)
def _daemon_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyVoIP.RTP
    import pyVoIP.SIP
    import pyVoIP.VoIP.VoIP

    for module in (pyVoIP.RTP, pyVoIP.SIP, pyVoIP.VoIP.VoIP):
        monkeypatch.setattr(module, "Timer", _DaemonTimer)


def _stop(phone: VoIPPhone, within: float = 15.0) -> None:
    """phone.stop(), given up after `within` seconds (it waits on pyVoIP's own threads)."""
    stopper = threading.Thread(target=phone.stop, daemon=True)
    stopper.start()
    stopper.join(within)


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[SwitchProcess]:
    port = free_port()
    customers = [{
        "name": "local",
        "domain": DOMAIN,
        "user_groups": [{"name": "staff", "allow_pickup": True}],
        "extensions": [
            {"number": "301", "name": "Py", "password": "py-pw", "user_group": "staff"},
            {"number": "302", "name": "Caller", "password": "caller-pw", "user_group": "staff"},
        ],
    }]
    config = make_config(port=port, state_dir=tmp_path / "switch" / "state",
                         customers=customers)
    proc = start_switch(tmp_path / "switch", config=config)
    try:
        yield proc
    finally:
        proc.stop()
        (tmp_path / "switch" / "switch.log").write_text(proc.log_text() + "\n")


def test_pyvoip_registers_answers_and_media_flows(switch: SwitchProcess) -> None:
    answered: list[Any] = []
    heard: list[bytes] = []

    def on_call(call: Any) -> None:
        call.answer()
        answered.append(call)
        deadline = time.monotonic() + 6
        while call.state == CallState.ANSWERED and time.monotonic() < deadline:
            heard.append(call.read_audio(160, blocking=True))

    rtp_low = free_port() // 2 * 2
    phone = VoIPPhone(DOMAIN, switch.port, "301", "py-pw", myIP=HOST, callCallback=on_call,
                      sipPort=free_port(), rtpPortLow=rtp_low, rtpPortHigh=rtp_low + 40)
    phone.start()
    caller = SipPhone((HOST, switch.port), "302", "caller-pw", domain=DOMAIN)
    try:
        assert phone.get_status() == PhoneStatus.REGISTERED
        status, response = caller.call("301")
        assert status == 200, response
        assert "m=audio " in response
        stream = caller.rtp
        assert stream is not None
        stream.send_audio(tone(800, 1.5))
        # pyVoIP's RTP (it sends all the time it is answered) came through to the caller
        assert stream.wait_packets(25, timeout=3) >= 25
        assert caller.bye() == 200
        time.sleep(0.3)
    finally:
        caller.close()
        _stop(phone)
    assert answered, "pyVoIP's call callback ran"
    # pyVoIP hands out 8-bit unsigned linear audio: the caller's tone is in it
    audio = np.frombuffer(b"".join(heard), dtype=np.uint8).astype(np.int16) - 128
    loud = audio[np.abs(audio) > 10]
    assert loud.size > 4000, "the caller's audio reached pyVoIP"
    assert abs(dominant_frequency(audio) - 800) <= 10


def test_pyvoip_places_a_call_through_the_switch(switch: SwitchProcess, tmp_path: Path) -> None:
    """pyVoIP registers and dials: its INVITE is challenged with 401 (its User-Agent is
    listed in `server.auth.invite_401_user_agents`), it answers with Authorization, the
    registered SIPp phone rings and answers, and pyVoIP hangs up with BYE."""
    from harness import start_phone

    sipp_dir = tmp_path / "sipp"
    sipp_dir.mkdir()
    callee = start_phone(switch, sipp_dir, "302", "caller-pw", domain=DOMAIN, timeout=30)
    rtp_low = free_port() // 2 * 2
    phone = VoIPPhone(DOMAIN, switch.port, "301", "py-pw", myIP=HOST,
                      sipPort=free_port(), rtpPortLow=rtp_low, rtpPortHigh=rtp_low + 40)
    phone.start()
    try:
        assert phone.get_status() == PhoneStatus.REGISTERED
        call = phone.call("302")
        deadline = time.monotonic() + 10
        while call.state != CallState.ANSWERED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert call.state == CallState.ANSWERED, call.state
        call.write_audio(b"\x80" * 1600)
        time.sleep(0.5)
        call.hangup()
    finally:
        _stop(phone)
    result = callee.wait(30).assert_ok("the SIPp phone pyVoIP called")
    invite = result.received_requests("INVITE")[0]
    assert "<sip:301@localhost>" in (invite.header("From") or "")
    assert result.received_requests("BYE"), "pyVoIP's hang-up reached the callee"
    events = [e for e in switch.events() if e.get("event") == "call.answered"]
    assert events, switch.log_text()[-3000:]
