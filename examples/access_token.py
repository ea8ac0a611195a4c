"""Access token: OAuth 2.0 tokens from a peer's token endpoint, authenticated with our UZI certificate.

Run: python examples/access_token.py SANDBOX_DIR
"""

from __future__ import annotations

import time

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin.errors import TokenRequestError
from twiin.fhir import FhirVersion
from twiin.node import Node


def main() -> None:
    directory = sandbox_dir()
    participants = sandbox_info(directory)["participants"]
    placer, hospital = participants["placer"], participants["hospital"]
    with Node.from_file(node_config(directory, "gp")) as node:
        # client_credentials with a private_key_jwt client assertion signed by our UZI key.
        auth = node.token_auth(placer["token_url"])
        with node.fhir(placer["fhir_base"], version=FhirVersion.R4, auth=auth) as fhir:
            fhir.search("Task", {"_count": "1"})  # the auth fetched a token for this request ...
            fhir.search("Task", {"_count": "1"})  # ... and reuses it from its cache
            token = auth.cached_token()
            assert token is not None
            print("token:", token)  # the repr never shows the token itself
            print(f"type {token.token_type}, valid for {token.expires_at - time.time():.0f} s,",
                  f"token requests: {auth.token_requests}")  # fmt: skip

        # The JWT-bearer grant carries a Notified Pull authorization base (from a notification);
        # the sender's token endpoint refuses one it did not issue to us.
        bearer = node.token_auth(hospital["token_url"], authorization_base="not-a-real-base")
        with node.fhir(hospital["fhir_base"], version=FhirVersion.STU3, auth=bearer) as fhir:
            try:
                fhir.search("Condition")
            except TokenRequestError as exc:
                print("JWT-bearer grant with an unknown authorization base:", exc.error)


if __name__ == "__main__":
    main()
