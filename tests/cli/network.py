"""A loopback mTLS peer for the node-backed commands, and a node directory with ``node.toml``.

One HTTPS listener on 127.0.0.1 hosts the fake Mitz (``/mitz``), a token endpoint (``/token``)
and a small mCSD query directory (``/mcsd``, search and ``_history``) listing the peer's
Notified Pull endpoint. :func:`write_our_node` writes our certificate, key, trust anchors, pseudonym
key and a ``node.toml`` pointing at it (with :mod:`tests.support.node_config`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from tests.support.node_config import base_config, write_node
from tests.unit.addressing.fakes import FakeDirectory
from tests.unit.addressing.mcsd_fixtures import endpoint, organization
from twiin._http import server_ssl_context
from twiin.addressing import payload_types as pt
from twiin.auth import AssertionSigner
from twiin.auth.server import AssertionPolicy, TokenEndpoint, TokenIssuer
from twiin.consent import DataCategory, Decision
from twiin.errors import TwiinError
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fake_mitz import FakeConsent, FakeMitz
from twiin.testing.notified_pull import OTHER_PATIENT, PATIENT, RECEIVER, SENDER
from twiin.testing.pki import IssuedCertificate, TestPKI
from twiin.testing.router import Router
from twiin.testing.server import serve

__all__ = ["OTHER_PATIENT", "PATIENT", "RECEIVER", "SENDER", "Peer", "node_config", "peer", "write_our_node"]


@attrs.define
class Peer:
    """The running peer: its base URL, the fake Mitz and the directory behind it."""

    base_url: str
    mitz: FakeMitz
    directory: FakeDirectory
    certificate: IssuedCertificate

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"


def _directory_handler(holder: dict[str, FakeDirectory], name: str) -> Any:
    def handle(request: IncomingRequest) -> Answer:
        try:
            return Answer.fhir(200, holder[name].get(request.url))
        except TwiinError:
            return Answer.outcome(404, "not-found", "unknown path")

    return handle


@contextmanager
def peer(pki: TestPKI) -> Iterator[Peer]:
    """Start the peer (URA 22222222) until the block ends."""
    cert = pki.issue_server(ura=RECEIVER.value, uzi_number="900000002", key_type="ec256")
    mitz = FakeMitz(
        [
            FakeConsent(PATIENT, DataCategory.GGC002, Decision.PERMIT),
            FakeConsent(OTHER_PATIENT, DataCategory.GGC002, Decision.DENY),
        ]
    )
    blocks: dict[str, TokenEndpoint] = {}
    holder: dict[str, FakeDirectory] = {}

    def tokens(request: IncomingRequest) -> Answer:  # the endpoint needs the URL of the started server
        return blocks["token"].handle(request)

    routes = Router(
        {
            "/mitz": mitz.handle,
            "/token": tokens,
            "/mcsd": _directory_handler(holder, "directory"),
            "/lrza": _directory_handler(holder, "lrza"),
        }
    )
    with serve(routes, server_ssl_context(cert.credentials(), pki.trust_anchors)) as server:
        token_url = server.url("token")
        blocks["token"] = TokenEndpoint(
            issuer=TokenIssuer(AssertionSigner(cert.credentials()), issuer=token_url),
            policy=AssertionPolicy(
                audience=token_url,
                trust=pki.trust_anchors,
                check_revocation=False,
                intermediates=(pki.intermediate.certificate,),
            ),
        )
        directory = FakeDirectory(server.url("mcsd"))
        directory.put(
            endpoint("gp-notify", server.url("fhir"), pt.TWIIN_TA_NOTIFICATION),
            organization("gp", "Sandbox GP", ura=RECEIVER.value, endpoints=("gp-notify",)),
        )
        holder["directory"] = directory
        lrza = FakeDirectory(server.url("lrza"))  # the root: the GP registered /mcsd as its directory
        lrza.put(
            endpoint("gp-admin", server.url("mcsd"), pt.ADMIN_DIRECTORY),
            organization("gp-lrza", "Sandbox GP", ura=RECEIVER.value, endpoints=("gp-admin",), lrza=True),
        )
        holder["lrza"] = lrza
        yield Peer(server.base_url, mitz, directory, cert)


def node_config(peer_url: str, *, addressing: str = "live", directory: str = "mcsd") -> dict[str, Any]:
    """Our node (URA 11111111): directory (``mcsd`` or the ``lrza`` root), Mitz at the peer."""
    config = base_config(SENDER.value)
    config["endpoints"] = {
        "directory": {"base_url": f"{peer_url}/{directory}", "fhir_version": "R4"},
        "mitz": {"base_url": f"{peer_url}/mitz"},
    }
    config["addressing"] = {"kind": addressing, "endpoint": "directory"}
    if addressing == "cache":
        config["addressing"]["cache_path"] = "directory.sqlite"
    config["consent"] = {**config["consent"], "kind": "mitz", "endpoint": "mitz"}
    return config


def write_our_node(
    folder: Path, pki: TestPKI, peer_url: str, *, addressing: str = "live", directory: str = "mcsd"
) -> Path:
    """Write our node's files into ``folder``; returns its ``node.toml``."""
    ours = pki.issue_server(ura=SENDER.value, uzi_number="900000001", key_type="ec256")
    config = node_config(peer_url, addressing=addressing, directory=directory)
    return write_node(folder, pki, config, issued=ours)
