"""Client assertions: contents, algorithms, HSM signer, limits."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from twiin.auth import AssertionSigner, build_client_assertion, verify_jws
from twiin.auth.jose import JwsVerificationError, unverified_header
from twiin.credentials import Credentials
from twiin.errors import ConfigurationError
from twiin.testing.pki import IssuedCertificate, TestPKI

from .conftest import TOKEN_URL


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    dec = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return dec(head), dec(body)


def test_default_assertion_contents(signer: AssertionSigner, client_credentials: Credentials) -> None:
    token = build_client_assertion(signer, client_id="12345678", audience=TOKEN_URL, now=1_700_000_000)
    header, claims = _parts(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": client_credentials.thumbprint}
    assert claims["iss"] == claims["sub"] == "12345678"
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_060
    assert "nbf" not in claims
    assert "cnf" not in claims
    assert len(claims["jti"]) >= 32


def test_fresh_jti_every_time(signer: AssertionSigner) -> None:
    jtis = {
        _parts(build_client_assertion(signer, client_id="1", audience=TOKEN_URL))[1]["jti"] for _ in range(50)
    }
    assert len(jtis) == 50


def test_options(client_credentials: Credentials) -> None:
    signer = AssertionSigner(client_credentials, alg="PS256", include_x5c=True, kid="my-kid")
    token = build_client_assertion(
        signer,
        client_id="client-x",
        issuer="urn:oid:2.16.528.1.1007.3.3.12345678",
        subject="12345678",
        audience=[TOKEN_URL, "https://as.example.test"],
        lifetime=300,
        now=100,
        not_before=True,
        bind_certificate=True,
        extra_claims={"scope": "epd:read", "target_audience": "https://nvi.test", "iss": "ignored"},
    )
    header, claims = _parts(token)
    assert header["alg"] == "PS256"
    assert header["kid"] == "my-kid"
    assert header["x5c"] == client_credentials.x5c()
    assert claims["iss"] == "urn:oid:2.16.528.1.1007.3.3.12345678"
    assert claims["sub"] == "12345678"
    assert claims["aud"] == [TOKEN_URL, "https://as.example.test"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == 100
    assert claims["cnf"] == {"x5t#S256": client_credentials.thumbprint}
    assert claims["scope"] == "epd:read"
    assert claims["target_audience"] == "https://nvi.test"
    # the x5c header is far above joserfc's default 512-byte limit and still verifies
    assert len(token.split(".")[0]) > 512
    verify_jws(token, client_credentials.certificate.public_key(), ["PS256"])


@pytest.mark.parametrize("lifetime", [0, -1, 301, 3600])
def test_lifetime_limits(signer: AssertionSigner, lifetime: int) -> None:
    with pytest.raises(ConfigurationError, match="300"):
        build_client_assertion(signer, client_id="1", audience=TOKEN_URL, lifetime=lifetime)


@pytest.mark.parametrize(
    ("key_type", "alg"),
    [("rsa2048", "RS256"), ("rsa2048", "PS256"), ("ec256", "ES256"), ("ec384", "ES384"), ("ec521", "ES512")],
)
def test_algorithms_round_trip(pki: TestPKI, key_type: str, alg: str) -> None:
    cert = pki.issue_server(ura="5", uzi_number="5", key_type=key_type)  # type: ignore[arg-type]
    signer = AssertionSigner(cert.credentials(), alg=alg)
    token = build_client_assertion(signer, client_id="5", audience=TOKEN_URL)
    header, claims = verify_jws(token, cert.certificate.public_key(), [alg])
    assert header["alg"] == alg
    assert claims["sub"] == "5"


def test_default_alg_follows_curve(pki: TestPKI) -> None:
    cert = pki.issue_server(ura="5", uzi_number="5", key_type="ec521")
    assert AssertionSigner(cert.credentials()).alg == "ES512"


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256", "EdDSA"])
def test_wrong_alg_for_key_refused(client_credentials: Credentials, alg: str) -> None:
    with pytest.raises(ConfigurationError):
        AssertionSigner(client_credentials, alg=alg)


def test_hsm_signer_callback(pki: TestPKI) -> None:
    rsa_cert = pki.issue_server(ura="6", uzi_number="6")
    ec_cert = pki.issue_server(ura="7", uzi_number="7", key_type="ec256")
    seen: list[str] = []

    def rsa_sign(data: bytes, alg: str) -> bytes:
        seen.append(alg)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return rsa_cert.private_key.sign(data, pss, hashes.SHA256())  # type: ignore[union-attr, call-arg, arg-type]

    def ec_sign(data: bytes, alg: str) -> bytes:
        der = ec_cert.private_key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr, call-arg, arg-type]
        r, s = utils.decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    hsm = AssertionSigner(Credentials.from_signer(rsa_cert.chain, rsa_sign), alg="PS256")
    token = build_client_assertion(hsm, client_id="6", audience=TOKEN_URL)
    assert verify_jws(token, rsa_cert.certificate.public_key(), ["PS256"])[1]["iss"] == "6"
    assert seen == ["PS256"]
    hsm_ec = AssertionSigner(Credentials.from_signer(ec_cert.chain, ec_sign))
    token = build_client_assertion(hsm_ec, client_id="7", audience=TOKEN_URL)
    assert verify_jws(token, ec_cert.certificate.public_key(), ["ES256"])[1]["iss"] == "7"


def test_verify_rejects_tampering(signer: AssertionSigner, client_cert: IssuedCertificate) -> None:
    token = build_client_assertion(signer, client_id="1", audience=TOKEN_URL)
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "2"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(JwsVerificationError, match="signature"):
        verify_jws(f"{head}.{forged}.{sig}", client_cert.certificate.public_key(), ["RS256"])
    with pytest.raises(JwsVerificationError, match="not allowed"):
        verify_jws(token, client_cert.certificate.public_key(), ["PS256"])


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "!!!.x.y", "e30.e30.", "W10.e30.x"])
def test_unverified_header_garbage(garbage: str) -> None:
    with pytest.raises(JwsVerificationError):
        verify_jws(garbage, None, ["RS256"])
    if garbage not in ("e30.e30.", "W10.e30.x"):
        with pytest.raises(JwsVerificationError):
            unverified_header(garbage)


def test_signer_repr_has_no_key(signer: AssertionSigner) -> None:
    assert "PRIVATE" not in repr(signer)
    assert "RSAPrivateKey" not in repr(signer)
