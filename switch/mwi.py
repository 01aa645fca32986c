"""Message waiting indication (RFC 3842 message-summary over RFC 6665 events).

Two ways a phone's lamp learns about its mailbox:
* it SUBSCRIBEs (Event: message-summary) and gets a NOTIFY at once and on every change;
* it does not, and gets unsolicited NOTIFYs at its registered contacts on every change
  and after each REGISTER (pain point 5 of PEERS.md: lamps that go dark after a
  re-register or a restart). Counts come from the mailbox files, so they are right
  after a restart.
Members of a hunt group may subscribe to the group's default mailbox.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import structlog

from sipstack.dialog import Dialog
from sipstack.events import RequestReceived
from sipstack.header_values import NameAddr
from sipstack.message import Request, make_response
from sipstack.transport import Transport, transport_of
from sipstack.uri import SipUri, parse_uri

from .admission import customer_of
from .location import Binding
from .mailbox import mwi_notify
from .media.voicemail import Mailbox

if TYPE_CHECKING:
    from .core import Switch

log = structlog.get_logger("switch.mwi")

DEFAULT_SUBSCRIPTION = 3600
MAX_SUBSCRIPTION = 7200


class Subscription:
    __slots__ = ("box", "dialog", "peer", "expires_at")

    def __init__(self, box: Mailbox, dialog: Dialog, peer: tuple[tuple[str, int], Transport],
                 expires_at: float) -> None:
        self.box = box
        self.dialog = dialog
        self.peer = peer
        self.expires_at = expires_at


class MessageWaiting:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self.subscriptions: dict[tuple[str, str], Subscription] = {}

    # -- SUBSCRIBE ---------------------------------------------------------------------------
    def on_subscribe(self, event: RequestReceived) -> None:
        sw = self.switch
        request = event.request
        if (request.get("event") or "").split(";")[0].strip().lower() != "message-summary":
            sw.reply(request, 489, headers=[("allow-events", "message-summary")])
            return
        box = self._authorised_box(event)
        if box is None:
            return
        expires = min(request.expires if request.expires is not None else DEFAULT_SUBSCRIPTION,
                      MAX_SUBSCRIPTION)
        tag = sw.ids.tag()
        contact = sw.contact_for(event.transport)
        dialog = Dialog.as_uas(request, tag, contact)
        response = make_response(request, 200, "OK", to_tag=tag)
        response.add("expires", str(expires))
        response.add("contact", contact)
        sw.endpoint.send_response(response, sw.now)
        sub = Subscription(box, dialog, (event.source, event.transport), sw.now + expires)
        self._notify(sub, expires)
        if expires > 0:
            self.subscriptions[dialog.key] = sub
            self._watch(dialog.key, sub)

    def on_in_dialog(self, event: RequestReceived) -> bool:
        """A refresh or unsubscribe inside a subscription dialog; False if not ours."""
        sw = self.switch
        request = event.request
        key = (request.call_id, request.to.tag or "")
        sub = self.subscriptions.get(key)
        if sub is None or request.method != "SUBSCRIBE":
            return False
        expires = min(request.expires if request.expires is not None else DEFAULT_SUBSCRIPTION,
                      MAX_SUBSCRIPTION)
        response = make_response(request, 200, "OK")
        response.add("expires", str(expires))
        sw.endpoint.send_response(response, sw.now)
        sub.expires_at = sw.now + expires
        if expires > 0:
            self._watch(key, sub)
        self._notify(sub, expires)
        if expires == 0:
            del self.subscriptions[key]
        return True

    def _watch(self, key: tuple[str, str], sub: Subscription) -> None:
        """RFC 6665 §4.2.2: a subscription not refreshed in time ends with a NOTIFY
        `terminated;reason=timeout` (the phone may subscribe again)."""
        def check(now: float) -> None:
            if self.subscriptions.get(key) is sub and sub.expires_at <= now:
                del self.subscriptions[key]
                self._notify(sub, 0)

        self.switch.timers.call_at(sub.expires_at, check)

    def _authorised_box(self, event: RequestReceived) -> Mailbox | None:
        sw = self.switch
        request = event.request
        uri = request.uri
        target = uri.user if isinstance(uri, SipUri) else None
        customer = customer_of(sw.directory, request, to_first=True)
        if customer is None or target is None or sw.directory.extension(customer.name,
                                                                        target) is None:
            sw.reply(request, 404)
            return None
        password_of = partial(sw.directory.password, customer.name)
        user = sw.authenticate(event, customer.domain, "authorization", password_of)
        if user is None:
            return None
        if user != target and not self._member_of_box(customer.name, user, target):
            sw.reply(request, 403)
            return None
        return Mailbox(customer.name, target)

    def _member_of_box(self, customer: str, user: str, box: str) -> bool:
        """Group mailboxes: members of a hunt group may watch its default box."""
        return any(g.default_box == box and user in g.members
                   for g in self.switch.directory.hunt_groups(customer))

    # -- NOTIFY --------------------------------------------------------------------------------
    def _notify(self, sub: Subscription, expires: int) -> None:
        sw = self.switch
        state = f"active;expires={expires}" if expires > 0 else "terminated;reason=timeout"
        notify = mwi_notify(sub.dialog, sw.mailbox.summary(sub.box), state)
        dest, transport = sub.peer
        sw.endpoint.send_request(notify, dest, transport, sw.now)

    def mailbox_changed(self, box: Mailbox) -> None:
        sw = self.switch
        for key, sub in list(self.subscriptions.items()):
            if sub.expires_at <= sw.now:
                del self.subscriptions[key]
            elif sub.box == box:
                self._notify(sub, int(sub.expires_at - sw.now))
        self.unsolicited(box)

    def unsolicited(self, box: Mailbox, only: list[Binding] | None = None) -> None:
        """Out-of-dialog NOTIFY to the box owner's registered phones (no subscription)."""
        sw = self.switch
        customer = sw.directory.customer(box.customer)
        ext = sw.directory.extension(box.customer, box.box)
        if customer is None or ext is None or not ext.voicemail:
            return
        if any(s.box == box and s.expires_at > sw.now for s in self.subscriptions.values()):
            return  # a phone with a live subscription hears it in its dialog
        aor = f"{box.box}@{customer.domain}"
        body = sw.mailbox.summary(box)
        for binding in only if only is not None else sw.location.bindings(aor, sw.now):
            try:
                target = parse_uri(binding.contact)
            except Exception:  # noqa: BLE001 - a stored contact we cannot parse is skipped
                continue
            identity = NameAddr(uri=SipUri(host=customer.domain, user=box.box))
            notify = Request("NOTIFY", target, [
                ("from", str(identity.with_tag(sw.ids.tag()))),
                ("to", str(identity)),
                ("call-id", sw.ids.call_id()),
                ("cseq", "1 NOTIFY"),
                ("max-forwards", "70"),
                ("event", "message-summary"),
                ("subscription-state", "active"),
                ("content-type", "application/simple-message-summary"),
            ], body)
            transport = transport_of(binding.transport)
            sw.endpoint.send_request(notify, binding.source, transport, sw.now)
        log.info("mwi.unsolicited", customer=box.customer, box=box.box)
