""":class:`Sandbox`: the whole local Twiin network, started and stopped as one object."""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from twiin import naming
from twiin._http import client_ssl_context, create_client, server_ssl_context
from twiin.addressing import LiveDirectory, payload_types
from twiin.audit import MemorySink
from twiin.auth import AssertionSigner, ClientCredentialsAuth
from twiin.auth.server import TokenEndpoint, TokenIssuer
from twiin.config import RetryPolicy
from twiin.consent import DataCategory, Decision, MitzClient
from twiin.credentials import Credentials
from twiin.exchange.notifications import DeliveryPolicy, Dispatcher, SubscriptionServerCore
from twiin.exchange.notified_pull import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    Notification,
    NotificationReceiver,
    NotificationSender,
    Puller,
    PullServer,
    Receipt,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn
from twiin.sandbox import directory, layout
from twiin.sandbox.control import CONTROL_FOLDER, ControlRoute
from twiin.sandbox.external import check_external
from twiin.sandbox.participants import (
    CONTROL,
    DIRECTORY_OPERATOR,
    GP,
    HOSPITAL,
    MITZ_OPERATOR,
    NO_CONSENT,
    PARTICIPANTS,
    PLACER,
    WITH_CONSENT,
    Participant,
)
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fake_mitz import FakeConsent, FakeMitz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.notified_pull import NotifiedPullNetwork, assertion_policy
from twiin.testing.pki import IssuedCertificate, TestPKI
from twiin.testing.placer import PlacerFhirServer, background_dispatch
from twiin.testing.router import Router
from twiin.testing.server import RunningServer, serve
from twiin.usecases import bgz
from twiin.usecases.bgz import BgzQuery

__all__ = ["PLACER_PATIENT_ID", "WORKFLOW_TOPIC", "Sandbox", "placer_patient"]

WORKFLOW_TOPIC = "https://sandbox.twiin.test/fhir/SubscriptionTopic/task-change"
"""A SubscriptionTopic for Task changes at the placer (any topic works: each gets every Task change)."""
PLACER_PATIENT_ID = "sandbox-patient"
"""Id of the R4 ``Patient`` (the patient with consent) in the placer's store."""


def placer_patient(bsn: Bsn) -> dict[str, Any]:
    """The R4 ``Patient`` the placer holds for ``bsn`` (synthetic demographics)."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": naming.BSN_SYSTEM, "value": bsn.value}],
        "name": [{"family": "Sandbox", "given": ["Patient"]}],
    }


class Sandbox:
    """The local Twiin network on 127.0.0.1 over mTLS (see :mod:`twiin.sandbox`).

    ``directory`` is where the layout is written (a fresh temporary directory, removed again
    by :meth:`close`, when ``None``). ``external`` maps a party the vendor runs with their own
    code to its FHIR base (``{"gp": "https://127.0.0.1:8443/fhir"}``, see
    :mod:`twiin.sandbox.external`); invalid entries raise
    :class:`~twiin.errors.ConfigurationError` here. Use as a context manager, or call
    :meth:`start` and :meth:`close`.
    """

    def __init__(
        self, directory: str | Path | None = None, *, external: Mapping[str, str] | None = None
    ) -> None:
        self.external: dict[str, str] = check_external(external)
        self._requested = Path(directory) if directory is not None else None
        self._stack: ExitStack | None = None
        self._temporary: Path | None = None
        self._certificates: dict[str, IssuedCertificate] = {}
        self.dir: Path = self._requested or Path()
        self.info: dict[str, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        if not self.running:  # ``with Sandbox().start() as box`` works too
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._stack is not None

    def start(self) -> Sandbox:
        """Generate the PKI, start every server, seed the directory and write the layout."""
        if self._stack is not None:
            raise RuntimeError("the sandbox is already running")
        stack = ExitStack()
        try:
            if self._requested is None:
                self._temporary = Path(tempfile.mkdtemp(prefix="twiin-sandbox-"))
                self.dir = self._temporary
            else:
                self.dir = self._requested.resolve()
                self.dir.mkdir(parents=True, exist_ok=True)
            self._start(stack)
        except BaseException:
            stack.close()
            self._remove_temporary()
            raise
        self._stack = stack
        return self

    def close(self) -> None:
        """Stop every server and client; remove the directory when it was temporary."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
        self._remove_temporary()

    def _remove_temporary(self) -> None:
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    # -- start-up ---------------------------------------------------------------------------------
    def _start(self, stack: ExitStack) -> None:
        self.pki = TestPKI(key_type="ec256")
        self.pseudonym_key = secrets.token_hex(32).encode("ascii")
        layout.write_private(self.dir / "audit-pseudonym.key", self.pseudonym_key + b"\n")
        layout.write_trust(self.dir, self.pki)
        self._start_directory_and_mitz(stack)
        self._start_placer(stack)
        self._start_gtks(stack)
        self._start_control(stack)
        self._write_layout()

    def _serve(self, stack: ExitStack, identity: Participant, routes: Router) -> RunningServer:
        """Serve ``routes`` over mTLS with a fresh certificate for ``identity``."""
        creds = self._issue(identity).credentials()
        return stack.enter_context(serve(routes, server_ssl_context(creds, self.pki.trust_anchors)))

    def _start_directory_and_mitz(self, stack: ExitStack) -> None:
        """The mCSD directory (seeded once the GtKs' addresses are known) and the fake Mitz."""
        self.directory_store = MemoryFhirStore()
        mcsd = FhirStoreServer(self.directory_store, FhirVersion.R4, base_path="/mcsd", read_only=True)
        self.directory_server = self._serve(stack, DIRECTORY_OPERATOR, Router({"/mcsd": mcsd}))
        self.directory_url = self.directory_server.url("mcsd")
        self.mitz = FakeMitz(require_client_certificate=True)
        self.mitz.consents.extend([
            FakeConsent(WITH_CONSENT, DataCategory.GGC002, Decision.PERMIT),
            FakeConsent(NO_CONSENT, DataCategory.GGC002, Decision.DENY),
        ])  # fmt: skip
        self.mitz_server = self._serve(stack, MITZ_OPERATOR, Router({"/mitz": self.mitz.handle}))
        self.mitz_url = self.mitz_server.url("mitz")

    def _start_placer(self, stack: ExitStack) -> None:
        """The R4 placer: Task writes vetted per caller, TA Notifications, and a token endpoint."""
        self.placer_fhir = PlacerFhirServer(PLACER.ura, base_path="/fhir")
        self.placer_store = self.placer_fhir.store
        self.placer_store.create(placer_patient(WITH_CONSENT), id=PLACER_PATIENT_ID)
        tokens: list[TokenEndpoint] = []  # the issuer names the URL the server gets

        def token_endpoint(request: IncomingRequest) -> Answer:
            return tokens[0].handle(request)

        routes = Router({"/fhir": self.placer_fhir, "/token": token_endpoint})
        self.placer_server = self._serve(stack, PLACER, routes)
        self.placer_url = self.placer_server.url("fhir")
        self.placer_token_url = self.placer_server.url("token")
        creds = self._certificates[PLACER.key].credentials()
        issuer = TokenIssuer(AssertionSigner(creds), issuer=self.placer_token_url)
        tokens.append(TokenEndpoint(issuer=issuer, policy=assertion_policy(self.pki, self.placer_token_url)))
        self._start_notifications(stack, creds)

    def _start_gtks(self, stack: ExitStack) -> None:
        """The hospital and the GP: addressing through the live directory, consent through Mitz."""
        trust = self.pki.trust_anchors

        def live_directory(net: NotifiedPullNetwork) -> LiveDirectory:
            self._seed_directory(net)
            context = client_ssl_context(net.sender_creds, trust)
            self.live_directory = LiveDirectory(self.directory_url, ssl_context=context)
            return stack.enter_context(self.live_directory)

        def mitz_client(net: NotifiedPullNetwork) -> MitzClient:
            return stack.enter_context(MitzClient(self.mitz_url, credentials=net.sender_creds, trust=trust))

        audit_files = (self.dir / HOSPITAL.key / "gtk-audit.jsonl", self.dir / GP.key / "gtk-audit.jsonl")
        self.network = stack.enter_context(
            NotifiedPullNetwork(
                self.pki,
                resolver=live_directory,
                consent=mitz_client,
                audit_files=audit_files,
                pseudonym_key=self.pseudonym_key,
                holder_type=HOSPITAL.provider_type,
            )
        )
        self._certificates[HOSPITAL.key] = self.network.sender_cert
        self._certificates[GP.key] = self.network.receiver_cert

    def _start_control(self, stack: ExitStack) -> None:
        """The control route (``POST .../control/notify``), for the control certificate only."""
        client = self.pki.issue_server(ura=CONTROL.ura.value, uzi_number=CONTROL.uzi_number, key_type="ec256")
        layout.write_identity(self.dir / CONTROL_FOLDER, client)
        route = ControlRoute(client, self.notify_gp)
        self.control_server = self._serve(stack, CONTROL, Router({"/control": route}))
        self.control_url = self.control_server.url("control")

    def _start_notifications(self, stack: ExitStack, creds: Credentials) -> None:
        """TA Notifications at the placer: Subscriptions to any topic, Task changes published on each,
        delivered from a thread to rest-hooks on 127.0.0.1 only."""
        self.subscriptions = SubscriptionServerCore(self.placer_url)
        self.placer_fhir.subscriptions = self.subscriptions
        context = client_ssl_context(creds, self.pki.trust_anchors)
        push = stack.enter_context(create_client(ssl_context=context, retry=RetryPolicy.disabled()))
        policy = DeliveryPolicy(max_attempts=3, backoff_base=0.2, timeout=5)
        self.dispatcher = Dispatcher(self.subscriptions, push, policy)
        stack.enter_context(background_dispatch(self.dispatcher))

    def _issue(self, identity: Participant) -> IssuedCertificate:
        issued = self.pki.issue_server(
            ura=identity.ura.value, uzi_number=identity.uzi_number, key_type="ec256"
        )
        self._certificates[identity.key] = issued
        return issued

    def _seed_directory(self, net: NotifiedPullNetwork) -> None:
        Listed, STU3 = directory.ListedEndpoint, FhirVersion.STU3
        for folder in (HOSPITAL.key, GP.key):
            (self.dir / folder).mkdir(exist_ok=True)
        directory.seed(
            self.directory_store,
            [
                (HOSPITAL, [Listed("bgz", net.sender_server.url("fhir"), BGZ_SERVER_PAYLOAD, STU3)]),
                (GP, [Listed("notification", self._gp_base(net), NOTIFICATION_PAYLOAD, STU3)]),
                (PLACER, [Listed("fhir", self.placer_url, payload_types.ANY, FhirVersion.R4)]),
            ],
        )  # fmt: skip

    def _write_layout(self) -> None:
        servers = {
            HOSPITAL.key: (self.network.sender_server.url("fhir"), self.network.token_url),
            GP.key: (self._gp_base(self.network), self.network.receiver_server.url("token")),
            PLACER.key: (self.placer_url, self.placer_token_url),
        }
        participants: dict[str, dict[str, str]] = {}
        for participant in PARTICIPANTS:
            fhir_base, token_url = servers[participant.key]
            urls = layout.NodeUrls(self.directory_url, self.mitz_url, fhir_base, token_url)
            config = layout.write_node(self.dir, participant, self._certificates[participant.key], urls)
            participants[participant.key] = {
                "ura": participant.ura.value,
                "fhir_base": fhir_base,
                "token_url": token_url,
                "config": str(config),
            }
        self.info = {
            "directory": self.directory_url,
            "mitz": self.mitz_url,
            "placer": self.placer_url,
            "control": self.control_url,
            "external": dict(self.external),
            "topics": {"workflow": WORKFLOW_TOPIC},
            "participants": participants,
            "patients": {"consent": WITH_CONSENT.value, "no_consent": NO_CONSENT.value},
        }
        (self.dir / "sandbox.json").write_text(json.dumps(self.info, indent=2) + "\n", encoding="utf-8")

    def _gp_base(self, net: NotifiedPullNetwork) -> str:
        """The GP's FHIR base (Task endpoint): the vendor's when the GP is external."""
        return self.external.get(GP.key) or net.receiver_server.url("fhir")

    # -- actions ------------------------------------------------------------------------------------
    def notify_gp(self, patient: Bsn = WITH_CONSENT, queries: Sequence[BgzQuery] = bgz.QUERIES) -> Receipt:
        """The sandbox hospital notifies the GP that ``patient``'s BgZ can be pulled.

        The hospital issues the authorization base (so a pull against the sandbox hospital works)
        and POSTs the Task to the GP's notification endpoint in the directory: the sandbox's own
        or, with ``external={"gp": ...}``, the vendor's. Raises the sender's typed error when the
        GP refuses it or cannot be reached.
        """
        if not self.running:
            raise RuntimeError("the sandbox is not running")
        return self.sender.notify(GP.ura, patient, queries)

    # -- access -------------------------------------------------------------------------------------
    def config_path(self, participant: str) -> Path:
        """The node.toml of ``participant`` (``"hospital"``, ``"gp"`` or ``"placer"``)."""
        if participant not in {p.key for p in PARTICIPANTS}:
            raise KeyError(f"unknown sandbox participant {participant!r}")
        return self.dir / participant / "node.toml"

    @property
    def sender(self) -> NotificationSender:
        """The hospital's Notification sender."""
        return self.network.sender

    @property
    def puller(self) -> Puller:
        """The GP's puller."""
        return self.network.puller

    @property
    def receiver(self) -> NotificationReceiver:
        """The GP's Task endpoint logic."""
        return self.network.receiver

    @property
    def accepted(self) -> list[Notification]:
        """Notifications the GP's Task endpoint accepted."""
        return self.network.accepted

    @property
    def notify_auths(self) -> list[ClientCredentialsAuth]:
        """The token flows the hospital used for its notifications (newest last)."""
        return self.network.notify_auths

    @property
    def guard(self) -> PullServer:
        """The hospital's pull guard (token, authorization base, consent)."""
        return self.network.guard

    @property
    def sender_audit(self) -> MemorySink:
        """The hospital GtK's audit events (also in ``hospital/gtk-audit.jsonl``)."""
        return self.network.sender_audit

    @property
    def receiver_audit(self) -> MemorySink:
        """The GP GtK's audit events (also in ``gp/gtk-audit.jsonl``)."""
        return self.network.receiver_audit

    @property
    def resolver(self) -> LiveDirectory:
        """The live mCSD directory both built-in GtKs resolve through."""
        return self.live_directory

    @property
    def store(self) -> MemoryFhirStore:
        """The hospital's STU3 store with the BgZ data."""
        return self.network.store
