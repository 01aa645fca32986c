"""sipstack: a sans-IO SIP stack (RFC 3261 with RFC 3581 and RFC 6026).

This is the only import surface the application (`switch/`) may use.
"""

from .endpoint import Endpoint
from .errors import LocalProtocolError, ParseError, RemoteProtocolError, SipError
from .events import (
    AckTimedOut,
    CancelReceived,
    Event,
    MessageRejected,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from .header_values import (
    Challenge,
    CSeq,
    NameAddr,
    Via,
    parse_auth,
    parse_cseq,
    parse_name_addr,
    parse_name_addr_list,
    parse_via,
    quote_string,
    unquote_string,
)
from .ids import IdSource
from .invite import build_cancel
from .message import REASON_PHRASES, Message, Request, Response, make_response
from .parse import parse_message
from .serialize import serialize
from .timers import TimerConfig
from .transport import Address, Datagram, Transport
from .uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri

__all__ = [
    "REASON_PHRASES",
    "AbsoluteUri",
    "AckTimedOut",
    "Address",
    "CSeq",
    "CancelReceived",
    "Challenge",
    "Datagram",
    "Endpoint",
    "Event",
    "IdSource",
    "LocalProtocolError",
    "Message",
    "MessageRejected",
    "NameAddr",
    "ParseError",
    "RemoteProtocolError",
    "Request",
    "RequestReceived",
    "Response",
    "ResponseReceived",
    "SipError",
    "SipUri",
    "TelUri",
    "TimerConfig",
    "TransactionTimedOut",
    "Transport",
    "TransportFailed",
    "Uri",
    "Via",
    "build_cancel",
    "make_response",
    "parse_auth",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_uri",
    "parse_via",
    "quote_string",
    "serialize",
    "unquote_string",
]
