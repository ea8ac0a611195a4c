"""``twiin.Node`` / ``twiin.AsyncNode``: a GtK composed from one TOML configuration.

See ``docs/configuration.md`` for the configuration keys.
"""

from twiin.node.aio import AsyncNode
from twiin.node.base import NodeBase
from twiin.node.loading import EXPIRY_WARNING, load_node_config, verify_node_config
from twiin.node.serving import ServerBlocks
from twiin.node.sync import Node

__all__ = [
    "EXPIRY_WARNING",
    "AsyncNode",
    "Node",
    "NodeBase",
    "ServerBlocks",
    "load_node_config",
    "verify_node_config",
]
