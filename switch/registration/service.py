"""The REGISTER service: a phone's REGISTER authenticated, applied and answered.

The RFC 3261 §10.3 rules are the pure `registrar.process_register`; the bindings live in
the location store. Here the request is admitted (a To naming an extension of a
known customer), the phone authenticated with its extension's password, the outcome
stored and answered, and the mailbox lamp refreshed on the contacts just saved, so a
phone that re-registers or restarts does not show a dark lamp.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from sipstack.events import RequestReceived
from sipstack.uri import SipUri

from ..admission import customer_of
from ..media.voicemail import Mailbox
from ..ports import DirectoryRef, Gate, Replies, SipOut
from .location import Binding, LocationStore
from .registrar import RegistrarPolicy, apply_outcome, process_register

log = structlog.get_logger("switch.registrar")

# Told of the contacts a REGISTER saved, for the lamp of that extension's mailbox.
Registered = Callable[[Mailbox, float, list[Binding]], None]


class RegisterService:
    def __init__(
        self,
        *,
        sip: SipOut,
        replies: Replies,
        gate: Gate,
        directory: DirectoryRef,
        location: LocationStore,
        policy: RegistrarPolicy,
        registered: Registered,
    ) -> None:
        self._sip = sip
        self._replies = replies
        self._gate = gate
        self._directory = directory
        self._location = location
        self._policy = policy
        self._registered = registered

    def on_register(self, event: RequestReceived, now: float) -> None:
        request = event.request
        reply = self._replies.reply
        to_uri = request.to.uri
        if not isinstance(to_uri, SipUri) or to_uri.user is None:
            reply(request, 404, now, "Not Found (To must be sip:extension@domain)")
            return
        directory = self._directory.current
        customer = customer_of(directory, request, to_first=True)
        extension = (
            directory.extension(customer.name, to_uri.user) if customer is not None else None
        )
        if customer is None or extension is None:
            reply(request, 404, now)
            return
        number, password = extension.number, extension.password
        username = self._gate.authenticate(
            event,
            customer.domain,
            "authorization",
            lambda user: password if user == number else None,
            now,
        )
        if username is None:
            return
        aor = f"{number}@{customer.domain}"
        location = self._location
        outcome = process_register(
            request,
            aor,
            location.bindings(aor, now),
            event.source,
            event.transport.value,
            self._policy,
            now,
        )
        apply_outcome(location, aor, outcome)
        self._sip.send_response(outcome.response, now)
        if outcome.save or outcome.remove or outcome.remove_all:
            log.info(
                "registrar.update",
                extension=number,
                customer=customer.name,
                status=outcome.response.status,
                contacts=[b.contact for b in location.bindings(aor, now)],
            )
        if outcome.save and extension.voicemail:
            self._registered(Mailbox(customer.name, number), now, outcome.save)

    def purge(self, now: float) -> None:
        removed = self._location.purge_expired(now)
        if removed:
            log.info("registrar.purged", bindings=removed)
