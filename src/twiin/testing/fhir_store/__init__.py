"""An in-memory FHIR store with a REST face, for tests and the sandbox (STU3 and R4 JSON)."""

from twiin.testing.fhir_store.http import FhirStoreServer
from twiin.testing.fhir_store.store import MemoryFhirStore, StoreError, Version

__all__ = ["FhirStoreServer", "MemoryFhirStore", "StoreError", "Version"]
