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

from functools import partial

import structlog

from sipstack.dialog import Dialog
from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.header_values import NameAddr
from sipstack.ids import IdSource
from sipstack.message import Request, make_response
from sipstack.transport import Transport, transport_of
from sipstack.uri import SipUri, parse_uri

from ..admission import customer_of
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

log = structlog.get_logger("switch.mwi")

DEFAULT_SUBSCRIPTION = 3600
MAX_SUBSCRIPTION = 7200


class Subscription:
    __slots__ = ("box", "dialog", "peer", "expires_at")

    def __init__(
        self,
        box: Mailbox,
        dialog: Dialog,
        peer: tuple[tuple[str, int], Transport],
        expires_at: float,
    ) -> None:
        self.box = box
        self.dialog = dialog
        self.peer = peer
        self.expires_at = expires_at


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
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self._notifying: dict[str, tuple[str, str]] = {}  # NOTIFY tx -> its subscription

    # -- SUBSCRIBE ---------------------------------------------------------------------------
    def on_subscribe(self, event: RequestReceived, now: float) -> None:
        request = event.request
        if (request.get("event") or "").split(";")[0].strip().lower() != "message-summary":
            self._replies.reply(request, 489, now, headers=[("allow-events", "message-summary")])
            return
        box = self._authorised_box(event, now)
        if box is None:
            return
        expires = _granted_expires(request)
        tag = self._ids.tag()
        contact = self._contacts.contact_for(event.transport)
        dialog = Dialog.as_uas(request, tag, contact)
        response = make_response(request, 200, "OK", to_tag=tag)
        response.add("expires", str(expires))
        response.add("contact", contact)
        self._sip.send_response(response, now)
        sub = Subscription(box, dialog, (event.source, event.transport), now + expires)
        self._notify(sub, expires, now)
        if expires > 0:
            self.subscriptions[dialog.key] = sub
            self._watch(dialog.key, sub)

    def on_in_dialog(self, event: RequestReceived, now: float) -> bool:
        """A refresh or unsubscribe inside a subscription dialog; False if not ours."""
        request = event.request
        key = (request.call_id, request.to.tag or "")
        sub = self.subscriptions.get(key)
        if sub is None or request.method != "SUBSCRIBE":
            return False
        expires = _granted_expires(request)
        response = make_response(request, 200, "OK")
        response.add("expires", str(expires))
        self._sip.send_response(response, now)
        sub.expires_at = now + expires
        if expires > 0:
            self._watch(key, sub)
            self._notify(sub, expires, now)
        else:
            # RFC 6665 §4.2.1.4: an unsubscribe ends with a final NOTIFY; it did not time
            # out, so no reason=timeout (which invites the phone to subscribe again).
            del self.subscriptions[key]
            self._notify(sub, 0, now, reason=None)
        return True

    def _watch(self, key: tuple[str, str], sub: Subscription) -> None:
        """RFC 6665 §4.2.2: a subscription not refreshed in time ends with a NOTIFY
        `terminated;reason=timeout` (the phone may subscribe again)."""

        def check(now: float) -> None:
            if self.subscriptions.get(key) is sub and sub.expires_at <= now:
                del self.subscriptions[key]
                self._notify(sub, 0, now)

        self._timers.call_at(sub.expires_at, check)

    def _authorised_box(self, event: RequestReceived, now: float) -> Mailbox | None:
        directory = self._directory.current
        request = event.request
        uri = request.uri
        target = uri.user if isinstance(uri, SipUri) else None
        customer = customer_of(directory, request, to_first=True)
        if customer is None or target is None or directory.extension(customer.name, target) is None:
            self._replies.reply(request, 404, now)
            return None
        password_of = partial(directory.password, customer.name)
        user = self._gate.authenticate(event, customer.domain, "authorization", password_of, now)
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

    def _notify(
        self, sub: Subscription, expires: int, now: float, reason: str | None = "timeout"
    ) -> None:
        if expires > 0:
            state = f"active;expires={expires}"
        else:
            state = "terminated" + (f";reason={reason}" if reason else "")
        notify = sub.dialog.create_request(
            "NOTIFY", self.summary(sub.box), "application/simple-message-summary"
        )
        notify.add("event", "message-summary")
        notify.add("subscription-state", state)
        dest, transport = sub.peer
        tx_id = self._sip.send_request(notify, dest, transport, now)
        if expires > 0:
            self._notifying[tx_id] = sub.dialog.key

    # -- what became of our NOTIFYs ------------------------------------------------------
    def on_notify_answered(self, tx_id: str, status: int) -> bool:
        """A final response to one of our in-dialog NOTIFYs; False if it was not ours.

        RFC 6665 §4.2.2: a NOTIFY answered with an error response (481 above all: the phone
        rebooted and forgot the dialog), or that times out, ends the subscription, so the
        mailbox's lamp falls back to unsolicited NOTIFYs instead of staying wrong."""
        key = self._notifying.pop(tx_id, None)
        if key is None:
            return False
        if status >= 300:
            self._end(key, f"NOTIFY answered {status}")
        return True

    def on_notify_failed(self, tx_id: str) -> bool:
        """Timer F or a transport failure on one of our NOTIFYs."""
        key = self._notifying.pop(tx_id, None)
        if key is None:
            return False
        self._end(key, "NOTIFY timed out")
        return True

    def _end(self, key: tuple[str, str], why: str) -> None:
        sub = self.subscriptions.pop(key, None)
        if sub is not None:
            log.info(
                "mwi.subscription_ended",
                customer=sub.box.customer,
                box=sub.box.box,
                call_id=key[0],
                reason=why,
            )

    def mailbox_changed(self, box: Mailbox, now: float) -> None:
        for key, sub in list(self.subscriptions.items()):
            if sub.expires_at <= now:
                del self.subscriptions[key]
            elif sub.box == box:
                self._notify(sub, int(sub.expires_at - now), now)
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
            s.peer[0] for s in self.subscriptions.values() if s.box == box and s.expires_at > now
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


def _granted_expires(request: Request) -> int:
    """The subscription's duration: what the phone asked, within our maximum."""
    asked = request.expires
    return min(asked if asked is not None else DEFAULT_SUBSCRIPTION, MAX_SUBSCRIPTION)
