"""Traffic client: sends fixed-size messages for a fixed time and prints one JSON line.

stream mode measures throughput; rr (request/response) mode measures round-trip latency.
Exit codes: 0 clean run; 1 the run hit errors (the JSON line is still printed, with errors > 0,
and one line on stderr says what went wrong); 2 bad arguments (one line on stderr, no JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import socket
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import common

MARKER_ATTEMPTS = 5  # end-of-test markers sent before leaving it to the server's idle timeout
MARKER_WAIT = 0.2  # seconds to wait for each marker's acknowledgement

CHUNK = 1 << 16  # reads while waiting for the server to close

Step = Callable[[], None]


@dataclass
class Tally:
    """What the measured part of a run counted; start() discards what warm-up counted."""

    messages: int = 0
    errors: int = 0
    problem: str = ""
    latencies_ns: list[int] = field(default_factory=list)
    started: float | None = None
    seconds: float | None = None

    def start(self) -> None:
        self.messages = self.errors = 0
        self.latencies_ns.clear()
        self.started = time.monotonic()

    def stop(self) -> None:
        """Stops the clock; only the first call counts, so callers may stop it early."""
        if self.started is not None and self.seconds is None:
            self.seconds = time.monotonic() - self.started

    def answered(self, sent_ns: int) -> None:
        """A reply to the request sent at sent_ns (perf_counter_ns) is in."""
        self.latencies_ns.append(time.perf_counter_ns() - sent_ns)
        self.messages += 1

    def error(self, problem: str) -> None:
        self.errors += 1
        self.problem = problem


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    seconds = common.bounded(float, 0.0, strict=True)
    parser = common.traffic_parser("client", __doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=common.bounded(int, 1, 65535), required=True)
    parser.add_argument(
        "--size",
        type=common.SIZE,
        required=True,
        help=f"message bytes (UDP: 1..{common.MAX_UDP_PAYLOAD})",
    )
    parser.add_argument("--duration", type=seconds, required=True, help="measured seconds")
    parser.add_argument(
        "--warmup",
        type=common.bounded(float, 0.0),
        default=0.0,
        help="seconds of traffic before measuring; the server counts them (default: 0)",
    )
    parser.add_argument("--connect-timeout", type=seconds, default=5.0, help="(default: 5)")
    parser.add_argument(
        "--reply-timeout",
        type=seconds,
        default=2.0,
        help="seconds the server may keep an echo, an acknowledgement or a full send buffer"
        " waiting before that is an error (default: 2)",
    )
    return common.parse(parser, argv)


def repeat(step: Step, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        step()


def measure(step: Step, args: argparse.Namespace, tally: Tally) -> None:
    """Runs step through the warm-up, then for the measured duration."""
    repeat(step, args.warmup)
    tally.start()
    repeat(step, args.duration)


def sending(send: Callable[[bytes], Any], payload: bytes, tally: Tally) -> Step:
    """Stream mode's step: one message out."""

    def step() -> None:
        send(payload)
        tally.messages += 1

    return step


def tcp_request(sock: socket.socket, payload: bytes, tally: Tally) -> Step:
    """TCP rr's step: one request out, its whole echo back."""
    reply = memoryview(bytearray(len(payload)))

    def step() -> None:
        sent = time.perf_counter_ns()
        sock.sendall(payload)
        if common.recv_exactly(sock, reply) < len(payload):
            raise ConnectionResetError("the server closed the connection before replying")
        tally.answered(sent)

    return step


def udp_request(sock: socket.socket, payload: bytes, tally: Tally, timeout: float) -> Step:
    """UDP rr's step: one datagram out, its echo back; a lost one is an error, not the end."""
    reply = bytearray(len(payload))

    def step() -> None:
        sent = time.perf_counter_ns()
        sock.send(payload)
        try:
            sock.recv_into(reply)
        except BlockingIOError:
            tally.error(f"no echo within {timeout} s (--reply-timeout)")
            return
        tally.answered(sent)

    return step


def run_tcp(args: argparse.Namespace, tally: Tally) -> None:
    address = (args.host, args.port)
    with socket.create_connection(address, timeout=args.connect_timeout) as sock:
        sock.settimeout(None)  # blocking: common.set_timeouts says why
        common.set_timeouts(sock, args.reply_timeout)
        payload = bytes(args.size)
        if args.mode == "rr":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no wait for an ACK
            measure(tcp_request(sock, payload, tally), args, tally)
            tally.stop()  # nothing is in flight after the last echo
        else:
            measure(sending(sock.sendall, payload, tally), args, tally)
        sock.shutdown(socket.SHUT_WR)
        # The server closes once it has read everything and printed its line: a stream's last
        # buffered bytes are part of its transfer time.
        while sock.recv(CHUNK):
            pass
        tally.stop()


def run_udp(args: argparse.Namespace, tally: Tally) -> None:
    family, address = common.resolve(args.host, args.port, socket.SOCK_DGRAM)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        common.widen_udp_buffers(sock)
        sock.connect(address)  # so an ICMP port-unreachable comes back as ECONNREFUSED
        common.set_timeouts(sock, args.reply_timeout)
        payload = bytes(args.size)
        if args.mode == "rr":
            step = udp_request(sock, payload, tally, args.reply_timeout)
        else:
            step = sending(sock.send, payload, tally)
        measure(step, args, tally)
        tally.stop()
        end_test(sock)


def end_test(sock: socket.socket) -> None:
    """Sends the end-of-test marker until the server acknowledges it with a marker.

    The marker only ends the server's count early; when it never gets through the server's idle
    timeout ends it, so failing here is no error of the run.
    """
    common.set_timeouts(sock, MARKER_WAIT)
    with contextlib.suppress(OSError):
        for _ in range(MARKER_ATTEMPTS):
            sock.send(common.END_OF_TEST)
            with contextlib.suppress(BlockingIOError):
                while sock.recv(common.MAX_UDP_PAYLOAD) != common.END_OF_TEST:
                    pass  # late echoes from rr mode
                return


def describe(exc: OSError, args: argparse.Namespace) -> str:
    """One line naming what failed and where."""
    where = f"{common.host_port(args.host, args.port)}/{args.proto}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}: is the server listening there?"
    if isinstance(exc, TimeoutError | BlockingIOError):
        return f"no answer from {where} in time (--connect-timeout, --reply-timeout)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {args.host}: {exc.strerror}"
    return f"{where}: {exc.strerror or exc}"


def latency_summary(latencies_ns: list[int]) -> dict[str, float | None]:
    """Nearest-rank percentiles and the mean, in microseconds; null when nothing came back."""
    if not latencies_ns:
        return dict.fromkeys(("p50", "p90", "p99", "mean"))
    ordered = sorted(latencies_ns)

    def rank(percent: int) -> float:
        return ordered[math.ceil(percent / 100 * len(ordered)) - 1] / 1000

    summary = {f"p{percent}": rank(percent) for percent in (50, 90, 99)}
    return summary | {"mean": round(statistics.fmean(ordered) / 1000, 3)}


def report(args: argparse.Namespace, tally: Tally) -> dict[str, Any]:
    """The client's JSON line; bytes are the payload bytes sent (requests, in rr mode)."""
    sent = tally.messages * args.size
    seconds = tally.seconds or 0.0
    record: dict[str, Any] = {
        "proto": args.proto,
        "mode": args.mode,
        "size": args.size,
        "messages": tally.messages,
        "bytes": sent,
        "seconds": round(seconds, 6),
        "mbps": round(sent * 8 / seconds / 1e6, 3) if seconds else 0.0,
        "errors": tally.errors,
    }
    if args.mode == "rr":
        record["latency_us"] = latency_summary(tally.latencies_ns)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    common.name_process(args.process_name or "nm-client")
    tally = Tally()
    try:
        (run_tcp if args.proto == "tcp" else run_udp)(args, tally)
    except OSError as exc:
        tally.error(describe(exc, args))
    tally.stop()
    common.emit(report(args, tally))
    if tally.errors:
        print(f"client: {tally.errors} error(s), last: {tally.problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
