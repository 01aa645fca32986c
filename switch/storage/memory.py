"""In-memory `LocationStore` and `StateStore` (for pure tests; nothing survives)."""

from __future__ import annotations

from ..registration.location import Binding, binding_order


class MemoryStore:
    """Both storage Protocols over plain dicts."""

    def __init__(self) -> None:
        self._bindings: dict[str, dict[str, Binding]] = {}
        self._kv: dict[str, dict[str, str]] = {}

    # -- LocationStore -------------------------------------------------------------
    def bindings(self, aor: str, now: float) -> list[Binding]:
        found = self._bindings.get(aor)
        if not found:
            return []
        return sorted((b for b in found.values() if b.expires_at > now), key=binding_order)

    def save(self, binding: Binding) -> None:
        self._bindings.setdefault(binding.aor, {})[binding.contact] = binding

    def remove(self, aor: str, contact: str) -> None:
        found = self._bindings.get(aor)
        if found is not None:
            found.pop(contact, None)
            if not found:
                del self._bindings[aor]

    def remove_all(self, aor: str) -> None:
        self._bindings.pop(aor, None)

    def purge_expired(self, now: float) -> int:
        purged = 0
        for aor in list(self._bindings):
            found = self._bindings[aor]
            for contact in [c for c, b in found.items() if b.expires_at <= now]:
                del found[contact]
                purged += 1
            if not found:
                del self._bindings[aor]
        return purged

    def all_bindings(self, now: float) -> list[Binding]:
        out = [b for found in self._bindings.values() for b in found.values() if b.expires_at > now]
        return sorted(out, key=binding_order)

    # -- StateStore ----------------------------------------------------------------
    def get(self, namespace: str, key: str) -> str | None:
        return self._kv.get(namespace, {}).get(key)

    def put(self, namespace: str, key: str, value: str) -> None:
        self._kv.setdefault(namespace, {})[key] = value

    def delete(self, namespace: str, key: str) -> None:
        found = self._kv.get(namespace)
        if found is not None:
            found.pop(key, None)

    def items(self, namespace: str) -> list[tuple[str, str]]:
        return sorted(self._kv.get(namespace, {}).items())

    def close(self) -> None:
        """Nothing to release; present so callers can treat every store alike."""
