"""NAT keep-alive rules (switch/registration/keepalive.py) on fakes: who is pinged, what
counts as missed, when a binding is removed."""

from __future__ import annotations

from sipstack.ids import IdSource
from sipstack.message import Request
from sipstack.transport import Address, Transport
from switch.registration.keepalive import NatKeepalive, behind_nat
from switch.registration.location import Binding
from switch.timers import TimerHeap


def binding(contact: str, source: Address, transport: str = "UDP") -> Binding:
    user = contact.split(":", 1)[1].split("@", 1)[0]
    return Binding(
        aor=f"{user}@acme.test",
        contact=contact,
        source=source,
        transport=transport,
        expires_at=10_000.0,
        call_id="c",
        cseq=1,
    )


class FakeSip:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Request, Address]] = []

    def send_request(
        self, request: Request, destination: Address, transport: Transport, now: float
    ) -> str:
        tx = f"tx{len(self.sent)}"
        self.sent.append((tx, request, destination))
        return tx


class Contacts:
    def contact_for(self, transport: Transport) -> str:
        return "<sip:127.0.0.1:5060>"


def test_behind_nat_compares_the_contact_with_the_source() -> None:
    assert behind_nat(binding("sip:201@127.0.0.77:5099", ("127.0.0.1", 40000)))
    assert behind_nat(binding("sip:201@127.0.0.1:5062", ("127.0.0.1", 5060)))
    assert not behind_nat(binding("sip:201@127.0.0.1:5062", ("127.0.0.1", 5062)))
    assert not behind_nat(binding("sip:201@127.0.0.1", ("127.0.0.1", 5060)))  # default port


def test_silent_nated_binding_is_removed_after_three_misses_answered_one_kept() -> None:
    silent = binding("sip:201@127.0.0.77:5099", ("127.0.0.1", 40000))
    answering = binding("sip:202@127.0.0.78:5099", ("127.0.0.1", 40002))
    direct = binding("sip:203@127.0.0.1:40004", ("127.0.0.1", 40004))
    tcp = binding("sip:204@127.0.0.79:5099", ("127.0.0.1", 40006), transport="TCP")
    bindings = [silent, answering, direct, tcp]
    removed: list[tuple[str, str]] = []

    class Registrations:
        def all_bindings(self, now: float) -> list[Binding]:
            return [b for b in bindings if (b.aor, b.contact) not in removed]

    sip, timers = FakeSip(), TimerHeap()
    keepalive = NatKeepalive(
        sip=sip,
        ids=IdSource(seed=1),
        contacts=Contacts(),
        timers=timers,
        registrations=Registrations(),
        unregister=lambda aor, contact: removed.append((aor, contact)),
        interval=30.0,
    )
    keepalive.start(0.0)
    for tick in range(1, 5):
        timers.fire_due(30.0 * tick)
        for tx, request, _ in sip.sent:
            if request.to.uri.user == "202":
                assert keepalive.on_answered(tx)
        pinged = {request.to.uri.user for _, request, _ in sip.sent}
        # only the UDP phones behind NAT, at the address their REGISTER came from
        assert pinged <= {"201", "202"}
        assert all(
            dest == ("127.0.0.1", 40000 if request.to.uri.user == "201" else 40002)
            for _, request, dest in sip.sent
        )
        sip.sent.clear()
    # 201 missed the pings of ticks 1-3 (counted at ticks 2-4): removed; 202 stays
    assert removed == [("201@acme.test", "sip:201@127.0.0.77:5099")]
    assert not keepalive.on_answered("no-such-tx") and not keepalive.on_failed("no-such-tx")
