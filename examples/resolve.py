"""Addressing: find a care organisation's endpoint for a payload type in the mCSD directory.

Run: python examples/resolve.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir

from twiin import Ura
from twiin._http import client_ssl_context
from twiin.addressing import LiveDirectory, payload_types
from twiin.config import load_config
from twiin.errors import AddressingError


def main() -> None:
    config = load_config(node_config(sandbox_dir(), "hospital"))
    assert config.credentials is not None
    assert config.trust is not None
    tls = client_ssl_context(config.credentials, config.trust)  # mTLS with our UZI server certificate
    directory_url = config.endpoints["directory"].base_url

    with LiveDirectory(directory_url, ssl_context=tls) as directory:
        # Where does the GP practice take Notified Pull notifications?
        for endpoint in directory.resolve(Ura("22222222"), payload_types.TWIIN_TA_NOTIFICATION):
            print("gp notification endpoint:", endpoint.address, endpoint.fhir_version)
        # Where does the hospital serve its BgZ (STU3)?
        for endpoint in directory.resolve(Ura("11111111"), payload_types.BGZ_SERVER):
            print("hospital BgZ endpoint:", endpoint.address, endpoint.fhir_version)
        # An organisation that is not in the directory is a typed error, not an empty list.
        try:
            directory.resolve(Ura("99999999"), payload_types.BGZ_SERVER)
        except AddressingError as exc:
            print("unknown organisation:", type(exc).__name__, exc)


if __name__ == "__main__":
    main()
