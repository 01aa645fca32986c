"""Feature codes (docs/BEHAVIOUR.md#feature-code-keys: `**`, `*61`, `*62`, `*78`, `*79`,
`*97` in the reference; the codes themselves always come from the configuration's `features:`).

A feature code is dialled as the start of the number. The longest configured code that starts
the dialled string wins (the checker keeps codes from being prefixes of one another, so this only
matters for an unchecked configuration). What follows the code is handed to the feature's own
module: pickup to `pickup.py`, hunt login/logout/block to `hunt.py`; the voicemail code is here.
"""

from __future__ import annotations

from typing import assert_never

from config.schema import FeatureKey

from ..directory import Directory, FeatureCodes
from .decisions import Caller, Reject, RouteDecision, Voicemail
from .hunt import hunt_block, hunt_login, hunt_logout
from .pickup import pickup_request

__all__ = ["FeatureKey", "match_feature", "route_feature"]


def match_feature(dialed: str, features: FeatureCodes) -> tuple[FeatureKey, str] | None:
    """(feature, what follows its code) for the longest code starting `dialed`."""
    best: tuple[FeatureKey, str] | None = None
    best_len = 0
    for key, code in features.codes():
        if code and dialed.startswith(code) and len(code) > best_len:
            best, best_len = (key, dialed[len(code) :]), len(code)
    return best


def route_feature(dialed: str, caller: Caller, directory: Directory) -> RouteDecision | None:
    """The decision for a feature code dialled by a phone; None if `dialed` starts with none."""
    found = match_feature(dialed, directory.features)
    if found is None:
        return None
    key, rest = found
    match key:
        case "pickup":
            return pickup_request(rest, caller, directory)
        case "hunt_login":
            return hunt_login(rest, caller, directory)
        case "hunt_logout":
            return hunt_logout(rest, caller, directory)
        case "hunt_block":
            return hunt_block(rest, caller, directory, block=True)
        case "hunt_unblock":
            return hunt_block(rest, caller, directory, block=False)
        case "voicemail":
            return _own_voicemail(rest, caller, directory)
        case _:
            assert_never(key)


def _own_voicemail(rest: str, caller: Caller, directory: Directory) -> Voicemail | Reject:
    """The caller's own box; an extension without `voicemail: true` has none (404)."""
    if rest or caller.extension is None:
        return Reject(404)
    extension = directory.extension(caller.customer, caller.extension)
    if extension is None or not extension.voicemail:
        return Reject(404)
    return Voicemail(caller.customer, extension.number, "retrieve")
