"""SDP (RFC 4566) parsing and RFC 3264 offer/answer for one G.711 audio stream.

Pure: bytes in, values and bytes out. The switch's media endpoint speaks PCMU and PCMA
(RFC 3551 static payload types 0 and 8) plus telephone-event (RFC 4733, dynamic payload
type) and nothing else; every other stream in an offer is refused with port 0.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import msgspec

__all__ = [
    "Direction",
    "MediaDescription",
    "Negotiated",
    "SdpError",
    "SessionDescription",
    "build_answer",
    "build_offer",
    "negotiate_answer",
    "negotiate_offer",
    "parse_sdp",
]

# Preference order when the offer lists both: the offer's own order wins (RFC 3264 §6.1
# lets the answerer pick any; honouring the offerer's preference is the usual courtesy),
# so this only restricts what we accept.
SUPPORTED: Final = ("PCMU", "PCMA")
_STATIC: Final = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
TELEPHONE_EVENT: Final = "telephone-event"
_RTP_PROFILES: Final = ("RTP/AVP", "RTP/AVPF")  # the profiles an offered stream may use
OUR_DTMF_PT: Final = 101  # the dynamic number we put in our own offers (common choice)

Direction = str  # one of "sendrecv", "sendonly", "recvonly", "inactive"
_DIRECTIONS: Final = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})

# RFC 3264 §6.1: "If a stream is offered as sendonly, the corresponding stream MUST be
# marked as recvonly or inactive in the answer. If a media stream is listed as recvonly in
# the offer, the answer MUST be marked as sendonly or inactive in the answer. If an offered
# media stream is listed as sendrecv (or if there is no direction attribute at the media or
# session level, in which case the stream is sendrecv by default), the corresponding stream
# in the answer MAY be marked as sendonly, recvonly, sendrecv, or inactive. If an offered
# media stream is listed as inactive, it MUST be marked as inactive in the answer."
_ANSWER_DIRECTION: Final = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class SdpError(ValueError):
    """The SDP cannot be used. `status_hint` is what to answer the INVITE with."""

    def __init__(self, message: str, status_hint: int = 488) -> None:
        super().__init__(message)
        self.status_hint = status_hint


class MediaDescription(msgspec.Struct, frozen=True, kw_only=True):
    """One m= section (RFC 4566 §5.14) with the attributes we use."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    connection: str | None  # c= address of the section, else the session's
    rtpmap: tuple[tuple[int, str, int], ...] = ()  # (payload type, encoding, clock rate)
    fmtp: tuple[tuple[int, str], ...] = ()
    direction: Direction = "sendrecv"
    ptime: int | None = None


class SessionDescription(msgspec.Struct, frozen=True, kw_only=True):
    origin_username: str
    session_id: str
    session_version: int
    media: tuple[MediaDescription, ...]


class Negotiated(msgspec.Struct, frozen=True, kw_only=True):
    """What both sides agreed on for the audio stream."""

    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload_type: int | None
    remote_host: str | None  # None when the peer is on hold with c=0.0.0.0 or port 0
    remote_port: int
    direction: Direction  # our direction: "sendonly" means we send and do not receive
    media_index: int  # which m= line of the offer is the audio stream

    @property
    def we_send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.remote_host is not None

    @property
    def we_receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def parse_sdp(data: bytes) -> SessionDescription:
    """Parse an SDP body. Raises SdpError (status_hint 400) on what is not SDP."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8", 400) from exc
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    if not lines or not lines[0].startswith("v="):
        raise SdpError("SDP must start with v= (RFC 4566 §5)", 400)
    session_conn: str | None = None
    session_dir = "sendrecv"
    origin: list[str] = []
    sections: list[list[str]] = []
    for line in lines:
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"bad SDP line {line[:40]!r}", 400)
        kind, value = line[0], line[2:].strip()
        if kind == "m":
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        elif kind == "o":
            origin = value.split()
        elif kind == "c":
            session_conn = _connection(value)
        elif kind == "a" and value in _DIRECTIONS:
            session_dir = value
    if len(origin) < 6:
        raise SdpError("SDP o= line missing or short (RFC 4566 §5.2)", 400)
    try:
        version = int(origin[2])
    except ValueError as exc:
        raise SdpError("SDP o= session version is not a number", 400) from exc
    media = tuple(_media(sec, session_conn, session_dir) for sec in sections)
    return SessionDescription(
        origin_username=origin[0], session_id=origin[1], session_version=version, media=media
    )


def _connection(value: str) -> str:
    # RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address>; a multicast TTL suffix
    # (/127) is dropped because we never join multicast.
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"unsupported c= line {value!r}", 488)
    return parts[2].split("/")[0]


def _media(lines: list[str], session_conn: str | None, session_dir: str) -> MediaDescription:
    head = lines[0][2:].split()
    if len(head) < 4:
        raise SdpError(f"short m= line {lines[0]!r}", 400)
    try:
        port = int(head[1].split("/")[0])
    except ValueError as exc:
        raise SdpError(f"bad m= port {head[1]!r}", 400) from exc
    conn, direction, ptime = session_conn, session_dir, None
    rtpmap: list[tuple[int, str, int]] = []
    fmtp: list[tuple[int, str]] = []
    for line in lines[1:]:
        kind, value = line[0], line[2:].strip()
        if kind == "c":
            conn = _connection(value)
        elif kind != "a":
            continue
        elif value in _DIRECTIONS:
            direction = value
        elif value.startswith("rtpmap:"):
            entry = _rtpmap(value[7:])
            if entry is not None:
                rtpmap.append(entry)
        elif value.startswith("fmtp:"):
            pt, _, params = value[5:].partition(" ")
            if pt.isdigit():
                fmtp.append((int(pt), params.strip()))
        elif value.startswith("ptime:") and value[6:].strip().isdigit():
            ptime = int(value[6:].strip())
    return MediaDescription(
        media=head[0],
        port=port,
        proto=head[2],
        formats=tuple(head[3:]),
        connection=conn,
        rtpmap=tuple(rtpmap),
        fmtp=tuple(fmtp),
        direction=direction,
        ptime=ptime,
    )


def _rtpmap(value: str) -> tuple[int, str, int] | None:
    # RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<parameters>]
    pt, _, rest = value.partition(" ")
    parts = rest.strip().split("/")
    if not pt.isdigit() or len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(pt), parts[0], int(parts[1])


def _format_map(m: MediaDescription) -> dict[int, tuple[str, int]]:
    # Static payload types may be listed without rtpmap (RFC 3551 §6); an rtpmap wins.
    known: dict[int, tuple[str, int]] = {}
    for fmt in m.formats:
        if fmt.isdigit() and int(fmt) in _STATIC:
            known[int(fmt)] = _STATIC[int(fmt)]
    for pt, name, rate in m.rtpmap:
        known[pt] = (name, rate)
    return known


def _choose(m: MediaDescription) -> tuple[str, int, int | None] | None:
    """(codec, payload type, telephone-event payload type) from one audio section."""
    known = _format_map(m)
    codec: tuple[str, int] | None = None
    dtmf: int | None = None
    for fmt in m.formats:
        if not fmt.isdigit() or int(fmt) not in known:
            continue
        pt = int(fmt)
        name, rate = known[pt]
        if codec is None and name.upper() in SUPPORTED and rate == 8000:
            codec = (name.upper(), pt)
        elif dtmf is None and name.lower() == TELEPHONE_EVENT and rate == 8000:
            dtmf = pt
    if codec is None:
        return None
    return codec[0], codec[1], dtmf


def _remote(m: MediaDescription) -> str | None:
    # RFC 3264 §8.4: a c= of 0.0.0.0 is the old (RFC 2543) way to put a stream on hold;
    # there is nowhere to send, so the caller must wait for the peer's first packet.
    if m.connection is None or m.port == 0:
        return None
    try:
        if ipaddress.ip_address(m.connection).is_unspecified:
            return None
    except ValueError:
        pass  # a host name: allowed by RFC 4566 §5.7; resolved by the shell when sending
    return m.connection


def negotiate_offer(offer: SessionDescription) -> Negotiated:
    """Choose the audio stream and codec to answer with. Raises SdpError(488) if none fits."""
    return _negotiate(offer, offered=True)


def negotiate_answer(answer: SessionDescription) -> Negotiated:
    """Read the peer's answer to an offer made by build_offer."""
    return _negotiate(answer, offered=False)


def _negotiate(sdp: SessionDescription, *, offered: bool) -> Negotiated:
    """The first live audio stream we can use, from a peer's offer or a peer's answer.

    An offer may put streams we cannot use (other profiles, other codecs) before one we
    can; those are passed over and refused in our answer. An answer's first live audio
    stream is the reply to our one offered stream, so a codec we do not know there is the
    peer's error, not a reason to look further.
    """
    for index, m in enumerate(sdp.media):
        if m.media != "audio" or m.port == 0 or (offered and m.proto not in _RTP_PROFILES):
            continue
        chosen = _choose(m)
        if chosen is None:
            if offered:
                continue
            raise SdpError("answer picked a codec we did not offer", 488)
        codec, pt, dtmf = chosen
        # Answering an offer, ours mirrors theirs (§6.1); reading an answer, so does ours:
        # they said sendonly, so we only receive.
        return Negotiated(
            codec=codec,
            payload_type=pt,
            dtmf_payload_type=dtmf,
            remote_host=_remote(m),
            remote_port=m.port,
            direction=_ANSWER_DIRECTION[m.direction],
            media_index=index,
        )
    # RFC 3261 §13.3.1.3 / RFC 3264 §6: nothing acceptable in an offer -> 488; an answer
    # without a live audio stream has refused ours.
    raise SdpError(
        "no audio stream offers PCMU or PCMA at 8000 Hz"
        if offered
        else "answer refused the audio stream",
        488,
    )


def _addr_type(host: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(host).version == 6 else "IP4"
    except ValueError:
        return "IP4"


def _session_head(host: str, session_id: int, version: int) -> list[str]:
    addr = _addr_type(host)
    return [
        "v=0",
        f"o=softswitch {session_id} {version} IN {addr} {host}",
        "s=softswitch",
        f"c=IN {addr} {host}",
        "t=0 0",
    ]


def _audio_lines(port: int, pt: int, codec: str, dtmf: int | None, direction: str) -> list[str]:
    fmts = [str(pt)] + ([str(dtmf)] if dtmf is not None else [])
    out = [f"m=audio {port} RTP/AVP {' '.join(fmts)}", f"a=rtpmap:{pt} {codec}/8000"]
    if dtmf is not None:
        # RFC 4733 §7.1.1: events 0-15 are the DTMF digits, *, # and A-D.
        out += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-15"]
    out += ["a=ptime:20", f"a={direction}"]
    return out


def build_answer(
    offer: SessionDescription,
    chosen: Negotiated,
    *,
    host: str,
    port: int,
    session_id: int,
    version: int = 1,
) -> bytes:
    """Our answer: the chosen audio stream accepted, every other m= line refused.

    RFC 3264 §6: "The answer MUST contain exactly the same number of "m=" lines as the
    offer" and "An offered stream MAY be rejected in the answer by setting the port in the
    "m=" line to zero." For the accepted stream, §6.1: "if a particular codec was
    referenced with a specific payload type number in the offer, that same payload type
    number SHOULD be used for that codec in the answer", so we echo the offer's numbers.
    """
    lines = _session_head(host, session_id, version)
    for index, m in enumerate(offer.media):
        if index == chosen.media_index:
            lines += _audio_lines(
                port, chosen.payload_type, chosen.codec, chosen.dtmf_payload_type, chosen.direction
            )
        else:
            lines.append(f"m={m.media} 0 {m.proto} {' '.join(m.formats) or '0'}")
    return ("\r\n".join(lines) + "\r\n").encode()


def build_offer(
    *, host: str, port: int, session_id: int, version: int = 1, direction: str = "sendrecv"
) -> bytes:
    """Our offer: PCMU, PCMA and telephone-event, in that order of preference."""
    lines = _session_head(host, session_id, version)
    lines += [
        f"m=audio {port} RTP/AVP 0 8 {OUR_DTMF_PT}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        f"a=rtpmap:{OUR_DTMF_PT} telephone-event/8000",
        f"a=fmtp:{OUR_DTMF_PT} 0-15",
        "a=ptime:20",
        f"a={direction}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()
