"""What server.py and client.py share: argument rules, JSON lines and socket set-up.

Standard library only: the same files run as host processes (the loopback mode) and inside
the traffic image, so nothing here may need more than a stock Python 3.11.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

MAX_UDP_PAYLOAD = 65507  # 65535 minus the IPv4 (20) and UDP (8) headers
END_OF_TEST = b""  # data datagrams carry at least one byte, so an empty one is only the marker
UDP_BUFFER = 4 << 20  # the kernel caps it at net.core.[rw]mem_max; larger drops fewer datagrams

N = TypeVar("N", int, float)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's contract for bad input: one line on stderr, exit code 2."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message}")


def fail(message: str) -> NoReturn:
    """Stops with one line on stderr and exit code 2, the signal for input the user can fix."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


def bounded(
    cast: Callable[[str], N], low: N, high: N | None = None, *, strict: bool = False
) -> Callable[[str], N]:
    """An argparse type that converts with cast and names the allowed range when out of it.

    Args:
        cast: int or float.
        low: the smallest value allowed (excluded when strict).
        high: the largest value allowed, or None for no upper bound.
        strict: exclude low itself (durations must be > 0, not >= 0).
    """
    rule = (f"> {low}" if strict else f">= {low}") if high is None else f"in {low}..{high}"

    def convert(text: str) -> N:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < low or (strict and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return convert


SIZE = bounded(int, 1)


def traffic_parser(prog: str, description: str) -> ArgumentParser:
    """A parser with the options client and server must spell the same way."""
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("--proto", choices=("tcp", "udp"), required=True)
    parser.add_argument(
        "--mode",
        choices=("stream", "rr"),
        default="stream",
        help="stream: throughput; rr: request/response round trips (default: stream)",
    )
    parser.add_argument(
        "--process-name",
        help=f"process name in traces, at most 15 characters (default: nm-{prog})",
    )
    return parser


def name_process(name: str) -> None:
    """Set this process's comm, as perf records show it (threads started later inherit it).

    Orchestration names a run's server and client `nm-<run tag>`, so the trace reducer can
    keep that run's records apart from everything else a system-wide recording holds (sshd,
    dockerd, other runs' traffic on the same machine). Linux only; at most 15 characters.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # 15 = PR_SET_NAME
    except (OSError, AttributeError):
        pass  # not Linux: the name is a convenience for tracing, not needed for traffic


def parse(parser: ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parses argv and applies the rule no single option can check: UDP's payload limit."""
    args = parser.parse_args(argv)
    if args.proto == "udp" and args.size is not None and args.size > MAX_UDP_PAYLOAD:
        parser.error(f"argument --size: must be in 1..{MAX_UDP_PAYLOAD} for UDP, got {args.size}")
    return args


def emit(record: dict[str, Any]) -> None:
    """Prints one JSON object as one line, flushed at once: orchestration reads it from a pipe."""
    print(json.dumps(record), flush=True)


def host_port(host: str, port: int) -> str:
    """host:port as people write it, with IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve(host: str, port: int, kind: socket.SocketKind) -> tuple[socket.AddressFamily, Any]:
    """The address family and socket address for host, so IPv6 names work as well as IPv4."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=kind)[0]
    return family, address


def widen_udp_buffers(sock: socket.socket) -> None:
    """Large UDP buffers, so a burst is not dropped before the reader catches up.

    TCP sockets are left alone: setting their buffer sizes turns the kernel's autotuning off.
    """
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, UDP_BUFFER)


def set_timeouts(sock: socket.socket, seconds: float, *, sends: bool = True) -> None:
    """Bounds each blocking receive (SO_RCVTIMEO) and, with sends, each send (SO_SNDTIMEO).
    Expiry raises BlockingIOError, so a stalled peer ends a run instead of hanging it.

    Not settimeout(): Python then calls poll() before every send and receive, which doubles the
    system calls per message in both the throughput and the kernel traces being measured.
    """
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    if sends:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def recv_exactly(sock: socket.socket, view: memoryview) -> int:
    """Fills view from a TCP socket; returns fewer bytes only when the peer closed.

    TCP keeps no message boundaries, so one message may arrive in several pieces.
    """
    got = 0
    while got < len(view):
        received = sock.recv_into(view[got:])
        if not received:
            break
        got += received
    return got
