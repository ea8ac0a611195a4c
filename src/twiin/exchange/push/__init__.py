"""Push ("gericht verzenden"): POST a transaction, batch or message Bundle to a receiver.

:class:`Pusher` / :class:`AsyncPusher` over the sans-I/O :class:`PushCore`; the answer comes
back as a :class:`PushReceipt` with one outcome per request entry.

    core = PushCore(our_ura, resolver, auth_for=lambda ura, url: ClientCredentialsAuth(...), consent=check)
    with Pusher(core, ssl_context=mtls) as pusher:
        receipt = pusher.push(receiver_ura, builder, payload_type="my-push-receiver")
"""

from twiin.exchange.push.client import AsyncPusher, Pusher
from twiin.exchange.push.core import BUNDLE_TYPES, PushCore, PushPlan, PushReceipt, message_outcome

__all__ = ["BUNDLE_TYPES", "AsyncPusher", "PushCore", "PushPlan", "PushReceipt", "Pusher", "message_outcome"]
