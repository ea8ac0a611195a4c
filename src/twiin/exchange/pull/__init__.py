"""Pull ("gericht bevragen", direct query): consent first, then query the data holder.

:class:`DirectPuller` / :class:`AsyncDirectPuller` over the sans-I/O :class:`DirectPullCore`;
results come back per query (:class:`QueryResult`) in a :class:`DirectPullResult`.

    core = DirectPullCore(our_ura, resolver, consent_check(mitz, ...), auth_for=token_auth)
    with DirectPuller(core, ssl_context=mtls) as puller:
        result = puller.pull(holder_ura, patient_bsn, bgz.QUERIES)
"""

from twiin.exchange.pull.client import AsyncDirectPuller, DirectPuller
from twiin.exchange.pull.core import (
    DirectPullCore,
    DirectPullResult,
    PullPlan,
    PullQuery,
    QueryResult,
    scope_to_patient,
)

__all__ = [
    "AsyncDirectPuller",
    "DirectPullCore",
    "DirectPullResult",
    "DirectPuller",
    "PullPlan",
    "PullQuery",
    "QueryResult",
    "scope_to_patient",
]
