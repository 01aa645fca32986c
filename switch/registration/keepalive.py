"""NAT keep-alives: OPTIONS to registered phones that sit behind a NAT router.

A home or office router forgets a UDP mapping after 30-180 s without traffic; after that
an INVITE to the phone's registered address is dropped at the router and the phone never
rings. A phone whose REGISTER came from another address or port than its Contact names is
behind such a router, so every `interval` seconds it gets an out-of-dialog OPTIONS over
UDP at the address its REGISTER came from: the request and its answer keep the mapping
open. Any final answer, even 405 or 404, proves the phone is there. An OPTIONS is missed
when it is still unanswered at the next one (or its transaction fails first: RFC 3261
§17.1.2.2 Timer F, or the send failed). A binding that misses `max_missed` in a row is
removed and logged: calls to it would only time out, and hunt groups skip it at once.

Over TCP the connection itself is the mapping; the phone keeps it with CRLF pings
(RFC 5626 §4.4.1), which the transport answers.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from sipstack.errors import ParseError
from sipstack.header_values import NameAddr
from sipstack.ids import IdSource
from sipstack.message import Request
from sipstack.transport import Transport
from sipstack.uri import SipUri, parse_uri

from ..ports import AllBindings, Contacts, SipOut, Timers
from .location import Binding

log = structlog.get_logger("switch.keepalive")

DEFAULT_SIP_PORT = 5060


Unregister = Callable[[str, str], None]
"""Removes one binding, (aor, contact): the location store's `remove`."""


def behind_nat(binding: Binding) -> bool:
    """True when the REGISTER came from another address or port than the Contact names
    (RFC 3581 §4: the `received`/`rport` the registrar saw differ from the sent-by)."""
    try:
        uri = parse_uri(binding.contact)
    except ParseError:
        return True
    if not isinstance(uri, SipUri):
        return True
    named = (uri.host.strip("[]"), uri.port or DEFAULT_SIP_PORT)
    return named != (binding.source[0].strip("[]"), binding.source[1])


class NatKeepalive:
    """Sends the OPTIONS and counts the unanswered ones, per binding."""

    def __init__(
        self,
        *,
        sip: SipOut,
        ids: IdSource,
        contacts: Contacts,
        timers: Timers,
        registrations: AllBindings,
        unregister: Unregister,
        interval: float,
        max_missed: int = 3,
    ) -> None:
        self._sip = sip
        self._ids = ids
        self._contacts = contacts
        self._timers = timers
        self._registrations = registrations
        self._unregister = unregister
        self.interval = interval
        self.max_missed = max_missed
        self._pending: dict[str, tuple[str, str]] = {}  # OPTIONS tx -> (aor, contact)
        self.missed: dict[tuple[str, str], int] = {}

    def start(self, now: float) -> None:
        if self.interval > 0:
            self._timers.call_at(now + self.interval, self._tick)

    def _tick(self, now: float) -> None:
        self._timers.call_at(now + self.interval, self._tick)
        unanswered, self._pending = self._pending, {}
        for key in unanswered.values():
            self._missed_one(key)
        live = set()
        for binding in self._registrations.all_bindings(now):
            if binding.transport != "UDP" or not behind_nat(binding):
                continue
            key = (binding.aor, binding.contact)
            live.add(key)
            self._ping(binding, key, now)
        # forget the counts of bindings that went away on their own
        self.missed = {k: n for k, n in self.missed.items() if k in live}

    def _ping(self, binding: Binding, key: tuple[str, str], now: float) -> None:
        try:
            target = parse_uri(binding.contact)
        except ParseError:
            return
        user, _, domain = binding.aor.partition("@")
        identity = NameAddr(uri=SipUri(host=domain))
        options = Request(
            "OPTIONS",
            target,
            [
                ("from", str(identity.with_tag(self._ids.tag()))),
                ("to", str(NameAddr(uri=SipUri(host=domain, user=user)))),
                ("call-id", self._ids.call_id()),
                ("cseq", "1 OPTIONS"),
                ("contact", self._contacts.contact_for(Transport.UDP)),
            ],
        )
        tx_id = self._sip.send_request(options, binding.source, Transport.UDP, now)
        self._pending[tx_id] = key

    def on_answered(self, tx_id: str) -> bool:
        """A final answer to one of our OPTIONS: the phone is there. True if it was ours."""
        key = self._pending.pop(tx_id, None)
        if key is None:
            return False
        self.missed.pop(key, None)
        return True

    def on_failed(self, tx_id: str) -> bool:
        """One of our OPTIONS timed out or could not be sent: a miss. True if it was ours."""
        key = self._pending.pop(tx_id, None)
        if key is None:
            return False
        self._missed_one(key)
        return True

    def _missed_one(self, key: tuple[str, str]) -> None:
        missed = self.missed.get(key, 0) + 1
        self.missed[key] = missed
        if missed >= self.max_missed:
            del self.missed[key]
            aor, contact = key
            self._unregister(aor, contact)
            log.warning("nat.binding_dropped", aor=aor, contact=contact, unanswered=missed)
