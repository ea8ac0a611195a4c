"""The FHIR versions Twiin uses, and which ``fhir.resources`` package models each."""

from __future__ import annotations

import enum
import importlib
from functools import cache
from typing import Any


class FhirVersion(enum.StrEnum):
    """A FHIR release, explicit per endpoint and never guessed per payload.

    ``R4`` payloads (4.0.1) are modelled with ``fhir.resources.R4B``: ``fhir.resources`` has no
    plain R4 package, and R4B parses every resource Twiin uses in its R4 shape.
    """

    STU3 = "STU3"
    R4 = "R4"

    @property
    def release(self) -> str:
        """The FHIR release number (``3.0.2`` or ``4.0.1``)."""
        return "3.0.2" if self is FhirVersion.STU3 else "4.0.1"

    @property
    def models_package(self) -> str:
        """The ``fhir.resources`` sub-package holding this version's models."""
        return "fhir.resources.STU3" if self is FhirVersion.STU3 else "fhir.resources.R4B"

    def model_class(self, resource_type: str) -> Any:
        """The model class for ``resource_type`` (e.g. ``"Task"``) in this version."""
        return _model_class(self.models_package, resource_type)


@cache
def _model_class(package: str, resource_type: str) -> Any:
    module = importlib.import_module(package)
    return module.get_fhir_model_class(resource_type)
