"""Call legs: the two sides of a B2BUA call, each one dialog usage.

The inbound leg is the caller's INVITE server transaction and, once we answer or
send a tagged provisional, the UAS dialog. An outbound leg is one INVITE client
transaction to one contact of a callee and, once it answers, the UAC dialog.
Each leg remembers the flow it came from or goes to (`peer`): in-dialog requests
follow that flow, not the Contact URI, so phones behind NAT and phones on TCP
connections keep working (RFC 5626's idea without the Path machinery).
"""

from __future__ import annotations

import enum

from sipstack.dialog import Dialog
from sipstack.message import Request
from sipstack.transport import Address, Transport

from .line_state import ExtensionKey
from .session_timer import LegRefresh, allows_update

Peer = tuple[Address, Transport]


class ForkState(enum.Enum):
    TRYING = "trying"
    RINGING = "ringing"
    ANSWERED = "answered"
    CANCELLING = "cancelling"
    FAILED = "failed"


class InboundLeg:
    __slots__ = (
        "invite",
        "tx_id",
        "peer",
        "local_tag",
        "dialog",
        "caller",
        "final_sent",
        "early_tags",
        "refresh",
    )

    def __init__(
        self, invite: Request, tx_id: str, peer: Peer, local_tag: str, caller: ExtensionKey | None
    ) -> None:
        self.invite = invite
        self.tx_id = tx_id
        self.peer = peer
        self.local_tag = local_tag
        self.dialog: Dialog | None = None
        self.caller = caller
        self.final_sent = False
        # the to-tags of the early dialogs our tagged provisionals made (one per fork that
        # sent one); the 2xx confirms one of them and `local_tag` becomes that tag
        self.early_tags: set[str] = set()
        self.refresh = LegRefresh()  # the session timer of the caller's dialog
        self.refresh.allows_update = allows_update(invite)

    def has_dialog_tag(self, tag: str | None) -> bool:
        """Is `tag` the to-tag of this leg's dialog, confirmed or early?"""
        return tag == self.local_tag or tag in self.early_tags


class OutboundLeg:
    __slots__ = (
        "invite",
        "tx_id",
        "peer",
        "callee",
        "dialog",
        "state",
        "last_status",
        "started_at",
        "caller_tag",
        "refresh",
    )

    def __init__(
        self, invite: Request, peer: Peer, callee: ExtensionKey | None, started_at: float = 0.0
    ) -> None:
        self.invite = invite
        self.started_at = started_at
        self.tx_id = ""
        self.peer = peer
        self.callee = callee
        self.dialog: Dialog | None = None
        self.state = ForkState.TRYING
        self.last_status = 0
        # the To tag this fork's answers reach the caller with, once it has answered
        # (early media or 2xx); see `Call._caller_tag`
        self.caller_tag = ""
        self.refresh = LegRefresh()  # the session timer of this fork's dialog, once answered
        self.refresh.last_sdp = invite.body
