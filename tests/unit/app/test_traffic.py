"""Real loopback traffic: client and server counts agree, latencies are ordered."""

from __future__ import annotations

import math

import pytest

from tests.unit.app.processes import run_client


def assert_consistent(record: dict, size: int) -> None:
    """The client's own arithmetic: bytes from messages, mbps from bytes and seconds."""
    assert record["errors"] == 0
    assert record["bytes"] == record["messages"] * size > 0
    assert record["mbps"] == pytest.approx(record["bytes"] * 8 / record["seconds"] / 1e6, 1e-3)


def test_tcp_stream_server_counts_what_the_client_sent(start_server):
    server = start_server("--proto", "tcp", "--size", "1000", "--once")
    client = run_client("tcp", server.port)
    code, flows, _ = server.finish()

    assert client.code == 0
    assert client.record["proto"] == "tcp" and client.record["mode"] == "stream"
    assert_consistent(client.record, 1000)
    assert client.record["seconds"] >= 0.3
    assert code == 0
    assert [(f["bytes"], f["messages"]) for f in flows] == [
        (client.record["bytes"], client.record["messages"])
    ]
    assert flows[0]["peer"].startswith("127.0.0.1:")


def test_udp_stream_server_counts_datagrams_it_received(start_server):
    server = start_server("--proto", "udp", "--once")
    client = run_client("udp", server.port, size=1400)
    code, flows, _ = server.finish()

    assert client.code == 0
    assert_consistent(client.record, 1400)
    assert code == 0
    (flow,) = flows
    assert 0 < flow["messages"] <= client.record["messages"]  # loopback may drop under load
    assert flow["bytes"] == flow["messages"] * 1400


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_rr_measures_ordered_latencies_of_echoed_messages(start_server, proto):
    server = start_server("--proto", proto, "--mode", "rr", "--size", "64", "--once")
    client = run_client(proto, server.port, "--mode", "rr", size=64)
    code, flows, _ = server.finish()

    assert client.code == 0
    assert_consistent(client.record, 64)
    latency = client.record["latency_us"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    assert latency["mean"] > 0
    # one request in flight at a time: the expected number of round trips fits the mean
    assert client.record["messages"] == pytest.approx(0.3e6 / latency["mean"], rel=0.5)
    assert code == 0
    assert [(f["bytes"], f["messages"]) for f in flows] == [
        (client.record["bytes"], client.record["messages"])
    ]


def test_warmup_reaches_the_server_but_not_the_clients_count(start_server):
    server = start_server("--proto", "tcp", "--once")
    client = run_client("tcp", server.port, "--warmup", "0.2")
    _, (flow,), _ = server.finish()

    assert client.code == 0
    assert 0.3 <= client.record["seconds"] < 0.5
    assert flow["bytes"] > client.record["bytes"] > 0
    assert flow["messages"] is None  # a TCP stream has no boundaries and the server no --size
    assert math.isclose(flow["seconds"], 0.5, abs_tol=0.2)
