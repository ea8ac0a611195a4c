"""``ssl.SSLContext`` builders for mTLS with UZI server certificates.

TLS 1.3 is the minimum by default (Twiin's network-security agreement); TLS 1.2 only when a
service's configuration allows it explicitly. The private key reaches ``ssl`` through a
temporary file created with mode 0600 in a private directory, encrypted with a one-time random
password, and removed right after loading, so the plaintext key never touches the disk.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from pathlib import Path

from twiin.credentials import Credentials, TrustAnchors

__all__ = ["client_ssl_context", "server_ssl_context"]


def _load_credentials(ctx: ssl.SSLContext, credentials: Credentials) -> None:
    password = secrets.token_urlsafe(32).encode("ascii")
    with tempfile.TemporaryDirectory(prefix="twiin-tls-") as tmp:
        os.chmod(tmp, 0o700)
        path = Path(tmp) / "identity.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(credentials.chain_pem())
            fh.write(credentials.encrypted_key_pem(password))
        try:
            ctx.load_cert_chain(str(path), password=password)
        finally:
            path.unlink(missing_ok=True)


def _minimum(ctx: ssl.SSLContext, allow_tls12: bool) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2 if allow_tls12 else ssl.TLSVersion.TLSv1_3


def client_ssl_context(
    credentials: Credentials | None = None,
    trust: TrustAnchors | None = None,
    *,
    allow_tls12: bool = False,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A client context presenting ``credentials`` and trusting ``trust`` (system CAs when None)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _minimum(ctx, allow_tls12)
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if trust is not None:
        ctx.load_verify_locations(cadata=trust.pem())
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if credentials is not None:
        _load_credentials(ctx, credentials)
    return ctx


def server_ssl_context(
    credentials: Credentials,
    trust: TrustAnchors | None,
    *,
    require_client_certificate: bool = True,
    allow_tls12: bool = False,
) -> ssl.SSLContext:
    """A server context for a GtK endpoint; with ``trust`` it asks for (or requires) client certificates."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _minimum(ctx, allow_tls12)
    _load_credentials(ctx, credentials)
    if trust is not None:
        ctx.load_verify_locations(cadata=trust.pem())
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    return ctx
