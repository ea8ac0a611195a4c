"""DPoP proofs (RFC 9449): a per-request JWT proving possession of a key bound to the token.

Proofs sent to a resource server carry ``ath`` (base64url SHA-256 of the access token), which
RFC 9449 requires even though the generic-functions IG example omits it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from twiin.auth.jose import default_algorithm, jose_key, new_jti
from twiin.errors import ConfigurationError

__all__ = ["DPoPSigner", "access_token_hash", "jwk_thumbprint"]


def access_token_hash(access_token: str) -> str:
    """The ``ath`` value: base64url(SHA-256(ASCII access token)), unpadded."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (the ``cnf.jkt`` value)."""
    import json

    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _htu(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@attrs.frozen(repr=False)
class DPoPSigner:
    """Makes DPoP proofs with a dedicated key (not the TLS key); ``alg`` follows the key."""

    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    alg: str = ""
    nonce: str | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.alg:
            object.__setattr__(self, "alg", default_algorithm(self.private_key))
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError("auth.dpop_key", "DPoP needs an RSA or EC private key")

    def __repr__(self) -> str:
        return f"DPoPSigner(alg={self.alg!r}, jkt={self.thumbprint!r})"

    @classmethod
    def generate(cls) -> DPoPSigner:
        """A signer with a fresh P-256 key (ES256)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (goes into the proof header)."""
        return dict(jose_key(self.private_key.public_key()).as_dict(private=False))

    @property
    def thumbprint(self) -> str:
        """The JWK thumbprint a DPoP-bound token's ``cnf.jkt`` names."""
        return jwk_thumbprint(self.public_jwk)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        now: float | None = None,
    ) -> str:
        """A DPoP proof JWT for ``method`` ``url`` (query and fragment dropped from ``htu``)."""
        from joserfc import jws

        claims: dict[str, Any] = {
            "jti": new_jti(),
            "htm": method.upper(),
            "htu": _htu(url),
            "iat": int(time.time() if now is None else now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce or self.nonce:
            claims["nonce"] = nonce or self.nonce
        header = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        import json

        payload = json.dumps(claims, separators=(",", ":")).encode()
        return jws.serialize_compact(header, payload, jose_key(self.private_key), algorithms=[self.alg])
