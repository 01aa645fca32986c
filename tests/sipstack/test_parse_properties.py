"""Hypothesis properties of the syntax layer (ARCHITECTURE.md §4.8).

(a) parse_message(arbitrary bytes) returns a message or raises ParseError, nothing else
    (h11's fuzz invariant), also on mutated RFC 4475 vectors;
(b) parse(serialize(m)) == m in every field for generated requests and responses with
    random headers, quoted display names and URIs with parameters;
(c) StreamFramer returns the same messages however the stream is chunked.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipstack.errors import ParseError
from sipstack.framing import StreamFramer
from sipstack.grammar import TOKEN_CHARS
from sipstack.header_values import CSeq, NameAddr, Via
from sipstack.message import Message, Request, Response
from sipstack.parse import parse_message
from sipstack.serialize import serialize
from sipstack.uri import AbsoluteUri, Params, SipUri, TelUri, Uri

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VECTORS = sorted((Path(__file__).resolve().parent.parent / "vectors" / "rfc4475").rglob("*.sip"))
SAMPLES = [p.read_bytes() for p in VECTORS]

# -- strategies ----------------------------------------------------------------------------

token = st.text(alphabet=sorted(TOKEN_CHARS), min_size=1, max_size=12)
label = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True)
hostname = st.lists(label, min_size=1, max_size=3).map(".".join)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.integers(1, 0xFFFF).map(lambda n: f"[2001:db8::{n:x}]")
host = st.one_of(hostname, ipv4, ipv6)
port = st.none() | st.integers(1, 65535)
# anything printable, including non-ASCII and control characters (they are escaped)
any_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
no_crlf = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")

uri_params: st.SearchStrategy[Params] = st.lists(
    st.tuples(token, st.none() | any_text), max_size=3
).map(tuple)
header_params: st.SearchStrategy[Params] = st.lists(
    st.tuples(
        token,
        st.none()
        | token
        | st.text(no_crlf, max_size=8).map(
            lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        ),
    ),
    max_size=3,
).map(tuple)
uri_header_value = st.text(alphabet="abcXYZ0189-_.!~*'()[]/?:+$%", max_size=8)


@st.composite
def sip_uris(draw: st.DrawFn, with_headers: bool = True) -> SipUri:
    headers: tuple[tuple[str, str], ...] = ()
    if with_headers:
        headers = tuple(draw(st.lists(st.tuples(token, uri_header_value), max_size=2)))
    user = draw(st.none() | any_text)
    password = None
    if user is not None:
        password = draw(st.none() | st.text(alphabet="abc123-_.!~*'()&=+$,", max_size=6))
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password,
        host=draw(host),
        port=draw(port),
        params=draw(uri_params),
        headers=headers,
    )


tel_uris = st.builds(
    TelUri, number=st.from_regex(r"\+?[0-9][0-9-]{0,12}", fullmatch=True), params=uri_params
)
absolute_uris = st.builds(
    AbsoluteUri,
    scheme=st.sampled_from(["urn", "http", "mailto", "x-custom"]),
    rest=st.text(alphabet="abc123:/.-_~+=", min_size=1, max_size=12),
)
any_uri: st.SearchStrategy[Uri] = st.one_of(sip_uris(), tel_uris, absolute_uris)
display = st.none() | st.text(no_crlf, max_size=16)
name_addrs = st.builds(NameAddr, uri=any_uri, display=display, params=header_params)
vias = st.builds(
    Via,
    transport=st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS"]),
    host=host,
    port=port,
    params=st.tuples(token.map(lambda b: ("branch", "z9hG4bK" + b))).map(tuple)
    | st.just((("rport", None), ("branch", "z9hG4bKabc"))),
)
extra_headers = st.lists(
    st.tuples(
        token.map(lambda t: "x-" + t.lower()),
        st.text(no_crlf, max_size=30).map(lambda s: s.strip(" \t")),
    ),
    max_size=5,
)
body = st.binary(max_size=64)


def _common(draw: st.DrawFn, method: str) -> list[tuple[str, str]]:
    headers = [("via", str(v)) for v in draw(st.lists(vias, min_size=1, max_size=3))]
    from_ = draw(name_addrs)
    to = draw(name_addrs)
    headers += [
        ("from", str(from_)),
        ("to", str(to)),
        ("call-id", draw(token) + "@" + draw(hostname)),
        ("cseq", str(CSeq(draw(st.integers(0, 2**31 - 1)), method))),
    ]
    for contact in draw(st.lists(name_addrs, max_size=2)):
        headers.append(("contact", str(contact)))
    headers += draw(extra_headers)
    return draw(st.permutations(headers))


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(token)
    uri = draw(st.one_of(sip_uris(with_headers=False), tel_uris, absolute_uris))
    headers = _common(draw, method)
    if draw(st.booleans()):
        headers.append(("max-forwards", str(draw(st.integers(0, 255)))))
    return Request(method, uri, headers, draw(body))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    reason = draw(st.text(no_crlf, max_size=20))
    headers = _common(draw, draw(token))
    return Response(draw(st.integers(100, 699)), reason, headers, draw(body))


messages = st.one_of(requests(), responses())


def assert_same(a: Message, b: Message) -> None:
    assert type(a) is type(b)
    if isinstance(a, Request) and isinstance(b, Request):
        assert (a.method, a.uri) == (b.method, b.uri)
    if isinstance(a, Response) and isinstance(b, Response):
        assert (a.status, a.reason) == (b.status, b.reason)
    assert [h for h in a.headers if h[0] != "content-length"] == [
        h for h in b.headers if h[0] != "content-length"
    ]
    assert a.body == b.body


# -- (a) nothing but ParseError ---------------------------------------------------------


def _parse_or_parse_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except ParseError as exc:
        assert exc.status_hint in (400, 505, 513)
        assert exc.drop or exc.headers is not None
        return
    assert isinstance(message, (Request, Response))


@SETTINGS
@given(st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_raise_parse_error(data: bytes) -> None:
    _parse_or_parse_error(data)


@SETTINGS
@given(
    st.sampled_from(SAMPLES),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.binary(max_size=4), st.integers(0, 4)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_vectors_parse_or_raise_parse_error(
    data: bytes, edits: list[tuple[int, bytes, int]]
) -> None:
    buf = bytearray(data)
    for where, insert, delete in edits:
        at = where % (len(buf) + 1)
        buf[at : at + delete] = insert
    _parse_or_parse_error(bytes(buf))


@SETTINGS
@given(st.sampled_from(SAMPLES), st.data())
def test_typed_accessors_raise_only_parse_error(data: bytes, draw: st.DataObject) -> None:
    """Header values spliced into other headers: accessors raise ParseError or work."""
    try:
        message = parse_message(data)
    except ParseError:
        return
    name = draw.draw(
        st.sampled_from(
            ["via", "from", "to", "cseq", "contact", "route", "max-forwards", "expires"]
        )
    )
    value = draw.draw(st.text(no_crlf, max_size=40))
    message.set(name, value)
    for accessor in (
        "vias",
        "from_",
        "to",
        "cseq",
        "contacts",
        "routes",
        "max_forwards",
        "expires",
        "call_id",
        "content_type",
    ):
        try:
            getattr(message, accessor)
        except ParseError:
            pass


# -- (b) parse(serialize(m)) == m ---------------------------------------------------------


@SETTINGS
@given(messages)
def test_generated_messages_round_trip(message: Request | Response) -> None:
    parsed = parse_message(serialize(message))
    assert_same(parsed, message)
    assert parsed.vias == message.vias
    assert parsed.from_ == message.from_
    assert parsed.to == message.to
    assert parsed.cseq == message.cseq
    assert parsed.call_id == message.call_id
    assert parsed.contacts == message.contacts
    assert parsed.max_forwards == message.max_forwards


@SETTINGS
@given(any_uri)
def test_uri_str_parses_back(uri: Uri) -> None:
    from sipstack.uri import parse_uri

    assert parse_uri(str(uri)) == uri


# -- (c) chunking does not matter -----------------------------------------------------------

keepalive = st.sampled_from([b"", b"\r\n", b"\r\n\r\n"])


@SETTINGS
@given(
    st.lists(st.tuples(keepalive, messages), min_size=1, max_size=4),
    st.lists(st.integers(0, 10**6), max_size=12),
)
def test_framer_is_chunking_independent(
    items: list[tuple[bytes, Request | Response]], cuts: list[int]
) -> None:
    wire = [serialize(m) for _, m in items]
    stream = b"".join(k + w for (k, _), w in zip(items, wire, strict=True))
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    framer = StreamFramer()
    out: list[bytes] = []
    for start, end in zip(points, points[1:], strict=False):
        out.extend(framer.feed(stream[start:end]))
    assert out == wire
    assert framer.buffered == 0
    whole = StreamFramer()
    assert whole.feed(stream) == wire
    assert whole.pong_needed == framer.pong_needed
    for data, (_, message) in zip(out, items, strict=True):
        assert_same(parse_message(data), message)
