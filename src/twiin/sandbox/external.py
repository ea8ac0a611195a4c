"""Parties a vendor runs with their own code: checking ``Sandbox(external={...})``.

An external party keeps its sandbox identity (the sandbox still writes its node.toml, cert.pem
and key.pem), but the directory lists the vendor's URL as its endpoint. Only the GP can be
external so far: its Task endpoint is what the sandbox hospital notifies. The URL must be
``https`` on 127.0.0.1 or localhost, so nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from twiin.errors import ConfigurationError
from twiin.sandbox.participants import GP, PARTICIPANTS

__all__ = ["EXTERNAL_ROLES", "LOCAL_HOSTS", "check_external"]

EXTERNAL_ROLES: dict[str, str] = {GP.key: "the Twiin TA notification (Task) endpoint"}
"""The parties that can be external, with the directory endpoint that then points at the vendor."""
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def _check_url(name: str, url: str) -> str:
    setting = f"external.{name}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(setting, "not a valid URL") from None
    if parts.scheme != "https":
        raise ConfigurationError(setting, "must be an https URL (the sandbox speaks mTLS only)")
    if parts.hostname not in LOCAL_HOSTS:
        raise ConfigurationError(setting, "must be on 127.0.0.1 or localhost")
    if port is None:
        raise ConfigurationError(setting, "needs an explicit port, e.g. https://127.0.0.1:8443/fhir")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(setting, "must be a plain FHIR base URL (no credentials, query or fragment)")
    return url.rstrip("/")


def check_external(external: Mapping[str, str] | None) -> dict[str, str]:
    """The validated ``{party: FHIR base URL}``; raises :class:`ConfigurationError` otherwise."""
    known = {p.key for p in PARTICIPANTS}
    checked: dict[str, str] = {}
    for name, url in (external or {}).items():
        if name not in known:
            names = ", ".join(sorted(known))
            raise ConfigurationError("external", f"unknown sandbox participant {name!r} (known: {names})")
        if name not in EXTERNAL_ROLES:
            supported = ", ".join(EXTERNAL_ROLES)
            raise ConfigurationError("external", f"{name!r} cannot be external yet (supported: {supported})")
        if not isinstance(url, str):
            raise ConfigurationError(f"external.{name}", "must be a URL string")
        checked[name] = _check_url(name, url)
    return checked
