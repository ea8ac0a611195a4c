"""The sandbox: a complete local Twiin network for development, demos and integration tests.

``with Sandbox() as sandbox:`` starts, on 127.0.0.1 only and all over mTLS with a freshly
generated UZI-style test PKI (:class:`~twiin.testing.pki.TestPKI`, EC P-256 keys):

* an **mCSD directory** (FHIR R4 at ``.../mcsd``, with ``_history`` so
  :class:`~twiin.addressing.DirectorySync` works incrementally) listing every participant's
  ``Organization`` (URA identifier) and ``Endpoint`` resources;
* the **fake Mitz** (:class:`~twiin.testing.fake_mitz.FakeMitz`, at ``.../mitz``): patient
  999999151 has consent (Permit), 999998456 has none (Deny);
* the **hospital** (URA 11111111), a sending GtK: a token endpoint, the Notified Pull guard in
  front of an STU3 store with synthetic BgZ data for all 29 BgZ queries, and a Notification sender;
* the **GP practice** (URA 22222222), a receiving GtK: a token endpoint, its Task endpoint and a
  puller. Both GtKs resolve each other through the live directory, and the hospital's guard asks
  the fake Mitz through :class:`~twiin.consent.MitzClient`;
* the **placer** (URA 33333333): a TA Workflow Placer FHIR server (R4,
  :class:`~twiin.testing.placer.PlacerFhirServer`) whose Task writes are vetted for the
  organisation in the caller's certificate, holding a ``Patient`` for 999999151; a TA
  Notifications data holder (``[base]/Subscription``, every Task change published on each
  subscribed topic, pushed from a thread to rest-hooks on 127.0.0.1 only); and a token endpoint.

It writes, into ``directory`` (a temporary one when not given), everything a vendor's own code
needs to join as one of the parties::

    sandbox.json  ca.pem  audit-pseudonym.key
    hospital/ gp/ placer/   each with node.toml, cert.pem, key.pem

``sandbox.info`` is the content of ``sandbox.json``; ``sandbox.config_path("gp")`` the GP's
``node.toml``. The built-in GtKs keep the attribute names of
:class:`~twiin.testing.notified_pull.NotifiedPullNetwork` (``sender``, ``puller``, ``accepted``,
``guard``, ``sender_audit``, ...). :meth:`Sandbox.close` stops every server thread; nothing is
left running. ``twiin sandbox`` runs it from the command line, and the ``sandbox`` pytest fixture
of :mod:`twiin.testing.pytest_plugin` runs one per test session.

Everything here is for testing: the keys are throw-away, the PKI is trusted by nothing else, and
the fake Mitz only proves the SDK against the team's own reading of the specifications.
"""

from twiin.sandbox.network import Sandbox
from twiin.sandbox.participants import (
    GP,
    HOSPITAL,
    NO_CONSENT,
    PARTICIPANTS,
    PLACER,
    WITH_CONSENT,
    Participant,
)

__all__ = ["GP", "HOSPITAL", "NO_CONSENT", "PARTICIPANTS", "PLACER", "WITH_CONSENT", "Participant", "Sandbox"]
