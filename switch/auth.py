"""Digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760), pure.

The switch is the UAS (registrar and B2BUA): it challenges with 401/407 and checks
the credentials of the retry. No clock is read; every method takes `now` (seconds,
the same clock for `challenge` and `verify`; wall-clock lets nonces outlive a restart
when the secret is kept).

Nonces are stateless: nonce = base64url(issued || random || HMAC(secret, realm ||
issued || random)), so any node holding the secret can check that a nonce is ours,
for this realm, and how old it is, without remembering it. The only state is for
replay protection (highest nc seen per nonce) and is bounded.

Real phones often answer without qop (pyVoIP 1.6.8 sends `response=MD5(HA1:nonce:HA2)`
with no nc and re-uses the nonce for later requests). RFC 2617 §3.2.2.1 keeps that
form "for compatibility with RFC 2069"; we accept it with the same nonce for the
whole nonce lifetime (as RFC 2069 servers do), rejecting only an exact replay of an
earlier request (same nonce, Call-ID, CSeq and method).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable

import msgspec

from sipstack.errors import ParseError
from sipstack.header_values import Challenge, parse_auth, quote_string
from sipstack.message import Request
from sipstack.uri import Uri, parse_uri

# RFC 7616 §3.4.1 / RFC 8760 §2: algorithm -> hash function. SHA-512-256 is
# SHA-512/256 (FIPS 180-4), offered only where hashlib (OpenSSL) provides it.
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
if "sha512_256" in hashlib.algorithms_available:
    _HASHES["SHA-512-256"] = lambda data: hashlib.new("sha512_256", data).hexdigest()

SUPPORTED_ALGORITHMS = frozenset(_HASHES)
"""Algorithm names `DigestAuthenticator` accepts in `algorithms` (for config checks)."""

_ISSUED_LEN = 8
_RANDOM_LEN = 12
_MAC_LEN = 16
_NONCE_LEN = _ISSUED_LEN + _RANDOM_LEN + _MAC_LEN


# -- results -------------------------------------------------------------------------


class AuthOk(msgspec.Struct, frozen=True, tag="ok"):
    """The credentials are right; `username` as the client sent it."""

    username: str


class AuthMissing(msgspec.Struct, frozen=True, tag="missing"):
    """No credentials for this realm: send a challenge."""


class AuthStale(msgspec.Struct, frozen=True, tag="stale"):
    """Right password, but the nonce is expired or not ours: challenge with stale=true."""

    username: str


class AuthFailed(msgspec.Struct, frozen=True, tag="failed"):
    """Wrong credentials or a replay; `reason` is for logs, never for the peer."""

    reason: str
    username: str | None = None


class AuthWrongUri(msgspec.Struct, frozen=True, tag="wrong-uri"):
    """The digest `uri` names another resource than the Request-URI: answer 400."""

    uri: str
    username: str | None = None


AuthResult = AuthOk | AuthMissing | AuthStale | AuthFailed | AuthWrongUri


# -- hashing (RFC 7616 §3.4) ---------------------------------------------------------


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The `response` value a client computes (lower-case hex).

    RFC 7616 §3.4.2: A1 = username:realm:passwd, and for -sess algorithms
    A1 = H(username:realm:passwd):nonce:cnonce. §3.4.3: A2 = Method:request-uri, or
    Method:request-uri:H(entity-body) for qop=auth-int. §3.4.1: response =
    KD(H(A1), nonce:nc:cnonce:qop:H(A2)), and without qop (RFC 2069 compatibility,
    RFC 2617 §3.2.2.1) response = KD(H(A1), nonce:H(A2)).
    """
    base = algorithm.upper()
    session = base.endswith("-SESS")
    if session:
        base = base[: -len("-SESS")]
    h = _HASHES[base]
    ha1 = h(f"{username}:{realm}:{password}".encode())
    if session:
        ha1 = h(f"{ha1}:{nonce}:{cnonce or ''}".encode())
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    ha2 = h(a2.encode())
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}".encode())
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def answer_challenge(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
    body: bytes = b"",
) -> str:
    """An Authorization/Proxy-Authorization value answering `challenge` (UAC side).

    Uses qop=auth when offered (RFC 7616 §3.4: qop's "value MUST be one of the
    alternatives the server indicated it supports"), else the RFC 2069 form.
    """
    algorithm = challenge.get("algorithm") or "MD5"
    offered = [q.strip() for q in (challenge.get("qop") or "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else None
    realm = challenge.get("realm") or ""
    nonce = challenge.get("nonce") or ""
    nc_text = f"{nc:08x}"
    response = digest_response(
        algorithm=algorithm,
        username=username,
        realm=realm,
        password=password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
    )
    parts = [
        f"username={quote_string(username)}",
        f"realm={quote_string(realm)}",
        f"nonce={quote_string(nonce)}",
        f"uri={quote_string(uri)}",
        f"response={quote_string(response)}",
        f"algorithm={algorithm}",
    ]
    if qop is not None:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote_string(cnonce)}"]
    opaque = challenge.get("opaque")
    if opaque is not None:
        parts.append(f"opaque={quote_string(opaque)}")
    return "Digest " + ", ".join(parts)


# -- the authenticator ---------------------------------------------------------------


class _NonceUse:
    """What we have seen of one nonce (replay protection)."""

    __slots__ = ("issued", "highest_nc", "requests")

    def __init__(self, issued: float) -> None:
        self.issued = issued
        self.highest_nc = 0
        self.requests: set[tuple[str, int, str]] = set()


class DigestAuthenticator:
    """Issues Digest challenges and verifies the answers (RFC 3261 §22.4, RFC 7616)."""

    def __init__(
        self,
        secret: bytes,
        algorithms: tuple[str, ...] = ("MD5", "SHA-256"),
        nonce_ttl: float = 300.0,
        *,
        max_tracked_nonces: int = 20000,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        unknown = [a for a in algorithms if a.upper() not in _HASHES]
        if unknown or not algorithms:
            raise ValueError(f"unsupported digest algorithms {unknown or algorithms}")
        self._secret = secret
        self._algorithms = tuple(a.upper() for a in algorithms)
        self._accepted = frozenset(self._algorithms) | {a + "-SESS" for a in self._algorithms}
        self._ttl = nonce_ttl
        self._max_tracked = max_tracked_nonces
        self._random = random_bytes
        self._uses: dict[str, _NonceUse] = {}
        # issue time of the newest nonce whose record was dropped under memory pressure:
        # an untracked nonce issued at or before it may have been used already.
        self._forgotten_before = float("-inf")

    # -- challenge -------------------------------------------------------------------
    def challenge(self, realm: str, now: float, stale: bool = False) -> list[str]:
        """WWW-Authenticate / Proxy-Authenticate values, one per algorithm, preferred first.

        RFC 8760 §2.3 (paraphrased): a UAS may offer several challenges, one per digest
        algorithm it supports, in its order of preference. One nonce serves every
        algorithm, so a client that ignores `algorithm` (pyVoIP 1.6.8 answers MD5 to the
        last challenge it parsed) still gets a usable nonce.
        """
        nonce = self.make_nonce(realm, now)
        tail = ", stale=true" if stale else ""
        return [
            f"Digest realm={quote_string(realm)}, nonce={quote_string(nonce)}, "
            f'algorithm={algorithm}, qop="auth"{tail}'
            for algorithm in self._algorithms
        ]

    def make_nonce(self, realm: str, now: float) -> str:
        issued = max(0, int(now * 1000)).to_bytes(_ISSUED_LEN, "big")
        body = issued + self._random(_RANDOM_LEN)
        raw = body + self._mac(realm, body)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _mac(self, realm: str, body: bytes) -> bytes:
        return hmac.new(self._secret, realm.encode() + b"\0" + body, hashlib.sha256).digest()[
            :_MAC_LEN
        ]

    def _nonce_issued(self, realm: str, nonce: str) -> float | None:
        """Issue time of one of our nonces for `realm`, or None if it is not ours."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != _NONCE_LEN:
            return None
        body, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
        if not hmac.compare_digest(mac, self._mac(realm, body)):
            return None
        return int.from_bytes(body[:_ISSUED_LEN], "big") / 1000.0

    # -- verify ----------------------------------------------------------------------
    def verify(
        self,
        request: Request,
        header: str,
        realm: str,
        lookup: Callable[[str], str | None],
        now: float,
    ) -> AuthResult:
        """Check the `header` ("authorization" or "proxy-authorization") credentials.

        RFC 3261 §22.4: the credentials used are those "whose realm parameter matches"
        the realm we serve; others (meant for other hops) are ignored.
        """
        credentials = _credentials_for(request, header, realm)
        if credentials is None:
            return AuthMissing()
        return self._check(request, credentials, realm, lookup, now)

    def _check(
        self,
        request: Request,
        cred: Challenge,
        realm: str,
        lookup: Callable[[str], str | None],
        now: float,
    ) -> AuthResult:
        fields = _fields(cred, self._accepted)
        if isinstance(fields, AuthFailed):
            return fields
        if not _same_resource(fields.uri, request.uri):
            # RFC 7616 §3.4.6: "The authenticating server MUST assure that the resource
            # designated by the "uri" parameter is the same as the resource specified in
            # the Request-Line; if they are not, the server SHOULD return a 400 Bad
            # Request error." Else an answer captured for one URI replays against another.
            return AuthWrongUri(fields.uri, fields.username)
        password = lookup(fields.username)
        if password is None:
            return AuthFailed("unknown user", fields.username)
        expected = digest_response(
            algorithm=fields.algorithm,
            username=fields.username,
            realm=realm,
            password=password,
            method=request.method,
            uri=fields.uri,
            nonce=fields.nonce,
            qop=fields.qop,
            nc=fields.nc,
            cnonce=fields.cnonce,
            body=request.body,
        )
        if not hmac.compare_digest(expected.encode(), fields.response.lower().encode()):
            return AuthFailed("wrong response", fields.username)
        issued = self._nonce_issued(realm, fields.nonce)
        # RFC 7616 §3.3: stale "indicating that the previous request from the client was
        # rejected because the nonce value was stale [...] the client may wish to simply
        # retry the request with a new encrypted response, without reprompting". A nonce
        # that is not ours (an old secret, before a restart) with a right answer is the same.
        if issued is None or not now - self._ttl <= issued <= now + 1.0:
            return AuthStale(fields.username)
        return self._check_replay(request, fields, issued, now)

    def _check_replay(
        self, request: Request, fields: _Fields, issued: float, now: float
    ) -> AuthResult:
        use = self._uses.get(fields.nonce)
        if use is None:
            if issued <= self._forgotten_before:
                return AuthStale(fields.username)
            use = self._track(fields.nonce, issued, now)
        if fields.nc is not None:
            # RFC 7616 §3.4: nc allows "the server to detect request replays by
            # maintaining its own copy of this count -- if the same nc value is seen
            # twice, then the request is a replay." A (nonce, nc) pair counts once.
            # A repeated count is answered with a fresh nonce (stale=true), not refused:
            # the password was right, and an office NAT retransmitting or reordering a
            # phone's requests must not count as a guessing attacker (no throttle).
            count = int(fields.nc, 16)
            if count <= use.highest_nc:
                return AuthStale(fields.username)
            use.highest_nc = count
            return AuthOk(fields.username)
        try:
            key = (request.call_id, request.cseq.seq, request.method)
        except ParseError:
            return AuthFailed("no Call-ID/CSeq", fields.username)
        if key in use.requests:
            return AuthStale(fields.username)  # as a repeated count: a new nonce, no throttle
        use.requests.add(key)
        return AuthOk(fields.username)

    def _track(self, nonce: str, issued: float, now: float) -> _NonceUse:
        if len(self._uses) >= self._max_tracked:
            self._prune(now)
        while len(self._uses) >= self._max_tracked:
            oldest = next(iter(self._uses))
            self._forgotten_before = max(self._forgotten_before, self._uses.pop(oldest).issued)
        use = self._uses[nonce] = _NonceUse(issued)
        return use

    def _prune(self, now: float) -> None:
        horizon = now - self._ttl
        for nonce in [n for n, u in self._uses.items() if u.issued < horizon]:
            del self._uses[nonce]

    def tracked_nonces(self) -> int:
        """How many nonces replay protection remembers (for metrics and tests)."""
        return len(self._uses)


class _Fields(msgspec.Struct, frozen=True):
    username: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str | None
    nc: str | None
    cnonce: str | None


def _credentials_for(request: Request, header: str, realm: str) -> Challenge | None:
    for value in request.get_all(header):
        try:
            cred = parse_auth(value)
        except ParseError:
            continue
        if cred.scheme.lower() == "digest" and cred.get("realm") == realm:
            return cred
    return None


def _fields(cred: Challenge, accepted: frozenset[str]) -> _Fields | AuthFailed:
    username = cred.get("username")
    nonce, uri, response = cred.get("nonce"), cred.get("uri"), cred.get("response")
    if username is None or nonce is None or uri is None or response is None:
        return AuthFailed("missing username, nonce, uri or response", username)
    # RFC 7616 §3.4: "If this is not present, it is assumed to be "MD5"."
    algorithm = (cred.get("algorithm") or "MD5").upper()
    if algorithm not in accepted:
        return AuthFailed(f"algorithm {algorithm} not accepted", username)
    if cred.get("userhash") == "true":
        return AuthFailed("userhash not supported", username)  # NOT IMPLEMENTED: RFC 7616 §3.4.4
    qop = cred.get("qop")
    nc, cnonce = cred.get("nc"), cred.get("cnonce")
    if qop is not None:
        qop = qop.lower()
        if qop not in ("auth", "auth-int"):
            return AuthFailed(f"qop {qop} not supported", username)
        # RFC 2617 §3.2.2: cnonce and nc: "This MUST be specified if a qop directive
        # is sent".
        if cnonce is None or nc is None or len(nc) != 8 or not _is_hex(nc):
            return AuthFailed("qop without a valid nc and cnonce", username)
    elif algorithm.endswith("-SESS"):
        if cnonce is None:
            return AuthFailed("-sess algorithm without cnonce", username)
        nc = None
    else:
        nc = None
    return _Fields(username, nonce, uri, response, algorithm, qop, nc, cnonce)


def _same_resource(digest_uri: str, request_uri: Uri) -> bool:
    """Whether the digest `uri` can designate the Request-URI's resource.

    RFC 7616 §3.4.6 guards against credentials answered for one request being sent with
    another; for a switch that is toll fraud, an authorised INVITE re-aimed at another
    number. So where both name a user (the dialled number), it must be the same one.
    Host, port and parameters are not compared, because the phones people have do not
    repeat the Request-URI there: SIPp answers with the server's `ip:port`, pyVoIP 1.6
    with `sip:<server>;transport=UDP` for every method. A `uri` that does not parse
    designates nothing.
    """
    try:
        named = parse_uri(digest_uri)
    except ParseError:
        return False
    return named.user is None or request_uri.user is None or named.user == request_uri.user


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


# -- brute-force throttle ------------------------------------------------------------


class AuthThrottle:
    """Blocks a source IP after `max_failures` failed answers within `window` seconds.

    A block lasts `block` seconds. Only the offending address is blocked: phones that
    authenticate from other addresses are untouched. Memory is bounded: at most
    `max_tracked` addresses are remembered, those idle longest are forgotten first.
    """

    def __init__(
        self, max_failures: int, window: float, block: float, *, max_tracked: int = 10000
    ) -> None:
        self._max_failures = max(1, max_failures)
        self._window = window
        self._block = block
        self._max_tracked = max_tracked
        self._failures: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def record_failure(self, ip: str, now: float) -> None:
        times = self._failures.pop(ip, None)
        if times is None:
            times = deque(maxlen=self._max_failures)
        times.append(now)
        self._failures[ip] = times  # re-inserted: dict order is least recently failed first
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) >= self._max_failures:
            self._blocked.pop(ip, None)
            self._blocked[ip] = now + self._block
            del self._failures[ip]
        self._bound(now)

    def record_success(self, ip: str, now: float) -> None:
        self._failures.pop(ip, None)
        self._blocked.pop(ip, None)

    def is_blocked(self, ip: str, now: float) -> bool:
        until = self._blocked.get(ip)
        if until is None:
            return False
        if until <= now:
            del self._blocked[ip]
            return False
        return True

    def tracked(self) -> int:
        """How many addresses are remembered (for metrics and tests)."""
        return len(self._failures) + len(self._blocked)

    def _bound(self, now: float) -> None:
        if len(self._failures) + len(self._blocked) <= self._max_tracked:
            return
        for ip in [ip for ip, until in self._blocked.items() if until <= now]:
            del self._blocked[ip]
        horizon = now - self._window
        for ip in [ip for ip, t in self._failures.items() if not t or t[-1] <= horizon]:
            del self._failures[ip]
        while self._failures and len(self._failures) + len(self._blocked) > self._max_tracked:
            del self._failures[next(iter(self._failures))]
        while len(self._blocked) > self._max_tracked:
            del self._blocked[next(iter(self._blocked))]
