"""TA Notifications subscription client: subscribe at a data holder to changes of our Tasks, then retire.

Run: python examples/subscription_client.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin import Ura
from twiin.exchange.notifications import ReceivedEvent
from twiin.exchange.workflow import AssignedId, workflow_subscription
from twiin.node import Node

OUR_SERVICE = AssignedId("https://gp.example.org/healthcareservice", "wound-care", Ura("22222222"))
TOPIC = "http://twiin.nl/fhir/SubscriptionTopic/task-owner"  # the data holder's SubscriptionTopic
OUR_HOOK = "https://gp.example.org/fhir/notifications"  # where the data holder POSTs to us


def on_event(event: ReceivedEvent) -> None:
    """Called once per event, in order, duplicates dropped, focus fetched for id-only payloads."""
    print("event", event)


def main() -> None:
    directory = sandbox_dir()
    placer_url = sandbox_info(directory)["placer"]  # the data holder: TA Workflow Placer (R4)
    with Node.from_file(node_config(directory, "gp")) as node:
        client = node.notifications.subscriptions(placer_url)
        with client.fhir:
            subscription = workflow_subscription(  # checked against the Twiin profile before sending
                topic=TOPIC, owner=OUR_SERVICE, endpoint=OUR_HOOK, heartbeat_period=3600
            )
            stored = client.create(subscription)
            print("subscribed:", stored["id"], "status", stored["status"], "topic", stored["criteria"])
            print("read back:", client.read(stored["id"])["channel"]["endpoint"])

            # Mount this block on OUR_HOOK in your web framework: handle(IncomingRequest) -> Answer.
            # It checks every Bundle, answers handshakes and heartbeats, catches up through $events
            # when events were missed, and calls on_event for each new event.
            hook = node.notifications.receiver(on_event, client)
            print("rest-hook receiver ready:", type(hook).__name__)

            # Done with it: status = off with a version-aware PUT (twiin never DELETEs).
            print("retired:", client.retire(stored["id"])["status"])


if __name__ == "__main__":
    main()
