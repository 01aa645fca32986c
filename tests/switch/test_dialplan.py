"""The dial plan (`switch.routing.route`): one test per row of the dial plan table
(docs/BEHAVIOUR.md#dial-plan) and per routing row of its failure table.

Every test runs on two configurations: the reference file (tests/data/reference.yaml) and
`OTHER`, whose feature codes, pickup numbering, access codes, trunk prefixes and numbers all
differ from it (and where two customers even share a trunk prefix). The expected values come
from the `Plan` of each configuration, so a test passing on both shows the routing reads
every code from the directory, none from the reference.
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import pytest

from config import parse_config
from switch.directory import Directory
from switch.routing import (
    Caller,
    HuntBlock,
    HuntLogin,
    HuntLogout,
    HuntUnblock,
    OutboundTrunk,
    Pickup,
    Reject,
    RingCallingGroup,
    RingExtension,
    RingHuntGroup,
    Voicemail,
    route,
)

REFERENCE = pathlib.Path(__file__).resolve().parents[1] / "data" / "reference.yaml"

OTHER_YAML = """\
server:
  listen: [udp:127.0.0.1:5060]
features:
  pickup: "*8"
  pickup_numbering: "4X"
  hunt_login: "#1"
  hunt_logout: "#2"
  hunt_block: "#3"
  hunt_unblock: "#4"
  voicemail: "*9"
customer_groups:
  - name: west
    customers: [red, blue]
  - name: east
    customers: [blue, green]
customers:
  - name: red
    domain: red.example
    access_code: "71"
    user_groups:
      - {name: ops, allow_pickup: true}
      - {name: guests}
    extension_lists:
      - {name: desk, extensions: ["3001", "3002", "3003"]}
      - {name: back, extensions: ["3003", "3004"]}
    extensions:
      - {number: "3001", name: R1, password: p1, user_group: ops, voicemail: true}
      - {number: "3002", name: R2, password: p2, user_group: ops, voicemail: true}
      - {number: "3003", name: R3, password: p3, user_group: ops}
      - {number: "3004", name: R4, password: p4, user_group: ops, voicemail: true}
      - {number: "3005", name: R5, password: p5, user_group: guests}
    pickup_groups:
      - {name: desk, number: "41", extension_list: desk}
      - {name: back, number: "42", extension_list: back}
    hunt_groups:
      - name: queue
        number: "500"
        members: ["3002", "3003"]
        default: "3004"
      - name: night
        number: "501"
        strategy: round_robin
        type: dynamic
        password: "99*1"
        members: ["3001", "3004"]
    calling_groups:
      - {name: all, number: "600", members: ["3001", "3002", "3003"]}
    trunks:
      - name: red-out
        uri: sip:192.0.2.10:5060
        outbound_prefix: "0"
        inbound: {"+4420": "600", "+4421": "voicemail:3001", "+4422": "3005"}
      - name: red-intl
        uri: sip:192.0.2.11:5060
        outbound_prefix: "#9"
  - name: blue
    domain: blue.example
    access_code: "72"
    user_groups:
      - {name: all, allow_pickup: true}
    extensions:
      - {number: "3001", name: B1, password: b1, user_group: all, voicemail: true}
      - {number: "3002", name: B2, password: b2, user_group: all}
    hunt_groups:
      - {name: line, number: "520", members: ["3001", "3002"]}
    calling_groups:
      - {name: ring, number: "620", members: ["3001", "3002"]}
    trunks:
      - name: blue-out
        uri: sip:192.0.2.20:5060
        outbound_prefix: "0"
  - name: green
    domain: green.example
    access_code: "73"
    user_groups:
      - {name: all, allow_pickup: true}
    extensions:
      - {number: "3001", name: G1, password: g1, user_group: all}
    trunks:
      - name: green-out
        uri: sip:192.0.2.30:5060
        outbound_prefix: "8"
"""


class Plan(NamedTuple):
    """The values of one configuration the tests dial with."""

    directory: Directory
    customer: str
    caller: str  # allow_pickup, in pickup group `pgroup`, has voicemail, member of `dyn`
    buddy: str  # shares a pickup group with `caller`
    stranger: str  # extension sharing no pickup group with `caller`, not in `pgroup`
    no_pickup: str  # user group without allow_pickup, no voicemail
    hunt: str  # a static hunt group
    calling: str
    pickup: str
    pgroup: str
    unused_pickup_number: str  # inside pickup_numbering, no such group
    login: str
    logout: str
    block: str
    unblock: str
    voicemail: str
    dyn: str
    password: str
    non_member: str  # of `dyn`
    peer: str
    peer_code: str
    peer_ext: str
    peer_hunt: str | None
    peer_calling: str | None
    peer_prefix: str
    outside_code: str  # a customer outside the caller's customer groups
    outside_ext: str
    trunk: str
    prefix: str
    foreign_prefix: str  # another customer's trunk prefix, not one of the caller's
    inbound: dict[str, object]


def _reference() -> Plan:
    directory = Directory.build(parse_config(REFERENCE.read_text(), str(REFERENCE)))
    return Plan(
        directory=directory,
        customer="acme",
        caller="201",
        buddy="202",
        stranger="204",
        no_pickup="205",
        hunt="600",
        calling="700",
        pickup="**",
        pgroup="550",
        unused_pickup_number="551",
        login="*61",
        logout="*62",
        block="*78",
        unblock="*79",
        voicemail="*97",
        dyn="601",
        password="4321",
        non_member="202",
        peer="globex",
        peer_code="82",
        peer_ext="201",
        peer_hunt=None,
        peer_calling=None,
        peer_prefix="0",
        outside_code="83",
        outside_ext="201",
        trunk="acme-pstn",
        prefix="9",
        foreign_prefix="0",
        inbound={
            "+15550100": RingCallingGroup("acme", "700"),
            "+15550101": RingHuntGroup("acme", "600"),
        },
    )


def _other() -> Plan:
    directory = Directory.build(parse_config(OTHER_YAML, "other.yaml"))
    return Plan(
        directory=directory,
        customer="red",
        caller="3001",
        buddy="3002",
        stranger="3004",
        no_pickup="3005",
        hunt="500",
        calling="600",
        pickup="*8",
        pgroup="41",
        unused_pickup_number="43",
        login="#1",
        logout="#2",
        block="#3",
        unblock="#4",
        voicemail="*9",
        dyn="501",
        password="99*1",  # a '*' inside the password: only the first '*' separates
        non_member="3002",
        peer="blue",
        peer_code="72",
        peer_ext="3001",
        peer_hunt="520",
        peer_calling="620",
        peer_prefix="0",
        outside_code="73",
        outside_ext="3001",
        trunk="red-out",
        prefix="0",
        foreign_prefix="8",
        inbound={
            "+4420": RingCallingGroup("red", "600"),
            "+4421": Voicemail("red", "3001"),
            "+4422": RingExtension("red", "3005"),
        },
    )


@pytest.fixture(params=["reference", "other"], scope="module")
def plan(request: pytest.FixtureRequest) -> Plan:
    return _reference() if request.param == "reference" else _other()


def dial(p: Plan, dialed: str, who: str | None = None, customer: str | None = None) -> object:
    return route(dialed, Caller(customer or p.customer, who or p.caller), p.directory)


# --- own numbers -------------------------------------------------------------------------


def test_extension_rings_the_extension(plan: Plan) -> None:
    assert dial(plan, plan.buddy) == RingExtension(plan.customer, plan.buddy)


def test_hunt_group_number_hunts(plan: Plan) -> None:
    assert dial(plan, plan.hunt) == RingHuntGroup(plan.customer, plan.hunt)


def test_calling_group_number_rings_the_group(plan: Plan) -> None:
    assert dial(plan, plan.calling) == RingCallingGroup(plan.customer, plan.calling)


def test_pickup_group_number_is_not_dialable(plan: Plan) -> None:
    assert dial(plan, plan.pgroup) == Reject(404)


def test_numbers_are_per_customer(plan: Plan) -> None:
    """The same digits at the peer customer ring the peer's phone, not ours."""
    assert dial(plan, plan.peer_ext, "201" if plan.peer == "globex" else "3001", plan.peer) == (
        RingExtension(plan.peer, plan.peer_ext)
    )


# --- pickup ------------------------------------------------------------------------------


def test_pickup_code_alone_picks_up_in_my_groups(plan: Plan) -> None:
    assert dial(plan, plan.pickup) == Pickup("any", plan.customer, None)


def test_pickup_code_and_group_number(plan: Plan) -> None:
    assert dial(plan, plan.pickup + plan.pgroup) == Pickup("group", plan.customer, plan.pgroup)


def test_pickup_of_a_group_i_am_not_in_is_forbidden(plan: Plan) -> None:
    assert dial(plan, plan.pickup + plan.pgroup, plan.stranger) == Reject(403)


def test_pickup_code_and_extension_in_my_group(plan: Plan) -> None:
    assert dial(plan, plan.pickup + plan.buddy) == Pickup("extension", plan.customer, plan.buddy)


def test_directed_pickup_needs_a_shared_group(plan: Plan) -> None:
    assert dial(plan, plan.pickup + plan.stranger) == Reject(403)


@pytest.mark.parametrize("suffix", ["", "group", "extension"])
def test_pickup_without_allow_pickup_is_forbidden(plan: Plan, suffix: str) -> None:
    rest = {"": "", "group": plan.pgroup, "extension": plan.caller}[suffix]
    assert dial(plan, plan.pickup + rest, plan.no_pickup) == Reject(403)


def test_pickup_of_an_unknown_number_is_not_found(plan: Plan) -> None:
    assert dial(plan, plan.pickup + plan.unused_pickup_number) == Reject(404)
    assert dial(plan, plan.pickup + "1234") == Reject(404)


# --- hunt login / logout / block -----------------------------------------------------------


def test_hunt_login(plan: Plan) -> None:
    dialed = f"{plan.login}{plan.dyn}*{plan.password}"
    assert dial(plan, dialed) == HuntLogin(plan.customer, plan.dyn, plan.caller)


@pytest.mark.parametrize(
    "shape",
    ["wrong password", "no password", "no star", "non-member", "static group", "unknown group"],
)
def test_hunt_login_refused(plan: Plan, shape: str) -> None:
    who = plan.non_member if shape == "non-member" else plan.caller
    dialed = {
        "wrong password": f"{plan.login}{plan.dyn}*{plan.password}0",
        "no password": f"{plan.login}{plan.dyn}*",
        "no star": f"{plan.login}{plan.dyn}",
        "non-member": f"{plan.login}{plan.dyn}*{plan.password}",
        "static group": f"{plan.login}{plan.hunt}*{plan.password}",
        "unknown group": f"{plan.login}999*{plan.password}",
    }[shape]
    assert dial(plan, dialed, who) == Reject(403)


def test_hunt_logout(plan: Plan) -> None:
    assert dial(plan, plan.logout + plan.dyn) == HuntLogout(plan.customer, plan.dyn, plan.caller)


def test_hunt_logout_by_non_member_is_forbidden(plan: Plan) -> None:
    assert dial(plan, plan.logout + plan.dyn, plan.non_member) == Reject(403)
    assert dial(plan, plan.logout + plan.hunt) == Reject(403)


def test_hunt_block_and_unblock(plan: Plan) -> None:
    assert dial(plan, plan.block) == HuntBlock(plan.customer, plan.caller)
    assert dial(plan, plan.unblock) == HuntUnblock(plan.customer, plan.caller)
    assert dial(plan, plan.block + "1") == Reject(404)


# --- voicemail ---------------------------------------------------------------------------


def test_voicemail_code_reaches_my_own_box(plan: Plan) -> None:
    assert dial(plan, plan.voicemail) == Voicemail(plan.customer, plan.caller, "retrieve")


def test_voicemail_code_without_a_box_is_not_found(plan: Plan) -> None:
    assert dial(plan, plan.voicemail, plan.no_pickup) == Reject(404)
    assert dial(plan, plan.voicemail + plan.buddy) == Reject(404)


# --- customer groups -----------------------------------------------------------------------


def test_access_code_reaches_another_customers_extension(plan: Plan) -> None:
    assert dial(plan, plan.peer_code + plan.peer_ext) == RingExtension(plan.peer, plan.peer_ext)


def test_access_code_reaches_another_customers_groups(plan: Plan) -> None:
    if plan.peer_hunt is not None:
        assert dial(plan, plan.peer_code + plan.peer_hunt) == RingHuntGroup(
            plan.peer, plan.peer_hunt
        )
    if plan.peer_calling is not None:
        assert dial(plan, plan.peer_code + plan.peer_calling) == RingCallingGroup(
            plan.peer, plan.peer_calling
        )
    # and the reverse direction: the peer reaches our groups by our access code
    own_code = plan.directory.customer(plan.customer)
    assert own_code is not None and own_code.access_code is not None
    back = route(own_code.access_code + plan.hunt, Caller(plan.peer, plan.peer_ext), plan.directory)
    assert back == RingHuntGroup(plan.customer, plan.hunt)


def test_access_code_and_trunk_prefix_is_forbidden(plan: Plan) -> None:
    assert dial(plan, plan.peer_code + plan.peer_prefix + "5551234") == Reject(403)
    # nor may the caller's own prefix be smuggled behind the other customer's code
    assert dial(plan, plan.peer_code + plan.prefix + "5551234") == Reject(403)


def test_access_code_of_a_customer_outside_my_groups_is_forbidden(plan: Plan) -> None:
    assert dial(plan, plan.outside_code + plan.outside_ext) == Reject(403)


def test_access_code_and_unknown_number_is_not_found(plan: Plan) -> None:
    assert dial(plan, plan.peer_code + "1234") == Reject(404)
    assert dial(plan, plan.peer_code) == Reject(404)


def test_access_code_does_not_reach_pickup_groups(plan: Plan) -> None:
    own = plan.directory.customer(plan.customer)
    assert own is not None and own.access_code is not None
    got = route(own.access_code + plan.pgroup, Caller(plan.peer, plan.peer_ext), plan.directory)
    assert got == Reject(404)


def test_own_access_code_reaches_own_numbers(plan: Plan) -> None:
    own = plan.directory.customer(plan.customer)
    assert own is not None and own.access_code is not None
    assert dial(plan, own.access_code + plan.buddy) == RingExtension(plan.customer, plan.buddy)


# --- trunks ------------------------------------------------------------------------------


def test_trunk_prefix_goes_out_on_my_trunk_prefix_stripped(plan: Plan) -> None:
    assert dial(plan, plan.prefix + "5551234") == OutboundTrunk(
        plan.customer, plan.trunk, "5551234"
    )


def test_trunk_prefix_alone_is_not_found(plan: Plan) -> None:
    assert dial(plan, plan.prefix) == Reject(404)


def test_another_customers_trunk_prefix_is_not_mine(plan: Plan) -> None:
    assert dial(plan, plan.foreign_prefix + "5551234") == Reject(404)


def test_same_prefix_at_two_customers_uses_each_ones_own_trunk() -> None:
    p = _other()
    assert route("0123", Caller("red", "3001"), p.directory) == OutboundTrunk(
        "red", "red-out", "123"
    )
    assert route("0123", Caller("blue", "3001"), p.directory) == OutboundTrunk(
        "blue", "blue-out", "123"
    )
    assert route("#9123", Caller("red", "3001"), p.directory) == OutboundTrunk(
        "red", "red-intl", "123"
    )
    assert route("#9123", Caller("blue", "3001"), p.directory) == Reject(404)


def _trunk_caller(p: Plan) -> Caller:
    trunk = next(t for t in p.directory.trunks(p.customer) if t.inbound)
    return Caller(p.customer, None, trunk)


def test_trunk_inbound_numbers_go_to_their_targets(plan: Plan) -> None:
    caller = _trunk_caller(plan)
    for did, expected in plan.inbound.items():
        assert route(did, caller, plan.directory) == expected


@pytest.mark.parametrize("what", ["extension", "feature", "trunk prefix", "unknown", "empty"])
def test_anything_else_from_a_trunk_is_refused(plan: Plan, what: str) -> None:
    dialed = {
        "extension": plan.buddy,
        "feature": plan.pickup,
        "trunk prefix": plan.prefix + "5551234",
        "unknown": "+999",
        "empty": "",
    }[what]
    assert route(dialed, _trunk_caller(plan), plan.directory) == Reject(403)


# --- anything else -------------------------------------------------------------------------


@pytest.mark.parametrize("dialed", ["", "1", "1234", "#", "*", "+"])
def test_anything_else_is_not_found(plan: Plan, dialed: str) -> None:
    assert dial(plan, dialed) == Reject(404)


def test_reference_rows_spelled_out() -> None:
    """The dial plan table with the reference's own values, for the reader."""
    d = _reference().directory
    acme, globex = Caller("acme", "201"), Caller("globex", "201")
    assert route("**", acme, d) == Pickup("any", "acme", None)
    assert route("**550", acme, d) == Pickup("group", "acme", "550")
    assert route("**202", acme, d) == Pickup("extension", "acme", "202")
    assert route("*61601*4321", acme, d) == HuntLogin("acme", "601", "201")
    assert route("*62601", acme, d) == HuntLogout("acme", "601", "201")
    assert route("*78", acme, d) == HuntBlock("acme", "201")
    assert route("*79", acme, d) == HuntUnblock("acme", "201")
    assert route("*97", acme, d) == Voicemail("acme", "201", "retrieve")
    assert route("81201", globex, d) == RingExtension("acme", "201")
    assert route("81700", globex, d) == RingCallingGroup("acme", "700")
    assert route("8195551234", globex, d) == Reject(403)
    assert route("83201", acme, d) == Reject(403)
    assert route("95551234", acme, d) == OutboundTrunk("acme", "acme-pstn", "5551234")
    assert route("05551234", globex, d) == OutboundTrunk("globex", "globex-pstn", "5551234")
    assert route("05551234", acme, d) == Reject(404)
    assert route("550", acme, d) == Reject(404)
