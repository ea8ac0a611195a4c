"""Certificate identity: who a UZI server certificate says we are, and does it chain to the trust anchors?

Run: python examples/certificate_identity.py SANDBOX_DIR
"""

from __future__ import annotations

from datetime import UTC, datetime

from _sandbox import node_config, sandbox_dir

from twiin.auth import uzi_identity, verify_chain
from twiin.errors import ChainValidationError
from twiin.node import Node
from twiin.testing.pki import TestPKI


def main() -> None:
    # Loading refuses a certificate whose URA is not participant.ura, or a key that does not match.
    with Node.from_file(node_config(sandbox_dir(), "hospital")) as node:
        identity = uzi_identity(node.credentials.certificate)  # also kept as node.identity
        print("organisation (URA):", identity.ura, "- configured:", node.ura)
        print("UZI number:", identity.uzi_number, "card type:", identity.card_type, "role:", identity.role)
        print("subject:", identity.subject_organization, "/", identity.subject_common_name)
        print("valid until:", identity.not_after.isoformat(), "thumbprint:", identity.thumbprint[:16] + "...")

        # The chain to the trust anchors, as a peer checks it when we connect (clientAuth).
        now = datetime.now(UTC)
        chain = verify_chain(node.credentials.chain, node.trust, now=now, check_revocation=False)
        print("chain to the trust anchors:", " -> ".join(c.subject.rfc4514_string() for c in chain))

        # A certificate from another PKI does not chain, however UZI-like it looks.
        stranger = TestPKI.rogue().issue_server(ura="11111111", uzi_number="900000001").credentials()
        try:
            verify_chain(stranger.chain, node.trust, now=now, check_revocation=False)
        except ChainValidationError as exc:
            print("rogue certificate refused:", exc)


if __name__ == "__main__":
    main()
