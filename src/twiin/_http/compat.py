"""The one ``import httpx`` of the package.

Every other twiin module gets httpx as ``from twiin._http.compat import httpx``, so moving to
httpx2 (the maintained continuation) is a change to this file only.
"""

import httpx

__all__ = ["httpx"]
