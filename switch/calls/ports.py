"""What the call engine offers the features: the call book and the ringing controls.

- `CallBook`: `switch.core.Switch`'s call index (features that act on another call: pickup);
- `RingControl`: `switch.calls.ringing.Ringer` (forks, ring deadlines, coverage).
"""

from __future__ import annotations

from typing import Protocol

from ..routing.coverage import CoverageReason
from .call import Call
from .line_state import ExtensionKey
from .ring_step import StepOwner


class CallBook(Protocol):
    """The calls in progress, for features that act on another call (pickup)."""

    def active_calls(self) -> list[Call]: ...
    def find(self, call_id: str) -> Call | None: ...
    def transfer_index(self, donor: Call, to: Call) -> None: ...


class RingControl(Protocol):
    """How a feature rings phones and moves a call on (`calls.ringing.Ringer`)."""

    def ring_owner(
        self,
        call: Call,
        owner: StepOwner,
        customer: str,
        targets: list[ExtensionKey],
        seconds: float | None,
        hops: int,
        now: float,
    ) -> None: ...
    def ring_extensions(self, call: Call, targets: list[ExtensionKey], now: float) -> bool: ...
    def arm(self, call: Call, seconds: float | None, now: float) -> None: ...
    def fall_back(
        self, call: Call, reason: CoverageReason, now: float, responses: list[int] | None = None
    ) -> bool: ...
