"""A client of rtpengine's ng control protocol, over UDP.

An ng message is a cookie, one space, and a bencoded dictionary; the reply carries the
same cookie and a dictionary whose `result` is `ok`, `pong`, `error` (with
`error-reason`) or `load limit`. rtpengine keeps its replies by cookie for a while, so a
command re-sent with the same cookie after a lost datagram is answered once, not done
twice: that is what makes retransmission here safe.

This is shell code: it owns a socket and awaits replies. The call engine never sees it;
it reaches the relay through the media port the shell implements.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence

import bencodepy
import structlog

from switch.media.anchor import MediaWatch, check_interval, describe
from switch.media.relay import Side
from switch.media.sdp import SdpError
from switch.ports import Anchored, RelayParty, Silent

log = structlog.get_logger("rtpengine")

NgValue = str | int | bytes | Sequence["NgValue"] | Mapping[str, "NgValue"]
"""What a command's parameters may hold (bencode has strings, integers, lists, dicts)."""

Reply = dict[str, object]


class RtpengineError(Exception):
    """rtpengine did not answer, answered `error`, or answered something unreadable."""


def parse_ng_address(text: str) -> tuple[str, int]:
    """`udp:HOST:PORT` (as `server.media.rtpengine` is written) -> (host, port)."""
    scheme, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if scheme != "udp" or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"rtpengine address {text!r} is not udp:HOST:PORT")
    return host.strip("[]"), int(port)


def encode_command(cookie: str, command: str, params: Mapping[str, NgValue]) -> bytes:
    """One ng request datagram."""
    return encode_datagram(cookie, {"command": command, **params})


def encode_datagram(cookie: str, body: Mapping[str, NgValue]) -> bytes:
    """One ng datagram: the cookie, a space, the bencoded dictionary."""
    return cookie.encode() + b" " + bytes(bencodepy.encode(_to_bencode(body)))


def decode_datagram(data: bytes) -> tuple[str, Reply]:
    """(cookie, dictionary with str keys and str values) of one ng datagram (a reply, or
    for the relay daemon a command)."""
    cookie, space, payload = data.partition(b" ")
    if not space:
        raise RtpengineError("ng reply without a cookie")
    try:
        # rtpengine writes dictionary keys in no particular order (bencode wants them
        # sorted); bencode.py reads them as they come, strict decoders refuse them
        decoded = bencodepy.decode(payload)
    except (bencodepy.BencodeDecodeError, ValueError, TypeError) as exc:
        raise RtpengineError(f"ng reply is not bencode: {exc}") from None
    reply = _from_bencode(decoded)
    if not isinstance(reply, dict):
        raise RtpengineError("ng reply is not a dictionary")
    return cookie.decode("ascii", "replace"), reply


def _to_bencode(value: NgValue) -> object:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, int)):
        return value
    if isinstance(value, Mapping):
        return {k.encode(): _to_bencode(v) for k, v in value.items()}
    return [_to_bencode(v) for v in value]


def _from_bencode(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {
            (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): _from_bencode(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_from_bencode(v) for v in value]
    return value


class _NgProtocol(asyncio.DatagramProtocol):
    def __init__(self, client: NgClient) -> None:
        self._client = client

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._client.reply_received(data)

    def error_received(self, exc: Exception) -> None:
        # an ICMP port unreachable: rtpengine is not there; the waiting command retries
        log.warning("rtpengine.socket_error", error=str(exc))


class NgClient:
    """Sends ng commands to one rtpengine and awaits their replies.

    Each command is sent up to `attempts` times, `timeout` seconds apart, with one
    cookie; no answer at all raises RtpengineError (the caller answers 503).
    """

    def __init__(
        self, address: tuple[str, int], *, timeout: float = 0.5, attempts: int = 3
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.attempts = attempts
        self._transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._prefix = os.urandom(6).hex()
        self._sequence = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _NgProtocol(self), remote_addr=self.address
        )
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RtpengineError("ng client closed"))
        self._waiting.clear()

    def reply_received(self, data: bytes) -> None:
        try:
            cookie, reply = decode_datagram(data)
        except RtpengineError as exc:
            log.warning("rtpengine.bad_reply", error=str(exc))
            return
        future = self._waiting.get(cookie)
        if future is not None and not future.done():
            future.set_result(reply)

    async def command(self, name: str, params: Mapping[str, NgValue] | None = None) -> Reply:
        """Send `name` with `params`; the reply dictionary once `result` is ok or pong."""
        if self._transport is None:
            raise RtpengineError("ng client not started")
        self._sequence += 1
        cookie = f"{self._prefix}{self._sequence:x}"
        datagram = encode_command(cookie, name, params or {})
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[cookie] = future
        try:
            for _ in range(self.attempts):
                self._transport.sendto(datagram)
                try:
                    reply = await asyncio.wait_for(asyncio.shield(future), self.timeout)
                except TimeoutError:
                    continue
                return _checked(name, reply)
        finally:
            self._waiting.pop(cookie, None)
        host, port = self.address
        log.warning("rtpengine.no_answer", command=name, rtpengine=f"{host}:{port}")
        raise RtpengineError(f"rtpengine at {host}:{port} did not answer {name!r}")

    async def ping(self) -> bool:
        """Whether rtpengine answers (`ping` -> `pong`)."""
        try:
            return (await self.command("ping")).get("result") == "pong"
        except RtpengineError:
            return False


def _checked(name: str, reply: Reply) -> Reply:
    result = reply.get("result")
    if result in ("ok", "pong"):
        return reply
    reason = reply.get("error-reason") or result
    raise RtpengineError(f"rtpengine refused {name!r}: {reason}")


Pumped = Callable[[Callable[[float], None]], None]


class RtpengineRelay:
    """`ports.MediaRelay` through rtpengine (`server.media.relay: rtpengine`).

    Each party's SDP becomes an ng `offer` (the party offers: from-tag is its own tag) or
    `answer` (from-tag is the offerer's, to-tag its own), with the address its SIP came
    from (`received-from`), so rtpengine learns each party's media from its packets as
    the embedded relay does. The reply's SDP is what the other party gets. An rtpengine
    that refuses or does not answer gives 503; SDP with no audio to relay gives 488
    before anything is sent.
    """

    def __init__(self, client: NgClient, pumped: Pumped, *, timeout: float = 0.0) -> None:
        self._client = client
        self._pumped = pumped
        self.timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: dict[str, int] = {}  # call-id -> commands in flight
        self._released: set[str] = set()  # released while a command was in flight
        self._media: dict[str, _CallMedia] = {}  # what each call's parties said
        self._watched: dict[str, Silent] = {}
        self._checking: asyncio.Task[None] | None = None

    def anchor(
        self,
        call_id: str,
        party: RelayParty,
        sdp: bytes,
        offer: bool,
        done: Anchored,
        now: float,
    ) -> None:
        try:
            described = describe(sdp)
        except SdpError as exc:
            log.warning("rtpengine.bad_sdp", call_id=call_id, error=str(exc))
            done(b"", 488, now)
            return
        media = self._media.setdefault(call_id, _CallMedia())
        media.sides[party.tag] = party.side
        media.watch.described(party.side, described, time.time())
        params = _ng_params(call_id, party, sdp, offer)
        self._busy[call_id] = self._busy.get(call_id, 0) + 1
        self._spawn(self._anchor(call_id, "offer" if offer else "answer", params, done))

    async def _anchor(
        self, call_id: str, command: str, params: dict[str, NgValue], done: Anchored
    ) -> None:
        try:
            reply = await self._client.command(command, params)
            body = str(reply.get("sdp", "")).encode()
            status = 200 if body else 503
        except RtpengineError as exc:
            log.error("rtpengine.failed", call_id=call_id, command=command, error=str(exc))
            body, status = b"", 503
        finally:
            self._busy[call_id] -= 1
            if not self._busy[call_id]:
                del self._busy[call_id]
        if call_id in self._released and call_id not in self._busy:
            # the call ended while rtpengine was answering: that answer made it anew
            self._released.discard(call_id)
            await self._delete(call_id)
            return
        self._pumped(lambda now: done(body, status, now))

    def release(self, call_id: str) -> None:
        self._media.pop(call_id, None)
        self._watched.pop(call_id, None)
        if call_id in self._busy:
            self._released.add(call_id)  # deleted when the command in flight returns
            return
        self._spawn(self._delete(call_id))

    def watch(self, call_id: str, silent: Silent) -> None:
        if self.timeout <= 0 or call_id not in self._media:
            return
        self._watched[call_id] = silent
        if self._checking is None:
            self._checking = asyncio.get_running_loop().create_task(self._check_media())

    async def _check_media(self) -> None:
        """Every quarter of the timeout, `query` each watched call: a party whose RTP
        stream's `last packet` (rtpengine's wall-clock seconds) is older than the timeout,
        and older than the last SDP, is reported silent, unless someone is on hold."""
        interval = check_interval(self.timeout)
        try:
            while self._watched:
                await asyncio.sleep(interval)
                for call_id in list(self._watched):
                    await self._check_call(call_id)
        finally:
            self._checking = None

    async def _check_call(self, call_id: str) -> None:
        try:
            reply = await self._client.command("query", {"call-id": call_id})
        except RtpengineError as exc:
            log.warning("rtpengine.query_failed", call_id=call_id, error=str(exc))
            return
        media = self._media.get(call_id)
        silent = self._watched.get(call_id)
        if media is None or silent is None:
            return
        heard = {
            media.sides[tag]: last
            for tag, last in _last_rtp_packets(reply).items()
            if tag in media.sides
        }
        side = media.watch.silent_side(time.time(), self.timeout, heard.get)
        if side is not None:
            del self._watched[call_id]
            log.info("relay.silent", call_id=call_id, side=side.value)
            self._report(silent, side)

    def _report(self, silent: Silent, side: Side) -> None:
        self._pumped(lambda at: silent(side, at))

    async def _delete(self, call_id: str) -> None:
        try:
            await self._client.command("delete", {"call-id": call_id})
        except RtpengineError as exc:
            # rtpengine drops a call whose media stopped by itself (its own timeout)
            log.warning("rtpengine.delete_failed", call_id=call_id, error=str(exc))

    def _spawn(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _CallMedia:
    """What the parties of one call said in their SDP, for the media timeout."""

    __slots__ = ("sides", "watch")

    def __init__(self) -> None:
        self.sides: dict[str, Side] = {}  # the ng tag of each party
        self.watch = MediaWatch()


def _last_rtp_packets(reply: Reply) -> dict[str, float]:
    """tag -> `last packet` of its RTP stream, from a `query` reply."""
    out: dict[str, float] = {}
    tags = reply.get("tags")
    if not isinstance(tags, dict):
        return out
    for tag, info in tags.items():
        medias = info.get("medias") if isinstance(info, dict) else None
        for media in medias if isinstance(medias, list) else []:
            streams = media.get("streams") if isinstance(media, dict) else None
            for stream in streams if isinstance(streams, list) else []:
                flags = stream.get("flags", []) if isinstance(stream, dict) else []
                last = stream.get("last packet") if isinstance(stream, dict) else None
                if "RTP" in flags and isinstance(last, int):
                    out[tag] = max(out.get(tag, 0.0), float(last))
    return out


def _ng_params(call_id: str, party: RelayParty, sdp: bytes, offer: bool) -> dict[str, NgValue]:
    params: dict[str, NgValue] = {
        "call-id": call_id,
        "sdp": sdp,
        "received-from": ["IP6" if ":" in party.signalling[0] else "IP4", party.signalling[0]],
        "replace": ["origin", "session-connection"],
        "ICE": "remove",
    }
    if offer:
        params["from-tag"] = party.tag
        if party.other_tag:
            params["to-tag"] = party.other_tag
    else:
        params["from-tag"] = party.other_tag or ""
        params["to-tag"] = party.tag
    return params
