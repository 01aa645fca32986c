"""The front door: stateless answers to requests, and digest authentication with the throttle.

`Replier` answers a request outside any call (4xx/5xx, 200 to OPTIONS) with a fresh To
tag where the request had none. `Gatekeeper` checks digest credentials (RFC 3261 §22,
`auth.DigestAuthenticator`) and answers 401/407 challenges and 403 refusals itself; a
source address that keeps failing is refused without its answers being checked, while
phones already registered from that exact address and port keep working.
"""

from __future__ import annotations

import structlog

from sipstack.events import RequestReceived
from sipstack.ids import IdSource
from sipstack.message import Request, make_response
from sipstack.transport import Address

from .auth import (
    AuthFailed,
    AuthOk,
    AuthStale,
    AuthThrottle,
    AuthWrongUri,
    DigestAuthenticator,
)
from .calls.call import ALLOW_OUT_OF_DIALOG
from .ports import AllBindings, PasswordOf, SipOut

log = structlog.get_logger("switch.gate")


class Replier:
    """`ports.Replies` over the transaction layer."""

    def __init__(self, sip: SipOut, ids: IdSource) -> None:
        self._sip = sip
        self._ids = ids

    def reply(
        self,
        request: Request,
        status: int,
        now: float,
        reason: str | None = None,
        *,
        allow: bool = False,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        tag = None if request.to.tag else self._ids.tag()
        response = make_response(request, status, reason, to_tag=tag)
        if allow:
            response.add("allow", ALLOW_OUT_OF_DIALOG)
        if headers:
            response.headers.extend(headers)
        self._sip.send_response(response, now)


class Gatekeeper:
    """`ports.Gate`: digest authentication, with challenges and refusals answered here."""

    def __init__(
        self,
        *,
        authenticator: DigestAuthenticator,
        throttle: AuthThrottle,
        replies: Replier,
        registrations: AllBindings,
    ) -> None:
        self._auth = authenticator
        self._throttle = throttle
        self._replies = replies
        self._registrations = registrations

    def authenticate(
        self,
        event: RequestReceived,
        realm: str,
        header: str,
        password_of: PasswordOf,
        now: float,
    ) -> str | None:
        """The authenticated user name, or None once 401/407/403 has been answered."""
        request = event.request
        ip = event.source[0]
        if (
            request.has(header)
            and self._throttle.is_blocked(ip, now)
            and not self._registered_flow(event.source, now)
        ):
            # A scanner cannot guess at line rate; other addresses are not affected.
            log.warning("auth.throttled", source=ip, method=request.method)
            self._replies.reply(request, 403, now, "Forbidden (too many authentication failures)")
            return None
        result = self._auth.verify(request, header, realm, password_of, now)
        if isinstance(result, AuthOk):
            self._throttle.record_success(ip, now)
            return result.username
        if isinstance(result, AuthFailed):
            self._throttle.record_failure(ip, now)
            log.warning(
                "auth.failed",
                source=ip,
                method=request.method,
                realm=realm,
                user=result.username,
                reason=result.reason,
            )
            self._replies.reply(request, 403, now, "Forbidden")
            return None
        if isinstance(result, AuthWrongUri):
            # a client error, not a guess at the password: no throttle failure
            log.warning(
                "auth.wrong_uri",
                source=ip,
                method=request.method,
                user=result.username,
                uri=result.uri[:200],
            )
            self._replies.reply(request, 400, now, "Digest uri is not the Request-URI")
            return None
        self._challenge(request, realm, header, isinstance(result, AuthStale), now)
        return None

    def _challenge(
        self, request: Request, realm: str, header: str, stale: bool, now: float
    ) -> None:
        if header == "authorization":
            status, challenge_header = 401, "www-authenticate"
        else:
            status, challenge_header = 407, "proxy-authenticate"
        values = self._auth.challenge(realm, now, stale)
        self._replies.reply(request, status, now, headers=[(challenge_header, v) for v in values])

    def _registered_flow(self, source: Address, now: float) -> bool:
        return any(b.source == source for b in self._registrations.all_bindings(now))
