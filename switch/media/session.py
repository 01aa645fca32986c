"""The asyncio shell of the media endpoint: UDP sockets, pacing timers, files.

Every protocol decision lives in the pure modules (sdp, rtp, g711, wav); this module owns
the sockets and the clock, as switch/runtime.py does for SIP. One `MediaSession` is one
RTP port bound for one call; `MediaServer` hands out ports from the configured range.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import structlog

from switch.media.g711 import Codec, codec_for
from switch.media.port_pool import PortPool, PortsExhausted
from switch.media.rtp import DtmfDetector, JitterBuffer, Released, RtpError, build_rtp, parse_rtp
from switch.media.sdp import (
    Negotiated,
    build_answer,
    build_offer,
    negotiate_answer,
    negotiate_offer,
    parse_sdp,
)
from switch.media.wav import SAMPLE_RATE, WavWriter

__all__ = ["MediaServer", "MediaSession", "MediaUnavailable"]

log = structlog.get_logger("switch.media")

FRAME_SAMPLES: Final = 160  # 20 ms at 8 kHz: the RFC 3551 §4.5 default packetisation
FRAME_SECONDS: Final = FRAME_SAMPLES / SAMPLE_RATE
# A frame whose RMS is below this counts as silence (about -40 dBFS): well above a quiet
# line's noise, well below speech. Lost packets count as silence too.
SILENCE_RMS: Final = 300.0
# Keep this much audio after the last sound when stopping on silence, so that the end of
# a word is not clipped but the long pause that triggered the stop is not kept either.
SILENCE_TAIL: Final = 0.3
# Symmetric RTP latching: a new source address replaces the latched one only after the
# latched one has been quiet this long (a NAT rebinding), so a stray or spoofed packet
# cannot steal the stream in the middle of a call.
RELATCH_AFTER: Final = 0.5
# If pacing falls this far behind (a stalled loop), restart the schedule instead of
# sending the backlog as a burst that the phone's jitter buffer would discard.
MAX_LAG: Final = 0.1


class MediaUnavailable(RuntimeError):
    """No RTP port is free in the configured range (answer 503 Service Unavailable)."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.session: MediaSession | None = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.session is not None:
            self.session._receive(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable after the phone hung up: expected, not worth more than debug.
        log.debug("rtp_socket_error", error=str(exc))


class _Recording:
    __slots__ = (
        "writer",
        "buffer",
        "max_samples",
        "silence_samples",
        "on_stop",
        "deadline",
        "voice_end",
        "silent_run",
        "last_packet",
    )

    def __init__(
        self,
        writer: WavWriter,
        buffer: JitterBuffer,
        max_seconds: float,
        silence_seconds: float,
        on_stop: Callable[[float], None],
        now: float,
    ) -> None:
        self.writer = writer
        self.buffer = buffer
        self.max_samples = int(max_seconds * SAMPLE_RATE)
        self.silence_samples = int(silence_seconds * SAMPLE_RATE)
        self.on_stop = on_stop
        self.deadline = now + max_seconds  # wall-clock bound even if no packet ever comes
        self.voice_end = 0  # sample position just after the last non-silent frame
        self.silent_run = 0
        self.last_packet = now


class MediaSession:
    """One call's RTP endpoint: plays PCM, records to WAV, reports DTMF.

    Callbacks (`then`, `on_stop`, `on_dtmf`) run on the event loop; an exception in one is
    logged and swallowed, so a bug in call control never stops the media path.
    """

    def __init__(
        self,
        server: MediaServer,
        call_id: str,
        port: int,
        transport: asyncio.DatagramTransport,
        negotiated: Negotiated | None,
        session_id: int,
    ) -> None:
        self.call_id = call_id
        self.local_port = port
        self.on_dtmf: Callable[[str], None] | None = None
        self.packets_received = 0
        self.packets_written = 0
        self.packets_sent = 0
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._log = log.bind(call_id=call_id, rtp_port=port)
        self._session_id = session_id
        self._sdp_version = 1
        self._negotiated: Negotiated | None = None
        self._codec: Codec | None = None
        self._remote: tuple[str, int] | None = None
        self._latched_at = -1.0
        self._latched = False
        self._dtmf = DtmfDetector()
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)  # RFC 3550 §5.1: initial values SHOULD be random
        self._ts = secrets.randbits(32)
        self._queue: deque[tuple[bytes, Callable[[], None] | None]] = deque()
        self._offset = 0  # bytes of the head of the queue already sent
        self._timer: asyncio.TimerHandle | None = None
        self._next_send = 0.0
        self._last_send = -1.0
        self._recording: _Recording | None = None
        self._record_timer: asyncio.TimerHandle | None = None
        self._closed = False
        if negotiated is not None:
            self._apply(negotiated)

    # -- negotiation -------------------------------------------------------------------

    @property
    def negotiated(self) -> Negotiated | None:
        return self._negotiated

    def apply_answer(self, answer: bytes) -> None:
        """The peer's SDP answer to the offer `MediaServer.open(call_id, None)` returned."""
        self._apply(negotiate_answer(parse_sdp(answer)))

    def renegotiate(self, offer: bytes) -> bytes:
        """A new offer in the dialog (re-INVITE, e.g. hold/resume): returns our answer."""
        parsed = parse_sdp(offer)
        chosen = negotiate_offer(parsed)
        self._apply(chosen)
        self._sdp_version += 1  # RFC 4566 §5.2: the version changes when the SDP does
        return build_answer(
            parsed,
            chosen,
            host=self._server.advertise,
            port=self.local_port,
            session_id=self._session_id,
            version=self._sdp_version,
        )

    def offer(self) -> bytes:
        """A fresh offer of ours in the dialog (a re-INVITE without SDP asks for one);
        the answer comes back through `apply_answer`."""
        self._sdp_version += 1  # RFC 4566 §5.2: a new version for each new offer
        return build_offer(
            host=self._server.advertise,
            port=self.local_port,
            session_id=self._session_id,
            version=self._sdp_version,
        )

    def _apply(self, negotiated: Negotiated) -> None:
        self._negotiated = negotiated
        self._codec = codec_for(negotiated.codec)
        if not self._latched:
            self._remote = _address(negotiated.remote_host, negotiated.remote_port)

    # -- receive -----------------------------------------------------------------------

    def _receive(self, data: bytes, source: tuple[str, int]) -> None:
        if self._closed:
            return
        try:
            packet = parse_rtp(data)
        except RtpError:
            return  # RTCP muxed on our port, STUN, garbage: not ours to record
        now = self._loop.time()
        if not self._latch(source, now):
            return
        self.packets_received += 1
        neg = self._negotiated
        if neg is not None and packet.payload_type == neg.dtmf_payload_type:
            for digit in self._dtmf.feed(packet):
                self._log.info("dtmf_received", digit=digit)
                _call(self.on_dtmf, digit)
        rec = self._recording
        if rec is not None:
            rec.last_packet = now
            rec.buffer.push(packet)
            for released in rec.buffer.pop():
                self._write(rec, released)
                if self._recording is not rec:
                    break

    def _latch(self, source: tuple[str, int], now: float) -> bool:
        # RFC 4961 (symmetric RTP) and the NAT practice built on it: send to where the
        # phone's packets come from, not to the private address its SDP may carry.
        if source == self._remote and self._latched:
            self._latched_at = now
            return True
        if not self._latched or now - self._latched_at > RELATCH_AFTER:
            if source != self._remote:
                self._log.info("rtp_latched", remote=f"{source[0]}:{source[1]}")
            self._remote, self._latched, self._latched_at = source, True, now
            return True
        return False

    # -- recording ---------------------------------------------------------------------

    def record(
        self,
        path: Path,
        *,
        max_seconds: float,
        silence_seconds: float,
        on_stop: Callable[[float], None],
    ) -> None:
        """Record what the phone sends to `path` (WAV, 8 kHz 16-bit mono).

        Stops on `silence_seconds` of silence (trimmed off the file), at `max_seconds`, or
        on stop_recording()/close(); then calls on_stop(duration in seconds), once.
        """
        if self._closed:
            raise RuntimeError("record on a closed MediaSession")
        self.stop_recording()
        pt = self._negotiated.payload_type if self._negotiated else 0
        now = self._loop.time()
        rec = _Recording(
            WavWriter(path),
            JitterBuffer(frozenset({pt})),
            max_seconds,
            silence_seconds,
            on_stop,
            now,
        )
        self._recording = rec
        self._log.info("recording_started", path=str(path), max_seconds=max_seconds)
        self._arm_record_check()

    def stop_recording(self) -> None:
        """Stop and keep everything received (including packets still in the buffer)."""
        rec = self._recording
        if rec is not None:
            for released in rec.buffer.drain():
                if self._recording is not rec:
                    break
                self._write(rec, released)
            self._finish(rec, "stopped")

    def _write(self, rec: _Recording, released: Released) -> None:
        codec = self._codec
        if codec is None or released.payload_type != codec.payload_type:
            return  # telephone-event, comfort noise: not audio for the file
        writer = rec.writer
        room = rec.max_samples - writer.samples
        gap = min(released.gap_samples, room)
        writer.write_silence(gap)
        rec.silent_run += gap
        pcm = codec.decode(released.payload)
        writer.write(pcm)
        self.packets_written += 1
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        if samples.size and float(np.dot(samples, samples)) / samples.size > SILENCE_RMS**2:
            rec.silent_run = 0
            rec.voice_end = writer.samples
        else:
            rec.silent_run += samples.size
        if writer.samples >= rec.max_samples:
            writer.truncate(rec.max_samples)
            self._finish(rec, "max_length")
        elif rec.silence_samples and rec.silent_run >= rec.silence_samples:
            writer.truncate(rec.voice_end + int(SILENCE_TAIL * SAMPLE_RATE))
            self._finish(rec, "silence")

    def _arm_record_check(self) -> None:
        self._record_timer = self._loop.call_later(0.25, self._check_recording)

    def _check_recording(self) -> None:
        # Limits that must hold even when the phone sends nothing at all (muted with
        # silence suppression, or its RTP is blocked): wall-clock max and no-packet silence.
        self._record_timer = None
        rec = self._recording
        if rec is None:
            return
        now = self._loop.time()
        if now >= rec.deadline:
            self.stop_recording()
        elif rec.silence_samples and now - rec.last_packet >= rec.silence_samples / SAMPLE_RATE:
            rec.writer.truncate(rec.voice_end + int(SILENCE_TAIL * SAMPLE_RATE))
            self._finish(rec, "no_rtp")
        else:
            self._arm_record_check()

    def _finish(self, rec: _Recording, reason: str) -> None:
        if self._recording is not rec:
            return
        self._recording = None
        if self._record_timer is not None:
            self._record_timer.cancel()
            self._record_timer = None
        rec.writer.close()
        duration = rec.writer.duration
        self._log.info(
            "recording_stopped",
            reason=reason,
            duration=round(duration, 3),
            duplicates=rec.buffer.duplicates,
            late=rec.buffer.late,
        )
        _call(rec.on_stop, duration)

    # -- playback ----------------------------------------------------------------------

    def play(self, pcm: bytes, then: Callable[[], None] | None = None) -> None:
        """Queue 8 kHz 16-bit mono PCM; `then()` runs once its last packet has been sent.

        Items play one after another. stop_playback() drops the queue without calling the
        dropped items' `then`.
        """
        if self._closed:
            return
        self._queue.append((pcm, then))
        if self._timer is None:
            now = self._loop.time()
            self._next_send = now
            self._send_due()

    def stop_playback(self) -> None:
        self._queue.clear()
        self._offset = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send_due(self) -> None:
        self._timer = None
        now = self._loop.time()
        if now - self._next_send > MAX_LAG:
            self._next_send = now
        while self._queue and self._next_send <= now + 0.001:
            self._send_frame(now)
            self._next_send += FRAME_SECONDS
        if self._queue:
            self._timer = self._loop.call_at(self._next_send, self._send_due)

    def _send_frame(self, now: float) -> None:
        pcm, then = self._queue[0]
        chunk = pcm[self._offset : self._offset + 2 * FRAME_SAMPLES]
        self._offset += 2 * FRAME_SAMPLES
        if len(chunk) < 2 * FRAME_SAMPLES:
            chunk += bytes(2 * FRAME_SAMPLES - len(chunk))  # pad the last frame with silence
        # RFC 3551 §4.1: the marker bit is set on "the first packet after a silence period"
        # and the timestamp must still advance by the real time that passed in between.
        marker = self._last_send < 0 or now - self._last_send > 2 * FRAME_SECONDS
        if marker and self._last_send >= 0:
            idle = round((now - self._last_send) / FRAME_SECONDS) - 1
            self._ts += max(idle, 0) * FRAME_SAMPLES
        self._last_send = now
        self._transmit(chunk, marker)
        self._seq += 1
        self._ts += FRAME_SAMPLES
        if self._offset >= len(pcm):
            self._queue.popleft()
            self._offset = 0
            _call(then)

    def _transmit(self, pcm: bytes, marker: bool) -> None:
        neg, codec = self._negotiated, self._codec
        if neg is None or codec is None or self._remote is None:
            return  # nowhere to send yet (no answer, on hold): time still passes
        if neg.direction not in ("sendrecv", "sendonly"):
            return
        packet = build_rtp(
            codec.payload_type, self._seq, self._ts, self._ssrc, codec.encode(pcm), marker
        )
        self._transport.sendto(packet, self._remote)
        self.packets_sent += 1

    # -- teardown ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop everything, finalise any recording (on_stop fires), free the port. Idempotent."""
        if self._closed:
            return
        self.stop_playback()
        self.stop_recording()
        self._closed = True
        self._transport.close()
        self._server._release(self)
        self._log.info("media_closed", received=self.packets_received, sent=self.packets_sent)


def _address(host: str | None, port: int) -> tuple[str, int] | None:
    if host is None or port <= 0:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # NOT IMPLEMENTED: resolving a host name in c= (rare; RFC 4566 allows it). We wait
        # for the phone's first packet and latch onto its address instead.
        return None
    return host, port


def _call(callback: Callable[..., None] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        log.exception("media_callback_failed", callback=getattr(callback, "__name__", "?"))


class MediaServer:
    """Hands out RTP ports from [port_low, port_high] on `host`, one per MediaSession.

    `advertise` is the address written into our SDP; it defaults to `host`, which must then
    be a concrete address (not 0.0.0.0), since the phone has to be able to reach it.
    """

    def __init__(
        self,
        host: str,
        port_low: int,
        port_high: int,
        *,
        advertise: str | None = None,
        pool: PortPool | None = None,
    ) -> None:
        self.host = host
        self.advertise = advertise or host
        if ipaddress.ip_address(self.advertise).is_unspecified:
            raise ValueError("set `advertise` when binding RTP to a wildcard address")
        # NOT IMPLEMENTED: RTCP reports on the odd port (not needed for recording and
        # playback; phones do not hang up for their absence).
        self.ports = pool or PortPool(port_low, port_high)
        self._sessions: dict[int, MediaSession] = {}

    @property
    def sessions(self) -> list[MediaSession]:
        return list(self._sessions.values())

    async def open(self, call_id: str, offer: bytes | None) -> tuple[MediaSession, bytes]:
        """Bind a port for a call. With an offer: our answer; with None: our offer.

        Raises SdpError (its status_hint, 488 or 400, is the SIP answer) for an offer we
        cannot take, MediaUnavailable (503) when the port range is exhausted.
        """
        negotiated: Negotiated | None = None
        parsed = None
        if offer is not None:
            parsed = parse_sdp(offer)
            negotiated = negotiate_offer(parsed)  # before binding: a 488 costs no port
        port, transport, protocol = await self._bind()
        session_id = secrets.randbits(31)
        session = MediaSession(self, call_id, port, transport, negotiated, session_id)
        protocol.session = session
        self._sessions[port] = session
        if parsed is not None and negotiated is not None:
            sdp = build_answer(
                parsed, negotiated, host=self.advertise, port=port, session_id=session_id
            )
        else:
            sdp = build_offer(host=self.advertise, port=port, session_id=session_id)
        log.info("media_opened", call_id=call_id, rtp_port=port, our_offer=offer is None)
        return session, sdp

    async def _bind(self) -> tuple[int, asyncio.DatagramTransport, _Protocol]:
        loop = asyncio.get_running_loop()

        async def bind(port: int) -> tuple[asyncio.DatagramTransport, _Protocol]:
            return await loop.create_datagram_endpoint(_Protocol, local_addr=(self.host, port))

        try:
            port, (transport, protocol) = await self.ports.take(bind)
        except PortsExhausted as exc:
            raise MediaUnavailable(str(exc)) from None
        return port, transport, protocol

    def _release(self, session: MediaSession) -> None:
        if self._sessions.get(session.local_port) is session:
            del self._sessions[session.local_port]
            self.ports.release(session.local_port)

    def close(self) -> None:
        """Close every session (SIGTERM): recordings are finalised, on_stop fires."""
        for session in list(self._sessions.values()):
            session.close()
