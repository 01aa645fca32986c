"""A small Python phone for the media tests: SIP over UDP, RTP and RFC 4733 DTMF.

SIPp drives SIP well but cannot send a chosen tone with chosen packets reordered or
dropped, nor count the RTP it gets. This user agent does both on real sockets: it
authenticates (MD5 digest, as RFC 2069-style phones do), places a call with a PCMU
offer, reads the switch's SDP answer for the RTP address, and sends and receives RTP
from its own port (the address its SDP names). Blocking, one call at a time.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

HOST = "127.0.0.1"
SAMPLE_RATE = 8000
FRAME = 160  # samples per 20 ms packet


# ---------------------------------------------------------------------------------------
# audio


def tone(freq: float, seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def ulaw_encode(samples: np.ndarray) -> bytes:
    """G.711 mu-law (ITU-T G.711, the classic Sun reference algorithm), vectorised."""
    bias, clip = 0x84, 32635
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), clip) + bias
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def dominant_frequency(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    x = samples.astype(np.float64)
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(freqs[int(np.argmax(spectrum))])


# ---------------------------------------------------------------------------------------
# RTP


def rtp_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes,
               marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


@dataclass
class RtpStream:
    """Our RTP socket: counts what arrives (a thread) and sends paced packets."""

    sock: socket.socket
    remote: tuple[str, int] | None = None
    received: list[tuple[float, bytes]] = field(default_factory=list)
    seq: int = field(default_factory=lambda: random.randrange(1 << 16))
    ts: int = field(default_factory=lambda: random.randrange(1 << 32))
    ssrc: int = field(default_factory=lambda: random.randrange(1 << 32))
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def open(cls) -> RtpStream:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.settimeout(0.05)
        stream = cls(sock)
        stream._thread = threading.Thread(target=stream._run, daemon=True)
        stream._thread.start()
        return stream

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data))

    def count(self, pt: int | None = 0) -> int:
        return sum(1 for _, d in list(self.received)
                   if len(d) >= 12 and (pt is None or d[1] & 0x7F == pt))

    def wait_packets(self, n: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.count() < n:
            time.sleep(0.02)
        return self.count()

    def send_audio(self, samples: np.ndarray, *, drop: Sequence[int] = (),
                   swap: Sequence[int] = (), duplicate: Sequence[int] = ()) -> int:
        """Send PCMU packets paced at 20 ms. `drop`: packet indexes never sent; `swap`:
        packet i goes out after packet i+1; `duplicate`: sent twice. Returns packets sent."""
        assert self.remote is not None
        packets = []
        for i in range(0, len(samples) - FRAME + 1, FRAME):
            packets.append(rtp_packet(0, self.seq, self.ts, self.ssrc,
                                      ulaw_encode(samples[i:i + FRAME]), marker=i == 0))
            self.seq += 1
            self.ts += FRAME
        order = list(range(len(packets)))
        for i in swap:
            if i + 1 < len(order):
                order[i], order[i + 1] = order[i + 1], order[i]
        dropped, doubled = set(drop), set(duplicate)
        start = time.monotonic()
        sent = 0
        for slot, index in enumerate(order):
            delay = start + slot * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if index in dropped:
                continue
            self.sock.sendto(packets[index], self.remote)
            sent += 1
            if index in doubled:
                self.sock.sendto(packets[index], self.remote)
        return sent

    def send_dtmf(self, digit: str, pt: int = 101, duration_ms: int = 160) -> None:
        """RFC 4733 telephone-event: a few updates, then the end packet three times."""
        assert self.remote is not None
        event = "0123456789*#ABCD".index(digit.upper())
        ts = self.ts
        steps = duration_ms // 20
        for n in range(1, steps + 1):
            payload = struct.pack("!BBH", event, 10, n * FRAME)
            self.sock.sendto(rtp_packet(pt, self.seq, ts, self.ssrc, payload, marker=n == 1),
                             self.remote)
            self.seq += 1
            time.sleep(0.02)
        end = struct.pack("!BBH", event, 0x80 | 10, steps * FRAME)
        for _ in range(3):
            self.sock.sendto(rtp_packet(pt, self.seq, ts, self.ssrc, end), self.remote)
            self.seq += 1
        self.ts += steps * FRAME

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        self.sock.close()


# ---------------------------------------------------------------------------------------
# SIP


def _header(text: str, name: str) -> str | None:
    head = text.split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name.lower():
            return value.strip()
    return None


def _status(text: str) -> int | None:
    first = text.split("\r\n", 1)[0]
    return int(first.split()[1]) if first.startswith("SIP/2.0 ") else None


def _body(text: str) -> str:
    return text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""


def sdp_media(sdp: str) -> tuple[str, int]:
    conn = re.search(r"^c=IN IP4 (\S+)", sdp, re.MULTILINE)
    media = re.search(r"^m=audio (\d+) ", sdp, re.MULTILINE)
    assert conn and media, sdp
    return conn.group(1), int(media.group(1))


def _digest(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    value = (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
             f'response="{response}", algorithm=MD5')
    if "opaque" in fields:
        value += f', opaque="{fields["opaque"]}"'
    return value


class SipPhone:
    """One extension's phone: REGISTER optional, calls out, answers in-dialog requests."""

    def __init__(self, switch: tuple[str, int], user: str, password: str,
                 domain: str = "acme.test") -> None:
        self.switch = switch
        self.user = user
        self.password = password
        self.domain = domain
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.cseq = 0
        self.inbox: list[str] = []  # requests received that nobody waited for
        self.call_id = ""
        self.local_tag = ""
        self.remote_to = ""
        self.remote_target = ""
        self.rtp: RtpStream | None = None

    # -- transport ---------------------------------------------------------------------
    def _send(self, text: str) -> None:
        self.sock.sendto(text.encode(), self.switch)

    def _recv(self, timeout: float) -> str | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        return data.decode(errors="replace")

    def _answer_request(self, text: str) -> None:
        """200 OK to a request from the switch (NOTIFY, BYE, OPTIONS)."""
        lines = ["SIP/2.0 200 OK"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            for line in head[1:]:
                if line.split(":", 1)[0].strip().lower() == name.lower():
                    lines.append(line)
        lines.append("Content-Length: 0")
        self._send("\r\n".join(lines) + "\r\n\r\n")

    def wait_response(self, call_id: str, method: str, timeout: float = 5.0,
                      final: bool = True) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self._recv(deadline - time.monotonic())
            if text is None:
                raise TimeoutError(f"no response to {method} within {timeout} s")
            status = _status(text)
            if status is None:
                self.inbox.append(text)
                self._answer_request(text)
                continue
            if _header(text, "Call-ID") != call_id:
                continue
            if (_header(text, "CSeq") or "").split()[-1] != method:
                continue
            if final and status < 200:
                continue
            return text

    def wait_request(self, method: str, timeout: float = 5.0) -> str:
        for i, text in enumerate(self.inbox):
            if text.startswith(method + " "):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            text = self._recv(deadline - time.monotonic())
            if text is None:
                raise TimeoutError(f"no {method} within {timeout} s")
            if _status(text) is not None:
                continue
            self._answer_request(text)
            if text.startswith(method + " "):
                return text
            self.inbox.append(text)

    # -- requests ----------------------------------------------------------------------
    def _request(self, method: str, uri: str, call_id: str, from_tag: str, to: str,
                 extra: Sequence[str] = (), body: str = "", cseq: int | None = None) -> str:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {HOST}:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={from_tag}",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.user}@{HOST}:{self.port}>",
            *extra,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def register(self, expires: int = 3600) -> None:
        call_id, tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
        uri = f"sip:{self.domain}"
        to = f"<sip:{self.user}@{self.domain}>"
        extra = [f"Expires: {expires}"]
        self._send(self._request("REGISTER", uri, call_id, tag, to, extra))
        resp = self.wait_response(call_id, "REGISTER")
        if _status(resp) == 401:
            auth = _digest(_header(resp, "WWW-Authenticate") or "", self.user, self.password,
                           "REGISTER", uri)
            self._send(self._request("REGISTER", uri, call_id, tag, to,
                                     [*extra, f"Authorization: {auth}"]))
            resp = self.wait_response(call_id, "REGISTER")
        assert _status(resp) == 200, resp

    def call(self, dialled: str, timeout: float = 10.0) -> tuple[int, str]:
        """INVITE `dialled` with a PCMU offer; on 200 sends ACK, latches RTP at the answer.
        Returns (final status, final response text)."""
        self.rtp = RtpStream.open()
        self.call_id, self.local_tag = uuid.uuid4().hex, uuid.uuid4().hex[:8]
        uri = f"sip:{dialled}@{self.domain}"
        to = f"<sip:{dialled}@{self.domain}>"
        sdp = (f"v=0\r\no=py 1 1 IN IP4 {HOST}\r\ns=py\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
               f"m=audio {self.rtp.port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
        self._send(self._request("INVITE", uri, self.call_id, self.local_tag, to, body=sdp))
        resp = self.wait_response(self.call_id, "INVITE", timeout)
        if _status(resp) == 407:
            self._ack_failure(uri, resp)
            auth = _digest(_header(resp, "Proxy-Authenticate") or "", self.user, self.password,
                           "INVITE", uri)
            self._send(self._request("INVITE", uri, self.call_id, self.local_tag, to,
                                     [f"Proxy-Authorization: {auth}"], body=sdp))
            resp = self.wait_response(self.call_id, "INVITE", timeout)
        status = _status(resp) or 0
        if status >= 300:
            self._ack_failure(uri, resp)
            return status, resp
        self.remote_to = _header(resp, "To") or to
        contact = _header(resp, "Contact") or uri
        self.remote_target = contact.strip("<>").split(">")[0]
        self._send(self._request("ACK", self.remote_target, self.call_id, self.local_tag,
                                 self.remote_to, cseq=self.cseq))
        self.rtp.remote = sdp_media(_body(resp))
        return status, resp

    def _ack_failure(self, uri: str, resp: str) -> None:
        lines = [
            f"ACK {uri} SIP/2.0",
            # the ACK of a non-2xx reuses the INVITE's branch (RFC 3261 17.1.1.3)
            f"Via: {_header(resp, 'Via')}",
            "Max-Forwards: 70",
            f"From: {_header(resp, 'From')}",
            f"To: {_header(resp, 'To')}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} ACK",
            "Content-Length: 0",
        ]
        self._send("\r\n".join(lines) + "\r\n\r\n")

    def bye(self, timeout: float = 5.0) -> int:
        self._send(self._request("BYE", self.remote_target, self.call_id, self.local_tag,
                                 self.remote_to))
        resp = self.wait_response(self.call_id, "BYE", timeout)
        return _status(resp) or 0

    def close(self) -> None:
        if self.rtp is not None:
            self.rtp.close()
            self.rtp = None
        self.sock.close()


# ---------------------------------------------------------------------------------------
# mailboxes: configuration and leaving a message


def mailbox_customers() -> list[dict[str, object]]:
    """acme for the voicemail tests: every extension has a mailbox; 202 and 209 send busy
    and unanswered calls to it; hunt group 600 (203, 204) falls back to 209's box."""
    def ext(number: str, password: str, **more: object) -> dict[str, object]:
        out: dict[str, object] = {"number": number, "name": f"Phone {number}",
                                  "password": password, "user_group": "staff",
                                  "voicemail": True}
        out.update(more)
        return out

    covered = {"no_answer_seconds": 3, "busy": "voicemail", "no_answer": "voicemail"}
    return [{
        "name": "acme",
        "domain": "acme.test",
        "user_groups": [{"name": "staff", "allow_pickup": True}],
        "extensions": [
            ext("201", "alice-pw"),
            ext("202", "bert-pw", coverage=covered),
            ext("203", "maryanne-pw"),
            ext("204", "jane-pw"),
            ext("209", "support-pw", coverage=covered),
        ],
        "hunt_groups": [{
            "name": "support", "number": "600", "strategy": "sequential", "type": "static",
            "members": ["203", "204"], "ring_seconds": 2, "default": "209",
        }],
    }]


def write_greeting(path: object, freq: float, seconds: float) -> None:
    """A mailbox's own greeting.wav (8 kHz 16-bit mono): a tone, so the test can hear it."""
    import wave
    from pathlib import Path

    target = Path(str(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(tone(freq, seconds).tobytes())


def read_wav(path: object) -> np.ndarray:
    import wave

    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def received_audio(stream: RtpStream, start: int = 0, end: int | None = None) -> np.ndarray:
    """The PCMU payloads received (in arrival order) from packet `start` to `end`, decoded."""
    payloads = [d[12:] for _, d in list(stream.received) if len(d) > 12 and d[1] & 0x7F == 0]
    return ulaw_decode(b"".join(payloads[start:end]))


def wait_quiet(stream: RtpStream, first_timeout: float = 5.0, gap: float = 0.25) -> int:
    """Until packets have come and then stopped for `gap` seconds: the prompt is over."""
    deadline = time.monotonic() + first_timeout
    while stream.count() == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("no RTP from the switch")
        time.sleep(0.02)
    while True:
        before = stream.count()
        time.sleep(gap)
        if stream.count() == before:
            return before


@dataclass
class Deposit:
    greeting_packets: int
    sent: int
    phone: SipPhone
    stream: RtpStream  # still readable after the phone is closed


def leave_message(switch: tuple[str, int], dialled: str, samples: np.ndarray, *,
                  caller: str = "201", password: str = "alice-pw",
                  drop: Sequence[int] = (), swap: Sequence[int] = (),
                  duplicate: Sequence[int] = (), hang_up: bool = True) -> Deposit:
    """Call `dialled`, expect the switch to answer, listen to the greeting and beep, then
    send `samples` as PCMU and hang up (unless `hang_up` is False)."""
    phone = SipPhone(switch, caller, password)
    status, response = phone.call(dialled)
    assert status == 200, response
    stream = phone.rtp
    assert stream is not None
    greeting = wait_quiet(stream)
    sent = stream.send_audio(samples, drop=drop, swap=swap, duplicate=duplicate)
    if hang_up:
        time.sleep(0.1)
        assert phone.bye() == 200
        phone.close()
    return Deposit(greeting, sent, phone, stream)
