"""BgZ sender: notify a receiving GtK that a patient's BgZ is ready to be pulled (TA Notified Pull).

Run: python examples/bgz_sender.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin import Bsn, Ura
from twiin.node import Node
from twiin.usecases import bgz


def main() -> None:
    directory = sandbox_dir()
    patient = Bsn(sandbox_info(directory)["patients"]["consent"])
    gp = Ura(sandbox_info(directory)["participants"]["gp"]["ura"])

    with Node.from_file(node_config(directory, "hospital")) as node:
        # One call: resolve the GP's notification endpoint in the directory, issue an authorization
        # base for exactly these 29 searches, get a token from the GP's token endpoint, POST the Task.
        receipt = node.notified_pull.notify(gp, patient, bgz.QUERIES)
        base = receipt.authorization_base  # its value is a secret; `id` is a safe reference
        print(f"notified {receipt.receiver} at {receipt.endpoint}: HTTP {receipt.status}")
        print(f"authorization base {base.id[:12]}...: {len(base.queries)} queries, until {base.expires_at}")
        print("Task identifier:", receipt.task.identifier, "group:", receipt.task.group_identifier)

        # Only part of the data changed? Send an update in the same group.
        update = node.notified_pull.update(receipt, bgz.by_category(bgz.BgzCategory.MEDICATION_USE))
        print(f"update: HTTP {update.status}, {len(update.task.queries)} queries")

        # Withdraw: the authorization base is revoked first, then the Task is cancelled.
        for sent in (receipt, update):
            print("cancelled:", node.notified_pull.cancel(sent))


if __name__ == "__main__":
    main()
