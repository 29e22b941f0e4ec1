"""How flows end besides a clean close: SIGTERM, and a UDP peer that falls silent."""

from __future__ import annotations

import signal
import socket

import pytest


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_sigterm_reports_the_open_flow_and_exits_cleanly(start_server, proto):
    server = start_server("--proto", proto, "--mode", "rr", "--size", "100")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as peer:
        peer.settimeout(5)
        peer.connect(("127.0.0.1", server.port))
        address = f"127.0.0.1:{peer.getsockname()[1]}"
        peer.sendall(b"r" * 100)
        assert peer.recv(100) == b"r" * 100  # the echo proves the server counted the request
        server.process.send_signal(signal.SIGTERM)
        code, flows, err = server.finish()

    assert code == 0
    assert err == ""
    assert [(f["event"], f["bytes"], f["messages"]) for f in flows] == [("connection", 100, 1)]
    assert flows[0]["peer"] == address


def test_a_silent_udp_peer_is_reported_after_the_idle_timeout(start_server):
    server = start_server("--proto", "udp", "--idle-timeout", "0.2", "--once")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        for _ in range(3):
            peer.sendto(b"d" * 10, ("127.0.0.1", server.port))
        code, flows, _ = server.finish()  # --once: the idle flow is the one that ends it

    assert code == 0
    assert [(f["bytes"], f["messages"]) for f in flows] == [(30, 3)]
