"""Session fixture: panva's oidc-provider on 127.0.0.1 over HTTPS, with a test PKI written to a tmp dir."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.support.peers import PEERS_DIR, free_port, node_binary, npm_ci, spawn, unavailable
from twiin._http import client_ssl_context
from twiin.testing.pki import IssuedCertificate, TestPKI

OIDC_PEER_DIR = PEERS_DIR / "oidc"
CLIENT_URA = "12345678"


@attrs.frozen
class OidcPeer:
    """A running oidc-provider and the certificates it knows."""

    issuer: str
    pki: TestPKI
    client: IssuedCertificate
    client_es: IssuedCertificate
    rogue: IssuedCertificate
    other_client: IssuedCertificate

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.issuer}/token/introspection"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/token/revocation"

    def ssl_context(self, cert: IssuedCertificate | None) -> ssl.SSLContext:
        """An mTLS client context presenting ``cert`` (or no certificate)."""
        return client_ssl_context(cert.credentials() if cert else None, self.pki.trust_anchors)


def _write_pki(folder: Path, pki: TestPKI) -> tuple[IssuedCertificate, IssuedCertificate, IssuedCertificate]:
    server = pki.issue_server(ura="11111111", uzi_number="900000011", hostname="localhost")
    client = pki.issue_server(ura=CLIENT_URA, uzi_number="900000001", hostname="client.test")
    client_es = pki.issue_server(
        ura=CLIENT_URA, uzi_number="900000003", hostname="client.test", key_type="ec521"
    )
    (folder / "ca.pem").write_bytes(pki.ca_pem())
    server.write_pem(folder, "server")
    client.write_pem(folder, "client")
    client_es.write_pem(folder, "client_es")
    return server, client, client_es


@pytest.fixture(scope="session")
def oidc_peer(
    tmp_path_factory: pytest.TempPathFactory, pki: TestPKI, rogue_pki: TestPKI
) -> Iterator[OidcPeer]:
    """oidc-provider 9.13.3 (``tests/peer_servers/oidc/server.mjs``) with our test PKI."""
    folder = tmp_path_factory.mktemp("oidc-pki")
    _, client, client_es = _write_pki(folder, pki)
    rogue = rogue_pki.issue_server(ura=CLIENT_URA, uzi_number="900000001", hostname="client.test")
    other = pki.issue_server(ura="87654321", uzi_number="900000002", hostname="other.test")
    try:
        node = node_binary()
        npm_ci(OIDC_PEER_DIR)
    except Exception as exc:  # no node, npm failure, no network
        unavailable(f"oidc-provider could not be installed: {exc}")
    port = free_port()
    issuer = f"https://127.0.0.1:{port}"
    verify = client_ssl_context(None, pki.trust_anchors)
    try:
        with spawn(
            [str(node), str(OIDC_PEER_DIR / "server.mjs"), str(port), str(folder)],
            f"{issuer}/.well-known/openid-configuration",
            folder / "oidc-provider.log",
            verify=verify,
            cwd=OIDC_PEER_DIR,
        ):
            yield OidcPeer(issuer, pki, client, client_es, rogue, other)
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"oidc-provider did not start: {exc}")
