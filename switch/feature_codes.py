"""Feature codes that change member state: hunt login/logout (*61/*62), block/unblock (*78/*79).

The dial string was already parsed and checked (password, membership) by
`routing/`; here the state changes, persistently, and the caller hears it: the
switch answers 200 OK, plays a short confirmation and hangs up (contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .call import Call
from .routing import HuntBlock, HuntLogin, HuntLogout, HuntUnblock

if TYPE_CHECKING:
    from .core import Switch


class FeatureCodes:
    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def apply(self, call: Call, decision: HuntLogin | HuntLogout | HuntBlock | HuntUnblock) -> None:
        state = self.switch.hunt_state
        match decision:
            case HuntLogin(customer=customer, group=group, extension=extension):
                state.set_logged_in(customer, group, extension, True)
            case HuntLogout(customer=customer, group=group, extension=extension):
                state.set_logged_in(customer, group, extension, False)
            case HuntBlock(customer=customer, extension=extension):
                state.set_blocked(customer, extension, True)
            case HuntUnblock(customer=customer, extension=extension):
                state.set_blocked(customer, extension, False)
        call.log.info("feature.applied", feature=type(decision).__name__,
                      **{k: getattr(decision, k) for k in decision.__struct_fields__})
        self.switch.mailbox.confirm(call)
