"""Chain validation and CRL revocation checking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from twiin.auth import RefreshingCrlSource, StaticCrlSource, verify_chain
from twiin.errors import ChainValidationError, ConfigurationError
from twiin.testing.pki import IssuedCertificate, TestPKI

NOW = datetime.now(UTC)


def _crls(pki: TestPKI, revoked: tuple = ()) -> StaticCrlSource:  # type: ignore[type-arg]
    return StaticCrlSource((pki.intermediate.crl(revoked=revoked), pki.root.crl()))


def test_valid_chain_with_crls(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    built = verify_chain(client_cert.chain, pki.trust_anchors, now=NOW, crl=_crls(pki))
    assert built[0] == client_cert.certificate
    assert built[-1] == pki.root.certificate


def test_revocation_is_on_unless_turned_off(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ConfigurationError, match="revocation"):
        verify_chain(client_cert.chain, pki.trust_anchors, now=NOW)
    assert verify_chain(client_cert.chain, pki.trust_anchors, now=NOW, check_revocation=False)


def test_revoked_leaf(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError, match="revoked"):
        verify_chain(
            client_cert.chain, pki.trust_anchors, now=NOW, crl=_crls(pki, (client_cert.certificate,))
        )


def test_missing_crl_fails_closed(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    only_root = StaticCrlSource((pki.root.crl(),))
    with pytest.raises(ChainValidationError, match="revocation status unknown"):
        verify_chain(client_cert.chain, pki.trust_anchors, now=NOW, crl=only_root)


def test_stale_crl(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError, match="stale"):
        verify_chain(client_cert.chain, pki.trust_anchors, now=NOW + timedelta(hours=2), crl=_crls(pki))


def test_crl_from_wrong_issuer_key(pki: TestPKI, rogue_pki: TestPKI, client_cert: IssuedCertificate) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.intermediate.certificate.subject)
        .last_update(NOW - timedelta(minutes=1))
        .next_update(NOW + timedelta(hours=1))
        .sign(rogue_pki.intermediate.private_key, hashes.SHA256())
    )
    with pytest.raises(ChainValidationError, match="CRL signature"):
        verify_chain(
            client_cert.chain,
            pki.trust_anchors,
            now=NOW,
            crl=StaticCrlSource((forged, pki.root.crl())),
        )


def test_expired_certificate(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError, match="not valid"):
        verify_chain(
            client_cert.chain, pki.trust_anchors, now=NOW + timedelta(days=400), check_revocation=False
        )


def test_rogue_ca(pki: TestPKI, rogue_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError):
        verify_chain(rogue_cert.chain, pki.trust_anchors, now=NOW, check_revocation=False)


def test_missing_intermediate(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError):
        verify_chain(client_cert.certificate, pki.trust_anchors, now=NOW, check_revocation=False)
    assert verify_chain(
        client_cert.certificate,
        pki.trust_anchors,
        now=NOW,
        intermediates=[pki.intermediate.certificate],
        check_revocation=False,
    )


def test_eku_required_for_purpose(pki: TestPKI) -> None:
    server_only = pki.intermediate.issue(
        common_name="localhost",
        othername="2.16.528.1.1007.99.2110-1-5-S-5-00.000-0",
        serial_number="5",
        key_type="ec256",
        extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH,),
    )
    with pytest.raises(ChainValidationError):
        verify_chain(server_only.chain, pki.trust_anchors, now=NOW, check_revocation=False)
    assert verify_chain(
        server_only.chain,
        pki.trust_anchors,
        now=NOW,
        purpose="server",
        hostname="localhost",
        check_revocation=False,
    )


def test_server_purpose_checks_hostname(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ChainValidationError):
        verify_chain(
            client_cert.chain,
            pki.trust_anchors,
            now=NOW,
            purpose="server",
            hostname="evil.example",
            check_revocation=False,
        )


def test_naive_clock_refused(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    with pytest.raises(ConfigurationError):
        verify_chain(client_cert.chain, pki.trust_anchors, now=datetime.now(), check_revocation=False)


def test_refreshing_source_refetches_after_interval(pki: TestPKI, client_cert: IssuedCertificate) -> None:
    calls: list[str] = []
    revoked: list = []  # type: ignore[type-arg]

    def fetch(issuer):  # type: ignore[no-untyped-def]
        calls.append(issuer.subject.rfc4514_string())
        ca = pki.root if issuer == pki.root.certificate else pki.intermediate
        return ca.crl(revoked=tuple(revoked) if ca is pki.intermediate else ()).public_bytes(Encoding.DER)

    source = RefreshingCrlSource(fetch, refresh_interval=timedelta(minutes=30))
    verify_chain(client_cert.chain, pki.trust_anchors, now=NOW, crl=source)
    revoked.append(client_cert.certificate)
    verify_chain(client_cert.chain, pki.trust_anchors, now=NOW + timedelta(minutes=10), crl=source)  # cached
    assert len(calls) == 2
    with pytest.raises(ChainValidationError, match="revoked"):
        verify_chain(client_cert.chain, pki.trust_anchors, now=NOW + timedelta(minutes=31), crl=source)
    assert len(calls) == 3  # the intermediate CRL was fetched again, then the leaf was found revoked


def test_refresh_interval_at_most_hourly() -> None:
    with pytest.raises(ConfigurationError, match="one hour"):
        RefreshingCrlSource(lambda issuer: None, refresh_interval=timedelta(hours=2))


@pytest.mark.parametrize("pem", [True, False])
def test_vector_chain_shape(pem: bool) -> None:
    """The real UZI test chain parses as certificates (opt-in vector)."""
    from pathlib import Path

    from cryptography import x509

    path = Path("/work/shared/vectors/uzi/testdata-valid_chain.pem")
    if not path.exists():
        pytest.skip("UZI vectors not present")
    certs = x509.load_pem_x509_certificates(path.read_bytes())
    assert len(certs) >= 2
    assert certs[0].issuer == certs[1].subject
