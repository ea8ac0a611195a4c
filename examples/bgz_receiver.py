"""BgZ receiver: take a Notification Task from a sending GtK and pull every BgZ query it offers.

Run: python examples/bgz_receiver.py

The notification has to come from the sandbox's own hospital, so this example starts a sandbox
in-process (in a temporary directory) and joins it as the GP practice with the generated
gp/node.toml, exactly as your receiving GtK would.
"""

from __future__ import annotations

from twiin.node import Node
from twiin.sandbox import GP, WITH_CONSENT, Sandbox
from twiin.usecases import bgz


def main() -> None:
    with Sandbox() as sandbox, Node.from_file(sandbox.config_path("gp")) as node:
        # The hospital notifies the GP practice. The sandbox's GP Task endpoint accepts it with the
        # block your web framework would call on each POST, node.notified_pull.accept(request):
        # it checks the sender's token and TLS identity, validates the Task and audits it.
        sandbox.sender.notify(GP.ura, WITH_CONSENT, bgz.QUERIES)
        notification = sandbox.accepted[-1]
        task = notification.task
        print(f"notification from {notification.sender}: patient {task.patient}, {len(task.queries)} queries")

        # The pull: resolve the sender's BgZ endpoint in the directory, get a token carrying the
        # authorization base, run every search concurrently, follow paging, audit each step.
        result = node.notified_pull.pull(notification)
        for query in result.results:
            types = sorted({r["resourceType"] for r in query.resources})
            outcome = "ok" if query.ok else f"failed: {type(query.error).__name__}"
            print(f"{len(query.resources):>3} {', '.join(types):<36} {outcome}")
        print(f"pulled {len(result.resources())} resources, {len(result.failures)} failures")
        print("conditions:", len(result.resources("Condition")), "(across pages)")


if __name__ == "__main__":
    main()
