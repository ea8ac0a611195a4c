"""Authentication: UZI certificate identity, chain validation, JWT assertions and OAuth token flows.

Client side: :func:`uzi_identity`, :func:`verify_chain`, :class:`AssertionSigner` /
:func:`build_client_assertion`, and token flows as ``httpx.Auth`` (:class:`ClientCredentialsAuth`,
:class:`TlsClientAuth`, :class:`JwtBearerAuth`, :class:`TokenExchangeAuth`) sharing a
:class:`TokenCache`. Server side building blocks live in :mod:`twiin.auth.server`.
"""

from twiin.auth.chain import MAX_CRL_REFRESH, CrlSource, RefreshingCrlSource, StaticCrlSource, verify_chain
from twiin.auth.dpop import DPoPSigner, access_token_hash, jwk_thumbprint
from twiin.auth.flows import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    ClientCredentialsAuth,
    JwtBearerAuth,
    TlsClientAuth,
    TokenAuth,
    TokenExchangeAuth,
)
from twiin.auth.jose import (
    ALGORITHMS,
    ASSERTION_TYPE,
    DEFAULT_ASSERTION_LIFETIME,
    MAX_ASSERTION_LIFETIME,
    AssertionSigner,
    build_client_assertion,
    verify_jws,
)
from twiin.auth.management import (
    ClientAuthentication,
    ClientSecretBasic,
    PrivateKeyJwt,
    TlsClient,
    aintrospect,
    arevoke,
    introspect,
    revoke,
)
from twiin.auth.tokens import CacheKey, Token, TokenCache, cache_key, parse_token_response
from twiin.auth.uzi import UziServerIdentity, load_certificate, parse_uzi_othername, uzi_identity

__all__ = [
    "ALGORITHMS",
    "ASSERTION_TYPE",
    "DEFAULT_ASSERTION_LIFETIME",
    "GRANT_CLIENT_CREDENTIALS",
    "GRANT_JWT_BEARER",
    "GRANT_TOKEN_EXCHANGE",
    "MAX_ASSERTION_LIFETIME",
    "MAX_CRL_REFRESH",
    "AssertionSigner",
    "CacheKey",
    "ClientAuthentication",
    "ClientCredentialsAuth",
    "ClientSecretBasic",
    "CrlSource",
    "DPoPSigner",
    "JwtBearerAuth",
    "PrivateKeyJwt",
    "RefreshingCrlSource",
    "StaticCrlSource",
    "TlsClient",
    "TlsClientAuth",
    "Token",
    "TokenAuth",
    "TokenCache",
    "TokenExchangeAuth",
    "UziServerIdentity",
    "access_token_hash",
    "aintrospect",
    "arevoke",
    "build_client_assertion",
    "cache_key",
    "introspect",
    "jwk_thumbprint",
    "load_certificate",
    "parse_token_response",
    "parse_uzi_othername",
    "revoke",
    "uzi_identity",
    "verify_chain",
    "verify_jws",
]
