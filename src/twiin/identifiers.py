"""Typed Dutch healthcare identifiers: validated on construction, immutable, hashable.

Each type knows its FHIR naming system URI and its OID, and converts to and from a FHIR
``Identifier`` (STU3 or R4 model, or a plain dict) and an HL7v3 ``II`` (root + extension).

>>> Bsn("999999151")
Bsn('*****9151')
>>> Ura("1234").value
'00001234'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import attrs

from twiin import naming
from twiin.errors import InvalidIdentifier
from twiin.fhir_version import FhirVersion

__all__ = [
    "II",
    "AgbCode",
    "Bsn",
    "Identifier",
    "ProviderType",
    "RoleCode",
    "Ura",
    "UziNumber",
    "is_valid_bsn",
]

_BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def is_valid_bsn(digits: str) -> bool:
    """True when ``digits`` is nine digits, not all zero, and passes the elfproef."""
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits, _BSN_WEIGHTS, strict=True))
    return total % 11 == 0


@attrs.frozen
class II:
    """An HL7v3 instance identifier: ``root`` (OID) and ``extension`` (the value)."""

    root: str
    extension: str


class Identifier:
    """Base of the identifier types. Subclasses set the class constants and ``_normalise``."""

    KIND: ClassVar[str]
    SYSTEM: ClassVar[str]
    OID: ClassVar[str]
    SYSTEM_ALIASES: ClassVar[tuple[str, ...]] = ()

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | int) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidIdentifier(self.KIND, "must be a string of digits")
        text = str(value).strip()
        object.__setattr__(self, "_value", self._normalise(text))

    @classmethod
    def _normalise(cls, text: str) -> str:
        raise NotImplementedError  # pragma: no cover - every concrete subclass overrides it

    # -- value semantics --------------------------------------------------------------------
    @property
    def value(self) -> str:
        """The normalised identifier value."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identifier) and type(other) is type(self) and other._value == self._value

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._value!r})"

    def __str__(self) -> str:
        return self._value

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (type(self), (self._value,))

    # -- systems ------------------------------------------------------------------------------
    @classmethod
    def accepts_system(cls, system: str | None) -> bool:
        """True when ``system`` names this identifier type (URI, alias or ``urn:oid:``)."""
        if system is None:
            return False
        return system in (cls.SYSTEM, f"urn:oid:{cls.OID}", *cls.SYSTEM_ALIASES)

    # -- FHIR Identifier ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, str]:
        """A FHIR ``Identifier`` as a JSON-ready dict."""
        return {"system": self.SYSTEM, "value": self._value}

    def to_identifier(self, version: FhirVersion) -> Any:
        """A FHIR ``Identifier`` model of ``version`` (``fhir.resources`` STU3 or R4B)."""
        cls = version.model_class("Identifier")
        return cls(system=self.SYSTEM, value=self._value)

    def to_token(self) -> str:
        """A FHIR search token ``system|value``."""
        return f"{self.SYSTEM}|{self._value}"

    @classmethod
    def from_identifier(cls, identifier: Any) -> Self:
        """Read a FHIR ``Identifier`` (model or dict); the system must be this type's."""
        if isinstance(identifier, Mapping):
            system, value = identifier.get("system"), identifier.get("value")
        else:
            system = getattr(identifier, "system", None)
            value = getattr(identifier, "value", None)
        if not cls.accepts_system(system):
            raise InvalidIdentifier(cls.KIND, f"identifier system is not {cls.SYSTEM}")
        if not isinstance(value, str):
            raise InvalidIdentifier(cls.KIND, "identifier has no value")
        return cls(value)

    # -- HL7v3 II -----------------------------------------------------------------------------------
    def to_ii(self) -> II:
        """An HL7v3 ``II`` with this type's OID as root."""
        return II(root=self.OID, extension=self._value)

    @classmethod
    def from_ii(cls, root: str, extension: str) -> Self:
        """Read an HL7v3 ``II``; the root must be this type's OID."""
        if root.removeprefix("urn:oid:") != cls.OID:
            raise InvalidIdentifier(cls.KIND, f"II root is not {cls.OID}")
        return cls(extension)


class Bsn(Identifier):
    """Burgerservicenummer: nine digits passing the elfproef. Never printed in full."""

    KIND = "BSN"
    SYSTEM = naming.BSN_SYSTEM
    OID = naming.BSN_OID
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if len(text) != 9 or not text.isascii() or not text.isdigit():
            raise InvalidIdentifier(cls.KIND, "must be exactly 9 digits")
        if text == "000000000":
            raise InvalidIdentifier(cls.KIND, "all zeros is not a BSN")
        if not is_valid_bsn(text):
            raise InvalidIdentifier(cls.KIND, "fails the elfproef (11-test)")
        return text

    @property
    def masked(self) -> str:
        """The BSN with all but the last four digits replaced by ``*``."""
        return "*****" + self._value[-4:]

    def __repr__(self) -> str:
        return f"Bsn({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)


class Ura(Identifier):
    """UZI-register abonneenummer of a care organisation; 1-8 digits, zero-padded to 8."""

    KIND = "URA"
    SYSTEM = naming.URA_SYSTEM
    OID = naming.URA_OID
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if not 1 <= len(text) <= 8 or not text.isascii() or not text.isdigit():
            raise InvalidIdentifier(cls.KIND, "must be 1 to 8 digits")
        return text.zfill(8)


class UziNumber(Identifier):
    """UZI number of a person or a server certificate (``subject.serialNumber``); 1-9 digits."""

    KIND = "UZI number"
    SYSTEM = naming.UZI_SYSTEM
    OID = naming.UZI_OID
    SYSTEM_ALIASES = naming.UZI_SYSTEM_ALIASES
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if not 1 <= len(text) <= 9 or not text.isascii() or not text.isdigit():
            raise InvalidIdentifier(cls.KIND, "must be 1 to 9 digits")
        return text


class AgbCode(Identifier):
    """Vektis AGB code: eight digits."""

    KIND = "AGB code"
    SYSTEM = naming.AGB_SYSTEM
    OID = naming.AGB_OID
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if len(text) != 8 or not text.isascii() or not text.isdigit():
            raise InvalidIdentifier(cls.KIND, "must be exactly 8 digits")
        return text


_ROLE_RE = re.compile(r"^[0-9]{2}\.[0-9]{3}$")
_PROVIDER_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,3}$")


class _Code(Identifier):
    """A coded value (system + code) that also converts to a FHIR ``Coding``."""

    __slots__ = ()

    def to_coding(self) -> dict[str, str]:
        """A FHIR ``Coding`` as a JSON-ready dict."""
        return {"system": self.SYSTEM, "code": self._value}

    @classmethod
    def from_coding(cls, coding: Any) -> Self:
        """Read a FHIR ``Coding`` (model or dict); the system must be this type's."""
        if isinstance(coding, Mapping):
            system, code = coding.get("system"), coding.get("code")
        else:
            system, code = getattr(coding, "system", None), getattr(coding, "code", None)
        if not cls.accepts_system(system):
            raise InvalidIdentifier(cls.KIND, f"coding system is not {cls.SYSTEM}")
        if not isinstance(code, str):
            raise InvalidIdentifier(cls.KIND, "coding has no code")
        return cls(code)


class RoleCode(_Code):
    """UZI role code ``NN.NNN`` (e.g. ``01.015`` for a medical specialist, ``00.000`` for servers)."""

    KIND = "UZI role code"
    SYSTEM = naming.UZI_ROLE_SYSTEM
    OID = naming.UZI_ROLE_OID
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if not _ROLE_RE.match(text):
            raise InvalidIdentifier(cls.KIND, "must look like NN.NNN")
        return text


class ProviderType(_Code):
    """Zorgaanbiedertype (healthcare facility type) such as ``Z3`` (hospital) or ``Z4``."""

    KIND = "provider type"
    SYSTEM = naming.PROVIDER_TYPE_SYSTEM
    OID = naming.PROVIDER_TYPE_OID
    __slots__ = ()

    @classmethod
    def _normalise(cls, text: str) -> str:
        if not _PROVIDER_TYPE_RE.match(text):
            raise InvalidIdentifier(cls.KIND, "must be 2-4 upper-case letters or digits, e.g. Z3")
        return text
