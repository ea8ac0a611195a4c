"""Session fixtures for interop tests: independent peers started on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.peers import PEERS_DIR, free_port, node_binary, npm_ci, spawn, unavailable

FHIR_PEER_DIR = PEERS_DIR / "fhir"


def _start_medplum(tmp_dir: Path, *extra: str) -> Iterator[str]:
    try:
        node = node_binary()
        npm_ci(FHIR_PEER_DIR)
    except Exception as exc:  # missing node, npm failure, no network
        unavailable(f"Medplum FHIR peer could not be installed: {exc}")
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    log = tmp_dir / f"medplum-{port}.log"
    try:
        with spawn(
            [str(node), str(FHIR_PEER_DIR / "server.mjs"), str(port), *extra],
            f"{base}/metadata",
            log,
            cwd=FHIR_PEER_DIR,
        ):
            yield base
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"Medplum FHIR peer did not start: {exc}")


@pytest.fixture(scope="session")
def medplum_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>/fhir``) of the Medplum R4 peer in strict validation mode.

    The peer is Medplum's FHIR router over a MemoryRepository (state is shared by the whole
    session: use unique identifiers per test). It adds ETag/Location/Last-Modified headers,
    self/next paging links from ``_count``/``_offset``, a stub ``/metadata`` and rest-hook
    Subscription delivery (``tests/peer_servers/fhir/server.mjs``).
    """
    yield from _start_medplum(tmp_path_factory.mktemp("medplum"))
