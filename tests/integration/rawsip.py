"""A minimal scripted SIP client over UDP for tests that need exact control of bytes.

It uses the project's own parser only to read answers; what it sends is written
out literally, so the switch sees what a phone (or a scanner) would send.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable

from sipstack.header_values import parse_auth
from sipstack.message import Request, Response
from sipstack.parse import parse_message
from switch.auth import answer_challenge


class RawPhone:
    def __init__(
        self,
        switch_host: str,
        switch_port: int,
        user: str,
        domain: str,
        contact_address: str | None = None,
        local_host: str = "127.0.0.1",
    ) -> None:
        self.target = (switch_host, switch_port)
        self.user = user
        self.domain = domain
        self.local_host = local_host  # another address only inside a test's namespace
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_host, 0))
        self.port = int(self.sock.getsockname()[1])
        self.call_id = uuid.uuid4().hex
        self.cseq = 0
        # the address the Contact names: a NATed phone names one it is not at
        self.contact_address = contact_address or f"{local_host}:{self.port}"

    def close(self) -> None:
        self.sock.close()

    def request(
        self,
        method: str,
        uri: str,
        extra: list[str] | None = None,
        body: bytes = b"",
        to: str | None = None,
    ) -> bytes:
        self.cseq += 1
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local_host}:{self.port};"
            f"branch=z9hG4bK{uuid.uuid4().hex};rport",
            f"From: <sip:{self.user}@{self.domain}>;tag={self.call_id[:8]}",
            f"To: {to or f'<sip:{self.user}@{self.domain}>'}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{self.user}@{self.contact_address}>",
            *(extra or []),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
        return "\r\n".join(lines).encode() + body

    def send(self, data: bytes, timeout: float = 2.0) -> Response | None:
        """Send and return the first final response (provisionals skipped)."""
        self.sock.settimeout(timeout)
        self.sock.sendto(data, self.target)
        while True:
            try:
                message = parse_message(self.sock.recv(65535))
            except TimeoutError:
                return None
            if isinstance(message, Response) and message.status >= 200:
                return message

    def next_message(
        self, within: float, wanted: Callable[[Request | Response], bool]
    ) -> Request | Response | None:
        """The first message reaching this phone within `within` seconds that is `wanted`."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                message = parse_message(self.sock.recv(65535))
            except TimeoutError:
                return None
            if wanted(message):
                return message
        return None

    def register(self, password: str, expires: int = 300) -> Response | None:
        uri = f"sip:{self.domain}"
        extra = [f"Expires: {expires}"]
        first = self.send(self.request("REGISTER", uri, extra))
        if first is None or first.status != 401:
            return first
        challenge = parse_auth(first.get_all("www-authenticate")[0])
        auth = answer_challenge(
            challenge,
            method="REGISTER",
            uri=uri,
            username=self.user,
            password=password,
            cnonce=uuid.uuid4().hex[:8],
        )
        return self.send(self.request("REGISTER", uri, [*extra, f"Authorization: {auth}"]))

    def authenticated(
        self,
        method: str,
        uri: str,
        password: str,
        extra: list[str] | None = None,
        to: str | None = None,
        body: bytes = b"",
        digest_uri: str | None = None,
    ) -> Response | None:
        """Send `method`; answer a 401/407 challenge once with our credentials (computed
        for `digest_uri`, the Request-URI unless another is given)."""
        first = self.send(self.request(method, uri, extra, body, to))
        if first is None or first.status not in (401, 407):
            return first
        if method == "INVITE":
            self.ack(first)
        header = "www-authenticate" if first.status == 401 else "proxy-authenticate"
        answer = "Authorization" if first.status == 401 else "Proxy-Authorization"
        challenge = parse_auth(first.get_all(header)[0])
        auth = answer_challenge(
            challenge,
            method=method,
            uri=digest_uri or uri,
            username=self.user,
            password=password,
            cnonce=uuid.uuid4().hex[:8],
        )
        return self.send(self.request(method, uri, [*(extra or []), f"{answer}: {auth}"], body, to))

    def ack(self, final: Response) -> None:
        """The ACK of a non-2xx final response: its Via branch, To tag and CSeq number."""
        lines = [
            f"ACK {final.to.uri} SIP/2.0",
            f"Via: {final.get('via')}",
            f"From: {final.get('from')}",
            f"To: {final.get('to')}",
            f"Call-ID: {final.call_id}",
            f"CSeq: {final.cseq.seq} ACK",
            "Max-Forwards: 70",
            "Content-Length: 0",
            "",
            "",
        ]
        self.sock.sendto("\r\n".join(lines).encode(), self.target)

    def receive_all(self, timeout: float = 0.5) -> list[bytes]:
        """Every datagram that arrives within `timeout` seconds of the last one."""
        self.sock.settimeout(timeout)
        got: list[bytes] = []
        while True:
            try:
                got.append(self.sock.recv(65535))
            except TimeoutError:
                return got
