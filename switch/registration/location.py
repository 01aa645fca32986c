"""The location service: bindings of an address-of-record to contact addresses.

RFC 3261 §10.2 calls it the "location service": "a location service [...] stores
bindings between an address-of-record and one or more contact addresses". This
module holds the data (`Binding`) and the storage interface (`LocationStore`); the
RFC 3261 §10.3 rules that decide what to store live in
`switch.registration.registrar`, which knows nothing of storage (Kamailio's registrar/usrloc
split: `registrar/save.c` against `usrloc/usrloc.h`).

Design notes:

- Storage knows nothing about SIP. A binding is a plain record keyed by
  (aor, contact); the contact is the Contact URI string as the registrar derived it.
- `expires_at` is wall-clock epoch seconds, not a monotonic reading: bindings
  survive a restart (docs/BEHAVIOUR.md, "Registration"), and a
  monotonic clock starts again at an arbitrary value in a new process. Every
  method that filters by expiry takes `now` in the same clock.
- Implementations: `switch.storage.memory.MemoryStore` (dicts, for pure tests) and
  `switch.storage.sqlite.SqliteStore` (the embedded default under `state_dir`).
  A shared store (for instance Redis: one hash per AOR keyed by contact plus a
  sorted set of expiry times for `purge_expired`, and one hash per namespace for
  `switch.storage.state_store.StateStore`) implements the same Protocols so that several
  nodes share registrations and feature state; nothing above this module changes.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

Address = tuple[str, int]


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """One registered contact of an address-of-record (RFC 3261 §10.3 step 7)."""

    aor: str
    """The address-of-record, "number@domain"."""
    contact: str
    """The Contact URI (without header parameters) as the phone sent it."""
    source: Address
    """Where the REGISTER came from (after rport/received): where to send requests."""
    transport: str
    """"UDP" or "TCP": the transport the REGISTER arrived on."""
    expires_at: float
    """Wall-clock epoch seconds at which the binding lapses."""
    call_id: str
    cseq: int
    q: float = 1.0
    instance: str | None = None
    """The +sip.instance value (RFC 5626 §4.1), unquoted, e.g. "<urn:uuid:...>"."""
    user_agent: str = ""

    def remaining(self, now: float) -> int:
        """Whole seconds left (for the `expires` Contact parameter); 1 while any is left."""
        left = self.expires_at - now
        if left <= 0:
            return 0
        return max(1, int(left + 0.5))


class LocationStore(Protocol):
    """Where bindings live. Storage only: no SIP rules here."""

    def bindings(self, aor: str, now: float) -> list[Binding]:
        """Unexpired bindings of `aor`, highest q first, then by contact."""
        ...

    def save(self, binding: Binding) -> None:
        """Insert or replace the binding keyed by (binding.aor, binding.contact)."""
        ...

    def remove(self, aor: str, contact: str) -> None: ...

    def remove_all(self, aor: str) -> None: ...

    def purge_expired(self, now: float) -> int:
        """Delete every binding with expires_at <= now; return how many were deleted."""
        ...

    def all_bindings(self, now: float) -> list[Binding]:
        """Every unexpired binding of every AOR, ordered by aor then as `bindings`."""
        ...


def binding_order(binding: Binding) -> tuple[str, float, str]:
    """Sort key shared by every store: aor, then highest q first, then contact."""
    return (binding.aor, -binding.q, binding.contact)
