"""Token: an OAuth 2.0 access token from a peer GtK's token endpoint, with our UZI certificate.

Run: python examples/access_token.py SANDBOX_DIR
"""

from __future__ import annotations

import time

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin._http import client_ssl_context, create_client
from twiin.auth import ClientCredentialsAuth, JwtBearerAuth
from twiin.config import load_config
from twiin.errors import TokenRequestError


def main() -> None:
    directory = sandbox_dir()
    participants = sandbox_info(directory)["participants"]
    config = load_config(node_config(directory, "hospital"))
    assert config.credentials is not None
    assert config.trust is not None
    client_id = config.participant.ura.value

    # client_credentials, authenticated with a private_key_jwt assertion signed by our UZI key
    # (what a sender uses to POST a notification to the receiver's Task endpoint).
    auth = ClientCredentialsAuth(participants["gp"]["token_url"], config.credentials, client_id=client_id)
    with create_client(ssl_context=client_ssl_context(config.credentials, config.trust)) as http:
        response = http.send(auth.build_token_request())  # the sans-I/O steps of the httpx.Auth flow
        token = auth.accept_token_response(response, response.read())
        print("token:", token)  # the repr never shows the token itself
        print(f"type {token.token_type}, valid for {token.expires_at - time.time():.0f} s")
        # In practice, pass the auth to a client: it fetches, caches and refreshes by itself.

        # The JWT-bearer grant carries a Notified Pull authorization base; an unknown one is refused.
        bearer = JwtBearerAuth(participants["hospital"]["token_url"], config.credentials,
                               client_id=client_id, authorization_base="not-a-real-base")  # fmt: skip
        response = http.send(bearer.build_token_request())
        try:
            bearer.accept_token_response(response, response.read())
        except TokenRequestError as exc:
            print("JWT-bearer grant with an unknown authorization base:", exc.error)


if __name__ == "__main__":
    main()
