"""Addressing: find a care organisation's endpoint for a payload type in the mCSD directory.

Run: python examples/resolve.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir

from twiin import Ura
from twiin.addressing import payload_types
from twiin.errors import AddressingError
from twiin.node import Node


def main() -> None:
    # [addressing] kind = "live": node.directory queries the mCSD directory over mTLS per call
    # ("static" reads an address book file, "cache" a locally synchronised copy).
    with Node.from_file(node_config(sandbox_dir(), "hospital")) as node:
        directory = node.directory
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
            print("unknown organisation:", type(exc).__name__)
        # node.fhir() resolves a URA the same way and opens a FHIR client over mTLS.
        with node.fhir(Ura("33333333"), payload_type=payload_types.ANY) as placer:
            print("placer FHIR base:", placer.base_url)


if __name__ == "__main__":
    main()
