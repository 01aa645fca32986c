"""Busy lamp fields: the dialog event package (RFC 4235) over RFC 6665 subscriptions.

A phone's BLF key subscribes (`Event: dialog`) to an extension of its own customer. The
switch is a B2BUA and knows every call each extension is in (`calls/line_state.py`), so
it needs nothing from the watched phone: each change of the extension's line state is a
NOTIFY of `application/dialog-info+xml` with the whole state (`state="full"`): no
`<dialog>` when idle, `early` while it rings (`direction="recipient"`) or while its own
call rings elsewhere (`direction="initiator"`), `confirmed` on a call. An early dialog
names the call-id and tags of the ringing phone's dialog with the switch, and the caller,
for keys that offer pickup. Changes are gathered while the switch handles one event and
sent once at its end (`flush`), so a lamp follows at once and never flickers through the
steps of one SIP message.
"""

from __future__ import annotations

from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from sipstack.events import RequestReceived
from sipstack.ids import IdSource

from ..calls.call import Call, CallPhase
from ..calls.legs import InboundLeg
from ..calls.line_state import ExtensionKey, ExtensionStates
from ..calls.ports import CallBook
from ..ports import Contacts, DirectoryRef, Gate, Replies, SipOut, Timers
from ..storage.hunt_state import HuntState
from ..storage.state_store import StateStore
from .subscriptions import Keeping, Notifier, Subscription, named_number, subscriber

RETRY_AFTER = 60  # seconds a phone over `server.blf.max_subscriptions` is told to wait


class HuntLamp(NamedTuple):
    """A member's login lamp of a hunt group: the resource of a SUBSCRIBE to the group's
    number, one per subscriber (the lamp shows the subscriber's own membership)."""

    customer: str
    group: str
    member: str


Watched = ExtensionKey | HuntLamp


class DialogView(NamedTuple):
    """One dialog of the watched extension, as RFC 4235 §4.1 describes it."""

    call_id: str
    local_tag: str | None  # the watched phone's tag
    remote_tag: str | None  # the switch's tag towards it
    direction: str  # "initiator" (its call) or "recipient" (a call to it)
    state: str  # "early" or "confirmed"
    remote: str | None  # the other party's URI


class BusyLamps:
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
        lines: ExtensionStates,
        calls: CallBook,
        hunt_state: HuntState,
        store: StateStore | None = None,
        max_per_phone: int = 200,
    ) -> None:
        self._replies = replies
        self._gate = gate
        self._directory = directory
        self._lines = lines
        self._calls = calls
        self._hunt_state = hunt_state
        self.max_per_phone = max_per_phone
        self._changed: dict[Watched, None] = {}
        self.notifier: Notifier[Watched] = Notifier(
            name="blf",
            event="dialog",
            content_type="application/dialog-info+xml",
            body=self._body,
            sip=sip,
            ids=ids,
            contacts=contacts,
            timers=timers,
            keeping=Keeping(store, _encode, self._decode) if store is not None else None,
        )

    # -- SUBSCRIBE ---------------------------------------------------------------------------
    def on_subscribe(self, event: RequestReceived, now: float) -> None:
        """`Event: dialog` to an extension: the subscriber must be a phone of the same
        customer (digest in that customer's realm): another customer's gets 403, an
        unknown number 404."""
        request = event.request
        directory = self._directory.current
        named = named_number(directory, request)
        customer, target = named if named is not None else (None, "")
        group = directory.hunt_group(customer.name, target) if customer else None
        extension = directory.extension(customer.name, target) if customer else None
        if customer is None or (group is None and extension is None):
            self._replies.reply(request, 404, now)
            return
        if self._held_by(event.source) >= self.max_per_phone:
            # a phone subscribing to everything again and again: bounded, and told when
            # to come back (RFC 3261 §21.5.4), before any digest work is spent on it
            retry = [("retry-after", str(RETRY_AFTER))]
            self._replies.reply(request, 503, now, "Too Many Subscriptions", headers=retry)
            return
        user = subscriber(self._gate, directory, event, customer, now)
        if user is None:
            return
        resource: Watched = (
            HuntLamp(customer.name, target, user) if group is not None else (customer.name, target)
        )
        self.notifier.accept(event, resource, user, now)

    def _held_by(self, source: tuple[str, int]) -> int:
        return sum(1 for sub in self.notifier.subscriptions.values() if sub.peer[0] == source)

    # -- line state -------------------------------------------------------------------------
    def line_changed(self, key: ExtensionKey) -> None:
        """The extension's line state changed; its watchers hear of it at `flush`."""
        if self.notifier.subscriptions:
            self._changed[key] = None

    def login_changed(self, customer: str, group: str, member: str) -> None:
        """A member logged in or out of a dynamic hunt group (code or auto logout)."""
        if self.notifier.subscriptions:
            self._changed[HuntLamp(customer, group, member)] = None

    def reloaded(self) -> None:
        """A new configuration may have removed members: every login lamp is looked at."""
        for sub in self.notifier.subscriptions.values():
            if isinstance(sub.resource, HuntLamp):
                self._changed[sub.resource] = None

    def flush(self, now: float) -> None:
        """One NOTIFY per watcher of each extension that changed since the last flush."""
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        for key in changed:
            self.notifier.changed(key, now)

    def _decode(self, text: str) -> Watched | None:
        """A kept resource, if the directory still has it."""
        kind, _, rest = text.partition("/")
        parts = rest.split("/")
        directory = self._directory.current
        if kind == "ext" and len(parts) == 2 and directory.extension(*parts) is not None:
            return (parts[0], parts[1])
        if kind == "hunt" and len(parts) == 3 and directory.hunt_group(*parts[:2]) is not None:
            return HuntLamp(*parts)
        return None

    # -- the body ---------------------------------------------------------------------------
    def _body(self, sub: Subscription[Watched]) -> bytes:
        resource = sub.resource
        if isinstance(resource, HuntLamp):
            return self._login_lamp(resource, sub.version)
        customer_name, number = resource
        customer = self._directory.current.customer(customer_name)
        domain = customer.domain if customer is not None else ""
        dialogs = []
        for call_id in self._lines.calls(resource):
            call = self._calls.find(call_id)
            view = dialog_of(call, resource) if call is not None else None
            if view is not None:
                dialogs.append(view)
        return dialog_info(f"sip:{number}@{domain}", sub.version, dialogs)

    def _login_lamp(self, lamp: HuntLamp, version: int) -> bytes:
        """docs/PRODUCT.md, hunt groups: "the indicator ... lights up when you are logged
        in": `confirmed` while the member is in (a static group's members always are),
        `terminated` once out, by code, auto logout, or a reload that removed it."""
        directory = self._directory.current
        group = directory.hunt_group(lamp.customer, lamp.group)
        customer = directory.customer(lamp.customer)
        member = group is not None and lamp.member in group.members
        logged_in = member and (
            group is not None and (not group.dynamic or self._hunt_state.logged_in(*lamp))
        )
        state = "confirmed" if logged_in else "terminated"
        domain = customer.domain if customer is not None else ""
        view = DialogView(f"login-{lamp.member}", None, None, "recipient", state, None)
        return dialog_info(f"sip:{lamp.group}@{domain}", version, [view])


def _encode(resource: Watched) -> str:
    if isinstance(resource, HuntLamp):
        return "hunt/" + "/".join(resource)
    return "ext/" + "/".join(resource)


def dialog_of(call: Call, key: ExtensionKey) -> DialogView | None:
    """The watched extension's dialog in `call`: its own call (it is the caller, or it
    picked the call up) or a call ringing it / answered by it."""
    state = "confirmed" if call.phase is CallPhase.ANSWERED else "early"
    a = call.a
    if a.caller == key:
        return DialogView(
            a.invite.call_id, a.invite.from_.tag, a.local_tag, "initiator", state,
            str(a.invite.to.uri),
        )  # fmt: skip
    b = call.b
    if isinstance(b, InboundLeg) and b.caller == key:  # a picker
        return DialogView(
            b.invite.call_id, b.invite.from_.tag, b.local_tag, "initiator", "confirmed",
            str(a.invite.from_.uri),
        )  # fmt: skip
    for fork in call.forks.values():
        if fork.callee != key:
            continue
        if call.phase is CallPhase.ANSWERED and fork is not b:
            continue  # a contact that lost the race: not this extension's dialog any more
        phone_tag = fork.dialog.remote_tag if fork.dialog is not None else None
        return DialogView(
            fork.invite.call_id, phone_tag, fork.invite.from_.tag, "recipient", state,
            str(fork.invite.from_.uri),
        )  # fmt: skip
    return None


def dialog_info(entity: str, version: int, dialogs: list[DialogView]) -> bytes:
    """An RFC 4235 §4.1 dialog-info document with the full state of `entity`."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
        f'version="{version}" state="full" entity={quoteattr(entity)}>',
    ]
    for n, d in enumerate(dialogs):
        attrs = [f"id={quoteattr(f'{d.call_id}-{n}')}", f"call-id={quoteattr(d.call_id)}"]
        if d.local_tag:
            attrs.append(f"local-tag={quoteattr(d.local_tag)}")
        if d.remote_tag:
            attrs.append(f"remote-tag={quoteattr(d.remote_tag)}")
        attrs.append(f'direction="{d.direction}"')
        lines.append(f"  <dialog {' '.join(attrs)}>")
        lines.append(f"    <state>{d.state}</state>")
        if d.remote:
            lines.append(f"    <remote><identity>{escape(d.remote)}</identity></remote>")
        lines.append("  </dialog>")
    lines.append("</dialog-info>")
    return ("\n".join(lines) + "\n").encode()
