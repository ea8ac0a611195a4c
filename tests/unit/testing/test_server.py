"""``twiin.testing.server.serve``: stopping it also ends idle keep-alive connections and their threads."""

from __future__ import annotations

import gc
import threading
import warnings

from twiin._http import client_ssl_context, create_client, server_ssl_context
from twiin.serving import Answer
from twiin.testing.pki import TestPKI
from twiin.testing.server import is_port_open, serve


def test_stop_ends_open_keep_alive_connections(pki: TestPKI) -> None:
    creds = pki.issue_server(ura="1").credentials()
    before = set(threading.enumerate())
    with create_client(ssl_context=client_ssl_context(creds, pki.trust_anchors)) as client:
        with serve(lambda r: Answer(200, body=b"ok"), server_ssl_context(creds, pki.trust_anchors)) as srv:
            assert client.get(srv.url("a")).status_code == 200  # the connection stays open (keep-alive)
            assert len(set(threading.enumerate()) - before) == 2  # accept loop + one connection
        assert set(threading.enumerate()) <= before  # while the client still holds its connection
        assert not is_port_open(srv.port)


def test_tls_connections_are_closed_not_left_to_the_garbage_collector(pki: TestPKI) -> None:
    creds = pki.issue_server(ura="1").credentials()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with create_client(ssl_context=client_ssl_context(creds, pki.trust_anchors)) as client:
            with serve(
                lambda r: Answer(200, body=b"ok"), server_ssl_context(creds, pki.trust_anchors)
            ) as srv:
                assert client.get(srv.url("a")).status_code == 200
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not [m for m in unclosed if "SSLSocket" in m], unclosed
