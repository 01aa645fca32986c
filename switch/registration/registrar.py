"""The registrar: RFC 3261 §10.3 steps 5 to 8 as a pure function.

The caller has already done steps 1 to 4 (Request-URI domain, Require -> 420,
authentication, To AOR validity -> 404) and looked up the current bindings. This
module decides; `switch.registration.location` stores. `process_register` returns the response
and the binding changes as data; `apply_outcome` hands the changes to a
`LocationStore`.

  "Binding updates MUST be committed (that is, made visible to the proxy or
   redirect server) if and only if all binding updates and additions succeed.
   If any one of them fails [...] the request MUST fail with a 500 (Server
   Error) response and all tentative binding updates MUST be removed."
                                                                (RFC 3261 §10.3)

so a failing REGISTER returns no changes at all.
"""

from __future__ import annotations

import hashlib

import msgspec

from sipstack.errors import ParseError
from sipstack.header_values import NameAddr, quote_string, unquote_string
from sipstack.message import Request, Response, make_response
from sipstack.uri import SipUri

from .location import Address, Binding, LocationStore, binding_order

# RFC 3261 §25.1: delta-seconds is 1*DIGIT; "values larger than 2**32-1 [...] treated as 2**32-1"
_MAX_DELTA = 2**32 - 1


class RegistrarPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Local policy for RFC 3261 §10.3 steps 7 and 8 (all in seconds)."""

    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    max_contacts: int = 10


class RegisterOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What to answer and what to change. Apply `remove_all`, then `remove`, then `save`."""

    response: Response
    save: list[Binding] = msgspec.field(default_factory=list)
    remove: list[str] = msgspec.field(default_factory=list)
    """Contacts of the AOR to delete."""
    remove_all: bool = False


class _Refused(Exception):
    """A REGISTER that fails; carries the response to send. Internal only."""

    def __init__(
        self, status: int, reason: str | None = None, extra: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


class _Context(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of the request every step needs."""

    aor: str
    call_id: str
    cseq: int
    source: Address
    transport: str
    user_agent: str
    now: float


def default_to_tag(request: Request) -> str:
    """A To tag derived from the Call-ID: the same for a retransmitted or refreshed REGISTER."""
    return hashlib.blake2s(request.call_id.encode(), digest_size=5).hexdigest()


def process_register(
    request: Request,
    aor: str,
    existing: list[Binding],
    source: Address,
    transport: str,
    policy: RegistrarPolicy,
    now: float,
    *,
    to_tag: str | None = None,
) -> RegisterOutcome:
    """Apply RFC 3261 §10.3 steps 5-8 to an authenticated REGISTER for `aor`.

    `existing` is the AOR's current bindings (expired ones are ignored); `source`
    and `transport` are where the request came from and are stored in new bindings.
    """
    tag = to_tag if to_tag is not None else _safe_to_tag(request)
    current = [b for b in existing if b.expires_at > now and b.aor == aor]
    try:
        ctx = _context(request, aor, source, transport, now)
        if request.is_wildcard_contact:
            return _wildcard(request, ctx, current, tag)
        contacts = _contacts(request)
        if not contacts:
            # RFC 3261 §10.2.3: "A success response to any REGISTER request contains the
            # complete list of existing bindings, regardless of whether the request
            # contained a Contact header field."
            return RegisterOutcome(response=_ok(request, current, now, tag, None))
        return _update(request, ctx, contacts, current, policy, tag)
    except _Refused as refused:
        response = make_response(request, refused.status, refused.reason, to_tag=tag)
        for name, value in refused.extra:
            response.add(name, value)
        return RegisterOutcome(response=response)


def apply_outcome(store: LocationStore, aor: str, outcome: RegisterOutcome) -> None:
    """Carry out the changes of `outcome` on `store`, in the documented order."""
    if outcome.remove_all:
        store.remove_all(aor)
    for contact in outcome.remove:
        store.remove(aor, contact)
    for binding in outcome.save:
        store.save(binding)


# -- steps ---------------------------------------------------------------------------


def _safe_to_tag(request: Request) -> str:
    try:
        return default_to_tag(request)
    except ParseError:
        return "0"


def _context(request: Request, aor: str, source: Address, transport: str, now: float) -> _Context:
    try:
        call_id = request.call_id
        cseq = request.cseq.seq
    except ParseError as exc:
        raise _Refused(400, f"Bad Request ({exc.reason})") from None
    return _Context(
        aor=aor,
        call_id=call_id,
        cseq=cseq,
        source=source,
        transport=transport,
        user_agent=request.get("user-agent") or "",
        now=now,
    )


def _contacts(request: Request) -> list[NameAddr]:
    try:
        return request.contacts
    except ParseError as exc:
        raise _Refused(400, f"Bad Request ({exc.reason})") from None


def _header_expires(request: Request) -> int | None:
    try:
        return request.expires
    except ParseError as exc:
        raise _Refused(400, f"Bad Request ({exc.reason})") from None


def _check_order(binding: Binding, ctx: _Context) -> None:
    # RFC 3261 §10.3 step 7: "If the Call-ID value in the existing binding differs from
    # the Call-ID value in the request, the binding MUST be removed if the expiration
    # time is zero and updated otherwise. If they are the same, the registrar compares
    # the CSeq value. If the value is higher than that of the existing binding, it MUST
    # update or remove the binding as above. If not, the update MUST be aborted and the
    # request fails." The failure is the 500 of the commit rule quoted in the docstring.
    if binding.call_id == ctx.call_id and ctx.cseq <= binding.cseq:
        raise _Refused(500, "Server Internal Error (CSeq out of order)")


def _wildcard(request: Request, ctx: _Context, current: list[Binding], tag: str) -> RegisterOutcome:
    # RFC 3261 §10.3 step 6: "If the request has additional Contact fields or an
    # expiration time other than zero, the request is invalid, and the server MUST
    # return a 400 (Invalid Request) and skip the remaining steps."
    if _contacts(request) or _header_expires(request) != 0:
        raise _Refused(400, "Bad Request (Contact: * needs Expires: 0 and no other Contact)")
    # "If it does agree, it MUST remove the binding only if the CSeq in the request is
    # higher than the value stored for that binding. Otherwise, the update MUST be
    # aborted and the request fails."
    for binding in current:
        _check_order(binding, ctx)
    return RegisterOutcome(response=_ok(request, [], ctx.now, tag, None), remove_all=True)


def _contact_expires(contact: NameAddr, header: int | None, policy: RegistrarPolicy) -> int:
    # RFC 3261 §10.3 step 6: "the expires parameter [...] If the field is not present,
    # the value of the Expires header field is used [...] If neither mechanism is used,
    # the registrar takes a locally-configured default value."
    text = contact.param("expires")
    if text is not None:
        text = text.strip()
        if not text.isdigit() or not text.isascii():
            raise _Refused(400, f"Bad Request (bad Contact expires {text!r})")
        requested = min(int(text), _MAX_DELTA)
    elif header is not None:
        requested = header
    else:
        requested = policy.default_expires
    # "If and only if the requested expiration interval is greater than zero AND
    # smaller than one hour AND less than a locally-configured minimum, the registrar
    # MAY reject the registration with a response of 423 (Interval Too Brief)."
    if 0 < requested < 3600 and requested < policy.min_expires:
        raise _Refused(423, None, (("min-expires", str(policy.min_expires)),))
    # "The registrar MAY choose an expiry less than the requested expiration interval."
    return min(requested, policy.max_expires)


def _contact_q(contact: NameAddr) -> float:
    text = contact.param("q")
    if text is None:
        return 1.0
    # RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    try:
        q = float(text)
    except ValueError:
        q = -1.0
    if not 0.0 <= q <= 1.0 or not text[:1].isdigit():
        raise _Refused(400, f"Bad Request (bad Contact q {text!r})")
    return q


def _instance(contact: NameAddr) -> str | None:
    value = contact.param("+sip.instance")
    return unquote_string(value) if value else None


def _requested(
    request: Request, contacts: list[NameAddr], policy: RegistrarPolicy
) -> dict[str, tuple[NameAddr, int]]:
    """Contact key -> (address, granted expires); a later duplicate of a URI wins."""
    header = _header_expires(request)
    out: dict[str, tuple[NameAddr, int]] = {}
    for contact in contacts:
        if not isinstance(contact.uri, SipUri):
            raise _Refused(400, f"Bad Request (Contact {contact.uri} is not a SIP URI)")
        out[str(contact.uri)] = (contact, _contact_expires(contact, header, policy))
    return out


def _match(key: str, instance: str | None, current: dict[str, Binding]) -> Binding | None:
    # RFC 3261 §10.3 step 7: "the registrar then searches the list of current bindings
    # using the URI comparison rules"; RFC 5626 §6: with +sip.instance the instance
    # identifies the binding, so a phone that moved (new address) replaces its old one.
    found = current.get(key)
    if found is None and instance is not None:
        found = next((b for b in current.values() if b.instance == instance), None)
    return found


def _update(
    request: Request,
    ctx: _Context,
    contacts: list[NameAddr],
    current_list: list[Binding],
    policy: RegistrarPolicy,
    tag: str,
) -> RegisterOutcome:
    requested = _requested(request, contacts, policy)
    current = {b.contact: b for b in current_list}
    result = dict(current)
    save: dict[str, Binding] = {}
    remove: list[str] = []
    for key, (contact, expires) in requested.items():
        instance = _instance(contact)
        old = _match(key, instance, current)
        if old is not None:
            _check_order(old, ctx)
            if old.contact != key or expires == 0:
                result.pop(old.contact, None)
                save.pop(old.contact, None)
                remove.append(old.contact)
        if expires == 0:
            result.pop(key, None)
            save.pop(key, None)
            continue
        binding = _binding(ctx, key, contact, expires, instance)
        result[key] = save[key] = binding
    remove.extend(_over_limit(result, save, policy))
    granted = next(iter(save.values())).expires_at - ctx.now if save else None
    remove = [c for c in dict.fromkeys(remove) if c not in save]
    response = _ok(request, list(result.values()), ctx.now, tag, granted)
    return RegisterOutcome(response=response, save=list(save.values()), remove=remove)


def _binding(
    ctx: _Context, key: str, contact: NameAddr, expires: int, instance: str | None
) -> Binding:
    return Binding(
        aor=ctx.aor,
        contact=key,
        source=ctx.source,
        transport=ctx.transport,
        expires_at=ctx.now + expires,
        call_id=ctx.call_id,
        cseq=ctx.cseq,
        q=_contact_q(contact),
        instance=instance,
        user_agent=ctx.user_agent,
    )


def _over_limit(
    result: dict[str, Binding], save: dict[str, Binding], policy: RegistrarPolicy
) -> list[str]:
    """Evict the bindings this request did not touch, soonest to lapse first.

    A phone behind NAT that re-registers from a new port without +sip.instance leaves
    its old binding behind; evicting the stalest keeps the AOR usable (Flexisip's
    `applyMaxAor` does the same). A request that alone names too many is refused.
    """
    if len(save) > policy.max_contacts:
        raise _Refused(403, f"Forbidden (more than {policy.max_contacts} contacts)")
    excess = len(result) - policy.max_contacts
    if excess <= 0:
        return []
    stale = sorted(
        (b for k, b in result.items() if k not in save), key=lambda b: (b.expires_at, b.contact)
    )
    evicted = [b.contact for b in stale[:excess]]
    for contact in evicted:
        del result[contact]
    return evicted


def _contact_value(binding: Binding, now: float) -> str:
    value = f"<{binding.contact}>;expires={binding.remaining(now)}"
    if binding.q != 1.0:
        value += f";q={binding.q:.3g}"
    if binding.instance is not None:
        value += f";+sip.instance={quote_string(binding.instance)}"
    return value


def _ok(
    request: Request, bindings: list[Binding], now: float, tag: str, granted: float | None
) -> Response:
    # RFC 3261 §10.3 step 8: "The response MUST contain Contact header field values
    # enumerating all current bindings. Each Contact value MUST feature an "expires"
    # parameter indicating its expiration interval chosen by the registrar."
    response = make_response(request, 200, to_tag=tag)
    for binding in sorted(bindings, key=binding_order):
        response.add("contact", _contact_value(binding, now))
    # NOT IMPLEMENTED: Date ("The response SHOULD include a Date header field"): the
    # core reads no clock; Expires carries the interval granted to the first contact.
    if granted is not None:
        response.add("expires", str(max(0, round(granted))))
    return response
