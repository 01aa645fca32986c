"""Member feature codes: hunt login/logout and block/unblock (`*61`/`*62`/`*78`/`*79` by default).

The dial string was parsed and checked (password, membership) by `routing/`; here the
member's state changes, persistently (`storage.hunt_state`), and the caller hears it:
the switch answers, plays a short confirmation and hangs up (docs/BEHAVIOUR.md,
"Feature codes").
"""

from __future__ import annotations

from ..calls.call import Call
from ..routing import HuntBlock, HuntLogin, HuntLogout, HuntUnblock
from ..storage.hunt_state import HuntState
from .local_answer import LocalAnswer

MemberCode = HuntLogin | HuntLogout | HuntBlock | HuntUnblock


class MemberCodes:
    def __init__(self, *, state: HuntState, local: LocalAnswer) -> None:
        self._state = state
        self._local = local

    def apply(self, call: Call, decision: MemberCode, now: float) -> None:
        state = self._state
        match decision:
            case HuntLogin(customer=customer, group=group, extension=extension):
                state.set_logged_in(customer, group, extension, True)
            case HuntLogout(customer=customer, group=group, extension=extension):
                state.set_logged_in(customer, group, extension, False)
            case HuntBlock(customer=customer, extension=extension):
                state.set_blocked(customer, extension, True)
            case HuntUnblock(customer=customer, extension=extension):
                state.set_blocked(customer, extension, False)
        fields = {k: getattr(decision, k) for k in decision.__struct_fields__}
        call.log.info("feature.applied", feature=type(decision).__name__, **fields)
        self._local.confirm(call, now)
