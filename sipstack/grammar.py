"""RFC 3261 §25 ABNF fragments used by the syntax layer.

Each character set or compiled regex has the ABNF it implements quoted above
it. Regexes are used once per header value (never per character in a Python
loop), so the hot path stays in C.
"""

from __future__ import annotations

import re

ALPHANUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN_CHARS = frozenset(ALPHANUM + "-.!%*_+`'~")

# LWS = [*WSP CRLF] 1*WSP ; WSP = SP / HTAB
WSP = " \t"

# unreserved = alphanum / mark
# mark       = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
UNRESERVED = frozenset(ALPHANUM + "-_.!~*'()")

# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
USER_CHARS = UNRESERVED | frozenset("&=+$,;?/")

# paramchar = param-unreserved / unreserved / escaped
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAM_CHARS = UNRESERVED | frozenset("[]/:&+$")

# hostname = *( domainlabel "." ) toplabel [ "." ]  (alphanum and "-"; "_" is tolerated,
# as deployed hosts use it); IPv4address is digits and dots.
HOST_CHARS = frozenset(ALPHANUM + "-._")

# IPv6reference = "[" IPv6address "]"
IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def is_token(text: str) -> bool:
    """True when `text` is a non-empty RFC 3261 token."""
    return bool(text) and TOKEN_CHARS.issuperset(text)


# via-parm          = sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol     = protocol-name SLASH protocol-version SLASH transport
# protocol-name     = "SIP" / token
# protocol-version  = token
# transport         = "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
# sent-by           = host [ COLON port ]
# SLASH = SWS "/" SWS ; COLON = SWS ":" SWS
VIA_RE = re.compile(
    r"[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]*/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]+"
    r"(\[[^\]]*\]|[^ \t;:\[\]]+)(?:[ \t]*:[ \t]*([0-9]+))?[ \t]*(;.*)?[ \t]*\Z",
    re.S,
)

# SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT   ("SIP" is case-insensitive in ABNF)
SIP_VERSION_RE = re.compile(r"[Ss][Ii][Pp]/[0-9]+\.[0-9]+\Z")

# SIP URIs MUST NOT contain unescaped space and control characters (RFC 3261 §19.1.1,
# after RFC 2396); "<", ">" and DQUOTE delimit URIs in headers and cannot appear inside.
URI_FORBIDDEN_RE = re.compile(r'[\x00-\x20\x7f<>"]')
