"""The command-line contract: bad input is one line and exit 2; a failed run still reports."""

from __future__ import annotations

import socket

import pytest

from tests.unit.app.processes import run, run_client

CLIENT = ("--host", "127.0.0.1", "--port", "5001")


def free_port(kind: socket.SocketKind) -> int:
    """A loopback port nothing listens on (for a moment, which is all a test needs)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("script", "args", "complaint"),
    [
        ("client.py", (*CLIENT, "--proto", "tcp", "--size", "0", "--duration", "1"), "--size"),
        ("client.py", (*CLIENT, "--proto", "udp", "--size", "70000", "--duration", "1"), "65507"),
        ("client.py", (*CLIENT, "--proto", "tcp", "--size", "64", "--duration", "-1"), "> 0.0"),
        ("client.py", (*CLIENT, "--proto", "tcp", "--size", "x", "--duration", "1"), "'x'"),
        ("client.py", ("--proto", "tcp", "--size", "64", "--duration", "1"), "--host"),
        ("server.py", ("--proto", "udp", "--port", "0", "--size", "70000"), "65507"),
        ("server.py", ("--proto", "tcp", "--port", "0", "--mode", "rr"), "required for TCP rr"),
        ("server.py", ("--proto", "sctp", "--port", "0"), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(script, args, complaint):
    result = run(script, *args)

    assert result.code == 2
    assert result.record is None
    assert len(result.stderr_lines) == 1
    assert complaint in result.stderr_lines[0]


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_connection_refused_is_reported_with_the_json_line_and_exit_code_1(proto):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    result = run_client(proto, free_port(kind))

    assert result.code == 1
    assert result.record["errors"] == 1
    assert result.record["bytes"] == result.record["messages"] * 1000
    assert result.record["messages"] <= 1  # UDP learns of the refusal on its second send
    assert len(result.stderr_lines) == 1
    assert "connection refused" in result.stderr_lines[0]


def test_a_port_in_use_is_one_line_and_exit_code_2():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("server.py", "--proto", "tcp", "--bind", "127.0.0.1", "--port", str(port))

    assert result.code == 2
    assert result.record is None
    assert result.stderr_lines == [
        f"server: cannot listen on 127.0.0.1:{port}/tcp: Address already in use"
    ]
