"""SIP/SIPS/tel/absolute URIs (RFC 3261 §19.1, RFC 3966) and host:port parsing."""

from __future__ import annotations

import pytest

from sipstack.errors import ParseError
from sipstack.header_values import (
    parse_name_addr,
    parse_params,
    parse_via,
    quote_string,
    split_outside_quotes,
    unquote_string,
)
from sipstack.uri import (
    AbsoluteUri,
    SipUri,
    TelUri,
    format_params,
    has_param,
    param_value,
    parse_host_port,
    parse_uri,
)


def test_full_sip_uri() -> None:
    uri = parse_uri("sips:alice:secret@Example.COM:5061;transport=tcp;lr?Subject=hi&Priority=1")
    assert uri == SipUri(
        scheme="sips",
        user="alice",
        password="secret",
        host="Example.COM",
        port=5061,
        params=(("transport", "tcp"), ("lr", None)),
        headers=(("Subject", "hi"), ("Priority", "1")),
    )
    assert isinstance(uri, SipUri)
    assert uri.param("TRANSPORT") is None  # names are matched lower-case
    assert uri.param("transport") == "tcp" and uri.param("lr") == ""
    assert str(uri) == "sips:alice:secret@Example.COM:5061;transport=tcp;lr?Subject=hi&Priority=1"


@pytest.mark.parametrize(
    "text",
    [
        "sip:example.com",
        "sip:192.0.2.1:5060",
        "sip:[2001:db8::1]:5060;maddr=[2001:db8::2]",
        "sip:+15551234567@gw.example.com;user=phone",
        "sip:user;par=u%40example.net@example.com",
        "sip:I%20have%20spaces@example.net",
        "sip:null-%00-null@example.com",
        "sip:a@b.example;name=value%2541",
        "tel:+1-201-555-0123;phone-context=example.com",
        "urn:service:sos",
        "http://www.example.com/x?y=z",
    ],
)
def test_uris_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert parse_uri(str(uri)) == uri


def test_escapes() -> None:
    uri = parse_uri("sip:sips%3Auser%40example.com@example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert isinstance(uri, SipUri)
    assert uri.user == "sips:user@example.com"
    assert uri.params == (("lr", None), ("name", "value%41"))
    # re-escaped on output so it parses back to the same value
    assert str(uri) == "sip:sips%3Auser%40example.com@example.net;lr;name=value%2541"


def test_user_part_may_hold_reserved_characters() -> None:
    text = (
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
        "(doesn't-it)@example.com"
    )
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert (uri.host, uri.params, uri.headers) == ("example.com", (), ())
    assert str(uri) == text


def test_tel_and_absolute() -> None:
    tel = parse_uri("TEL:+358-555-1234567;postd=pp22")
    assert tel == TelUri(number="+358-555-1234567", params=(("postd", "pp22"),))
    assert isinstance(tel, TelUri) and tel.user == "+358-555-1234567"
    other = parse_uri("nobodyKnowsThisScheme:totallyopaquecontent")
    assert other == AbsoluteUri("nobodyknowsthisscheme", "totallyopaquecontent")
    assert other.user is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sip",
        ":x",
        "sip:",
        "sip:@host",
        "sip:user@",
        "sip:host:0",
        "sip:host:65536",
        "sip:host:5o60",
        "sip:ho st",
        "sip:<host>",
        "sip:host;=x",
        "sip:[::1",
        "sip:[zz]",
        "sip:host?=x",
        "tel:",
        "1abc:x",
        "a b:c",
        "sip:host\x00",
        "mailto:",
    ],
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


def test_host_port() -> None:
    assert parse_host_port("example.com") == ("example.com", None)
    assert parse_host_port("192.0.2.1:5060") == ("192.0.2.1", 5060)
    assert parse_host_port("[::1]:5060") == ("[::1]", 5060)
    assert parse_host_port("_sip._udp.example.com") == ("_sip._udp.example.com", None)
    for bad in ("", ":5060", "host:", "host:99999", "[::1]x", "ho/st", "[]"):
        with pytest.raises(ParseError):
            parse_host_port(bad)


def test_params_helpers() -> None:
    params = parse_params(';Tag=abc ; lr ; q = 0.5;x="a;b"')
    assert params == (("Tag", "abc"), ("lr", None), ("q", "0.5"), ("x", '"a;b"'))
    assert param_value(params, "tag") == "abc" and param_value(params, "lr") == ""
    assert param_value(params, "none") is None
    assert has_param(params, "lr") and not has_param(params, "maddr")
    assert format_params(params) == ';Tag=abc;lr;q=0.5;x="a;b"'
    for bad in (";a b=c", ";=c", ";a=b c", ';a="open', ";a=", ";<x>"):
        with pytest.raises(ParseError):
            parse_params(bad)


def test_quoted_strings() -> None:
    assert unquote_string('"a \\"b\\" \\\\ c"') == 'a "b" \\ c'
    assert quote_string('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert quote_string("bell\x07") == '"bell\\\x07"'
    assert unquote_string(quote_string("tab\there")) == "tab\there"
    assert quote_string("no\r\ninjection") == '"no  injection"'
    assert split_outside_quotes('"a,b", c', ",") == ['"a,b"', " c"]
    with pytest.raises(ParseError):
        split_outside_quotes('"a,b, c', ",")


@pytest.mark.parametrize(
    ("text", "display", "uri", "params"),
    [
        ("<sip:a@b>", None, "sip:a@b", ()),
        ("sip:a@b;tag=1", None, "sip:a@b", (("tag", "1"),)),
        ('"Alice" <sip:a@b>;tag=1', "Alice", "sip:a@b", (("tag", "1"),)),
        ("Alice Smith <sip:a@b>", "Alice Smith", "sip:a@b", ()),
        ("caller<sip:a@b>", "caller", "sip:a@b", ()),
        ('"<not a uri>" <sip:a@b;lr>', "<not a uri>", "sip:a@b;lr", ()),
        ('"\\"q\\"" <tel:+1>', '"q"', "tel:+1", ()),
        ("<urn:service:sos>", None, "urn:service:sos", ()),
        (
            '<sip:a@b>;+sip.instance="<urn:uuid:1>"',
            None,
            "sip:a@b",
            (("+sip.instance", '"<urn:uuid:1>"'),),
        ),
    ],
)
def test_name_addr(text: str, display: str | None, uri: str, params: tuple[object, ...]) -> None:
    addr = parse_name_addr(text)
    assert (addr.display, str(addr.uri), addr.params) == (display, uri, params)
    assert parse_name_addr(str(addr)) == addr


@pytest.mark.parametrize(
    "text",
    [
        "",
        '"Mr. J. User <sip:j.user@example.com>',
        '"Watson, Thomas" < sip:t.watson@example.org >',
        "Bell, Alexander <sip:a.g.bell@example.com>",
        "sip:user@example.com?Route=x",
        "<sip:a@b",
        "<sip:a@b> junk",
        '"Alice" sip:a@b',
        "sip:a@b c",
        "<>",
    ],
)
def test_bad_name_addr(text: str) -> None:
    with pytest.raises(ParseError):
        parse_name_addr(text)


def test_via_forms() -> None:
    via = parse_via("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "192.0.2.2",
        None,
        "390skdjuw",
    )
    via = parse_via("sip/2.0/tls host.example.com : 5061 ; branch = z9hG4bK1 ; rport")
    assert (via.transport, via.host, via.port) == ("TLS", "host.example.com", 5061)
    assert via.params == (("branch", "z9hG4bK1"), ("rport", None))
    assert parse_via(str(via)) == via
    for bad in (
        "SIP/2.0 host",
        "SIP/3.0/UDP host",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP a b",
        "SIP/2.0/UDP host:0",
        "SIP/2.0/UDP host:123456",
        "HTTP/2.0/UDP host",
    ):
        with pytest.raises(ParseError):
            parse_via(bad)
