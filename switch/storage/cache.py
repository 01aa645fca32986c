"""Write-through cache of the location service.

The INVITE path reads bindings on every call; it must not wait on SQLite (or a
network store). Reads come from memory, writes go to memory and to the backing
store, which is read once at start-up. Several nodes sharing a store would
replace this with the shared store plus invalidation; the Protocol stays.
"""

from __future__ import annotations

from ..registration.location import Binding, LocationStore


class CachedLocationStore:
    def __init__(self, backing: LocationStore, now: float) -> None:
        self._backing = backing
        self._by_aor: dict[str, dict[str, Binding]] = {}
        for binding in backing.all_bindings(now):
            self._by_aor.setdefault(binding.aor, {})[binding.contact] = binding

    def bindings(self, aor: str, now: float) -> list[Binding]:
        table = self._by_aor.get(aor)
        if not table:
            return []
        return [b for b in table.values() if b.expires_at > now]

    def save(self, binding: Binding) -> None:
        self._by_aor.setdefault(binding.aor, {})[binding.contact] = binding
        self._backing.save(binding)

    def remove(self, aor: str, contact: str) -> None:
        table = self._by_aor.get(aor)
        if table is not None:
            table.pop(contact, None)
            if not table:
                del self._by_aor[aor]
        self._backing.remove(aor, contact)

    def remove_all(self, aor: str) -> None:
        self._by_aor.pop(aor, None)
        self._backing.remove_all(aor)

    def purge_expired(self, now: float) -> int:
        for aor in list(self._by_aor):
            table = self._by_aor[aor]
            for contact in [c for c, b in table.items() if b.expires_at <= now]:
                del table[contact]
            if not table:
                del self._by_aor[aor]
        return self._backing.purge_expired(now)

    def all_bindings(self, now: float) -> list[Binding]:
        return [b for t in self._by_aor.values() for b in t.values() if b.expires_at > now]
