"""Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22) and the failure throttle.

Requirements covered: challenge format (one WWW-Authenticate per algorithm), MD5 and
SHA-256 with qop=auth, MD5 without qop exactly as pyVoIP 1.6.8 computes it, wrong
password, forged nonce, expired nonce -> stale, nc replay, digest-uri other than the
Request-URI, realm selection among several credentials, bounded replay state, throttle.
"""

from __future__ import annotations

import hashlib

import pytest

from sipstack.header_values import parse_auth
from sipstack.message import Request
from sipstack.uri import parse_uri
from switch.auth import (
    SUPPORTED_ALGORITHMS,
    AuthFailed,
    AuthMissing,
    AuthOk,
    AuthStale,
    AuthThrottle,
    AuthWrongUri,
    DigestAuthenticator,
    answer_challenge,
    digest_response,
)

REALM = "acme.example"
USERS = {"201": "s3cret", "202": "other"}


def lookup(user: str) -> str | None:
    return USERS.get(user)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def register(
    *auth: str, cseq: int = 2, call_id: str = "c1", header: str = "authorization"
) -> Request:
    headers = [
        ("via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1"),
        ("from", f"<sip:201@{REALM}>;tag=a"),
        ("to", f"<sip:201@{REALM}>"),
        ("call-id", call_id),
        ("cseq", f"{cseq} REGISTER"),
    ]
    headers += [(header, value) for value in auth]
    return Request("REGISTER", parse_uri(f"sip:{REALM}"), headers)


def fixed_random(n: int) -> bytes:
    return b"\x01" * n


@pytest.fixture
def auth() -> DigestAuthenticator:
    return DigestAuthenticator(b"k" * 32, random_bytes=fixed_random)


def nonce_of(auth: DigestAuthenticator, now: float = 1000.0) -> str:
    value = parse_auth(auth.challenge(REALM, now)[0]).get("nonce")
    assert value is not None
    return value


def qop_answer(
    nonce: str,
    *,
    algorithm: str = "MD5",
    password: str = "s3cret",
    nc: str = "00000001",
    uri: str = f"sip:{REALM}",
    user: str = "201",
    realm: str = REALM,
    method: str = "REGISTER",
) -> str:
    response = digest_response(
        algorithm=algorithm, username=user, realm=realm, password=password,
        method=method, uri=uri, nonce=nonce, qop="auth", nc=nc, cnonce="abc",
    )  # fmt: skip
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="abc"'
    )


def pyvoip_answer(nonce: str, password: str = "s3cret", server: str = REALM) -> str:
    """Byte for byte what pyVoIP 1.6.8 `SIPClient.gen_register` sends."""
    ha1 = md5(f"201:{REALM}:{password}")
    ha2 = md5(f"REGISTER:sip:{server};transport=UDP")
    response = md5(f"{ha1}:{nonce}:{ha2}")
    return (
        f'Digest username="201",realm="{REALM}",nonce="{nonce}",'
        f'uri="sip:{server};transport=UDP",response="{response}",algorithm=MD5'
    )


# -- hashing vectors -----------------------------------------------------------------


def test_rfc2617_example_vector() -> None:
    # RFC 2617 §3.5
    assert (
        digest_response(
            algorithm="MD5",
            username="Mufasa",
            realm="testrealm@host.com",
            password="Circle Of Life",
            method="GET",
            uri="/dir/index.html",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )  # fmt: skip
        == "6629fae49393a05397450978507c4ef1"
    )


def test_rfc7616_sha256_vector() -> None:
    # RFC 7616 §3.9.1 (the SHA-256 example)
    assert (
        digest_response(
            algorithm="SHA-256",
            username="Mufasa",
            realm="http-auth@example.org",
            password="Circle of Life",
            method="GET",
            uri="/dir/index.html",
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop="auth",
            nc="00000001",
            cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        )  # fmt: skip
        == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


def test_answer_challenge_round_trip(auth: DigestAuthenticator) -> None:
    for value in auth.challenge(REALM, 1000.0):
        header = answer_challenge(
            parse_auth(value), method="REGISTER", uri=f"sip:{REALM}", username="201",
            password="s3cret", cnonce="xyz",
        )  # fmt: skip
        fresh = DigestAuthenticator(b"k" * 32)
        assert fresh.verify(register(header), "authorization", REALM, lookup, 1001.0) == AuthOk(
            "201"
        )


# -- challenge -----------------------------------------------------------------------


def test_challenge_one_value_per_algorithm_preferred_first(auth: DigestAuthenticator) -> None:
    values = auth.challenge(REALM, 1000.0)
    assert len(values) == 2
    md, sha = (parse_auth(v) for v in values)
    assert sha.scheme == md.scheme == "Digest"
    assert sha.get("algorithm") == "SHA-256" and md.get("algorithm") == "MD5"
    assert sha.get("realm") == md.get("realm") == REALM
    assert sha.get("qop") == md.get("qop") == "auth"
    assert sha.get("nonce") == md.get("nonce")
    assert sha.get("stale") is None
    assert values[0].startswith(f'Digest realm="{REALM}", nonce="')
    assert values[0].endswith(', algorithm=MD5, qop="auth"')


def test_challenge_stale_flag(auth: DigestAuthenticator) -> None:
    assert all(v.endswith(", stale=true") for v in auth.challenge(REALM, 1.0, stale=True))


def test_nonce_survives_pyvoip_parameter_regex(auth: DigestAuthenticator) -> None:
    # pyVoIP: re.compile(r'(\w+)=("[^",]+"|[^ \t,]+)') -- no commas or quotes inside values
    nonce = DigestAuthenticator(b"x").make_nonce(REALM, 1e9)
    assert '"' not in nonce and "," not in nonce and " " not in nonce


def test_unsupported_algorithm_configuration() -> None:
    with pytest.raises(ValueError):
        DigestAuthenticator(b"k", algorithms=("SHA-1",))


# -- verify: success -----------------------------------------------------------------


def test_md5_with_qop_auth(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth)))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")


def test_sha256_with_qop_auth(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth), algorithm="SHA-256"))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")


@pytest.mark.skipif("SHA-512-256" not in SUPPORTED_ALGORITHMS, reason="no sha512_256 in hashlib")
def test_sha512_256_with_qop_auth() -> None:
    auth = DigestAuthenticator(b"k", algorithms=("SHA-512-256", "SHA-256", "MD5"))
    values = auth.challenge(REALM, 1000.0)
    assert [parse_auth(v).get("algorithm") for v in values] == ["SHA-512-256", "SHA-256", "MD5"]
    nonce = parse_auth(values[0]).get("nonce") or ""
    request = register(qop_answer(nonce, algorithm="SHA-512-256"))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")
    # FIPS 180-4 SHA-512/256 test vector, then the RFC 2069 form computed by hand
    assert hashlib.new("sha512_256", b"abc").hexdigest().startswith("53048e2681941ef99b2e29b7")

    def h(text: str) -> str:
        return hashlib.new("sha512_256", text.encode()).hexdigest()

    expected = h(f"{h('u:r:p')}:n:{h('M:x')}")
    got = digest_response(
        algorithm="SHA-512-256", username="u", realm="r", password="p", method="M", uri="x",
        nonce="n",
    )  # fmt: skip
    assert got == expected


@pytest.mark.parametrize("algorithm", ["MD5-sess", "SHA-256-sess"])
def test_sess_algorithms(auth: DigestAuthenticator, algorithm: str) -> None:
    request = register(qop_answer(nonce_of(auth), algorithm=algorithm))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")


def test_md5_without_qop_as_pyvoip_sends_it(auth: DigestAuthenticator) -> None:
    nonce = nonce_of(auth)
    request = register(pyvoip_answer(nonce))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")


def test_pyvoip_reuses_nonce_for_refreshes_within_ttl(auth: DigestAuthenticator) -> None:
    nonce = nonce_of(auth)
    for cseq in (2, 3, 4):
        request = register(pyvoip_answer(nonce), cseq=cseq)
        assert auth.verify(request, "authorization", REALM, lookup, 1000.0 + cseq) == AuthOk("201")


def test_absent_algorithm_means_md5(auth: DigestAuthenticator) -> None:
    header = pyvoip_answer(nonce_of(auth)).replace(",algorithm=MD5", "")
    assert auth.verify(register(header), "authorization", REALM, lookup, 1001.0) == AuthOk("201")


@pytest.mark.parametrize(
    "uri",
    [
        f"sip:{REALM}:5060;transport=UDP",
        f"sip:{REALM.upper()}",
        f"sip:{REALM};user=phone",
        "sip:10.0.0.1:5060",  # SIPp answers with the address it sends to
    ],
)
def test_digest_uri_naming_the_request_uri_in_other_words(
    auth: DigestAuthenticator, uri: str
) -> None:
    header = qop_answer(nonce_of(auth), uri=uri)
    assert auth.verify(register(header), "authorization", REALM, lookup, 1001.0) == AuthOk("201")


@pytest.mark.parametrize("uri", ["sip:", "no uri at all", "sip:201@"])
def test_digest_uri_that_names_nothing_is_refused(auth: DigestAuthenticator, uri: str) -> None:
    # RFC 7616 §3.4.6: the server "MUST assure" both name the same resource (400 if not)
    header = qop_answer(nonce_of(auth), uri=uri)
    result = auth.verify(register(header), "authorization", REALM, lookup, 1001.0)
    assert result == AuthWrongUri(uri, "201")


def test_digest_uri_without_user_names_the_domain_of_an_invite(auth: DigestAuthenticator) -> None:
    # pyVoIP answers an INVITE's challenge with the server's URI, no user part
    nonce = nonce_of(auth)
    cases = [
        (f"sip:{REALM};transport=UDP", AuthOk("201")),
        (f"sip:301@{REALM}", AuthOk("201")),
        (f"sip:302@{REALM}", AuthWrongUri(f"sip:302@{REALM}", "201")),
    ]
    for count, (uri, expected) in enumerate(cases, start=1):
        header = qop_answer(nonce, uri=uri, nc=f"{count:08x}", method="INVITE")
        invite = register(header)
        invite = Request("INVITE", parse_uri(f"sip:301@{REALM}"), invite.headers)
        assert auth.verify(invite, "authorization", REALM, lookup, 1001.0) == expected, uri


def test_credentials_for_our_realm_are_picked(auth: DigestAuthenticator) -> None:
    nonce = nonce_of(auth)
    other = qop_answer(nonce, realm="elsewhere.example", password="x")
    request = register(other, qop_answer(nonce), header="proxy-authorization")
    assert auth.verify(request, "proxy-authorization", REALM, lookup, 1001.0) == AuthOk("201")


def test_nc_increasing_on_one_nonce(auth: DigestAuthenticator) -> None:
    nonce = nonce_of(auth)
    for n in (1, 2, 5):
        request = register(qop_answer(nonce, nc=f"{n:08x}"))
        assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")


# -- verify: refusals ----------------------------------------------------------------


def test_missing_credentials(auth: DigestAuthenticator) -> None:
    assert auth.verify(register(), "authorization", REALM, lookup, 1.0) == AuthMissing()


def test_credentials_for_another_realm_only_are_missing(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth), realm="elsewhere.example"))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthMissing()


def test_other_header_is_not_read(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth)))
    assert auth.verify(request, "proxy-authorization", REALM, lookup, 1001.0) == AuthMissing()


def test_wrong_password(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth), password="guess"))
    result = auth.verify(request, "authorization", REALM, lookup, 1001.0)
    assert isinstance(result, AuthFailed) and result.username == "201"


def test_wrong_password_without_qop(auth: DigestAuthenticator) -> None:
    request = register(pyvoip_answer(nonce_of(auth), password="guess"))
    assert isinstance(auth.verify(request, "authorization", REALM, lookup, 1001.0), AuthFailed)


def test_unknown_user(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth), user="999"))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthFailed(
        "unknown user", "999"
    )


def test_forged_nonce_fails(auth: DigestAuthenticator) -> None:
    # A nonce of the right shape that we never issued: a response made without the
    # password cannot succeed.
    forged = DigestAuthenticator(b"attacker").make_nonce(REALM, 1000.0)
    request = register(qop_answer(forged, password="guess"))
    assert isinstance(auth.verify(request, "authorization", REALM, lookup, 1001.0), AuthFailed)
    request = register(qop_answer("garbage-nonce", password="guess"))
    assert isinstance(auth.verify(request, "authorization", REALM, lookup, 1001.0), AuthFailed)


def test_foreign_nonce_with_right_password_is_only_stale(auth: DigestAuthenticator) -> None:
    # After a restart with a new secret, phones answer old nonces: re-challenge, never accept.
    foreign = DigestAuthenticator(b"old secret").make_nonce(REALM, 1000.0)
    request = register(qop_answer(foreign))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthStale("201")


def test_nonce_of_another_realm_is_not_ours(auth: DigestAuthenticator) -> None:
    nonce = auth.make_nonce("globex.example", 1000.0)
    request = register(qop_answer(nonce))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthStale("201")


def test_expired_nonce_is_stale(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth, now=1000.0)))
    assert auth.verify(request, "authorization", REALM, lookup, 1000.0 + 301) == AuthStale("201")


def test_expired_nonce_without_qop_is_stale(auth: DigestAuthenticator) -> None:
    request = register(pyvoip_answer(nonce_of(auth, now=1000.0)))
    assert auth.verify(request, "authorization", REALM, lookup, 1000.0 + 301) == AuthStale("201")


def test_expired_nonce_wrong_password_fails(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth, now=1000.0), password="guess"))
    assert isinstance(auth.verify(request, "authorization", REALM, lookup, 2000.0), AuthFailed)


def test_nonce_from_the_future_is_stale(auth: DigestAuthenticator) -> None:
    request = register(qop_answer(nonce_of(auth, now=5000.0)))
    assert auth.verify(request, "authorization", REALM, lookup, 1000.0) == AuthStale("201")


def test_nc_replay_is_not_accepted_but_gets_a_fresh_nonce(auth: DigestAuthenticator) -> None:
    # A repeated or lower nc is never accepted (RFC 7616 §3.4), but it is answered stale
    # (a new challenge) rather than as a wrong password, so the throttle is not fed.
    nonce = nonce_of(auth)
    request = register(qop_answer(nonce, nc="00000002"))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")
    again = register(qop_answer(nonce, nc="00000002"), cseq=3)
    assert auth.verify(again, "authorization", REALM, lookup, 1002.0) == AuthStale("201")
    lower = register(qop_answer(nonce, nc="00000001"), cseq=4)
    assert auth.verify(lower, "authorization", REALM, lookup, 1002.0) == AuthStale("201")


def test_exact_replay_without_qop_is_not_accepted(auth: DigestAuthenticator) -> None:
    request = register(pyvoip_answer(nonce_of(auth)))
    assert auth.verify(request, "authorization", REALM, lookup, 1001.0) == AuthOk("201")
    replay = register(pyvoip_answer(nonce_of(auth)))
    assert auth.verify(replay, "authorization", REALM, lookup, 1002.0) == AuthStale("201")


@pytest.mark.parametrize(
    "header",
    [
        'Digest username="201", realm="acme.example", nonce="n", response="r"',  # no uri
        'Digest username="201", realm="acme.example", uri="sip:a", response="r"',  # no nonce
    ],
)
def test_missing_parameters_fail(auth: DigestAuthenticator, header: str) -> None:
    assert isinstance(
        auth.verify(register(header), "authorization", REALM, lookup, 1.0), AuthFailed
    )


def test_qop_without_nc_fails(auth: DigestAuthenticator) -> None:
    header = qop_answer(nonce_of(auth)).replace(", nc=00000001", "")
    assert isinstance(
        auth.verify(register(header), "authorization", REALM, lookup, 1001.0), AuthFailed
    )


def test_algorithm_not_offered_fails() -> None:
    sha_only = DigestAuthenticator(b"k", algorithms=("SHA-256",))
    nonce = parse_auth(sha_only.challenge(REALM, 1000.0)[0]).get("nonce") or ""
    request = register(qop_answer(nonce, algorithm="MD5"))
    result = sha_only.verify(request, "authorization", REALM, lookup, 1001.0)
    assert isinstance(result, AuthFailed) and "algorithm" in result.reason


def test_replay_state_is_bounded_and_safe() -> None:
    auth = DigestAuthenticator(b"k", max_tracked_nonces=3)
    first = nonce_of(auth, now=1000.0)
    request = register(qop_answer(first))
    assert auth.verify(request, "authorization", REALM, lookup, 1000.0) == AuthOk("201")
    for i in range(5):
        nonce = nonce_of(auth, now=1001.0 + i)
        answer = register(qop_answer(nonce))
        assert auth.verify(answer, "authorization", REALM, lookup, 1001.0 + i) == AuthOk("201")
    assert auth.tracked_nonces() <= 3
    # the first nonce's record was dropped: replaying it is refused, not accepted
    result = auth.verify(register(qop_answer(first)), "authorization", REALM, lookup, 1010.0)
    assert not isinstance(result, AuthOk)


def test_expired_records_are_pruned() -> None:
    auth = DigestAuthenticator(b"k", max_tracked_nonces=2, nonce_ttl=10.0)
    for t in (0.0, 1.0, 100.0, 101.0, 200.0):
        nonce = nonce_of(auth, now=t)
        assert auth.verify(register(qop_answer(nonce)), "authorization", REALM, lookup, t) == (
            AuthOk("201")
        )
    assert auth.tracked_nonces() <= 2


# -- throttle ------------------------------------------------------------------------


def test_throttle_blocks_after_failures_and_unblocks() -> None:
    throttle = AuthThrottle(max_failures=3, window=60.0, block=300.0)
    for t in (0.0, 1.0):
        throttle.record_failure("198.51.100.7", t)
        assert not throttle.is_blocked("198.51.100.7", t)
    throttle.record_failure("198.51.100.7", 2.0)
    assert throttle.is_blocked("198.51.100.7", 3.0)
    assert not throttle.is_blocked("192.0.2.10", 3.0)  # other phones unaffected
    assert throttle.is_blocked("198.51.100.7", 301.0)
    assert not throttle.is_blocked("198.51.100.7", 302.1)


def test_throttle_window_forgets_old_failures() -> None:
    throttle = AuthThrottle(max_failures=3, window=10.0, block=300.0)
    for t in (0.0, 20.0, 40.0, 60.0):
        throttle.record_failure("198.51.100.7", t)
    assert not throttle.is_blocked("198.51.100.7", 61.0)


def test_throttle_success_clears() -> None:
    throttle = AuthThrottle(max_failures=2, window=60.0, block=300.0)
    throttle.record_failure("192.0.2.10", 0.0)
    throttle.record_success("192.0.2.10", 1.0)
    throttle.record_failure("192.0.2.10", 2.0)
    assert not throttle.is_blocked("192.0.2.10", 3.0)


def test_throttle_memory_is_bounded() -> None:
    throttle = AuthThrottle(max_failures=5, window=60.0, block=300.0, max_tracked=100)
    for i in range(10_000):
        throttle.record_failure(f"10.0.{i // 256}.{i % 256}", float(i) / 100)
    assert throttle.tracked() <= 100
