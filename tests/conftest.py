"""Shared test set-up: every test runs with sockets to non-loopback addresses blocked (issue #8).

Tests may start loopback servers (127.0.0.0/8, ::1, localhost, Unix sockets); any other connection
raises NetworkBlocked and fails the test, so nothing in the suite can reach the network unnoticed.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest


class NetworkBlocked(AssertionError):
    pass


def _loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
    elif isinstance(address, (str, bytes)):
        return True  # a Unix socket
    else:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture()
def no_network(monkeypatch):
    attempts: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create = socket.create_connection

    def connect(self, address):
        if not _loopback(address):
            attempts.append(address)
            raise NetworkBlocked(f"network access to {address!r} during a test")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _loopback(address):
            attempts.append(address)
            raise NetworkBlocked(f"network access to {address!r} during a test")
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        if not _loopback(address):
            attempts.append(address)
            raise NetworkBlocked(f"network access to {address!r} during a test")
        return real_create(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield attempts
    assert attempts == [], attempts


@pytest.fixture(autouse=True)
def _offline(no_network):
    """Block the network for every test."""
    yield


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory):
    """A made-up store of 300 triples (``urn:s:0`` … ``urn:s:299`` ``urn:p`` "0" … "299"), default graph,
    for the tests of the read-only front (tests/serve/test_front.py, test_hostile.py)."""
    import pyoxigraph as ox

    folder = tmp_path_factory.mktemp("front") / "store"
    db = ox.Store(str(folder))
    for i in range(300):
        db.add(ox.Quad(ox.NamedNode(f"urn:s:{i}"), ox.NamedNode("urn:p"), ox.Literal(str(i))))
    db.flush()
    del db
    return folder
