"""Subscriptions to one event package, as RFC 6665 has the notifier keep them.

Message waiting (message-summary) and busy lamps (dialog) are two packages of the same
machinery: a SUBSCRIBE the package has authorised is answered 200 with the granted
Expires and at once a NOTIFY of the current state (§4.2.1.2); each change of the watched
resource is a NOTIFY; a refresh extends the subscription, `Expires: 0` ends it with a final
NOTIFY (§4.2.1.4); one not refreshed in time ends with `terminated;reason=timeout`
(§4.2.2); a NOTIFY answered with an error or never answered ends it (§4.2.2: "the
subscription is terminated" when the subscriber answers 481 or the NOTIFY times out).

Across a restart: each subscription's dialog is kept in the state store while it lives.
At start the switch ends every one it finds with a NOTIFY `terminated;reason=deactivated`
carrying the state now (§4.1.3: on "deactivated" the subscriber "SHOULD attempt to
re-subscribe immediately"), so no lamp keeps showing a call that the restart ended and
each phone subscribes anew at once. The NOTIFY's CSeq is the time in seconds, larger than
any the dialog used before the restart (§12.2.1.1 only asks it to grow).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from functools import partial
from typing import Generic, TypeVar

import structlog

from sipstack.dialog import Dialog
from sipstack.errors import ParseError
from sipstack.events import RequestReceived
from sipstack.header_values import parse_name_addr
from sipstack.ids import IdSource
from sipstack.message import Request, make_response
from sipstack.transport import Transport, transport_of
from sipstack.uri import SipUri, parse_uri

from ..admission import customer_of
from ..directory import Customer, Directory
from ..ports import Contacts, Gate, SipOut, Timers
from ..storage.state_store import StateStore

DEFAULT_SUBSCRIPTION = 3600
MAX_SUBSCRIPTION = 7200

R = TypeVar("R", bound=Hashable)  # what a subscription watches (a mailbox, an extension)


class Subscription(Generic[R]):
    __slots__ = ("resource", "watcher", "dialog", "peer", "expires_at", "version")

    def __init__(
        self,
        resource: R,
        watcher: str,
        dialog: Dialog,
        peer: tuple[tuple[str, int], Transport],
        expires_at: float,
    ) -> None:
        self.resource = resource
        self.watcher = watcher  # who subscribed (its extension number)
        self.dialog = dialog
        self.peer = peer
        self.expires_at = expires_at
        self.version = 0  # NOTIFYs sent so far (RFC 4235 §4.1 numbers dialog-info by it)


# body(subscription) -> the NOTIFY body of the resource's state now
Body = Callable[[Subscription[R]], bytes]


class Keeping(Generic[R]):
    """Where a notifier keeps its subscriptions across restarts, and how a resource is
    written there (`encode`) and read back (`decode`, None for one that is gone)."""

    def __init__(
        self, store: StateStore, encode: Callable[[R], str], decode: Callable[[str], R | None]
    ) -> None:
        self.store = store
        self.encode = encode
        self.decode = decode


class Notifier(Generic[R]):
    """The subscriptions of one event package and their NOTIFYs."""

    def __init__(
        self,
        *,
        name: str,
        event: str,
        content_type: str,
        body: Body[R],
        sip: SipOut,
        ids: IdSource,
        contacts: Contacts,
        timers: Timers,
        keeping: Keeping[R] | None = None,
    ) -> None:
        self._keeping = keeping
        self.event = event
        self._content_type = content_type
        self._body = body
        self._sip = sip
        self._ids = ids
        self._contacts = contacts
        self._timers = timers
        self.subscriptions: dict[tuple[str, str], Subscription[R]] = {}
        self._notifying: dict[str, tuple[str, str]] = {}  # NOTIFY tx -> its subscription
        self.name = name  # of the feature, in log events ("mwi", "blf")
        self.log = structlog.get_logger(f"switch.{name}")

    # -- SUBSCRIBE ---------------------------------------------------------------------------
    def accept(self, event: RequestReceived, resource: R, watcher: str, now: float) -> None:
        """An authorised SUBSCRIBE: 200, the first NOTIFY, and the subscription kept."""
        request = event.request
        expires = granted_expires(request)
        tag = self._ids.tag()
        contact = self._contacts.contact_for(event.transport)
        dialog = Dialog.as_uas(request, tag, contact)
        response = make_response(request, 200, "OK", to_tag=tag)
        response.add("expires", str(expires))
        response.add("contact", contact)
        self._sip.send_response(response, now)
        sub = Subscription(
            resource, watcher, dialog, (event.source, event.transport), now + expires
        )
        self._notify(sub, expires, now)
        if expires > 0:
            self.subscriptions[dialog.key] = sub
            self._watch(dialog.key, sub)
            self._keep(sub)

    def on_in_dialog(self, event: RequestReceived, now: float) -> bool:
        """A refresh or unsubscribe inside one of our subscription dialogs; False if not."""
        request = event.request
        key = (request.call_id, request.to.tag or "")
        sub = self.subscriptions.get(key)
        if sub is None or request.method != "SUBSCRIBE":
            return False
        expires = granted_expires(request)
        response = make_response(request, 200, "OK")
        response.add("expires", str(expires))
        self._sip.send_response(response, now)
        sub.expires_at = now + expires
        if expires > 0:
            self._watch(key, sub)
            self._notify(sub, expires, now)
            self._keep(sub)
        else:
            self._drop(key)
            # §4.2.1.4: an unsubscribe ends with a final NOTIFY; it did not time out, so
            # no reason=timeout (which invites the phone to subscribe again).
            del self.subscriptions[key]
            self._notify(sub, 0, now, reason=None)
        return True

    def _watch(self, key: tuple[str, str], sub: Subscription[R]) -> None:
        def check(now: float) -> None:
            if self.subscriptions.get(key) is sub and sub.expires_at <= now:
                del self.subscriptions[key]
                self._drop(key)
                self._notify(sub, 0, now)

        self._timers.call_at(sub.expires_at, check)

    # -- NOTIFY --------------------------------------------------------------------------------
    def changed(self, resource: R, now: float) -> None:
        """The resource's state changed: a NOTIFY to each live subscription to it."""
        for key, sub in list(self.subscriptions.items()):
            if sub.expires_at <= now:
                del self.subscriptions[key]
                self._drop(key)
            elif sub.resource == resource:
                self._notify(sub, int(sub.expires_at - now), now)

    def watched(self, resource: R, now: float) -> bool:
        return any(
            s.resource == resource and s.expires_at > now for s in self.subscriptions.values()
        )

    def _notify(
        self, sub: Subscription[R], expires: int, now: float, reason: str | None = "timeout"
    ) -> None:
        if expires > 0:
            state = f"active;expires={expires}"
        else:
            state = "terminated" + (f";reason={reason}" if reason else "")
        notify = sub.dialog.create_request("NOTIFY", self._body(sub), self._content_type)
        sub.version += 1
        notify.add("event", self.event)
        notify.add("subscription-state", state)
        dest, transport = sub.peer
        tx_id = self._sip.send_request(notify, dest, transport, now)
        if expires > 0:
            self._notifying[tx_id] = sub.dialog.key

    # -- what became of our NOTIFYs ------------------------------------------------------
    def on_notify_answered(self, tx_id: str, status: int) -> bool:
        """A final response to one of our NOTIFYs; False if it was not ours."""
        key = self._notifying.pop(tx_id, None)
        if key is None:
            return False
        if status >= 300:
            self._end(key, f"NOTIFY answered {status}")
        return True

    def on_notify_failed(self, tx_id: str) -> bool:
        """Timer F or a transport failure on one of our NOTIFYs; False if not ours."""
        key = self._notifying.pop(tx_id, None)
        if key is None:
            return False
        self._end(key, "NOTIFY timed out")
        return True

    def _end(self, key: tuple[str, str], why: str) -> None:
        sub = self.subscriptions.pop(key, None)
        self._drop(key)
        if sub is not None:
            self.log.info(
                f"{self.name}.subscription_ended",
                resource=str(sub.resource),
                watcher=sub.watcher,
                call_id=key[0],
                reason=why,
            )

    # -- across restarts ---------------------------------------------------------------------
    def _namespace(self) -> str:
        return f"subscription.{self.event}"

    def _keep(self, sub: Subscription[R]) -> None:
        keeping = self._keeping
        if keeping is None:
            return
        d = sub.dialog
        record = {
            "resource": keeping.encode(sub.resource),
            "watcher": sub.watcher,
            "peer": [sub.peer[0][0], sub.peer[0][1], sub.peer[1].value],
            "expires_at": sub.expires_at,
            "call_id": d.call_id,
            "local_tag": d.local_tag,
            "remote_tag": d.remote_tag,
            "local_uri": str(d.local_uri),
            "remote_uri": str(d.remote_uri),
            "remote_target": str(d.remote_target),
            "route_set": d.route_set,
            "local_contact": d.local_contact,
        }
        keeping.store.put(self._namespace(), "/".join(d.key), json.dumps(record))

    def _drop(self, key: tuple[str, str]) -> None:
        if self._keeping is not None:
            self._keeping.store.delete(self._namespace(), "/".join(key))

    def deactivate_kept(self, now: float) -> int:
        """At start: end each subscription kept before the restart with the state now and
        `terminated;reason=deactivated`; how many were ended."""
        keeping = self._keeping
        if keeping is None:
            return 0
        ended = 0
        for key, value in keeping.store.items(self._namespace()):
            keeping.store.delete(self._namespace(), key)
            sub = self._revive(value, keeping, now)
            if sub is not None:
                self._notify(sub, 0, now, reason="deactivated")
                ended += 1
        if ended:
            self.log.info(f"{self.name}.subscriptions_deactivated", count=ended)
        return ended

    def _revive(self, value: str, keeping: Keeping[R], now: float) -> Subscription[R] | None:
        try:
            record = json.loads(value)
            resource = keeping.decode(record["resource"])
            if resource is None or float(record["expires_at"]) <= now:
                return None
            dialog = Dialog(
                call_id=record["call_id"],
                local_tag=record["local_tag"],
                remote_tag=record["remote_tag"],
                local_uri=parse_name_addr(record["local_uri"]),
                remote_uri=parse_name_addr(record["remote_uri"]),
                remote_target=parse_uri(record["remote_target"]),
                route_set=list(record["route_set"]),
                local_seq=int(now),  # above any CSeq this dialog used before the restart
                remote_seq=None,
                local_contact=record["local_contact"],
            )
            host, port, transport = record["peer"]
            peer = ((str(host), int(port)), transport_of(str(transport)))
        except (ValueError, KeyError, TypeError, ParseError) as exc:
            self.log.warning(f"{self.name}.bad_kept_subscription", error=str(exc))
            return None
        watcher = str(record["watcher"])
        return Subscription(resource, watcher, dialog, peer, float(record["expires_at"]))


def named_number(directory: Directory, request: Request) -> tuple[Customer, str] | None:
    """The customer and the number a SUBSCRIBE is about: its Request-URI's user, in the
    customer its To (else From, Request-URI) domain names."""
    customer = customer_of(directory, request, to_first=True)
    uri = request.uri
    number = uri.user if isinstance(uri, SipUri) else None
    return (customer, number) if customer is not None and number else None


def subscriber(
    gate: Gate, directory: Directory, event: RequestReceived, customer: Customer, now: float
) -> str | None:
    """The phone subscribing, by digest in `customer`'s realm; None once 401/403 went
    (so a phone of another customer cannot watch this one's)."""
    password_of = partial(directory.password, customer.name)
    return gate.authenticate(event, customer.domain, "authorization", password_of, now)


def granted_expires(request: Request) -> int:
    """The subscription's duration: what the phone asked, within our maximum."""
    asked = request.expires
    return min(asked if asked is not None else DEFAULT_SUBSCRIPTION, MAX_SUBSCRIPTION)


def event_package(request: Request) -> str:
    """The package of a SUBSCRIBE's Event header, without its parameters."""
    return (request.get("event") or "").split(";")[0].strip().lower()
