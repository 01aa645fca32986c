"""Message waiting indication (RFC 3842 message-summary over RFC 6665 events).

Two ways a phone's lamp learns about its mailbox:
* it SUBSCRIBEs (Event: message-summary) and gets a NOTIFY at once and on every change;
* it does not, and gets unsolicited NOTIFYs at its registered contacts on every change
  and after each REGISTER (docs/PRODUCT.md, complaint "lamps that go dark after a
  re-register or a restart"). Counts come from the voicemail feature's in-memory index,
  loaded from the mailbox files at start, so they are right after a restart.
Members of a hunt group may subscribe to the group's default mailbox.
"""

from __future__ import annotations

import structlog

from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.header_values import NameAddr
from sipstack.ids import IdSource
from sipstack.message import Request
from sipstack.transport import transport_of
from sipstack.uri import SipUri, parse_uri

from ..media.voicemail import Mailbox
from ..ports import (
    Contacts,
    DirectoryRef,
    Gate,
    MailboxCounts,
    Registrations,
    Replies,
    SipOut,
    Timers,
)
from ..registration.location import Binding
from .subscriptions import Notifier, named_number, subscriber

log = structlog.get_logger("switch.mwi")


class MessageWaiting:
    def __init__(
        self,
        *,
        sip: SipOut,
        replies: Replies,
        gate: Gate,
        ids: IdSource,
        contacts: Contacts,
        timers: Timers,
        directory: DirectoryRef,
        registrations: Registrations,
        counts: MailboxCounts,
    ) -> None:
        self._sip = sip
        self._replies = replies
        self._gate = gate
        self._ids = ids
        self._contacts = contacts
        self._timers = timers
        self._directory = directory
        self._registrations = registrations
        self._counts = counts
        self.notifier: Notifier[Mailbox] = Notifier(
            name="mwi",
            event="message-summary",
            content_type="application/simple-message-summary",
            body=lambda sub: self.summary(sub.resource),
            sip=sip,
            ids=ids,
            contacts=contacts,
            timers=timers,
        )

    # -- SUBSCRIBE ---------------------------------------------------------------------------
    def on_subscribe(self, event: RequestReceived, now: float) -> None:
        """A SUBSCRIBE with `Event: message-summary` (the dispatcher chose by package)."""
        box = self._authorised_box(event, now)
        if box is not None:
            self.notifier.accept(event, box, box.box, now)

    def _authorised_box(self, event: RequestReceived, now: float) -> Mailbox | None:
        directory = self._directory.current
        request = event.request
        named = named_number(directory, request)
        if named is None or directory.extension(named[0].name, named[1]) is None:
            self._replies.reply(request, 404, now)
            return None
        customer, target = named
        user = subscriber(self._gate, directory, event, customer, now)
        if user is None:
            return None
        if user != target and not self._member_of_box(customer.name, user, target):
            self._replies.reply(request, 403, now)
            return None
        return Mailbox(customer.name, target)

    def _member_of_box(self, customer: str, user: str, box: str) -> bool:
        """Group mailboxes: members of a hunt group may watch its default box."""
        return any(
            g.default_box == box and user in g.members
            for g in self._directory.current.hunt_groups(customer)
        )

    # -- NOTIFY --------------------------------------------------------------------------------
    def summary(self, box: Mailbox) -> bytes:
        """The message-summary body (RFC 3842 §5.2)."""
        new, old = self._counts.counts(box)
        customer = self._directory.current.customer(box.customer)
        domain = customer.domain if customer else ""
        return (
            f"Messages-Waiting: {'yes' if new else 'no'}\r\n"
            f"Message-Account: sip:{box.box}@{domain}\r\n"
            f"Voice-Message: {new}/{old} (0/0)\r\n"
        ).encode()

    def mailbox_changed(self, box: Mailbox, now: float) -> None:
        self.notifier.changed(box, now)
        self.unsolicited(box, now)

    def unsolicited(self, box: Mailbox, now: float, only: list[Binding] | None = None) -> None:
        """Out-of-dialog NOTIFY to the box owner's registered phones (no subscription)."""
        directory = self._directory.current
        customer = directory.customer(box.customer)
        ext = directory.extension(box.customer, box.box)
        if customer is None or ext is None or not ext.voicemail:
            return
        # A phone with a live subscription hears it in its dialog; every other registered
        # phone of the box (another desk, or one that rebooted and re-registered from a new
        # port) gets it unsolicited.
        subscribed = {
            s.peer[0]
            for s in self.notifier.subscriptions.values()
            if s.resource == box and s.expires_at > now
        }
        aor = f"{box.box}@{customer.domain}"
        body = self.summary(box)
        identity = NameAddr(uri=SipUri(host=customer.domain, user=box.box))
        for binding in only if only is not None else self._registrations.bindings(aor, now):
            if binding.source in subscribed:
                continue
            try:
                target = parse_uri(binding.contact)
            except ParseError:  # a stored contact we cannot parse is skipped
                continue
            notify = Request(
                "NOTIFY",
                target,
                [
                    ("from", str(identity.with_tag(self._ids.tag()))),
                    ("to", str(identity)),
                    ("call-id", self._ids.call_id()),
                    ("cseq", "1 NOTIFY"),
                    ("max-forwards", "70"),
                    ("event", "message-summary"),
                    ("subscription-state", "active"),
                    ("contact", self._contacts.contact_for(transport_of(binding.transport))),
                    ("content-type", "application/simple-message-summary"),
                ],
                body,
            )
            transport = transport_of(binding.transport)
            self._sip.send_request(notify, binding.source, transport, now)
        log.info("mwi.unsolicited", customer=box.customer, box=box.box)
