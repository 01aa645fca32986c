"""The call's SDP path through the media relay (switch/calls/media_path.py): order kept
while the relay answers later, failures passed on, nothing asked after release."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switch.calls.media_path import MediaPath
from switch.media.relay import Side
from switch.ports import Anchored, RelayParty

CALLER = RelayParty(Side.CALLER, "a", None, ("127.0.0.1", 5070))


class SlowRelay:
    """Answers each anchor only when the test says (rtpengine is a round trip away)."""

    def __init__(self) -> None:
        self.asked: list[tuple[bytes, Anchored]] = []
        self.released: list[str] = []

    def anchor(
        self,
        call_id: str,
        party: RelayParty,
        sdp: bytes,
        offer: bool,
        done: Anchored,
        now: float,
    ) -> None:
        self.asked.append((sdp, done))

    def release(self, call_id: str) -> None:
        self.released.append(call_id)

    def answer(self, status: int = 200) -> None:
        sdp, done = self.asked.pop(0)
        done(b"relayed " + sdp if status == 200 else b"", status, 1.0)


def test_a_message_without_sdp_waits_for_the_sdp_before_it() -> None:
    relay = SlowRelay()
    path = MediaPath(relay, "c1")
    sent: list[tuple[bytes, int]] = []
    path.carry(CALLER, b"sdp-183", False, lambda b, s, _: sent.append((b, s)), 0.0)
    path.carry(CALLER, b"", False, lambda b, s, _: sent.append((b"180", s)), 0.0)
    assert sent == []  # the 180 must not overtake the 183
    relay.answer()
    assert sent == [(b"relayed sdp-183", 200), (b"180", 200)]


def test_a_failure_reaches_its_own_message_and_the_next_still_goes() -> None:
    relay = SlowRelay()
    path = MediaPath(relay, "c1")
    sent: list[tuple[bytes, int]] = []
    path.carry(CALLER, b"bad", True, lambda b, s, _: sent.append((b, s)), 0.0)
    path.carry(CALLER, b"good", True, lambda b, s, _: sent.append((b, s)), 0.0)
    relay.answer(488)
    relay.answer()
    assert sent == [(b"", 488), (b"relayed good", 200)]


def test_release_fails_what_waits_and_frees_the_relay_once() -> None:
    # a request still waiting for the relay must be answered (503); a late answer of
    # the relay is dropped; nothing after the release reaches the relay again
    relay = SlowRelay()
    path = MediaPath(relay, "c1")
    sent: list[tuple[bytes, int]] = []
    path.carry(CALLER, b"offer", True, lambda b, s, _: sent.append((b, s)), 0.0)
    path.carry(CALLER, b"", False, lambda b, s, _: sent.append((b"bye", s)), 0.0)
    path.release(0.0)
    path.release(0.0)
    assert sent == [(b"", 503), (b"bye", 200)] and relay.released == ["c1"]
    relay.answer()
    path.carry(CALLER, b"late 2xx", False, lambda b, s, _: sent.append((b, s)), 0.0)
    assert sent[-1] == (b"late 2xx", 200) and relay.asked == []


def test_without_a_relay_sdp_passes_untouched_at_once() -> None:
    path = MediaPath(None, "c1")
    sent: list[bytes] = []
    path.carry(CALLER, b"offer", True, lambda b, s, _: sent.append(b), 0.0)
    path.release(0.0)
    assert sent == [b"offer"]


@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_messages_leave_in_the_order_they_came(has_sdp: list[bool]) -> None:
    relay = SlowRelay()
    path = MediaPath(relay, "c1")
    sent: list[int] = []
    for n, sdp in enumerate(has_sdp):
        path.carry(CALLER, b"sdp" if sdp else b"", False, lambda b, s, _, n=n: sent.append(n), 0.0)
    while relay.asked:
        relay.answer()
    assert sent == list(range(len(has_sdp)))
