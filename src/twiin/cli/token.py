"""``twiin token``: fetch an access token with the node's credentials and show its metadata."""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from twiin._http import create_client, send
from twiin.auth import Token
from twiin.auth.tokens import MAX_TOKEN_RESPONSE_BYTES
from twiin.cli._common import emit, handle_errors, json_option
from twiin.cli._node import config_option, open_node
from twiin.redaction import redact

__all__ = ["register", "token_summary", "unverified_claims"]

SHOWN_CLAIMS = ("iss", "sub", "aud", "client_id", "client_ura", "scope", "iat", "exp", "cnf")
"""JWT claims shown; others (e.g. the queries of an authorization base) are left out."""


def unverified_claims(access_token: str) -> dict[str, Any] | None:
    """The payload of a JWT access token, NOT verified (display only); ``None`` for opaque tokens."""
    parts = access_token.split(".")
    if len(parts) != 3 or len(access_token) > 64 * 1024:
        return None
    body = parts[1]
    try:
        value = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def token_summary(token: Token, token_url: str, thumbprint: str, now: float) -> dict[str, Any]:
    """Metadata of ``token`` (never the token itself); ``thumbprint`` is our certificate's x5t#S256."""
    claims = unverified_claims(token.access_token)
    shown = {k: claims[k] for k in SHOWN_CLAIMS if k in claims} if claims is not None else {}
    cnf = shown.get("cnf") if isinstance(shown.get("cnf"), dict) else token.extra.get("cnf")
    bound = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    return {
        "token_url": token_url,
        "token_type": token.token_type,
        "format": "jwt" if claims is not None else "opaque",
        "scope": token.scope,
        "expires_in": round(token.expires_at - now),
        "expires_at": datetime.fromtimestamp(token.expires_at, UTC).isoformat(timespec="seconds"),
        "cnf": cnf,
        "bound_to_our_certificate": bound == thumbprint if bound is not None else False,
        "claims_unverified": shown,
    }


def _secret_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return sys.stdin.readline().strip() if value == "-" else value


def _print_human(summary: dict[str, Any], access_token: str | None) -> None:
    # the claims come from the token endpoint: redacted like the JSON output
    for key in ("token_url", "token_type", "format", "scope", "expires_in", "expires_at", "cnf"):
        click.echo(redact(f"{key + ':':<26}{summary[key]}"))
    click.echo(f"{'bound_to_our_certificate:':<26}{summary['bound_to_our_certificate']}")
    for key, value in summary["claims_unverified"].items():
        click.echo(redact(f"{'claim ' + key + ':':<26}{value}"))
    if access_token is not None:  # asked for with --show-token
        click.echo(f"{'access_token:':<26}{access_token}")


def register(cli: click.Group) -> None:
    """Add the ``token`` command to ``cli``."""

    @cli.command("token")
    @config_option
    @click.option("--token-url", required=True, help="The token endpoint (https).")
    @click.option(
        "--authorization-base",
        callback=_secret_arg,
        help="Authorization base from a notification: JWT-bearer grant ('-' reads it from stdin).",
    )
    @click.option("--show-token", is_flag=True, help="Also print the access token itself (a secret).")
    @json_option
    @handle_errors
    def token(
        config_path: Path, token_url: str, authorization_base: str | None, show_token: bool, as_json: bool
    ) -> None:
        """Fetch an access token over mTLS and show its type, expiry, scope and cnf binding.

        client_credentials without --authorization-base, the JWT-bearer grant with it. The token
        is printed only with --show-token; claims are decoded without verification. Exit 1 when
        no token is issued.
        """
        with open_node(config_path) as node:
            auth = node.token_auth(token_url, authorization_base=authorization_base)
            with create_client(ssl_context=node.ssl_context()) as client:
                response = send(client, auth.build_token_request(), max_bytes=MAX_TOKEN_RESPONSE_BYTES)
            fetched = auth.accept_token_response(response, response.content)
            summary = token_summary(fetched, token_url, node.credentials.thumbprint, time.time())
        secret = fetched.access_token if show_token else None
        data = {**summary, "access_token": secret} if show_token else summary
        # without --show-token nothing secret is in ``data``; with it, redaction would mask the token
        emit(as_json, data, lambda: _print_human(summary, secret), redact_output=not show_token)
