"""Server-side authentication blocks for a GtK: client assertion checks, authorization bases,
access token issuing and verification, and a framework-agnostic token endpoint."""

from twiin.auth.server.assertion import (
    AssertionPolicy,
    MemoryReplayCache,
    ReplayCache,
    VerifiedAssertion,
    ura_from_client_id,
    verify_authorization_grant,
    verify_client_assertion,
)
from twiin.auth.server.authbase import (
    DEFAULT_AUTHORIZATION_BASE_TTL,
    AuthorizationBase,
    AuthorizationBaseStore,
    MemoryAuthorizationBaseStore,
    authorization_base_id,
)
from twiin.auth.server.endpoint import TokenEndpoint
from twiin.auth.server.tokens import AccessClaims, TokenIssuer, normalise_query, verify_access_token

__all__ = [
    "DEFAULT_AUTHORIZATION_BASE_TTL",
    "AccessClaims",
    "AssertionPolicy",
    "AuthorizationBase",
    "AuthorizationBaseStore",
    "MemoryAuthorizationBaseStore",
    "MemoryReplayCache",
    "ReplayCache",
    "TokenEndpoint",
    "TokenIssuer",
    "VerifiedAssertion",
    "authorization_base_id",
    "normalise_query",
    "ura_from_client_id",
    "verify_access_token",
    "verify_authorization_grant",
    "verify_client_assertion",
]
