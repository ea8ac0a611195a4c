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

__all__ = [
    "DEFAULT_AUTHORIZATION_BASE_TTL",
    "AssertionPolicy",
    "AuthorizationBase",
    "AuthorizationBaseStore",
    "MemoryAuthorizationBaseStore",
    "MemoryReplayCache",
    "ReplayCache",
    "VerifiedAssertion",
    "authorization_base_id",
    "ura_from_client_id",
    "verify_authorization_grant",
    "verify_client_assertion",
]
