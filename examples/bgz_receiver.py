"""BgZ receiver: take a Notification Task from a sending GtK and pull every BgZ query it offers.

Run:
    twiin sandbox --dir SANDBOX_DIR --external gp=https://127.0.0.1:8443/fhir   # one terminal
    python examples/bgz_receiver.py SANDBOX_DIR                                   # another

This script is the GP practice: it serves its own Task endpoint at the URL the sandbox lists in
the directory (the ``[server] fhir_base`` of the generated gp/node.toml) and asks the sandbox
hospital to notify it, as ``twiin sandbox notify --dir SANDBOX_DIR`` does.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin._http import server_ssl_context
from twiin.exchange.notified_pull import Notification
from twiin.node import Node
from twiin.sandbox.control import request_notify
from twiin.serving import Answer, IncomingRequest
from twiin.testing.router import Router
from twiin.testing.server import serve


def pull(node: Node, notification: Notification) -> None:
    """Resolve the sender's BgZ endpoint in the directory, get a token carrying the authorization
    base, run every search concurrently, follow paging, audit each step."""
    task = notification.task
    print(f"notification from {notification.sender}: patient {task.patient}, {len(task.queries)} queries")
    result = node.notified_pull.pull(notification)
    for query in result.results:
        types = sorted({r["resourceType"] for r in query.resources})
        outcome = "ok" if query.ok else f"failed: {type(query.error).__name__}"
        print(f"{len(query.resources):>3} {', '.join(types):<36} {outcome}")
    print(f"pulled {len(result.resources())} resources, {len(result.failures)} failures")
    print("conditions:", len(result.resources("Condition")), "(across pages)")


def main() -> None:
    directory = sandbox_dir()
    if "gp" not in sandbox_info(directory).get("external", {}):
        sys.exit("start the sandbox with your own GP endpoint, e.g.:\n"
                 "  twiin sandbox --dir SANDBOX_DIR --external gp=https://127.0.0.1:8443/fhir")  # fmt: skip

    with Node.from_file(node_config(directory, "gp")) as node:
        accepted: list[Notification] = []

        def task_endpoint(request: IncomingRequest) -> Answer:
            # Checks the sender's token and TLS identity, validates the Task and audits it.
            notification, answer = node.notified_pull.accept(request)
            if notification is not None:
                accepted.append(notification)
            return answer

        # Any web framework can host the endpoint; here the small test server of twiin.testing,
        # over mTLS with our sandbox certificate, at our [server] fhir_base.
        url = urlsplit(node.settings.server.fhir_base or "")
        context = server_ssl_context(node.credentials, node.trust)
        with serve(Router({url.path: task_endpoint}), context, port=url.port or 443):
            request_notify(directory, "consent")  # the sandbox hospital notifies us
            pull(node, accepted[-1])

            # Without consent (Mitz Deny) the hospital's guard refuses every query.
            request_notify(directory, "no-consent")
            refused = node.notified_pull.pull(accepted[-1])
            errors = ", ".join(sorted({type(q.error).__name__ for q in refused.failures}))
            print(f"no consent: {len(refused.failures)} of {len(refused.results)} refused ({errors})")


if __name__ == "__main__":
    main()
