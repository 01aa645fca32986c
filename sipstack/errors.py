"""Errors raised by the SIP stack.

Every error says what to do about it (the h11 `error_status_hint` idea): a
`ParseError` carries the status to answer with and a reason phrase naming the
problem, or `drop=True` when the message cannot be answered at all (no usable
Via, a mangled response) and must be silently discarded.
"""

from __future__ import annotations

from collections.abc import Sequence


class SipError(Exception):
    """Base of every error the stack raises on purpose."""


class ParseError(SipError):
    """The bytes are not a SIP message we can accept.

    `headers` is set by `parse_message` on a request it can answer (drop is False): the
    (name, value) header list as received, from which `message.make_error_response`
    builds the `status_hint` response (RFC 3261 §8.2.6.2 copies Via, From, To, Call-ID
    and CSeq).
    """

    def __init__(
        self,
        reason: str,
        status_hint: int = 400,
        drop: bool = False,
        *,
        headers: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.drop = drop
        self.headers: list[tuple[str, str]] | None = list(headers) if headers is not None else None

    def __repr__(self) -> str:
        return f"ParseError({self.reason!r}, status_hint={self.status_hint}, drop={self.drop})"


class LocalProtocolError(SipError):
    """We asked a state machine to do something RFC 3261 forbids."""


class RemoteProtocolError(SipError):
    """The peer did something RFC 3261 forbids; answer with `status_hint`."""

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
