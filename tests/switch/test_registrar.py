"""The registrar: RFC 3261 §10.3 steps 5-8 over a LocationStore.

Requirements covered: add / refresh / remove a binding; Contact `*` only with
Expires: 0 and alone (400 otherwise); per-contact expiry from the contact parameter,
the Expires header or the default; 423 with Min-Expires; clamping to the maximum;
the Call-ID/CSeq ordering rule (500, nothing changed); query without Contact; the
200 lists every binding with its remaining expiry; +sip.instance replacement;
contact limit; malformed values -> 400; a real pyVoIP 1.6.8 REGISTER; and a
stateful property against a dict model.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sipstack.message import Request, Response
from sipstack.parse import parse_message
from sipstack.uri import parse_uri
from switch.registration.location import Binding
from switch.registration.registrar import (
    RegisterOutcome,
    RegistrarPolicy,
    apply_outcome,
    default_to_tag,
    process_register,
)
from switch.storage import MemoryStore

AOR = "201@acme.example"
SOURCE = ("192.0.2.10", 5062)
POLICY = RegistrarPolicy()
NOW = 1_700_000_000.0


def register(
    *contacts: str,
    expires: str | None = None,
    call_id: str = "call-1",
    cseq: int = 1,
    extra: tuple[tuple[str, str], ...] = (),
) -> Request:
    headers = [
        ("via", "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKabc;rport"),
        ("from", f"<sip:{AOR}>;tag=f1"),
        ("to", f"<sip:{AOR}>"),
        ("call-id", call_id),
        ("cseq", f"{cseq} REGISTER"),
        ("user-agent", "TestPhone 1.0"),
    ]
    headers += [("contact", c) for c in contacts]
    if expires is not None:
        headers.append(("expires", expires))
    headers += list(extra)
    return Request("REGISTER", parse_uri("sip:acme.example"), headers)


def run(
    request: Request,
    existing: list[Binding] | None = None,
    now: float = NOW,
    policy: RegistrarPolicy = POLICY,
) -> RegisterOutcome:
    return process_register(request, AOR, existing or [], SOURCE, "UDP", policy, now)


def bound(
    contact: str = "sip:201@192.0.2.10:5062",
    expires_at: float = NOW + 100,
    call_id: str = "call-1",
    cseq: int = 1,
    instance: str | None = None,
) -> Binding:
    return Binding(
        aor=AOR, contact=contact, source=SOURCE, transport="UDP", expires_at=expires_at,
        call_id=call_id, cseq=cseq, instance=instance,
    )  # fmt: skip


def contacts_of(response: Response) -> list[str]:
    return response.get_all("contact")


# -- adding, refreshing, removing ----------------------------------------------------


def test_first_registration() -> None:
    out = run(register("<sip:201@192.0.2.10:5062>;q=0.7", expires="600"))
    assert out.response.status == 200
    assert out.response.to.tag == default_to_tag(register())
    assert out.remove == [] and not out.remove_all
    assert out.save == [
        Binding(
            aor=AOR,
            contact="sip:201@192.0.2.10:5062",
            source=SOURCE,
            transport="UDP",
            expires_at=NOW + 600,
            call_id="call-1",
            cseq=1,
            q=0.7,
            instance=None,
            user_agent="TestPhone 1.0",
        )  # fmt: skip
    ]
    assert contacts_of(out.response) == ["<sip:201@192.0.2.10:5062>;expires=600;q=0.7"]
    assert out.response.get("expires") == "600"


def test_to_tag_can_be_given() -> None:
    out = process_register(register("<sip:a@h>"), AOR, [], SOURCE, "TCP", POLICY, NOW, to_tag="xyz")
    assert out.response.to.tag == "xyz"
    assert out.save[0].transport == "TCP"


def test_contact_param_wins_over_header_and_default() -> None:
    out = run(register("<sip:a@h>;expires=120", "<sip:b@h>", expires="300"))
    assert [b.expires_at - NOW for b in out.save] == [120, 300]
    out = run(register("<sip:a@h>"))
    assert out.save[0].expires_at == NOW + POLICY.default_expires


def test_interval_too_brief() -> None:
    out = run(register("<sip:a@h>", expires="59"))
    assert out.response.status == 423
    assert out.response.get("min-expires") == "60"
    assert out.response.to.tag is not None
    assert out.save == [] and out.remove == []
    out = run(register("<sip:a@h>;expires=1", "<sip:b@h>", expires="600"))
    assert out.response.status == 423 and out.save == []


def test_too_long_is_clamped() -> None:
    out = run(register("<sip:a@h>", expires="86400"))
    assert out.save[0].expires_at == NOW + 3600
    assert contacts_of(out.response) == ["<sip:a@h>;expires=3600"]
    huge = run(register("<sip:a@h>;expires=99999999999999"))
    assert huge.save[0].expires_at == NOW + 3600


def test_refresh_lists_all_bindings_with_remaining_time() -> None:
    other = bound("sip:201@198.51.100.3", expires_at=NOW + 42.2, call_id="x")
    mine = bound(cseq=1)
    out = run(register(f"<{mine.contact}>", expires="600", cseq=2), [mine, other])
    assert out.response.status == 200
    assert [b.cseq for b in out.save] == [2]
    assert sorted(contacts_of(out.response)) == [
        "<sip:201@192.0.2.10:5062>;expires=600",
        "<sip:201@198.51.100.3>;expires=42",
    ]


def test_expires_zero_removes_one_contact() -> None:
    keep = bound("sip:keep@h", call_id="other")
    gone = bound("sip:gone@h")
    out = run(register("<sip:gone@h>;expires=0", cseq=2), [keep, gone])
    assert out.response.status == 200
    assert out.save == [] and out.remove == ["sip:gone@h"]
    assert contacts_of(out.response) == ["<sip:keep@h>;expires=100"]
    assert out.response.get("expires") is None


def test_expires_zero_of_unknown_contact_is_harmless() -> None:
    out = run(register("<sip:never@h>", expires="0"))
    assert out.response.status == 200 and out.save == [] and out.remove == []
    assert contacts_of(out.response) == []


def test_query_without_contact() -> None:
    existing = [bound("sip:a@h"), bound("sip:b@h", expires_at=NOW - 1)]
    out = run(register(), existing)
    assert out.response.status == 200
    assert out.save == [] and out.remove == [] and not out.remove_all
    assert contacts_of(out.response) == ["<sip:a@h>;expires=100"]


# -- Contact: * ----------------------------------------------------------------------


def test_wildcard_removes_all() -> None:
    out = run(register("*", expires="0", call_id="new", cseq=1), [bound(cseq=7)])
    assert out.response.status == 200 and out.remove_all
    assert contacts_of(out.response) == []


@pytest.mark.parametrize(
    ("contacts", "expires"),
    [(("*",), None), (("*",), "3600"), (("*", "<sip:a@h>"), "0")],
)
def test_wildcard_misuse_is_400(contacts: tuple[str, ...], expires: str | None) -> None:
    out = run(register(*contacts, expires=expires), [bound()])
    assert out.response.status == 400
    assert not out.remove_all and out.save == []


def test_wildcard_obeys_cseq_rule() -> None:
    out = run(register("*", expires="0", call_id="call-1", cseq=3), [bound(cseq=3)])
    assert out.response.status == 500 and not out.remove_all
    out = run(register("*", expires="0", call_id="call-1", cseq=4), [bound(cseq=3)])
    assert out.response.status == 200 and out.remove_all


# -- Call-ID / CSeq ordering ---------------------------------------------------------


@pytest.mark.parametrize("cseq", [4, 5])
def test_same_call_id_not_higher_cseq_fails(cseq: int) -> None:
    out = run(register("<sip:201@192.0.2.10:5062>", cseq=cseq), [bound(cseq=5)])
    assert out.response.status == 500
    assert out.save == [] and out.remove == [] and not out.remove_all


def test_other_call_id_may_have_any_cseq() -> None:
    out = run(register("<sip:201@192.0.2.10:5062>", call_id="reboot", cseq=1), [bound(cseq=9)])
    assert out.response.status == 200 and out.save[0].call_id == "reboot"


def test_expired_binding_does_not_block() -> None:
    out = run(register("<sip:201@192.0.2.10:5062>", cseq=1), [bound(cseq=9, expires_at=NOW)])
    assert out.response.status == 200


def test_failure_on_one_contact_aborts_all() -> None:
    existing = [bound("sip:old@h", cseq=5)]
    out = run(register("<sip:new@h>", "<sip:old@h>", cseq=5), existing)
    assert out.response.status == 500 and out.save == []


# -- +sip.instance and limits --------------------------------------------------------


def test_instance_replaces_old_contact() -> None:
    inst = '"<urn:uuid:0000-1>"'
    old = bound("sip:201@10.0.0.1:5060", instance="<urn:uuid:0000-1>")
    out = run(register(f"<sip:201@10.0.0.2:5060>;+sip.instance={inst}", call_id="x"), [old])
    assert out.response.status == 200
    assert out.remove == ["sip:201@10.0.0.1:5060"]
    assert [b.contact for b in out.save] == ["sip:201@10.0.0.2:5060"]
    assert out.save[0].instance == "<urn:uuid:0000-1>"
    assert contacts_of(out.response) == [
        '<sip:201@10.0.0.2:5060>;expires=3600;+sip.instance="<urn:uuid:0000-1>"'
    ]


def test_contact_limit_evicts_stalest_untouched() -> None:
    policy = RegistrarPolicy(max_contacts=2)
    existing = [bound("sip:a@h", NOW + 10, "x"), bound("sip:b@h", NOW + 20, "y")]
    out = run(register("<sip:c@h>", call_id="z"), existing, policy=policy)
    assert out.response.status == 200
    assert out.remove == ["sip:a@h"]
    assert len(contacts_of(out.response)) == 2


def test_too_many_contacts_in_one_request() -> None:
    policy = RegistrarPolicy(max_contacts=2)
    out = run(register("<sip:a@h>", "<sip:b@h>", "<sip:c@h>"), policy=policy)
    assert out.response.status == 403 and out.save == []


def test_duplicate_contact_in_request_last_wins() -> None:
    out = run(register("<sip:a@h>;expires=100", "<sip:a@h>;expires=200"))
    assert [b.expires_at - NOW for b in out.save] == [200]


# -- malformed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contacts", "expires"),
    [
        (("<sip:a@h>;expires=soon",), None),
        (("<sip:a@h>;q=2",), None),
        (("<sip:a@h>;q=high",), None),
        (("<sip:a@h>",), "-5"),
        (("<tel:+15551234>",), None),
        (("<sip:a@h",), None),
    ],
)
def test_malformed_is_400(contacts: tuple[str, ...], expires: str | None) -> None:
    out = run(register(*contacts, expires=expires))
    assert out.response.status == 400
    assert out.response.reason.startswith("Bad Request (")
    assert out.save == []


def test_missing_cseq_is_400() -> None:
    request = register("<sip:a@h>")
    request.remove("cseq")
    assert run(request).response.status == 400


# -- a real phone --------------------------------------------------------------------

PYVOIP_REGISTER = (
    b"REGISTER sip:acme.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK3c1f0e7a4b;rport\r\n"
    b'From: "201" <sip:201@acme.example>;tag=4f2a1b3c\r\n'
    b'To: "201" <sip:201@acme.example>\r\n'
    b"Call-ID: 6a7d1c0e3b2f4a5d@192.0.2.10:5062\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:201@192.0.2.10:5062;transport=UDP>;"
    b'+sip.instance="<urn:uuid:5f0b1a2c-3d4e-5f60-7a8b-9c0d1e2f3a4b>"\r\n'
    b"Allow: INVITE, ACK, BYE, CANCEL\r\n"
    b"Max-Forwards: 70\r\n"
    b"Allow-Events: org.3gpp.nwinitdereg\r\n"
    b"User-Agent: pyVoIP 1.6.8\r\n"
    b"Expires: 120\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_pyvoip_register_and_deregister() -> None:
    request = parse_message(PYVOIP_REGISTER)
    assert isinstance(request, Request)
    out = run(request)
    assert out.response.status == 200
    (saved,) = out.save
    assert saved.contact == "sip:201@192.0.2.10:5062;transport=UDP"
    assert saved.instance == "<urn:uuid:5f0b1a2c-3d4e-5f60-7a8b-9c0d1e2f3a4b>"
    assert saved.user_agent == "pyVoIP 1.6.8"
    assert saved.expires_at == NOW + 120
    bye = parse_message(
        PYVOIP_REGISTER.replace(b"CSeq: 2", b"CSeq: 3").replace(b"Expires: 120", b"Expires: 0")
    )
    assert isinstance(bye, Request)
    out = run(bye, [saved], now=NOW + 60)
    assert out.response.status == 200 and out.remove == [saved.contact]


def test_apply_outcome_on_a_store() -> None:
    store = MemoryStore()
    store.save(bound("sip:old@h", instance="<urn:uuid:1>", call_id="a"))
    out = run(
        register('<sip:new@h>;+sip.instance="<urn:uuid:1>"', call_id="b"),
        store.bindings(AOR, NOW),
    )
    apply_outcome(store, AOR, out)
    assert [b.contact for b in store.bindings(AOR, NOW)] == ["sip:new@h"]
    out = run(register("*", expires="0", call_id="c"), store.bindings(AOR, NOW))
    apply_outcome(store, AOR, out)
    assert store.bindings(AOR, NOW) == []


# -- stateful property against a dict model ------------------------------------------

MODEL_CONTACTS = [f"sip:201@10.0.0.{i}:5060" for i in range(4)]
MODEL_POLICY = RegistrarPolicy(min_expires=60, max_expires=3600, max_contacts=3)


class _Entry(msgspec.Struct, frozen=True):
    expires_at: float
    call_id: str
    cseq: int


class RegistrarMachine(RuleBasedStateMachine):
    """The registrar plus a MemoryStore must behave as the plain RFC 3261 §10.3 model."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.model: dict[str, _Entry] = {}
        self.now = NOW

    def _live(self) -> dict[str, _Entry]:
        return {c: e for c, e in self.model.items() if e.expires_at > self.now}

    def _send(self, request: Request) -> RegisterOutcome:
        out = process_register(
            request, AOR, self.store.bindings(AOR, self.now), SOURCE, "UDP", MODEL_POLICY,
            self.now,
        )  # fmt: skip
        apply_outcome(self.store, AOR, out)
        return out

    @rule(
        index=st.integers(0, 3),
        expires=st.sampled_from([None, 0, 30, 60, 600, 3600, 7200]),
        in_param=st.booleans(),
        call_id=st.sampled_from(["a", "b"]),
        cseq=st.integers(1, 12),
    )
    def register(
        self, index: int, expires: int | None, in_param: bool, call_id: str, cseq: int
    ) -> None:
        contact = MODEL_CONTACTS[index]
        header = None if expires is None or in_param else str(expires)
        param = f";expires={expires}" if expires is not None and in_param else ""
        out = self._send(
            register(f"<{contact}>{param}", expires=header, call_id=call_id, cseq=cseq)
        )
        live = self._live()
        wanted = 3600 if expires is None else expires
        old = live.get(contact)
        if 0 < wanted < 60:
            assert out.response.status == 423
            return
        if old is not None and old.call_id == call_id and cseq <= old.cseq:
            assert out.response.status == 500
            return
        assert out.response.status == 200
        live.pop(contact, None)
        if wanted:
            entry = _Entry(self.now + min(wanted, 3600), call_id, cseq)
            if len(live) >= 3:
                stalest = min(live, key=lambda c: (live[c].expires_at, c))
                del live[stalest]
            live[contact] = entry
        self.model = live
        self._check_listing(out.response)

    @rule(call_id=st.sampled_from(["a", "b"]), cseq=st.integers(1, 12))
    def unregister_all(self, call_id: str, cseq: int) -> None:
        out = self._send(register("*", expires="0", call_id=call_id, cseq=cseq))
        live = self._live()
        if any(e.call_id == call_id and cseq <= e.cseq for e in live.values()):
            assert out.response.status == 500
            return
        assert out.response.status == 200
        self.model = {}

    @rule()
    def query(self) -> None:
        out = self._send(register())
        assert out.response.status == 200
        self._check_listing(out.response)

    @rule(step=st.sampled_from([1.0, 29.5, 600.0, 3600.0]))
    def advance(self, step: float) -> None:
        self.now += step

    def _check_listing(self, response: Response) -> None:
        listed = {}
        for value in contacts_of(response):
            uri, _, params = value.partition(">;expires=")
            listed[uri[1:]] = int(params)
        live = self._live()
        assert set(listed) == set(live)
        for contact, entry in live.items():
            assert abs(listed[contact] - (entry.expires_at - self.now)) <= 1

    @invariant()
    def store_matches_model(self) -> None:
        stored = {
            b.contact: (b.expires_at, b.call_id, b.cseq) for b in self.store.bindings(AOR, self.now)
        }
        live = {c: (e.expires_at, e.call_id, e.cseq) for c, e in self._live().items()}
        assert stored == live


TestRegistrarMachine = RegistrarMachine.TestCase
TestRegistrarMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
