"""verify_client_assertion: every check has a negative test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from twiin.auth import AssertionSigner, build_client_assertion
from twiin.auth.server import (
    AssertionPolicy,
    MemoryReplayCache,
    verify_authorization_grant,
    verify_client_assertion,
)
from twiin.errors import ClientAssertionError
from twiin.identifiers import Ura
from twiin.testing.pki import IssuedCertificate, TestPKI

from .conftest import CLIENT_URA, TOKEN_URL


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_jwt(header: dict[str, Any], claims: dict[str, Any], sig: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(sig)}"


@pytest.fixture(scope="module")
def policy(pki: TestPKI) -> AssertionPolicy:
    return AssertionPolicy(
        audience=TOKEN_URL,
        trust=pki.trust_anchors,
        check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
    )


def _verify(token: str, policy: AssertionPolicy, peer: x509.Certificate | None, **kw: Any) -> Any:
    return verify_client_assertion(
        token, policy=policy, replay_cache=kw.pop("cache", MemoryReplayCache()), peer_certificate=peer, **kw
    )


def _assertion(signer: AssertionSigner, **kw: Any) -> str:
    kw.setdefault("client_id", CLIENT_URA)
    kw.setdefault("audience", TOKEN_URL)
    return build_client_assertion(signer, **kw)


def test_valid_with_tls_certificate(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    result = _verify(_assertion(signer), policy, client_cert.certificate)
    assert result.client_id == CLIENT_URA
    assert result.ura == Ura(CLIENT_URA)
    assert result.identity.uzi_number.value == "900000001"
    assert result.jti
    assert result.jti not in repr(result)  # the repr names the client, never claims or ids


def test_valid_with_x5c_only(client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    signer = AssertionSigner(client_cert.credentials(), include_x5c=True, alg="PS256")
    assert _verify(_assertion(signer), policy, None).ura == Ura(CLIENT_URA)


def test_urn_oid_client_id_and_registered_clients(
    signer: AssertionSigner, client_cert: IssuedCertificate, pki: TestPKI
) -> None:
    policy = AssertionPolicy(
        audience=(TOKEN_URL, "https://as.example.test"),
        trust=pki.trust_anchors,
        check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
        clients={"vendor-app": Ura(CLIENT_URA)},
    )
    _verify(
        _assertion(signer, client_id=f"urn:oid:2.16.528.1.1007.3.3.{CLIENT_URA}"),
        policy,
        client_cert.certificate,
    )
    _verify(
        _assertion(signer, client_id="vendor-app", audience="https://as.example.test"),
        policy,
        client_cert.certificate,
    )
    with pytest.raises(ClientAssertionError, match="known URA"):
        _verify(_assertion(signer, client_id="unknown-app"), policy, client_cert.certificate)


def test_alg_none(signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    claims = json.loads(base64.urlsafe_b64decode(_assertion(signer).split(".")[1] + "=="))
    token = _raw_jwt({"alg": "none", "typ": "JWT"}, claims)
    with pytest.raises(ClientAssertionError, match="not allowed") as info:
        _verify(token, policy, client_cert.certificate)
    assert info.value.error == "invalid_client"


def test_hs256_with_public_key(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    claims = json.loads(base64.urlsafe_b64decode(_assertion(signer).split(".")[1] + "=="))
    secret = client_cert.certificate.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(ClientAssertionError, match="not allowed"):
        _verify(f"{head}.{body}.{_b64(sig)}", policy, client_cert.certificate)


def test_expired(signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    token = _assertion(signer, now=time.time() - 200)
    with pytest.raises(ClientAssertionError, match="expired"):
        _verify(token, policy, client_cert.certificate)


def test_expired_within_skew_accepted(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    token = _assertion(signer, now=time.time() - 70)  # exp 10 s ago, skew 30 s
    _verify(token, policy, client_cert.certificate)


def test_not_yet_valid(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    future = time.time() + 120
    with pytest.raises(ClientAssertionError, match=r"nbf|future"):
        _verify(_assertion(signer, now=future, not_before=True), policy, client_cert.certificate)


def test_nbf_in_future(client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    now = int(time.time())
    signer = AssertionSigner(client_cert.credentials())
    claims = {
        "iss": CLIENT_URA,
        "sub": CLIENT_URA,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "nbf": now + 50,
        "jti": "j" * 20,
    }
    with pytest.raises(ClientAssertionError, match="nbf"):
        _verify(signer.sign(claims), policy, client_cert.certificate)


def test_lifetime_too_long(client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    now = int(time.time())
    signer = AssertionSigner(client_cert.credentials())
    claims = {
        "iss": CLIENT_URA,
        "sub": CLIENT_URA,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 3600,
        "jti": "j" * 20,
    }
    with pytest.raises(ClientAssertionError, match="lifetime"):
        _verify(signer.sign(claims), policy, client_cert.certificate)


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "iss", "sub"])
def test_missing_claims(client_cert: IssuedCertificate, policy: AssertionPolicy, missing: str) -> None:
    now = int(time.time())
    claims = {
        "iss": CLIENT_URA,
        "sub": CLIENT_URA,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": "j" * 20,
    }
    del claims[missing]
    token = AssertionSigner(client_cert.credentials()).sign(claims)
    with pytest.raises(ClientAssertionError):
        _verify(token, policy, client_cert.certificate)


def test_wrong_aud(signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    with pytest.raises(ClientAssertionError, match="aud"):
        _verify(_assertion(signer, audience="https://other.example/token"), policy, client_cert.certificate)


def test_iss_differs_from_sub(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    with pytest.raises(ClientAssertionError, match="iss and sub"):
        _verify(_assertion(signer, subject="87654321"), policy, client_cert.certificate)


def test_form_client_id_mismatch(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    with pytest.raises(ClientAssertionError, match="authenticated client"):
        _verify(_assertion(signer), policy, client_cert.certificate, client_id="someone-else")


def test_replayed_jti(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    cache = MemoryReplayCache()
    token = _assertion(signer)
    _verify(token, policy, client_cert.certificate, cache=cache)
    with pytest.raises(ClientAssertionError, match="replay"):
        _verify(token, policy, client_cert.certificate, cache=cache)


def test_invalid_assertion_does_not_burn_jti(
    signer: AssertionSigner, client_cert: IssuedCertificate, pki: TestPKI
) -> None:
    cache = MemoryReplayCache()
    token = _assertion(signer)
    wrong = AssertionPolicy(
        audience="https://elsewhere",
        trust=pki.trust_anchors,
        check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
    )
    with pytest.raises(ClientAssertionError):
        _verify(token, wrong, client_cert.certificate, cache=cache)
    right = AssertionPolicy(
        audience=TOKEN_URL,
        trust=pki.trust_anchors,
        check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
    )
    _verify(token, right, client_cert.certificate, cache=cache)


def test_rogue_ca_chain(rogue_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    rogue_signer = AssertionSigner(rogue_cert.credentials(), include_x5c=True)
    with pytest.raises(ClientAssertionError, match="signing certificate refused"):
        _verify(_assertion(rogue_signer), policy, None)
    with pytest.raises(ClientAssertionError, match="signing certificate refused"):
        _verify(_assertion(AssertionSigner(rogue_cert.credentials())), policy, rogue_cert.certificate)


def test_ura_mismatch_between_assertion_and_certificate(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    with pytest.raises(ClientAssertionError, match="URA of the client differs"):
        _verify(_assertion(signer, client_id="87654321"), policy, client_cert.certificate)


def test_ura_mismatch_between_x5c_and_tls_peer(
    client_cert: IssuedCertificate, other_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    signer = AssertionSigner(client_cert.credentials(), include_x5c=True)
    with pytest.raises(ClientAssertionError, match="TLS client certificate differs"):
        _verify(_assertion(signer), policy, other_cert.certificate)


def test_signed_with_other_key_than_tls_certificate(
    client_cert: IssuedCertificate, other_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    token = _assertion(AssertionSigner(other_cert.credentials()), client_id="87654321")
    with pytest.raises(ClientAssertionError, match="signature"):
        _verify(token, policy, client_cert.certificate)


def test_tampered_signature(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    head, body, sig = _assertion(signer).split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[10] ^= 0xFF
    with pytest.raises(ClientAssertionError, match="signature"):
        _verify(f"{head}.{body}.{_b64(bytes(raw))}", policy, client_cert.certificate)


def test_x5t_header_mismatch(
    client_cert: IssuedCertificate, other_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    signer = AssertionSigner(client_cert.credentials())
    now = int(time.time())
    claims = {
        "iss": CLIENT_URA,
        "sub": CLIENT_URA,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": "j" * 20,
    }
    token = signer.sign(claims, header={"x5t#S256": other_cert.credentials().thumbprint})
    with pytest.raises(ClientAssertionError, match="x5t"):
        _verify(token, policy, client_cert.certificate)


def test_no_key_available(signer: AssertionSigner, policy: AssertionPolicy) -> None:
    with pytest.raises(ClientAssertionError, match="no x5c"):
        _verify(_assertion(signer), policy, None)


def test_expired_signing_certificate(pki: TestPKI, policy: AssertionPolicy) -> None:
    from datetime import UTC, datetime, timedelta

    old = pki.issue_server(
        ura=CLIENT_URA,
        key_type="ec256",
        not_before=datetime.now(UTC) - timedelta(days=30),
        not_after=datetime.now(UTC) - timedelta(days=1),
    )
    token = _assertion(AssertionSigner(old.credentials()))
    with pytest.raises(ClientAssertionError, match="signing certificate refused"):
        _verify(token, policy, old.certificate)


def test_revoked_signing_certificate(
    pki: TestPKI, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    from twiin.auth import StaticCrlSource

    crl = StaticCrlSource((pki.intermediate.crl(revoked=(client_cert.certificate,)), pki.root.crl()))
    policy = AssertionPolicy(
        audience=TOKEN_URL, trust=pki.trust_anchors, crl=crl, intermediates=(pki.intermediate.certificate,)
    )
    with pytest.raises(ClientAssertionError, match="revoked"):
        _verify(_assertion(signer), policy, client_cert.certificate)


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "e30.e30.e30", "eyJhbGciOiJSUzI1NiJ9.bm9wZQ.AAAA"])
def test_garbage(garbage: str, client_cert: IssuedCertificate, policy: AssertionPolicy) -> None:
    with pytest.raises(ClientAssertionError):
        _verify(garbage, policy, client_cert.certificate)


def test_authorization_grant_allows_other_sub(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    token = _assertion(signer, subject="87654321", extra_claims={"authorization_base": "x"})
    result = verify_authorization_grant(
        token,
        policy=policy,
        replay_cache=MemoryReplayCache(),
        client_id=CLIENT_URA,
        peer_certificate=client_cert.certificate,
    )
    assert result.subject == "87654321"
    with pytest.raises(ClientAssertionError) as info:
        verify_authorization_grant(
            _assertion(signer, audience="https://x"),
            policy=policy,
            replay_cache=MemoryReplayCache(),
            client_id=CLIENT_URA,
            peer_certificate=client_cert.certificate,
        )
    assert info.value.error == "invalid_grant"


def test_replay_cache_expires_entries() -> None:
    now = [0.0]
    cache = MemoryReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.use("a", 10)
    assert not cache.use("a", 10)
    assert cache.use("b", 10)
    assert not cache.use("c", 10)  # full of live entries: fail closed
    now[0] = 11
    assert cache.use("c", 20)
    assert cache.use("a", 20)  # expired entry may be used again


def test_error_messages_carry_no_token(
    signer: AssertionSigner, client_cert: IssuedCertificate, policy: AssertionPolicy
) -> None:
    token = _assertion(signer, audience="https://nope")
    with pytest.raises(ClientAssertionError) as info:
        _verify(token, policy, client_cert.certificate)
    assert token not in str(info.value)
    assert token.split(".")[1] not in repr(info.value)
