"""mTLS over real loopback sockets with the test PKI."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from twiin._http import client_ssl_context, create_async_client, create_client, send, server_ssl_context
from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.credentials import Credentials
from twiin.errors import TLSError
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import TestPKI
from twiin.testing.server import RunningServer, serve


def _whoami(request: IncomingRequest) -> Answer:
    cert = request.peer_certificate
    serial = cert.subject.get_attributes_for_oid(x509_serial_oid())[0].value if cert else None
    return Answer.json(200, {"peer_serial": serial})


def x509_serial_oid():  # type: ignore[no-untyped-def]
    from cryptography.x509.oid import NameOID

    return NameOID.SERIAL_NUMBER


@pytest.fixture(scope="module")
def server(pki: TestPKI) -> Iterator[RunningServer]:
    identity = pki.issue_server(ura="11111111", uzi_number="900000111")
    ctx = server_ssl_context(identity.credentials(), pki.trust_anchors, require_client_certificate=True)
    with serve(_whoami, ctx) as running:
        yield running


@pytest.fixture(scope="module")
def client_identity(pki: TestPKI):  # type: ignore[no-untyped-def]
    return pki.issue_server(ura="22222222", uzi_number="900000222")


def _get(ctx: ssl.SSLContext, url: str) -> httpx.Response:
    with create_client(ssl_context=ctx, retry=RetryPolicy.disabled()) as client:
        return send(client, client.build_request("GET", url))


def test_trusted_client_certificate_pem(
    server: RunningServer, pki: TestPKI, client_identity, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cert, key = client_identity.write_pem(tmp_path, "client", password=b"s3cret")
    creds = Credentials.from_pem_files(cert, key, password=b"s3cret")
    response = _get(client_ssl_context(creds, pki.trust_anchors), server.url("/whoami"))
    assert response.status_code == 200
    assert response.json() == {"peer_serial": "900000222"}


def test_trusted_client_certificate_pkcs12(server: RunningServer, pki: TestPKI, client_identity) -> None:  # type: ignore[no-untyped-def]
    creds = Credentials.from_pkcs12(client_identity.to_pkcs12(b"pw"), b"pw")
    response = _get(client_ssl_context(creds, pki.trust_anchors), server.url("/"))
    assert response.json()["peer_serial"] == "900000222"


def test_rogue_client_certificate_is_tls_error(
    server: RunningServer, pki: TestPKI, rogue_pki: TestPKI
) -> None:
    rogue = rogue_pki.issue_server(ura="22222222").credentials()
    with pytest.raises(TLSError) as info:
        _get(client_ssl_context(rogue, pki.trust_anchors), server.url("/"))
    assert info.value.retryable is False


def test_missing_client_certificate_is_tls_error(server: RunningServer, pki: TestPKI) -> None:
    with pytest.raises(TLSError):
        _get(client_ssl_context(None, pki.trust_anchors), server.url("/"))


def test_untrusted_server_is_tls_error(server: RunningServer, rogue_pki: TestPKI, client_identity) -> None:  # type: ignore[no-untyped-def]
    ctx = client_ssl_context(client_identity.credentials(), rogue_pki.trust_anchors)
    with pytest.raises(TLSError, match="certificate verify failed"):
        _get(ctx, server.url("/"))


def test_tls_12_refused_by_default(pki: TestPKI) -> None:
    ctx = client_ssl_context(None, pki.trust_anchors)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert (
        client_ssl_context(None, pki.trust_anchors, allow_tls12=True).minimum_version
        == ssl.TLSVersion.TLSv1_2
    )


@pytest.mark.anyio
async def test_async_client_mtls(server: RunningServer, pki: TestPKI, client_identity) -> None:  # type: ignore[no-untyped-def]
    from twiin._http import asend

    ctx = client_ssl_context(client_identity.credentials(), pki.trust_anchors)
    async with create_async_client(ssl_context=ctx) as client:
        response = await asend(client, client.build_request("GET", server.url("/")))
    assert response.json()["peer_serial"] == "900000222"


def test_tls_temp_files_are_removed(pki: TestPKI, client_identity, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client_ssl_context(client_identity.credentials(), pki.trust_anchors)
    assert list(tmp_path.iterdir()) == []


def test_identity_ura_from_pki(client_identity) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    san = client_identity.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    (othername,) = san.get_values_for_type(x509.OtherName)
    text = othername.value[2:].decode()
    assert text == "2.16.528.1.1007.99.2110-1-900000222-S-22222222-00.000-00000000"
    assert Ura(text.split("-")[4]) == Ura("22222222")
