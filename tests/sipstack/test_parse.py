"""RFC 4475 torture vectors and parser behaviour.

Requirements covered (ARCHITECTURE.md §4.8):
- every §3.1.1 valid vector parses, whole, with trailing data (datagram rule) and
  byte-at-a-time through StreamFramer;
- every §3.1.2 invalid vector raises ParseError with the expected status_hint / drop;
- every §3.2-§3.4 semantic vector either parses (the named layer rejects it later)
  or, where the parser can tell, is rejected with 400 — see SEMANTIC below;
- truncated messages raise ParseError;
- serialize(parse(x)) parses back to an equal message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sipstack.errors import ParseError
from sipstack.framing import StreamFramer
from sipstack.header_values import NameAddr
from sipstack.message import Message, Request, Response, make_error_response
from sipstack.parse import parse_message
from sipstack.serialize import serialize
from sipstack.uri import AbsoluteUri, SipUri

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "rfc4475"


def _load(kind: str, name: str) -> bytes:
    return (VECTORS / kind / f"{name}.sip").read_bytes()


def _names(kind: str) -> list[str]:
    return sorted(p.stem for p in (VECTORS / kind).glob("*.sip"))


def assert_same(a: Message, b: Message) -> None:
    """Field-by-field equality: start line, headers (bar Content-Length), body."""
    assert type(a) is type(b)
    if isinstance(a, Request) and isinstance(b, Request):
        assert (a.method, a.uri) == (b.method, b.uri)
    if isinstance(a, Response) and isinstance(b, Response):
        assert (a.status, a.reason) == (b.status, b.reason)
    strip = [h for h in a.headers if h[0] != "content-length"]
    assert strip == [h for h in b.headers if h[0] != "content-length"]
    assert a.body == b.body


def _parse_error(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_message(data)
    return info.value


# -- §3.1.1 valid messages ---------------------------------------------------------------

VALID = [
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
]


def test_every_valid_vector_is_listed() -> None:
    assert sorted(VALID) == _names("valid")


@pytest.mark.parametrize("name", VALID)
def test_valid_vector_parses(name: str) -> None:
    message = parse_message(_load("valid", name))
    # the typed accessors every layer uses work on every valid vector
    assert message.vias and message.cseq and message.from_ and message.to
    assert message.call_id
    assert isinstance(message.contacts, list)


@pytest.mark.parametrize("name", VALID)
def test_valid_vector_with_trailing_data(name: str) -> None:
    data = _load("valid", name)
    # RFC 3261 §18.3: octets beyond Content-Length in a datagram are discarded
    assert_same(parse_message(data), parse_message(data + b"garbage\r\n\r\nmore"))


@pytest.mark.parametrize("name", VALID)
def test_valid_vector_byte_at_a_time_through_framer(name: str) -> None:
    data = _load("valid", name)
    framer = StreamFramer()
    framed: list[bytes] = []
    if name == "dblreq":
        # §3.1.1.8 is a datagram: its INVITE carries more body octets than its
        # Content-Length says, so on a stream both requests frame and the octets left
        # over are not a message; the framer gives up on that stream.
        with pytest.raises(ParseError):
            for i in range(len(data)):
                framed.extend(framer.feed(data[i : i + 1]))
        assert len(framed) == 2
    else:
        for i in range(len(data)):
            framed.extend(framer.feed(data[i : i + 1]))
        assert len(framed) == 1 and framer.buffered == 0
    assert_same(parse_message(framed[0]), parse_message(data))


@pytest.mark.parametrize("name", VALID)
def test_valid_vector_round_trips(name: str) -> None:
    first = parse_message(_load("valid", name))
    again = parse_message(serialize(first))
    assert_same(first, again)
    assert again.vias == first.vias
    assert again.from_ == first.from_
    assert again.to == first.to
    assert again.contacts == first.contacts
    # and serialisation is stable from there on
    assert serialize(again) == serialize(first)


@pytest.mark.parametrize("name", VALID)
def test_truncated_valid_vector_raises(name: str) -> None:
    data = _load("valid", name)
    whole_message = parse_message(data)
    # the first message's length (dblreq's REGISTER has no body)
    whole = data.index(b"\r\n\r\n") + 4 if name == "dblreq" else len(StreamFramer().feed(data)[0])
    step = max(1, whole // 150)
    for cut in range(0, whole, step):
        part = data[:cut]
        if part.endswith(b"\r\n") and b"\r\n\r\n" not in part:
            # a datagram cut after a header line reads as a message without the rest
            # of its headers (§18.3); it is refused or visibly not the whole message
            try:
                short = parse_message(part)
            except ParseError:
                continue
            # (or, cut just before the empty line, the whole of a bodiless message)
            assert len(short.headers) < len(whole_message.headers) or cut == whole - 2, cut
            continue
        with pytest.raises(ParseError):
            parse_message(part)


def test_wsinv_fields() -> None:
    m = parse_message(_load("valid", "wsinv"))
    assert isinstance(m, Request)
    assert m.method == "INVITE"
    assert m.uri == SipUri(
        host="chair-dnrc.example.com", user="vivekg", params=(("unknownparam", None),)
    )
    assert m.to.tag == "1918181833n"
    assert m.from_.display == 'J Rosenberg \\"'
    assert m.from_.tag == "98asjd8"
    assert m.max_forwards == 68
    assert (m.cseq.seq, m.cseq.method) == (9, "INVITE")
    assert [v.host for v in m.vias] == ["192.0.2.2", "spindle.example.com", "192.168.255.111"]
    assert [v.transport for v in m.vias] == ["UDP", "TCP", "UDP"]
    assert m.vias[1].branch == "z9hG4bK9ikj8"
    assert m.vias[2].branch == "z9hG4bK30239"
    assert m.get("subject") == ""
    assert m.get("newfangledheader") == "newfangled value continued newfangled value"
    assert m.get("unknownheaderwithunusualvalue") == ";;,,;;,;"
    route = m.routes[0].uri
    assert isinstance(route, SipUri)
    assert route.params == (("lr", None), ("unknownwith", "value"), ("unknown-no-value", None))
    (contact,) = m.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert m.content_type == "application/sdp"
    assert len(m.body) == int(m.get("content-length") or 0)


def test_intmeth_fields() -> None:
    m = parse_message(_load("valid", "intmeth"))
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(m.uri, SipUri)
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.uri.host == "example.com"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.from_.param("fromparam''~+*_!.-%") == '"работающий"'
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.max_forwards == 255
    assert m.get("extensionheader-!.%*+_`'~") == "\ufeff大停電"
    assert m.vias[0].branch == "z9hG4bK-.!%66*_+`'~"


def test_escapes_are_decoded_in_uris() -> None:
    m = parse_message(_load("valid", "esc01"))
    assert isinstance(m, Request) and isinstance(m.uri, SipUri)
    assert (m.uri.user, m.uri.host) == ("sips:user@example.com", "example.net")
    assert isinstance(m.to.uri, SipUri) and m.to.uri.user == "user"  # %75se%72
    assert isinstance(m.from_.uri, SipUri) and m.from_.uri.user == "I have spaces"
    contact = m.contacts[0].uri
    assert isinstance(contact, SipUri)
    assert contact.user == "caller"
    assert contact.params == (("lr", None), ("name", "value%41"))
    n = parse_message(_load("valid", "escnull"))
    assert [c.uri.user for c in n.contacts] == ["\x00", "\x00\x00"]
    assert isinstance(n.to.uri, SipUri) and n.to.uri.user == "null-\x00-null"


def test_esc02_method_and_unknown_header_are_not_unescaped() -> None:
    m = parse_message(_load("valid", "esc02"))
    assert isinstance(m, Request)
    assert m.method == "RE%47IST%45R"
    assert m.to.display == "%Z%45"
    assert [c.uri.user for c in m.contacts] == ["alias1", "alias3"]
    assert m.get("c%6fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_longreq_semiuri_transports() -> None:
    assert parse_message(_load("valid", "lwsdisp")).from_.display == "caller"
    long = parse_message(_load("valid", "longreq"))
    assert len(long.vias) == 34
    assert long.to.uri == long.to.uri and long.to.display is not None
    assert long.to.display.startswith("I have a user name of extremeextreme")
    assert long.from_.tag == "12" + "982" * 50 + "424"
    semi = parse_message(_load("valid", "semiuri"))
    assert isinstance(semi, Request) and isinstance(semi.uri, SipUri)
    assert (semi.uri.user, semi.uri.host) == ("user;par=u@example.net", "example.com")
    assert semi.values("accept")[-1] == "message/sipfrag"
    transports = parse_message(_load("valid", "transports"))
    assert [v.transport for v in transports.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_dblreq_keeps_only_the_first_request() -> None:
    m = parse_message(_load("valid", "dblreq"))
    assert isinstance(m, Request) and m.method == "REGISTER" and m.body == b""


def test_mpart01_binary_body_and_responses() -> None:
    m = parse_message(_load("valid", "mpart01"))
    # the binary part holds CR, LF and NUL octets and bytes that are not UTF-8
    binary = m.body.split(b"Content-Transfer-Encoding: binary\r\n\r\n", 1)[1]
    assert b"\x00" in binary and b"\r" in binary and b"\xff" in binary
    assert len(m.body) == int(m.get("content-length") or 0)
    ok = parse_message(_load("valid", "unreason"))
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.reason.startswith("= 2**3 * 5**2 но сто")
    trying = parse_message(_load("valid", "noreason"))
    assert isinstance(trying, Response) and (trying.status, trying.reason) == (100, "")


# -- §3.1.2 invalid messages ---------------------------------------------------------------

# name -> (status_hint, drop, a word the reason must contain)
INVALID: dict[str, tuple[int, bool, str]] = {
    "badinv01": (400, False, "Via"),  # §3.1.2.1 extraneous ";" and "," in Via
    "clerr": (400, False, "Content-Length"),  # §3.1.2.2 longer than the datagram
    "ncl": (400, False, "Content-Length"),  # §3.1.2.3 negative
    "scalar02": (400, False, "CSeq"),  # §3.1.2.4 CSeq over 2**31 (see accessor test)
    "scalarlg": (400, True, "CSeq"),  # §3.1.2.5 a response: cannot be answered
    "quotbal": (400, False, "To"),  # §3.1.2.6 unterminated quoted string
    "ltgtruri": (400, False, "Request-URI"),  # §3.1.2.7 <> around the Request-URI
    "lwsruri": (400, False, "Request-Line"),  # §3.1.2.8 LWS inside the Request-URI
    "lwsstart": (400, False, "Request-Line"),  # §3.1.2.9 several SP
    "trws": (400, False, "Request-Line"),  # §3.1.2.10 trailing SP
    "escruri": (400, False, "Request-URI"),  # §3.1.2.11 escaped headers in R-URI
    "regbadct": (400, False, "Contact"),  # §3.1.2.13 "?" in addr-spec without <>
    "badaspec": (400, False, "To"),  # §3.1.2.14 LWS inside <>
    "baddn": (400, False, "From"),  # §3.1.2.15 "," in an unquoted display name
    "badvers": (505, False, "version"),  # §3.1.2.16 SIP/7.0
    "mismatch01": (400, False, "CSeq"),  # §3.1.2.17
    "mismatch02": (400, False, "CSeq"),  # §3.1.2.18
    "bigcode": (400, True, "status"),  # §3.1.2.19 a response: cannot be answered
}


def test_every_invalid_vector_is_listed() -> None:
    assert sorted(INVALID) == _names("invalid")


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_vector_is_rejected(name: str) -> None:
    status, drop, word = INVALID[name]
    error = _parse_error(_load("invalid", name))
    assert (error.status_hint, error.drop) == (status, drop)
    assert word in error.reason
    if not drop:
        # answerable: the header list is there to build the response from
        response = make_error_response(error)
        assert response is not None and response.status == status
        assert response.get("via") is not None
    else:
        assert make_error_response(error) is None


def test_scalar02_other_overlarge_fields_are_the_tus_call() -> None:
    """§3.1.2.4: with CSeq fixed, Max-Forwards 300 and the huge Expires still parse."""
    data = _load("invalid", "scalar02").replace(b"36893488147419103232", b"1")
    m = parse_message(data)
    with pytest.raises(ParseError):
        _ = m.max_forwards  # 0-255 (RFC 3261 §20.22)
    assert m.expires == 2**32 - 1  # capped; the RFC allows treating it as the default
    assert m.contacts[0].param("expires") == "280297596632815"


# -- §3.2-§3.4: transaction, application and compatibility semantics -----------------------

# name -> (outcome, who, status). "parse": the parser accepts it and `who` rejects it with
# `status` later (None: accepted). "reject": the parser itself answers `status`.
SEMANTIC: dict[str, tuple[str, str, int | None]] = {
    "badbranch": ("parse", "transaction layer: 400 or RFC 2543 matching (§3.2.1)", 400),
    "insuf": ("reject", "parser: missing From/To/Call-ID (§3.3.1)", 400),
    "unkscm": ("parse", "TU: unknown Request-URI scheme (§3.3.2)", 416),
    "novelsc": ("parse", "TU: atypical Request-URI scheme (§3.3.3)", 416),
    "unksm2": ("parse", "registrar: To is not a SIP URI (§3.3.4)", 400),
    "bext01": ("parse", "TU: Require not supported (§3.3.5)", 420),
    "invut": ("parse", "TU: unknown Content-Type (§3.3.6)", 415),
    "regaut01": ("parse", "registrar: unknown auth scheme (§3.3.7)", 401),
    "multi01": ("reject", "parser: several Call-ID/CSeq/From/To (§3.3.8)", 400),
    "mcl01": ("reject", "parser: conflicting Content-Length (§3.3.9)", 400),
    "bcast": ("parse", "transport: broadcast Via is not routed to (§3.3.10)", None),
    "zeromf": ("parse", "TU: Max-Forwards 0, 483 if it would forward (§3.3.11)", None),
    "cparam01": ("parse", "registrar: accepted (§3.3.12)", None),
    "cparam02": ("parse", "registrar: accepted (§3.3.13)", None),
    "regescrt": ("parse", "registrar: accepted, headers kept in Contact (§3.3.14)", None),
    "sdp01": ("parse", "TU: Accept excludes SDP -> 406 (§3.3.15)", 406),
    "inv2543": ("parse", "accepted: RFC 2543 syntax (§3.4.1)", None),
    # §3.1.2.12 allows either answer; the switch never reads Date, so a phone with a
    # local-time Date header is served rather than refused.
    "baddate": ("parse", "accepted: non-GMT Date is not read (§3.1.2.12)", None),
}


def test_every_semantic_vector_is_listed() -> None:
    assert sorted(SEMANTIC) == _names("semantic")


@pytest.mark.parametrize("name", sorted(SEMANTIC))
def test_semantic_vector(name: str) -> None:
    outcome, _, status = SEMANTIC[name]
    data = _load("semantic", name)
    if outcome == "reject":
        error = _parse_error(data)
        assert (error.status_hint, error.drop) == (status, False)
        return
    message = parse_message(data)
    assert_same(parse_message(serialize(message)), message)


def test_semantic_vectors_expose_what_the_layers_need() -> None:
    assert parse_message(_load("semantic", "badbranch")).top_via.branch == "z9hG4bK"
    unkscm = parse_message(_load("semantic", "unkscm"))
    assert isinstance(unkscm, Request) and isinstance(unkscm.uri, AbsoluteUri)
    novelsc = parse_message(_load("semantic", "novelsc"))
    assert isinstance(novelsc, Request) and novelsc.uri == AbsoluteUri(
        "soap.beep", "//192.0.2.103:3002"
    )
    unksm2 = parse_message(_load("semantic", "unksm2"))
    assert unksm2.to.uri == AbsoluteUri("isbn", "2983792873")
    assert unksm2.contacts[0].uri == AbsoluteUri("name", "John_Smith")
    assert parse_message(_load("semantic", "zeromf")).max_forwards == 0
    c1 = parse_message(_load("semantic", "cparam01")).contacts[0]
    assert c1.params == (("unknownparam", None),) and isinstance(c1.uri, SipUri)
    assert c1.uri.params == ()
    c2 = parse_message(_load("semantic", "cparam02")).contacts[0]
    assert c2.params == () and isinstance(c2.uri, SipUri)
    assert c2.uri.params == (("unknownparam", None),)
    esc = parse_message(_load("semantic", "regescrt")).contacts[0].uri
    assert isinstance(esc, SipUri) and esc.headers == (("Route", "%3Csip:sip.example.com%3E"),)
    old = parse_message(_load("semantic", "inv2543"))
    assert old.max_forwards is None and old.top_via.branch is None
    assert old.from_.tag is None
    assert old.to.params == (("user", "phone"),)


# -- answerability and other rejections ----------------------------------------------------


def _request(*headers: str, start: str = "OPTIONS sip:bob@example.com SIP/2.0") -> bytes:
    return ("\r\n".join([start, *headers]) + "\r\n\r\n").encode()


GOOD = (
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
    "From: <sip:alice@example.com>;tag=1",
    "To: <sip:bob@example.com>",
    "Call-ID: abc@192.0.2.1",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
)


def _without(name: str) -> list[str]:
    return [h for h in GOOD if not h.startswith(name + ":")]


def test_good_request_parses() -> None:
    m = parse_message(_request(*GOOD))
    assert isinstance(m, Request) and m.body == b""


@pytest.mark.parametrize(
    ("headers", "drop"),
    [
        (_without("Via"), True),  # no Via: nowhere to send a response
        ([*_without("Via"), "Via: garbage"], True),
        ([*_without("Via"), "Via: SIP/2.0/UDP bad host"], True),
        ([*_without("Via"), "Via: SIP/2.0/UDP [zz::1]"], True),
        ([*_without("Via"), "Via: SIP/2.0/UDP 192.0.2.1, garbage"], False),
        ([*_without("CSeq"), "CSeq: x OPTIONS"], False),
        ([*_without("Max-Forwards"), "Max-Forwards: ten"], False),
        ([*_without("To"), "To: <sip:bob@example.com> junk"], False),
        ([*_without("From"), 'From: "Alice <sip:alice@example.com>'], False),
        ([*_without("Call-ID"), "Call-ID: a b"], False),
        ([*GOOD, "Contact: <sip:c@[::1"], False),
        ([*GOOD, "Bad Header: x"], False),
        ([*GOOD, "NoColon"], False),
    ],
)
def test_malformed_request_answerability(headers: list[str], drop: bool) -> None:
    error = _parse_error(_request(*headers))
    assert error.drop is drop
    assert error.status_hint == 400
    assert (error.headers is None) is drop


def test_missing_max_forwards_is_the_tus_business() -> None:
    m = parse_message(_request(*_without("Max-Forwards")))
    assert m.max_forwards is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n",  # missing headers
        b"SIP/2.0 200 OK\r\nVia: x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\n"
        b"Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",  # bad Via
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\n"
        b"Call-ID: c\r\nCSeq: one INVITE\r\n\r\n",  # bad CSeq
        b"SIP/3.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n",
        b"SIP/2.0 099 Low\r\nVia: SIP/2.0/UDP h\r\n\r\n",
        b"SIP/2.0 20 Short\r\nVia: SIP/2.0/UDP h\r\n\r\n",
    ],
)
def test_unanswerable_input_is_dropped(data: bytes) -> None:
    assert _parse_error(data).drop


def test_latin1_display_name_is_read_not_refused() -> None:
    # Phones and gateways that put Latin-1 in a display name are common; refusing the
    # request (or dropping a callee's 200) loses calls over a cosmetic field.
    latin1 = _request(*GOOD, "Subject: caf\xe9").replace("caf\xe9".encode(), b"caf\xe9")
    message = parse_message(latin1)
    assert message.get("subject") == "caf\xe9"


def test_bare_lf_gets_400() -> None:
    bare = _request(*GOOD, "Subject: a\nb")
    error = _parse_error(bare)
    assert (error.status_hint, error.drop) == (400, False)


def test_duplicate_content_length_that_agrees_is_fine() -> None:
    m = parse_message(_request(*GOOD, "Content-Length: 2", "l: 2") + b"hi")
    assert m.body == b"hi"


def test_leading_crlf_before_start_line_is_ignored() -> None:
    assert isinstance(parse_message(b"\r\n\r\n" + _request(*GOOD)), Request)


def test_version_is_case_insensitive() -> None:
    start = "OPTIONS sip:bob@example.com sip/2.0"
    assert isinstance(parse_message(_request(*GOOD, start=start)), Request)
    garbage = "OPTIONS sip:bob@example.com HTTP/1.1"
    assert _parse_error(_request(*GOOD, start=garbage)).status_hint == 400


def test_make_error_response_copies_the_dialog_headers() -> None:
    error = _parse_error(_request(*GOOD, "Contact: sip:a@b?x=y"))
    response = make_error_response(error)
    assert response is not None
    assert [h[0] for h in response.headers] == ["via", "from", "to", "call-id", "cseq"]
    assert "Contact" in response.reason


def test_ipv6_via_and_rport() -> None:
    m = parse_message(
        _request(
            "Via: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKx;rport;received=2001:db8::2",
            *GOOD[1:],
        )
    )
    via = m.top_via
    assert (via.transport, via.host, via.port) == ("TCP", "[2001:db8::1]", 5061)
    assert (via.branch, via.rport, via.received) == ("z9hG4bKx", "", "2001:db8::2")
    assert via.sent_by == ("[2001:db8::1]", 5061)


def test_comma_joined_and_repeated_headers() -> None:
    m = parse_message(
        _request(
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com",
            "v: SIP/2.0/UDP c.example.com",
            *GOOD[1:],
            'Contact: "A, B" <sip:a@example.com>, <sip:b@example.com>;q=0.5',
            "m: <sip:c@example.com>",
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            "Route: <sip:p3.example.com;lr>",
        )
    )
    assert [v.host for v in m.vias] == ["a.example.com", "b.example.com", "c.example.com"]
    assert [c.display for c in m.contacts] == ["A, B", None, None]
    assert m.contacts[1].param("q") == "0.5"
    assert [r.uri.host for r in m.routes if isinstance(r.uri, SipUri)] == [
        "p1.example.com",
        "p2.example.com",
        "p3.example.com",
    ]


def test_wildcard_contact() -> None:
    m = parse_message(_request(*GOOD, "Contact: *", "Expires: 0"))
    assert m.is_wildcard_contact and m.contacts == [] and m.expires == 0


def test_name_addr_round_trip_keeps_empty_display() -> None:
    m = parse_message(_request(*_without("From"), 'From: "" <sip:a@b.example>;tag=9'))
    assert m.from_.display == ""
    assert NameAddr(uri=m.from_.uri, display="", params=m.from_.params) == m.from_
    assert parse_message(serialize(m)).from_ == m.from_
