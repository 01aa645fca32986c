"""TransactionLayer: keys, dispatch, the deadline heap with lazy deletion.

Requirements covered:
- client ids: branch, and branch|CANCEL for the CANCEL sharing it (§17.1.3);
- server keys: (branch, sent-by, method) with ACK/CANCEL mapped to INVITE
  (§17.2.3), RFC 2543 fallback without the magic cookie;
- get_timer() is the earliest live deadline; cancelled timers never fire and
  do not keep transactions alive; finished transactions leave the tables;
- a LocalProtocolError from the TU still removes the transaction.
"""

from __future__ import annotations

import pytest

from sipstack.errors import LocalProtocolError
from sipstack.message import Request, make_response
from sipstack.timers import TimerConfig
from sipstack.transaction import TransactionLayer, TxInput, client_tx_id, server_key
from sipstack.transaction.base import PassUp, TimedOut
from sipstack.transport import Transport
from sipstack.uri import parse_uri

DEST = ("10.0.0.2", 5060)


def request(method: str, via: str = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKL1") -> Request:
    return Request(
        method,
        parse_uri("sip:bob@example.com"),
        [
            ("via", via),
            ("from", "<sip:alice@example.com>;tag=a1"),
            ("to", "<sip:bob@example.com>"),
            ("call-id", "call-layer"),
            ("cseq", f"4 {method}"),
        ],
    )


def test_client_tx_ids() -> None:
    assert client_tx_id("z9hG4bKx", "INVITE") == "z9hG4bKx"
    assert client_tx_id("z9hG4bKx", "CANCEL") == "z9hG4bKx|CANCEL"


def test_server_keys_map_ack_and_cancel_to_invite() -> None:
    invite = request("INVITE")
    assert server_key(invite, "INVITE") == ("z9hG4bKL1", "10.0.0.1", 5060, "INVITE")
    assert server_key(request("ACK"), "INVITE") == server_key(invite, "INVITE")
    assert server_key(request("CANCEL"), "INVITE") == server_key(invite, "INVITE")
    assert server_key(request("CANCEL"), "CANCEL") != server_key(invite, "INVITE")
    other_host = request("INVITE", "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKL1")
    assert server_key(other_host, "INVITE") != server_key(invite, "INVITE")


def test_rfc2543_keys() -> None:
    old = "SIP/2.0/UDP 10.0.0.1:5060"
    key = server_key(request("INVITE", old), "INVITE")
    assert key[0] == "2543"
    assert server_key(request("ACK", old), "INVITE") == key
    assert server_key(request("INVITE", old + ";branch=1234"), "INVITE")[0] == "2543"
    response = make_response(request("INVITE", old), 180, to_tag="t")
    assert server_key(response, "INVITE") == key


def test_timers_lazy_deletion_and_cleanup() -> None:
    layer = TransactionLayer(TimerConfig())
    tx, upcalls = layer.start_client(request("OPTIONS"), DEST, Transport.UDP, 0.0)
    assert upcalls == [] and len(layer.out) == 1
    assert layer.get_timer() == 0.5  # E
    ups = layer.feed(tx, TxInput.SUCCESS, 0.2, make_response(tx.request, 200))
    assert [type(e) for _, e in ups] == [PassUp]
    assert layer.get_timer() == 0.2 + 5.0  # K; E and F entries are stale
    assert layer.handle_timer(4.0) == []
    assert len(layer.out) == 1  # the stale E never retransmitted
    layer.handle_timer(5.2)
    assert len(layer) == 0 and layer.get_timer() is None


def test_timeout_upcall_and_removal() -> None:
    layer = TransactionLayer(TimerConfig())
    tx, _ = layer.start_client(request("INVITE"), DEST, Transport.UDP, 0.0)
    ups = []
    while (due := layer.get_timer()) is not None:
        ups.extend(layer.handle_timer(due))
    assert [(t.id, type(e)) for t, e in ups] == [(tx.id, TimedOut)]
    assert len(layer.out) == 7 and len(layer) == 0


def test_server_tx_and_local_protocol_error_removes_it() -> None:
    layer = TransactionLayer(TimerConfig())
    req = request("INVITE")
    key = server_key(req, "INVITE")
    tx = layer.start_server(req, key, DEST, Transport.UDP, 0.0)
    assert layer.server[key] is tx and layer.out == []  # the 100 waits for the flush
    layer.send_trying(0.0)
    assert len(layer.out) == 1  # 100 Trying: the TU had not answered
    layer.feed(tx, TxInput.FAILURE, 0.1, make_response(req, 486, to_tag="t"))
    with pytest.raises(LocalProtocolError):
        layer.feed(tx, TxInput.SUCCESS, 0.2, make_response(req, 200, to_tag="t"))
    assert key not in layer.server
    assert layer.get_timer() is None


def test_no_100_trying_when_the_tu_answered_first() -> None:
    # RFC 3261 §17.2.1: no 100 when the TU answers within 200 ms; here, before the flush
    layer = TransactionLayer(TimerConfig())
    req = request("INVITE")
    key = server_key(req, "INVITE")
    tx = layer.start_server(req, key, DEST, Transport.UDP, 0.0)
    layer.feed(tx, TxInput.FAILURE, 0.0, make_response(req, 407, to_tag="t"))
    layer.send_trying(0.0)
    assert len(layer.out) == 1 and b" 407 " in layer.out[0].data


def test_client_txs_to() -> None:
    layer = TransactionLayer(TimerConfig())
    a, _ = layer.start_client(request("OPTIONS"), DEST, Transport.TCP, 0.0)
    other = request("OPTIONS", "SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKL2")
    layer.start_client(other, ("10.0.0.3", 5060), Transport.TCP, 0.0)
    assert layer.client_txs_to(DEST, Transport.TCP) == [a]
    assert layer.client_txs_to(DEST, Transport.UDP) == []
