"""UZI certificate identity parsing."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twiin._http import client_ssl_context, server_ssl_context
from twiin.auth import UziServerIdentity, load_certificate, parse_uzi_othername, uzi_identity
from twiin.credentials import x5t_s256
from twiin.errors import UziIdentityError
from twiin.identifiers import Ura
from twiin.testing.pki import IssuedCertificate, TestPKI

VECTORS = Path("/work/shared/vectors/uzi")


def test_identity_from_test_pki(client_cert: IssuedCertificate) -> None:
    ident = uzi_identity(client_cert.certificate)
    assert ident.ura == Ura("12345678")
    assert ident.uzi_number.value == "900000001"
    assert ident.agb == "01234567"
    assert ident.card_type == "S"
    assert ident.is_server_certificate
    assert ident.role == "00.000"
    assert ident.ca_oid == "2.16.528.1.1007.99.2110"
    assert ident.version == "1"
    assert ident.subject_serial_number == "900000001"
    assert ident.subject_organization == "Test zorgaanbieder"
    assert ident.thumbprint == x5t_s256(client_cert.certificate)


@pytest.mark.parametrize("encoding", ["utf8", "ia5", "printable"])
def test_string_encodings_accepted(pki: TestPKI, encoding: str) -> None:
    cert = pki.intermediate.issue(
        common_name="enc.test",
        serial_number="42",
        othername="2.16.528.1.1007.99.2110-1-42-S-1234-00.000-00000000",
        othername_encoding=encoding,  # type: ignore[arg-type]
        key_type="ec256",
    )
    ident = uzi_identity(cert.certificate)
    assert ident.ura.value == "00001234"
    assert ident.uzi_number.value == "42"


@pytest.mark.parametrize("form", ["pem", "der", "p12", "credentials", "path"])
def test_input_forms(client_cert: IssuedCertificate, tmp_path: Path, form: str) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    if form == "pem":
        data: object = client_cert.cert_pem()
    elif form == "der":
        data = client_cert.certificate.public_bytes(Encoding.DER)
    elif form == "p12":
        data = client_cert.to_pkcs12(b"pw")
    elif form == "credentials":
        data = client_cert.credentials()
    else:
        path, _ = client_cert.write_pem(tmp_path, "c")
        data = path
    ident = uzi_identity(data, password=b"pw") if form == "p12" else uzi_identity(data)  # type: ignore[arg-type]
    assert ident.ura.value == "12345678"


def test_p12_wrong_password(client_cert: IssuedCertificate) -> None:
    with pytest.raises(UziIdentityError, match="PKCS#12"):
        load_certificate(client_cert.to_pkcs12(b"pw"), b"nope")


def _issue(pki: TestPKI, othername: str | None, serial: str | None = "42") -> IssuedCertificate:
    return pki.intermediate.issue(
        common_name="bad.test", serial_number=serial, othername=othername, key_type="ec256"
    )


@pytest.mark.parametrize(
    ("othername", "match"),
    [
        ("2.16.528.1.1007.99.2110-1-42-S-123456789-00.000-0", "URA must be 1 to 8"),
        ("2.16.528.1.1007.99.2110-1-42-S--00.000-0", "URA must be 1 to 8"),
        ("2.16.528.1.1007.99.2110-1-42-S-12a4-00.000-0", "URA must be 1 to 8"),
        ("2.16.528.1.1007.99.2110-1-42-S-1234-00.000", "7 '-'-separated fields"),
        ("2.16.528.1.1007.99.2110-1-42-S-1234-00.000-0-extra", "7 '-'-separated fields"),
        ("not-an-oid-42-S-1234-00.000", "not an OID"),
        ("abc-1-42-S-1234-00.000-0", "not an OID"),
        ("2.16.528.1.1007.99.2110-x-42-S-1234-00.000-0", "version"),
        ("2.16.528.1.1007.99.2110-1-42-SS-1234-00.000-0", "pass type"),
        ("2.16.528.1.1007.99.2110-1-42-S-1234-0.0.0-0", "role"),
        ("2.16.528.1.1007.99.2110-1-42-S-1234-00.000-123456789", "AGB"),
        ("2.16.528.1.1007.99.2110-1-1234567890-S-1234-00.000-0", "UZI number"),
    ],
)
def test_malformed_othername(pki: TestPKI, othername: str, match: str) -> None:
    with pytest.raises(UziIdentityError, match=match):
        uzi_identity(_issue(pki, othername, serial=None).certificate)


def test_no_othername(pki: TestPKI) -> None:
    with pytest.raises(UziIdentityError, match="no UZI otherName"):
        uzi_identity(_issue(pki, None).certificate)


def test_serial_number_mismatch(pki: TestPKI) -> None:
    with pytest.raises(UziIdentityError, match="serialNumber"):
        uzi_identity(_issue(pki, "2.16.528.1.1007.99.2110-1-42-S-1234-00.000-0", serial="43").certificate)


def test_garbage_input() -> None:
    with pytest.raises(UziIdentityError):
        uzi_identity(b"not a certificate")


@given(st.text(max_size=120))
def test_parser_never_crashes(text: str) -> None:
    try:
        parse_uzi_othername(text)
    except UziIdentityError:
        pass


@pytest.mark.skipif(not VECTORS.exists(), reason="UZI vectors not present")
def test_uzi_vectors() -> None:
    strings = json.loads((VECTORS / "othername-strings.json").read_text())
    for vector in strings["vectors"]:
        ca_oid, version, uzi, card, ura, role, agb = parse_uzi_othername(vector["otherName"])
        assert (ca_oid, version, uzi.value, card, role, agb) == (
            vector["ca_oid"],
            vector["version"],
            vector["uzi"],
            vector["pastype"],
            vector["role"],
            vector["agb"],
        )
        assert ura == Ura(vector["ura"])
    expected = json.loads((VECTORS / "expected.json").read_text())
    for name, exp in expected.items():
        ident = uzi_identity((VECTORS / name).read_bytes())
        assert ident.ura == Ura(exp["ura"])
        assert ident.uzi_number.value == exp["uzi"]
        assert ident.agb == exp["agb"]
        assert ident.card_type == exp["pastype"]
        assert ident.role == exp["role"]
        assert ident.ca_oid == exp["ca_oid"]


def _identities_over_tls(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple[object, object]:
    """Handshake over a socket pair; each side reads ``uzi_identity`` of its peer (or the error)."""
    seen: dict[str, object] = {}
    left, right = socket.socketpair()
    left.settimeout(10)
    right.settimeout(10)

    def server_side() -> None:
        with server_ctx.wrap_socket(left, server_side=True) as tls:
            try:
                seen["client"] = uzi_identity(tls)
            except UziIdentityError as exc:
                seen["client"] = exc
            tls.sendall(b"k")

    thread = threading.Thread(target=server_side)
    thread.start()
    with client_ctx.wrap_socket(right, server_hostname="localhost") as tls:
        assert tls.recv(1) == b"k"
        seen["server"] = uzi_identity(tls)
    thread.join(10)
    return seen["client"], seen["server"]


def test_identity_of_the_peer_of_a_live_tls_connection(
    pki: TestPKI, client_cert: IssuedCertificate, server_cert: IssuedCertificate
) -> None:
    server_ctx = server_ssl_context(
        server_cert.credentials(), pki.trust_anchors, require_client_certificate=True
    )
    client, server = _identities_over_tls(
        server_ctx, client_ssl_context(client_cert.credentials(), pki.trust_anchors)
    )
    assert isinstance(client, UziServerIdentity)
    assert isinstance(server, UziServerIdentity)
    assert client.ura == Ura("12345678")
    assert client.thumbprint == x5t_s256(client_cert.certificate)
    assert server.ura == Ura("11111111")


def test_tls_connection_without_handshake_or_peer_certificate(
    pki: TestPKI, server_cert: IssuedCertificate
) -> None:
    pending = client_ssl_context(None, pki.trust_anchors).wrap_bio(
        ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost"
    )
    with pytest.raises(UziIdentityError, match="handshake"):
        uzi_identity(pending)
    no_client_cert = server_ssl_context(server_cert.credentials(), None)
    client, _ = _identities_over_tls(no_client_cert, client_ssl_context(None, pki.trust_anchors))
    assert isinstance(client, UziIdentityError)
    assert "no certificate" in str(client)


def test_identity_of_an_expired_certificate_is_readable(pki: TestPKI) -> None:
    from datetime import UTC, datetime, timedelta

    from twiin.auth import verify_chain
    from twiin.errors import ChainValidationError

    now = datetime.now(UTC).replace(microsecond=0)
    ended = now - timedelta(hours=2)  # the test CAs are valid from a day ago
    old = pki.issue_server(
        ura="12345678", key_type="ec256", not_before=now - timedelta(hours=20), not_after=ended
    )
    ident = uzi_identity(old.certificate)  # no chain validation, no clock
    assert ident.ura == Ura("12345678")
    assert ident.not_after == ended
    with pytest.raises(ChainValidationError, match="not valid"):
        verify_chain(old.chain, pki.trust_anchors, now=now, check_revocation=False)
    inside = now - timedelta(hours=10)  # the explicit clock decides
    assert (
        verify_chain(old.chain, pki.trust_anchors, now=inside, check_revocation=False)[0] == old.certificate
    )
