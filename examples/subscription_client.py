"""TA Notifications: subscribe at the Placer to changes of our Tasks and receive them on a rest-hook.

Run: python examples/subscription_client.py SANDBOX_DIR

The GP practice hosts its rest-hook over mTLS on 127.0.0.1, subscribes at the sandbox's Placer to
the workflow topic for its HealthcareService, the Placer assigns it a Task, and the Placer pushes
the event to the hook.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from _sandbox import node_config, place_a_request, sandbox_dir, sandbox_info

from twiin import Ura
from twiin.exchange.notifications import ReceivedEvent
from twiin.exchange.workflow import AssignedId, workflow_subscription
from twiin.node import Node
from twiin.testing.server import serve

OUR_SERVICE = AssignedId("https://gp.example.org/healthcareservice", "district-nursing", Ura("22222222"))
WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "225358003", "display": "Wound care"}]}


def wait_for(what: str, done: Callable[[], bool], seconds: float = 30) -> None:
    """Poll ``done`` until it holds; give up after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"no {what} within {seconds:.0f} s")
        time.sleep(0.05)


def main() -> None:
    directory = sandbox_dir()
    info = sandbox_info(directory)  # the Placer's URL and its SubscriptionTopics
    events: list[ReceivedEvent] = []
    arrived = threading.Event()

    def on_event(event: ReceivedEvent) -> None:  # once per event, in order, duplicates dropped
        events.append(event)
        arrived.set()

    with Node.from_file(node_config(directory, "gp")) as node:
        client = node.notifications.subscriptions(info["placer"])
        # The rest-hook block checks every Bundle, answers the handshake and heartbeats, catches up
        # through $events after a gap and fetches the focus of id-only events. Here it is hosted
        # over mTLS with our UZI server certificate; in production mount hook.handle in your framework.
        hook = node.notifications.receiver(on_event, client)
        with serve(hook.handle, node.server_ssl_context()) as server:
            subscription = workflow_subscription(  # checked against the Twiin profile before sending
                topic=info["topics"]["workflow"], owner=OUR_SERVICE,
                endpoint=server.url("notifications"), heartbeat_period=3600,
            )  # fmt: skip
            stored = client.create(subscription)
            print("subscribed:", stored["id"], "status", stored["status"])
            wait_for("handshake", lambda: client.read(stored["id"])["status"] == "active")
            print("handshake answered: subscription active")

            task_id = place_a_request(directory, OUR_SERVICE, WORK)  # a change the Placer publishes
            wait_for("event notification", arrived.is_set)
            event, task = events[0], events[0].resource or {}
            print(f"event {event.number} ({event.via}): {event.event.focus} status {task.get('status')}")
            print("the event is our new Task:", task.get("id") == task_id)

            # Done with it: status = off with a version-aware PUT (twiin never DELETEs).
            print("retired:", client.retire(stored["id"])["status"])


if __name__ == "__main__":
    main()
