"""Our token flows against panva's oidc-provider (an independent authorization server)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from joserfc.jwk import KeySet

from twiin._http import create_async_client, create_client
from twiin.auth import (
    AssertionSigner,
    ClientCredentialsAuth,
    ClientSecretBasic,
    JwtBearerAuth,
    PrivateKeyJwt,
    TlsClientAuth,
    aintrospect,
    build_client_assertion,
    introspect,
    parse_token_response,
    revoke,
    verify_jws,
)
from twiin.auth.flows import GRANT_JWT_BEARER
from twiin.errors import TLSError, TokenRequestError, TransportError

from .conftest import OidcPeer

pytestmark = [pytest.mark.peer, pytest.mark.anyio]
SCOPE = "system/Task.read"
RESOURCE_URL = "https://resource.invalid/fhir/Task"


def _claims(jwt: str) -> dict[str, Any]:
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def _token(peer: OidcPeer, auth: Any, cert: Any) -> str:
    """Drive ``auth`` through a real request to the peer and return the token it obtained."""

    with create_client(ssl_context=peer.ssl_context(cert)) as client:
        flow = auth.sync_auth_flow(client.build_request("GET", RESOURCE_URL))
        token_request = next(flow)
        response = client.send(token_request)
        try:
            flow.send(response)
        except StopIteration:  # pragma: no cover
            pass
    cached = auth.cached_token()
    assert cached is not None
    return str(cached.access_token)


def test_private_key_jwt_two_fetches_in_a_row(oidc_peer: OidcPeer) -> None:
    tokens = []
    for _ in range(2):  # fresh jti each time: a reused assertion would get 401 invalid_client
        auth = ClientCredentialsAuth(
            oidc_peer.token_endpoint, oidc_peer.client.credentials(), client_id="twiin-pkjwt", scope=SCOPE
        )
        tokens.append(_token(oidc_peer, auth, oidc_peer.client))
    assert tokens[0] != tokens[1]
    claims = _claims(tokens[0])
    assert claims["client_id"] == "twiin-pkjwt"
    assert claims["aud"] == "https://fhir.test/fhir"
    assert claims["scope"] == SCOPE


def test_ps256_and_es512_assertions(oidc_peer: OidcPeer) -> None:
    ps = ClientCredentialsAuth(
        oidc_peer.token_endpoint,
        AssertionSigner(oidc_peer.client.credentials(), alg="PS256", include_x5c=True),
        client_id="twiin-pkjwt",
    )
    assert _token(oidc_peer, ps, oidc_peer.client)
    es = ClientCredentialsAuth(
        oidc_peer.token_endpoint, oidc_peer.client_es.credentials(), client_id="twiin-pkjwt-es512"
    )
    assert AssertionSigner(oidc_peer.client_es.credentials()).alg == "ES512"
    assert _token(oidc_peer, es, oidc_peer.client_es)


def test_access_token_verifies_against_peer_jwks(oidc_peer: OidcPeer) -> None:
    auth = ClientCredentialsAuth(
        oidc_peer.token_endpoint, oidc_peer.client.credentials(), client_id="twiin-pkjwt"
    )
    token = _token(oidc_peer, auth, oidc_peer.client)
    with create_client(ssl_context=peer_ctx(oidc_peer)) as client:
        jwks = client.get(f"{oidc_peer.issuer}/jwks").json()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    key = KeySet.import_key_set(jwks).get_by_kid(header["kid"])
    _, claims = verify_jws(token, key.public_key, [header["alg"]])
    assert claims["iss"] == oidc_peer.issuer


def peer_ctx(peer: OidcPeer) -> Any:
    return peer.ssl_context(None)


def test_tls_client_auth_certificate_bound(oidc_peer: OidcPeer) -> None:
    auth = TlsClientAuth(oidc_peer.token_endpoint, client_id="twiin-mtls", scope=SCOPE)
    token = _token(oidc_peer, auth, oidc_peer.client)
    assert _claims(token)["cnf"]["x5t#S256"] == oidc_peer.client.credentials().thumbprint


def test_tls_client_auth_refused_for_rogue_or_missing_certificate(oidc_peer: OidcPeer) -> None:
    auth = TlsClientAuth(oidc_peer.token_endpoint, client_id="twiin-mtls")
    with pytest.raises(TokenRequestError) as info:
        _token(oidc_peer, auth, None)
    assert (info.value.status, info.value.error) == (401, "invalid_client")
    with pytest.raises((TokenRequestError, TransportError)) as info2:
        _fetch_raising_twiin_errors(oidc_peer, auth, oidc_peer.rogue)
    if isinstance(info2.value, TokenRequestError):
        assert info2.value.status == 401


def _fetch_raising_twiin_errors(peer: OidcPeer, auth: Any, cert: Any) -> None:
    with create_client(ssl_context=peer.ssl_context(cert)) as client:
        flow = auth.sync_auth_flow(client.build_request("GET", RESOURCE_URL))
        try:
            response = client.send(next(flow))
        except httpx.TransportError as exc:  # the server may also drop the handshake
            raise TLSError(str(exc)) from None
        flow.send(response)


def test_wrong_assertion_key_maps_to_token_request_error(oidc_peer: OidcPeer) -> None:
    auth = ClientCredentialsAuth(
        oidc_peer.token_endpoint, oidc_peer.other_client.credentials(), client_id="twiin-pkjwt"
    )
    with pytest.raises(TokenRequestError) as info:
        _token(oidc_peer, auth, oidc_peer.client)
    assert info.value.status == 401
    assert info.value.error == "invalid_client"
    assert "eyJ" not in str(info.value)


def test_unknown_client_and_bad_grant(oidc_peer: OidcPeer) -> None:
    auth = ClientCredentialsAuth(oidc_peer.token_endpoint, oidc_peer.client.credentials(), client_id="nobody")
    with pytest.raises(TokenRequestError) as info:
        _token(oidc_peer, auth, oidc_peer.client)
    assert info.value.error == "invalid_client"
    bearer = JwtBearerAuth(
        oidc_peer.token_endpoint,
        oidc_peer.client.credentials(),
        client_id="twiin-pkjwt",  # not allowed this grant
        authorization_base="x" * 43,
    )
    with pytest.raises(TokenRequestError) as info:
        _token(oidc_peer, bearer, oidc_peer.client)
    assert info.value.status == 400
    assert info.value.error  # oidc-provider says invalid_request for a grant the client may not use


def test_jwt_bearer_grant_introspection_and_revocation(oidc_peer: OidcPeer) -> None:
    auth = JwtBearerAuth(
        oidc_peer.token_endpoint,
        oidc_peer.client.credentials(),
        client_id="twiin-jwtbearer",
        subject="12345678",
        authorization_base="ab-" + "q" * 40,
        scope=SCOPE,
    )
    token = _token(oidc_peer, auth, oidc_peer.client)
    assert token.count(".") == 0  # opaque: no resource indicator for this grant
    rs = ClientSecretBasic("rs", "rs-secret")
    with create_client(ssl_context=oidc_peer.ssl_context(oidc_peer.client)) as client:
        info = introspect(client, oidc_peer.introspection_endpoint, token, rs)
        assert info["active"] is True
        assert info["client_id"] == "twiin-jwtbearer"
        assert info["scope"] == SCOPE
        owner = PrivateKeyJwt(AssertionSigner(oidc_peer.client.credentials()), "twiin-jwtbearer")
        revoke(client, oidc_peer.revocation_endpoint, token, owner)
        assert introspect(client, oidc_peer.introspection_endpoint, token, rs) == {"active": False}
        with pytest.raises(TokenRequestError) as err:
            introspect(client, oidc_peer.introspection_endpoint, token, ClientSecretBasic("rs", "wrong"))
        assert err.value.error == "invalid_client"


def test_jwt_bearer_grant_errors_are_invalid_grant(oidc_peer: OidcPeer) -> None:
    """Grant assertion refused (wrong aud, replayed) while client authentication is fine."""
    signer = AssertionSigner(oidc_peer.client.credentials())
    grant = build_client_assertion(
        signer,
        client_id="twiin-jwtbearer",
        audience="https://elsewhere.example/token",
        extra_claims={"authorization_base": "ab-" + "r" * 40},
    )
    good_grant = build_client_assertion(
        signer,
        client_id="twiin-jwtbearer",
        audience=oidc_peer.token_endpoint,
        extra_claims={"authorization_base": "ab-" + "s" * 40},
    )
    auth = PrivateKeyJwt(signer, "twiin-jwtbearer", audience=oidc_peer.token_endpoint)
    with create_client(ssl_context=oidc_peer.ssl_context(oidc_peer.client)) as client:
        errors = []
        for assertion in (grant, good_grant, good_grant):
            fields, _ = auth.apply(oidc_peer.token_endpoint)
            form = {"grant_type": GRANT_JWT_BEARER, "assertion": assertion, **fields}
            response = client.post(oidc_peer.token_endpoint, data=form)
            try:
                parse_token_response(response.status_code, response.headers, response.content, now=0)
                errors.append(None)
            except TokenRequestError as exc:
                errors.append((exc.status, exc.error))
    assert errors == [(400, "invalid_grant"), None, (400, "invalid_grant")]


async def test_async_flow_against_peer(oidc_peer: OidcPeer) -> None:
    auth = ClientCredentialsAuth(
        oidc_peer.token_endpoint, oidc_peer.client.credentials(), client_id="twiin-pkjwt"
    )

    ctx = oidc_peer.ssl_context(oidc_peer.client)
    async with create_async_client(ssl_context=ctx) as client:
        flow = auth.async_auth_flow(client.build_request("GET", RESOURCE_URL))
        response = await client.send(await flow.__anext__())
        request = await flow.asend(response)
        assert request.headers["authorization"].startswith("Bearer ")
        with pytest.raises(StopAsyncIteration):
            await flow.asend(httpx.Response(200, request=request))
        token = auth.cached_token()
        assert token is not None
        with pytest.raises(TokenRequestError) as info:  # oidc-provider refuses to introspect JWT tokens
            await aintrospect(
                client,
                oidc_peer.introspection_endpoint,
                token.access_token,
                ClientSecretBasic("rs", "rs-secret"),
            )
    assert (info.value.status, info.value.error) == (400, "unsupported_token_type")
