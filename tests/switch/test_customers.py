"""Customers, customer groups and trunks (`switch.routing.customers` and the dial plan).

Behaviour (docs/BEHAVIOUR.md): access code + extension/group reaches another customer of
the same customer group;
an access code of a customer outside the caller's groups, and access code + trunk prefix, are
403; trunk prefix + number leaves on the caller's own customer's trunk with the prefix
stripped; a call never leaves on another customer's trunk. The properties dial random strings
built from every code, prefix and number of two different configurations, from every phone
and every trunk.
"""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import parse_config
from switch.directory import CallingGroup, Directory, Extension, HuntGroup, ToNumber
from switch.routing import (
    Caller,
    OutboundTrunk,
    Reject,
    RingCallingGroup,
    RingExtension,
    RingHuntGroup,
    Voicemail,
    own_trunk,
    resolve_target,
    route,
    trunk_allowed,
)
from switch.routing.customers import access_code_customer

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"

# Three customers in a chain of customer groups (red-blue, blue-green): reaching is not
# transitive. red and blue share the trunk prefix "0".
OTHER_YAML = """\
server:
  listen: [udp:127.0.0.1:5060]
features: {pickup: "*8", pickup_numbering: "4X", hunt_login: "#1", hunt_logout: "#2",
           hunt_block: "#3", hunt_unblock: "#4", voicemail: "*9"}
customer_groups:
  - {name: west, customers: [red, blue]}
  - {name: east, customers: [blue, green]}
customers:
  - name: red
    domain: red.example
    access_code: "71"
    user_groups: [{name: ops, allow_pickup: true}]
    extensions:
      - {number: "3001", name: R1, password: p1, user_group: ops, voicemail: true,
         coverage: {busy: "0555", no_answer: "voicemail"}}
      - {number: "3002", name: R2, password: p2, user_group: ops}
    hunt_groups:
      - {name: q, number: "500", members: ["3001", "3002"], coverage: {no_answer: "#90777"}}
    trunks:
      - {name: red-out, uri: "sip:192.0.2.10:5060", outbound_prefix: "0",
         inbound: {"+4420": "500", "+4421": "voicemail:3001"}}
      - {name: red-intl, uri: "sip:192.0.2.11", outbound_prefix: "#9"}
  - name: blue
    domain: blue.example
    access_code: "72"
    user_groups: [{name: ops}]
    extensions:
      - {number: "3001", name: B1, password: b1, user_group: ops}
      - {number: "600", name: B2, password: b2, user_group: ops}
    calling_groups:
      - {name: ring, number: "620", members: ["3001", "600"], coverage: {no_answer: "0999"}}
    trunks:
      - {name: blue-out, uri: "sip:192.0.2.20:5060", outbound_prefix: "0",
         inbound: {"+4430": "620"}}
  - name: green
    domain: green.example
    access_code: "73"
    user_groups: [{name: ops}]
    extensions:
      - {number: "3001", name: G1, password: g1, user_group: ops}
    trunks:
      - {name: green-out, uri: "sip:192.0.2.30:5060", outbound_prefix: "8"}
      - {name: green-in, uri: "sip:192.0.2.31:5060", inbound: {"+4440": "3001"}}
"""

REF = Directory.build(parse_config(REFERENCE.read_text(), str(REFERENCE)))
OTHER = Directory.build(parse_config(OTHER_YAML, "other.yaml"))


def test_trunk_allowed_only_for_its_own_customer() -> None:
    for d in (REF, OTHER):
        for customer in d.customers:
            for trunk in d.trunks(customer.name):
                for other in d.customers:
                    assert trunk_allowed(other.name, trunk) == (other.name == customer.name)


def test_own_trunk_never_finds_another_customers_trunk() -> None:
    red_out = own_trunk(OTHER, "red", "red-out")
    assert red_out is not None and red_out.customer == "red"
    assert own_trunk(OTHER, "blue", "red-out") is None
    assert own_trunk(REF, "globex", "acme-pstn") is None


def test_access_code_resolution() -> None:
    found = access_code_customer("723001", OTHER)
    assert found is not None and (found[0].name, found[1]) == ("blue", "3001")
    assert access_code_customer("3001", OTHER) is None


def test_customer_groups_are_not_transitive() -> None:
    red, blue, green = Caller("red", "3001"), Caller("blue", "3001"), Caller("green", "3001")
    assert route("723001", red, OTHER) == RingExtension("blue", "3001")
    assert route("733001", blue, OTHER) == RingExtension("green", "3001")
    assert route("733001", red, OTHER) == Reject(403)  # green shares no group with red
    assert route("713001", green, OTHER) == Reject(403)
    assert route("72620", red, OTHER) == RingCallingGroup("blue", "620")
    assert route("71500", blue, OTHER) == RingHuntGroup("red", "500")


def test_access_code_and_trunk_prefix_is_refused() -> None:
    assert route("7205551", Caller("red", "3001"), OTHER) == Reject(403)
    assert route("71#9555", Caller("blue", "3001"), OTHER) == Reject(403)
    assert route("7105551", Caller("blue", "3001"), OTHER) == Reject(403)
    assert route("8195551234", Caller("globex", "201"), REF) == Reject(403)
    assert route("8205551234", Caller("acme", "201"), REF) == Reject(403)


def test_numbers_that_look_like_a_peers_extension_stay_at_home() -> None:
    """blue has an extension "600" and red a hunt group "500": no leaking across."""
    assert route("600", Caller("red", "3001"), OTHER) == Reject(404)
    assert route("72600", Caller("red", "3001"), OTHER) == RingExtension("blue", "600")


def test_outbound_prefix_is_stripped_on_the_callers_own_trunk() -> None:
    assert route("0555", Caller("red", "3002"), OTHER) == OutboundTrunk("red", "red-out", "555")
    assert route("0555", Caller("blue", "600"), OTHER) == OutboundTrunk("blue", "blue-out", "555")
    assert route("#9555", Caller("red", "3002"), OTHER) == OutboundTrunk("red", "red-intl", "555")
    assert route("8555", Caller("green", "3001"), OTHER) == OutboundTrunk(
        "green", "green-out", "555"
    )
    assert route("8555", Caller("red", "3001"), OTHER) == Reject(404)


def test_inbound_from_each_trunk_resolves_in_its_own_customer() -> None:
    def from_trunk(customer: str, name: str) -> Caller:
        trunk = own_trunk(OTHER, customer, name)
        assert trunk is not None
        return Caller(customer, None, trunk)

    assert route("+4420", from_trunk("red", "red-out"), OTHER) == RingHuntGroup("red", "500")
    assert route("+4421", from_trunk("red", "red-out"), OTHER) == Voicemail("red", "3001")
    assert route("+4430", from_trunk("blue", "blue-out"), OTHER) == RingCallingGroup("blue", "620")
    assert route("+4440", from_trunk("green", "green-in"), OTHER) == RingExtension("green", "3001")
    # another trunk's DID is not this trunk's
    assert route("+4430", from_trunk("red", "red-out"), OTHER) == Reject(403)
    assert route("+4420", from_trunk("red", "red-intl"), OTHER) == Reject(403)


def test_coverage_to_a_number_behind_a_trunk_uses_the_owners_trunk() -> None:
    assert resolve_target("red", ToNumber(number="0555"), OTHER) == OutboundTrunk(
        "red", "red-out", "555"
    )
    assert resolve_target("blue", ToNumber(number="0999"), OTHER) == OutboundTrunk(
        "blue", "blue-out", "999"
    )
    assert resolve_target("green", ToNumber(number="0555"), OTHER) == Reject(404)
    assert resolve_target("red", ToNumber(number="0555"), OTHER, allow_trunk=False) == Reject(404)


# --- properties ------------------------------------------------------------------------------


def _tokens(d: Directory) -> list[str]:
    """Every code, prefix and number of the configuration: the pieces dial strings are made of."""
    f = d.features
    tokens = [f.pickup, f.hunt_login, f.hunt_logout, f.hunt_block, f.hunt_unblock, f.voicemail]
    for c in d.customers:
        tokens += [c.access_code] if c.access_code else []
        tokens += [e.number for e in d.extensions(c.name)]
        tokens += [g.number for g in d.hunt_groups(c.name)]
        tokens += [g.number for g in d.calling_groups(c.name)]
        tokens += [g.number for g in d.pickup_groups(c.name)]
        for t in d.trunks(c.name):
            tokens += [t.outbound_prefix] if t.outbound_prefix else []
            tokens += [did for did, _ in t.inbound]
    return tokens


def _callers(d: Directory) -> list[Caller]:
    callers = [Caller(c.name, e.number) for c in d.customers for e in d.extensions(c.name)]
    callers += [Caller(c.name, None, t) for c in d.customers for t in d.trunks(c.name)]
    return callers


def dial_strings(d: Directory) -> st.SearchStrategy[str]:
    piece = st.sampled_from(_tokens(d)) | st.text(alphabet="0123456789*#+", max_size=6)
    return st.lists(piece, max_size=4).map("".join)


def _check_never_foreign(d: Directory, dialed: str, caller: Caller) -> None:
    decision = route(dialed, caller, d)
    if isinstance(decision, OutboundTrunk):
        assert decision.customer == caller.customer
        trunk = own_trunk(d, caller.customer, decision.trunk)
        assert trunk is not None and trunk_allowed(caller.customer, trunk)
        assert caller.from_trunk is None  # nothing from a trunk goes back out on one
    if isinstance(decision, RingExtension | RingHuntGroup | RingCallingGroup):
        reachable = {caller.customer} | d.customer_group_peers(caller.customer)
        assert decision.customer in reachable
        if caller.from_trunk is not None:
            assert decision.customer == caller.from_trunk.customer


@pytest.mark.parametrize("name", ["reference", "other"])
@settings(max_examples=300)
@given(data=st.data())
def test_a_call_never_leaves_on_another_customers_trunk(name: str, data: st.DataObject) -> None:
    d = REF if name == "reference" else OTHER
    dialed = data.draw(dial_strings(d), label="dialed")
    for caller in _callers(d):
        _check_never_foreign(d, dialed, caller)


@pytest.mark.parametrize("name", ["reference", "other"])
def test_no_coverage_target_leaves_on_another_customers_trunk(name: str) -> None:
    d = REF if name == "reference" else OTHER
    for c in d.customers:
        owners: list[Extension | HuntGroup | CallingGroup] = [
            *d.extensions(c.name),
            *d.hunt_groups(c.name),
            *d.calling_groups(c.name),
        ]
        for owner in owners:
            cov = owner.coverage
            for target in () if cov is None else (cov.busy, cov.no_answer):
                if target is None:
                    continue
                decision = resolve_target(c.name, target, d)
                if isinstance(decision, OutboundTrunk):
                    assert decision.customer == c.name
                    assert own_trunk(d, c.name, decision.trunk) is not None
