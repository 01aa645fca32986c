"""One in-process switch for tests and benchmarks: Endpoint + Switch on a fake clock, no sockets.

Scripted phones exchange SIP messages with the real sans-IO core; what the switch sends
lands in per-address inboxes. Media and mailbox files are the shell's ports, so here they
are a scripted media port (`ScriptedMedia`: plays and recordings finish when the test says)
and the real `VoicemailStore` under a temporary folder whose results are delivered at the
next pump, as the threaded shell delivers them. A test reads as a sequence diagram and
runs in milliseconds:

    sw = InProcessSwitch(CONFIG, registered={"200": CALLEE})
    call = sw.dial(CALLER, "100", "pw100", "200")       # INVITE, 407, ACK, INVITE+auth
    ring = sw.requests(CALLEE, "INVITE")[0]
    sw.send(make_response(ring, 180, to_tag="tb"), CALLEE)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from config import parse_config
from sipstack.endpoint import Endpoint
from sipstack.header_values import parse_auth
from sipstack.ids import IdSource
from sipstack.message import Message, Request, Response, make_response
from sipstack.parse import parse_message
from sipstack.serialize import serialize
from sipstack.transport import Address, Transport
from sipstack.uri import parse_uri
from switch.auth import AuthThrottle, DigestAuthenticator, answer_challenge
from switch.core import Switch
from switch.directory import Directory
from switch.features.voicemail import MailboxIndex
from switch.media.voicemail import Mailbox, VoicemailStore
from switch.media.voicemail import Message as VoicemailMessage
from switch.ports import Done, MediaOpened, MediaRelay
from switch.registration.location import Binding
from switch.registration.registrar import RegistrarPolicy
from switch.storage.memory import MemoryStore

SWITCH: Address = ("127.0.0.1", 5060)
SWITCH_CONTACT = "<sip:s@127.0.0.1:5060>"
SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
)
START = 1_000_000.0


class ScriptedSession:
    """A media session the test drives: what was played, and when playback ends."""

    def __init__(self, media: ScriptedMedia, call_id: str) -> None:
        self.media = media
        self.call_id = call_id
        self.on_dtmf: Callable[[str, float], None] | None = None
        self.played: list[bytes] = []
        self._then: list[Done | None] = []
        self.recording: tuple[Path, Callable[[float, float], None]] | None = None
        self.closed = False

    def play(self, pcm: bytes, then: Done | None = None) -> None:
        self.played.append(pcm)
        self._then.append(then)

    def stop_playback(self) -> None:
        self._then = [None for _ in self._then]  # dropped items' `then` never runs

    def record(
        self,
        path: Path,
        *,
        max_seconds: float,
        silence_seconds: float,
        on_stop: Callable[[float, float], None],
    ) -> None:
        self.recording = (path, on_stop)

    def stop_recording(self) -> None:
        self.recording = None

    def apply_answer(self, answer: bytes) -> None:
        self.media.answers.append(answer)

    def renegotiate(self, offer: bytes) -> bytes:
        return SDP

    def offer(self) -> bytes:
        return SDP

    def close(self) -> None:
        self.closed = True

    # -- what the test does ------------------------------------------------------------
    def finish_playing(self) -> None:
        """Every queued item has been sent: their `then` callbacks run, in order."""
        pending, self._then = self._then, []
        for then in pending:
            if then is not None:
                self.media.switch.later(then)
        self.media.switch.pump()

    def dtmf(self, digit: str) -> None:
        callback = self.on_dtmf
        assert callback is not None, "nobody listens for DTMF"
        self.media.switch.later(lambda now: callback(digit, now))
        self.media.switch.pump()

    def stop_recording_after(self, seconds: float) -> None:
        """The caller spoke for `seconds` and hung up (or fell silent)."""
        assert self.recording is not None, "not recording"
        path, on_stop = self.recording
        self.recording = None
        path.write_bytes(b"")  # the WAV itself is the media shell's business
        self.media.switch.later(lambda now: on_stop(seconds, now))
        self.media.switch.pump()


class ScriptedMedia:
    """`ports.MediaPort`: sessions open at the next pump, with our SDP."""

    def __init__(self, switch: InProcessSwitch) -> None:
        self.switch = switch
        self.sessions: list[ScriptedSession] = []
        self.answers: list[bytes] = []

    def open(self, call_id: str, offer: bytes | None, opened: MediaOpened) -> None:
        session = ScriptedSession(self, call_id)
        self.sessions.append(session)
        self.switch.later(lambda now: opened(session, SDP, 200, now))


class DeferredMailboxFiles:
    """`ports.MailboxFiles` over a real VoicemailStore; results arrive at the next pump."""

    def __init__(self, store: VoicemailStore, switch: InProcessSwitch) -> None:
        self.store = store
        self._switch = switch

    def begin(
        self, box: Mailbox, message: VoicemailMessage, done: Callable[[Path, float], None]
    ) -> None:
        path = self.store.begin(box, message)
        self._switch.later(lambda now: done(path, now))

    def finish(self, box: Mailbox, msg_id: str, duration: float) -> None:
        self.store.finish(box, msg_id, duration)

    def messages(self, box: Mailbox, done: Callable[[list[VoicemailMessage], float], None]) -> None:
        found = self.store.messages(box)
        self._switch.later(lambda now: done(found, now))

    def greeting(self, box: Mailbox, done: Callable[[bytes | None, float], None]) -> None:
        self._switch.later(lambda now: done(None, now))

    def audio(self, box: Mailbox, msg_id: str, done: Callable[[bytes, float], None]) -> None:
        audio = f"message {msg_id}".encode()
        self._switch.later(lambda now: done(audio, now))

    def mark_heard(self, box: Mailbox, msg_id: str) -> None:
        self.store.mark_heard(box, msg_id)

    def delete(self, box: Mailbox, msg_id: str) -> None:
        self.store.delete(box, msg_id)


class InProcessSwitch:
    """The real Switch and Endpoint, scripted phones, a fake clock."""

    def __init__(
        self,
        config_yaml: str,
        *,
        registered: dict[str, Address] | None = None,
        domain: str | None = None,
        state_dir: Path | None = None,
        timed: bool = False,
        relay: MediaRelay | None = None,
        session_expires: int = 0,
        store: MemoryStore | None = None,
    ) -> None:
        self.now = START
        self.timed = timed
        self.switch_seconds = 0.0  # CPU spent inside the switch (timed=True)
        config = parse_config(config_yaml)
        self.domain = domain or config.customers[0].domain
        self.endpoint = Endpoint(local={Transport.UDP: SWITCH}, ids=IdSource(1))
        self.store = store or MemoryStore()  # pass the last one's to "restart" the switch
        self._later: list[Callable[[float], None]] = []
        self.media = ScriptedMedia(self)
        voicemail = VoicemailStore(state_dir or Path("/nonexistent-softswitch-state"))
        self.mailbox_files = DeferredMailboxFiles(voicemail, self)
        self.mailbox_index = MailboxIndex(
            (box, voicemail.messages(box)) for box in voicemail.mailboxes()
        )
        self.sw = Switch(
            endpoint=self.endpoint,
            directory=Directory.build(config),
            location=self.store,
            state_store=self.store,
            ids=self.endpoint.ids,
            authenticator=DigestAuthenticator(b"k" * 32),
            throttle=AuthThrottle(10, 60, 60),
            policy=RegistrarPolicy(),
            contacts={Transport.UDP: SWITCH_CONTACT},
            now=self.now,
            mailbox_files=self.mailbox_files,
            mailbox_index=self.mailbox_index,
            media=self.media,
            relay=relay,
            session_expires=session_expires,
        )
        self.inbox: dict[Address, list[bytes]] = {}
        for number, address in (registered or {}).items():
            self.register(number, address)

    # -- the pump ------------------------------------------------------------------------
    def later(self, callback: Callable[[float], None]) -> None:
        """Run `callback(now)` at the next pump, as the shell runs media and file results."""
        self._later.append(callback)

    def pump(self) -> None:
        start = time.perf_counter() if self.timed else 0.0
        while self._later:
            pending, self._later = self._later, []
            for callback in pending:
                callback(self.now)
        while (event := self.endpoint.next_event()) is not None:
            self.sw.on_event(event, self.now)
        self.sw.flush_notifications(self.now)
        out = self.endpoint.outgoing()
        if self.timed:
            self.switch_seconds += time.perf_counter() - start
        for datagram in out:
            self.inbox.setdefault(datagram.destination, []).append(datagram.data)

    def send(self, message: Message | bytes, source: Address) -> None:
        data = message if isinstance(message, bytes) else serialize(message)
        start = time.perf_counter() if self.timed else 0.0
        self.endpoint.receive(data, source, Transport.UDP, self.now)
        if self.timed:
            self.switch_seconds += time.perf_counter() - start
        self.pump()

    def advance(self, seconds: float, step: float = 0.25) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            self.endpoint.handle_timer(self.now)
            self.sw.handle_timer(self.now)
            self.pump()

    # -- what the phones got -----------------------------------------------------------------
    def take(self, who: Address) -> list[Request | Response]:
        got = [parse_message(d) for d in self.inbox.get(who, [])]
        self.inbox[who] = []
        return got

    def requests(self, who: Address, method: str | None = None) -> list[Request]:
        return [
            m
            for m in self.take(who)
            if isinstance(m, Request) and (method is None or m.method == method)
        ]

    def finals(self, who: Address) -> list[Response]:
        return [m for m in self.take(who) if isinstance(m, Response) and m.status >= 200]

    # -- phones ------------------------------------------------------------------------------
    def register(self, number: str, address: Address, domain: str | None = None) -> None:
        """A binding as a REGISTER would leave it (the registrar has tests of its own)."""
        self.store.save(
            Binding(
                aor=f"{number}@{domain or self.domain}",
                contact=f"sip:{number}@{address[0]}:{address[1]}",
                source=address,
                transport="UDP",
                expires_at=self.now + 1e6,
                call_id=f"reg-{number}-{address[1]}",
                cseq=1,
            )
        )

    def dial(
        self,
        phone: Address,
        number: str,
        password: str,
        dialled: str,
        *,
        call_id: str | None = None,
        offer: bytes = SDP,
        extra: list[tuple[str, str]] | None = None,
    ) -> DialledCall:
        """The caller's INVITE, the 407 challenge, its ACK, and the INVITE with credentials."""
        call = DialledCall(self, phone, number, dialled, call_id or f"call-{dialled}-{self.now}")
        call.extra = list(extra or [])
        self.send(call.invite(1, None, offer), phone)
        challenge = next(m for m in self.take(phone) if isinstance(m, Response) and m.status != 100)
        assert challenge.status == 407, f"{challenge.status} {challenge.reason}"
        self.send(call.ack_for(challenge), phone)
        auth = answer_challenge(
            parse_auth(challenge.get("proxy-authenticate") or ""),
            method="INVITE",
            uri=f"sip:{dialled}@{self.domain}",
            username=number,
            password=password,
            cnonce="abc",
        )
        self.send(call.invite(2, auth, offer), phone)
        return call


class DialledCall:
    """The caller's side of one call: its INVITE and, once answered, its dialog."""

    def __init__(
        self, switch: InProcessSwitch, phone: Address, number: str, dialled: str, call_id: str
    ) -> None:
        self.switch = switch
        self.phone = phone
        self.number = number
        self.dialled = dialled
        self.call_id = call_id
        self.tag = f"t{abs(hash(call_id)) % 10**8}"
        self.extra: list[tuple[str, str]] = []  # more headers on the INVITE (Record-Route...)
        self.answer: Response | None = None

    def _uri(self) -> str:
        return f"sip:{self.dialled}@{self.switch.domain}"

    def _via(self, branch: str) -> tuple[str, str]:
        host, port = self.phone
        return ("via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK{branch};rport")

    def invite(self, cseq: int, auth: str | None, offer: bytes = SDP) -> Request:
        host, port = self.phone
        headers = [
            self._via(f"{self.call_id}i{cseq}"),
            ("from", f"<sip:{self.number}@{self.switch.domain}>;tag={self.tag}"),
            ("to", f"<{self._uri()}>"),
            ("call-id", self.call_id),
            ("cseq", f"{cseq} INVITE"),
            ("max-forwards", "70"),
            ("contact", f"<sip:{self.number}@{host}:{port}>"),
        ]
        headers.extend(self.extra)
        if offer:
            headers.append(("content-type", "application/sdp"))
        if auth:
            headers.append(("proxy-authorization", auth))
        return Request("INVITE", parse_uri(self._uri()), headers, offer)

    def ack_for(self, response: Response) -> Request:
        """The ACK of a non-2xx final response (same branch, RFC 3261 §17.1.1.3)."""
        return Request(
            "ACK",
            parse_uri(self._uri()),
            [
                ("via", response.get("via") or ""),
                ("from", response.get("from") or ""),
                ("to", response.get("to") or ""),
                ("call-id", self.call_id),
                ("cseq", f"{response.cseq.seq} ACK"),
                ("max-forwards", "70"),
            ],
        )

    def answered(self) -> Response:
        """The 200 the caller got (taken from its inbox)."""
        finals = self.switch.finals(self.phone)
        oks = [m for m in finals if m.status == 200]
        assert oks, f"caller got {[f'{m.status} {m.reason}' for m in finals]}, no 200"
        self.answer = oks[0]
        return oks[0]

    def request(
        self, method: str, cseq: int, body: bytes = b"", branch: str | None = None
    ) -> Request:
        """An in-dialog request from the caller, after `answered()`."""
        answer = self.answer
        assert answer is not None, "call not answered"
        host, port = self.phone
        headers = [
            self._via(branch or f"{self.call_id}{method}{cseq}"),
            ("from", f"<sip:{self.number}@{self.switch.domain}>;tag={self.tag}"),
            ("to", answer.get("to") or ""),
            ("call-id", self.call_id),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
            ("contact", f"<sip:{self.number}@{host}:{port}>"),
        ]
        if body:
            headers.append(("content-type", "application/sdp"))
        return Request(method, answer.contacts[0].uri, headers, body)

    def ack(self, cseq: int = 2) -> None:
        self.switch.send(self.request("ACK", cseq, branch=f"{self.call_id}ack{cseq}"), self.phone)

    def bye(self, cseq: int = 3) -> None:
        self.switch.send(self.request("BYE", cseq), self.phone)


# Two extensions of one customer, for the protocol tests that need only a caller and a callee
TWO_PHONES = """
server: {listen: ["udp:127.0.0.1:5060"], state_dir: /nonexistent-softswitch-state}
customers:
  - name: tele
    domain: tele.test
    user_groups: [{name: staff}]
    extensions:
      - {number: "310", name: Ann, password: pw310, user_group: staff}
      - {number: "320", name: Bob, password: pw320, user_group: staff}
"""
ANN: Address = ("127.0.0.1", 7310)
BOB: Address = ("127.0.0.1", 7320)


def with_sdp(invite: Request, status: int, tag: str, phone: Address, body: bytes) -> Response:
    """A phone's `status` response to `invite` (To tag `tag`) carrying the SDP `body`."""
    response = make_response(invite, status, to_tag=tag)
    response.add("contact", f"<sip:{tag}@{phone[0]}:{phone[1]}>")
    response.add("content-type", "application/sdp")
    response.body = body
    return response


def answer(switch: InProcessSwitch, invite: Request, phone: Address, tag: str) -> Response:
    """A phone's 200 OK with SDP to an INVITE the switch sent it."""
    ok = with_sdp(invite, 200, tag, phone, SDP)
    switch.send(ok, phone)
    return ok


def callee_request(
    invite: Request, method: str, cseq: int, phone: Address, tag: str, body: bytes = b""
) -> Request:
    """An in-dialog request from a callee that answered `invite` with To tag `tag`."""
    headers = [
        ("via", f"SIP/2.0/UDP {phone[0]}:{phone[1]};branch=z9hG4bKb{method}{cseq}{tag};rport"),
        ("from", f"{invite.get('to')};tag={tag}"),
        ("to", invite.get("from") or ""),
        ("call-id", invite.call_id),
        ("cseq", f"{cseq} {method}"),
        ("max-forwards", "70"),
        ("contact", f"<sip:{tag}@{phone[0]}:{phone[1]}>"),
    ]
    if body:
        headers.append(("content-type", "application/sdp"))
    return Request(method, parse_uri(SWITCH_CONTACT.strip("<>")), headers, body)


class Subscriber:
    """A phone subscribing to an event package (message-summary of its own mailbox by
    default; `dialog` of another extension for a busy lamp), digest included."""

    def __init__(
        self,
        switch: InProcessSwitch,
        phone: Address,
        number: str,
        password: str,
        *,
        event: str = "message-summary",
        target: str | None = None,
    ) -> None:
        self.switch = switch
        self.phone = phone
        self.number = number
        self.password = password
        self.event = event
        self.target = target or number
        self.cseq = 0
        self.to = f"<sip:{self.target}@{switch.domain}>"

    def _request(self, expires: int, auth: str | None) -> Request:
        self.cseq += 1
        host, port = self.phone
        tag = f"{self.event[:3]}{self.number}"
        headers = [
            (
                "via",
                f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK{tag}t{self.target}c{self.cseq};rport",
            ),
            ("from", f"<sip:{self.number}@{self.switch.domain}>;tag={tag}"),
            ("to", self.to),
            ("call-id", f"{self.event}-{self.number}-{self.target}"),
            ("cseq", f"{self.cseq} SUBSCRIBE"),
            ("max-forwards", "70"),
            ("contact", f"<sip:{self.number}@{host}:{port}>"),
            ("event", self.event),
            ("expires", str(expires)),
        ]
        if auth:
            headers.append(("authorization", auth))
        return Request("SUBSCRIBE", parse_uri(f"sip:{self.target}@{self.switch.domain}"), headers)

    def subscribe(self, expires: int = 3600) -> list[Request | Response]:
        """SUBSCRIBE, the 401, SUBSCRIBE with credentials: what the phone got then."""
        sw = self.switch
        sw.send(self._request(expires, None), self.phone)
        challenge = next(m for m in sw.take(self.phone) if isinstance(m, Response))
        assert challenge.status == 401, challenge
        uri = f"sip:{self.target}@{sw.domain}"
        auth = answer_challenge(
            parse_auth(challenge.get("www-authenticate") or ""),
            method="SUBSCRIBE",
            uri=uri,
            username=self.number,
            password=self.password,
            cnonce="mwi",
        )
        sw.send(self._request(expires, auth), self.phone)
        got = sw.take(self.phone)
        ok = next(m for m in got if isinstance(m, Response) and m.status == 200)
        self.to = ok.get("to") or self.to
        return got

    def refresh(self, expires: int) -> list[Request | Response]:
        """A SUBSCRIBE inside the dialog (expires=0 unsubscribes)."""
        self.switch.send(self._request(expires, None), self.phone)
        return self.switch.take(self.phone)
