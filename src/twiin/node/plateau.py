"""Which Twiin growth-model plateau (1-4) a node configuration reaches per generic function.

The public Twiin sources publish no normative per-plateau requirements table; this follows
twiin's reading in ``docs/concepts.md`` (plateau 1 bilateral trust, 2 within a collaboration,
3 regional and nationally consultable, 4 fully Twiin):

* consent: 1 in-memory local register; 2 persisted local register; 3 Mitz closed question;
  4 Mitz with subscriptions.
* addressing: 1 static book with one peer; 2 shared static book (several organisations);
  3 live mCSD directory; 4 synchronised directory cache.
* authentication: 1 mTLS, our chain does not lead to our trust anchors; 2 mTLS + OAuth2 client
  assertions; 3 UZI server certificate + OAuth2; 4 as 3 with DPoP-bound tokens.
* authorization: 1 authorization base; 2 plus certificate-bound tokens we issue; 3 as 2 with
  consent from Mitz; 4 national authorization rules (not offered by twiin yet).
"""

from __future__ import annotations

import attrs

from twiin.settings import NodeSettings

__all__ = ["FUNCTIONS", "PlateauReport", "assess"]

FUNCTIONS = ("consent", "addressing", "authentication", "authorization")


@attrs.frozen
class PlateauReport:
    """The plateau one generic function reaches, how, and what the next plateau needs."""

    function: str
    plateau: int
    via: str
    next: str | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"function": self.function, "plateau": self.plateau, "via": self.via, "next": self.next}


def _consent(settings: NodeSettings) -> PlateauReport:
    consent = settings.consent
    if consent.kind == "mitz":
        if consent.subscriptions:
            return PlateauReport("consent", 4, "Mitz closed question with subscriptions", None)
        return PlateauReport(
            "consent",
            3,
            "Mitz closed question",
            "subscribe to Mitz consent changes: consent.subscriptions = true",
        )
    if consent.register_path is None:
        return PlateauReport(
            "consent",
            1,
            "in-memory local consent register",
            "keep the register in a file shared in the collaboration: consent.register",
        )
    return PlateauReport(
        "consent",
        2,
        "persisted local consent register",
        "ask Mitz: consent.kind = mitz with endpoint, professional_uzi, professional_role, "
        "requester_provider_type",
    )


def _addressing(settings: NodeSettings, peers: int) -> PlateauReport:
    kind = settings.addressing.kind
    if kind == "cache":
        return PlateauReport("addressing", 4, "synchronised directory cache", None)
    if kind == "live":
        return PlateauReport(
            "addressing",
            3,
            "live mCSD directory queries",
            "synchronise the directory into a cache: addressing.kind = cache",
        )
    nxt = "use an mCSD directory: addressing.kind = live (or cache) with an [endpoints] directory"
    if peers > 1:
        return PlateauReport("addressing", 2, f"shared static address book ({peers} organisations)", nxt)
    return PlateauReport(
        "addressing",
        1,
        "bilateral static address book",
        "share one address book within the collaboration (several organisations)",
    )


def _authentication(settings: NodeSettings, chain_ok: bool, uzi_server: bool) -> PlateauReport:
    if not chain_ok:
        return PlateauReport(
            "authentication",
            1,
            "mTLS; our certificate does not chain to our trust anchors",
            "a certificate that chains to the trust anchors (trust.ca_bundle)",
        )
    if not uzi_server:
        return PlateauReport(
            "authentication", 2, "mTLS + OAuth2 client assertions", "a UZI server certificate (pass type S)"
        )
    if not settings.token.dpop:
        return PlateauReport(
            "authentication",
            3,
            "UZI server certificate + OAuth2 client assertions",
            "DPoP-bound tokens where required: token.dpop = true",
        )
    return PlateauReport("authentication", 4, "UZI server certificate + OAuth2 with DPoP", None)


def _authorization(settings: NodeSettings) -> PlateauReport:
    bound = settings.token.certificate_bound and settings.server.token_url is not None
    if not bound:
        return PlateauReport(
            "authorization",
            1,
            "authorization base",
            "issue certificate-bound tokens: [server] token_url and token.certificate_bound = true",
        )
    if settings.consent.kind != "mitz":
        return PlateauReport(
            "authorization",
            2,
            "authorization base + certificate-bound tokens",
            "take consent from Mitz in the pull guard: consent.kind = mitz",
        )
    return PlateauReport(
        "authorization",
        3,
        "certificate-bound tokens, consent from Mitz",
        "national authorization rules (not offered by twiin yet)",
    )


def assess(
    settings: NodeSettings, *, chain_ok: bool, uzi_server: bool, peers: int = 0
) -> list[PlateauReport]:
    """One report per generic function, in :data:`FUNCTIONS` order.

    ``chain_ok``: our certificate chains to our trust anchors; ``uzi_server``: it is a UZI server
    certificate; ``peers``: organisations in a static address book.
    """
    return [
        _consent(settings),
        _addressing(settings, peers),
        _authentication(settings, chain_ok, uzi_server),
        _authorization(settings),
    ]
