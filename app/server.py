"""Traffic server: drops (stream) or echoes (rr) what clients send; one JSON line per flow.

A flow is one TCP connection, or the datagrams of one UDP peer up to its end-of-test marker or
an idle timeout. The server prints {"event": "listening", "port": P} once bound so that
orchestration can wait for it, and on SIGTERM or SIGINT reports the flows still open and exits 0.
"""

from __future__ import annotations

import argparse
import functools
import signal
import socket
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import common

CHUNK = 256 << 10  # stream reads: large enough that the reader is not the bottleneck


class Shutdown(Exception):
    """SIGTERM or SIGINT arrived: stop serving and report what was counted."""


@dataclass
class Flow:
    """Counters of one TCP connection or UDP peer, until they are reported."""

    address: Any
    started: float = field(default_factory=time.monotonic)
    last: float = 0.0
    bytes: int = 0
    messages: int = 0
    counts_messages: bool = True

    def __post_init__(self) -> None:
        self.last = self.started

    def record(self) -> dict[str, Any]:
        """The JSON line for this flow; seconds run from its start to its last data."""
        return {
            "event": "connection",
            "peer": common.host_port(*self.address[:2]),
            "bytes": self.bytes,
            "messages": self.messages if self.counts_messages else None,
            "seconds": round(self.last - self.started, 6),
        }


class Flows:
    """The open flows; each is reported once, at its end or at shutdown, whichever comes first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Hashable, Flow] = {}

    def get(self, address: Hashable) -> Flow:
        """The open flow from address, opened now if there is none."""
        with self._lock:
            flow = self._open.get(address)
            if flow is None:
                flow = self._open[address] = Flow(address)
            return flow

    def idle(self, since: float) -> list[Hashable]:
        """Addresses of the flows that carried nothing after since (a monotonic time)."""
        with self._lock:
            return [address for address, flow in self._open.items() if flow.last < since]

    def close(self, addresses: Iterable[Hashable]) -> bool:
        """Reports the open flows among addresses; says whether there was any."""
        with self._lock:
            closed = [self._open.pop(address) for address in addresses if address in self._open]
            for flow in closed:
                common.emit(flow.record())
        return bool(closed)

    def close_all(self) -> None:
        """Reports every open flow with what it has counted so far."""
        with self._lock:
            addresses = list(self._open)
        self.close(addresses)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = common.traffic_parser("server", __doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=common.bounded(int, 0, 65535), required=True, help="0 picks a free port"
    )
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument(
        "--size",
        type=common.SIZE,
        help="message bytes: frames TCP echoes and counts TCP stream messages",
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the first flow has been reported"
    )
    parser.add_argument(
        "--idle-timeout",
        type=common.bounded(float, 0.0, strict=True),
        default=5.0,
        help="seconds of silence that end a UDP flow without its marker (default: 5)",
    )
    args = common.parse(parser, argv)
    if args.proto == "tcp" and args.mode == "rr" and args.size is None:
        parser.error("argument --size: required for TCP rr mode (the length of each echo)")
    return args


def stop_on_signals() -> None:
    """Turns SIGTERM and SIGINT into Shutdown in the main thread, so open flows get reported."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Shutdown(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def listen(args: argparse.Namespace) -> socket.socket:
    """Binds the server's socket and says so on stdout, the line orchestration waits for."""
    kind = socket.SOCK_STREAM if args.proto == "tcp" else socket.SOCK_DGRAM
    try:
        family, address = common.resolve(args.bind, args.port, kind)
        sock = socket.socket(family, kind)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restarts between runs
        else:
            common.widen_udp_buffers(sock)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
    except OSError as exc:
        where = f"{common.host_port(args.bind, args.port)}/{args.proto}"
        common.fail(f"server: cannot listen on {where}: {exc.strerror or exc}")
    common.emit({"event": "listening", "port": sock.getsockname()[1]})
    return sock


def discard(conn: socket.socket, flow: Flow, size: int | None) -> None:
    """Stream mode: reads and drops. TCP has no message boundaries: messages are bytes // size,
    and unknown (null) without --size."""
    flow.counts_messages = size is not None
    buffer = bytearray(CHUNK)
    while received := conn.recv_into(buffer):
        flow.bytes += received
        flow.last = time.monotonic()
        if size:
            flow.messages = flow.bytes // size


def echo(conn: socket.socket, flow: Flow, size: int) -> None:
    """rr mode: sends each size-byte request back whole; a partial one at close counts as bytes."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = memoryview(bytearray(size))
    while received := common.recv_exactly(conn, message):
        flow.bytes += received
        flow.last = time.monotonic()
        if received < size:
            return
        flow.messages += 1  # counted as received, like bytes and datagrams, before the echo
        conn.sendall(message)


Handler = Callable[[socket.socket, Flow], None]


def serve_connection(conn: socket.socket, flow: Flow, handle: Handler, flows: Flows) -> None:
    """Runs one connection and reports it before closing, so a client that waits for the close
    knows the line is out."""
    with conn:
        try:
            handle(conn, flow)
        except ConnectionError:
            pass  # a reset ends the flow like a close does: what it carried is still reported
        finally:
            flows.close([flow.address])


def serve_tcp(listener: socket.socket, args: argparse.Namespace, flows: Flows) -> None:
    """Accepts connections, one thread each; with --once, serves the first one and returns."""
    handle = functools.partial(echo if args.mode == "rr" else discard, size=args.size)
    while True:
        conn, address = listener.accept()
        if args.once:
            listener.close()
            # In the main thread, so a signal interrupts it and the flow is still reported.
            serve_connection(conn, flows.get(address), handle, flows)
            return
        threading.Thread(
            target=serve_connection, args=(conn, flows.get(address), handle, flows), daemon=True
        ).start()


def serve_udp(sock: socket.socket, args: argparse.Namespace, flows: Flows) -> None:
    """Counts datagrams per peer (echoing them in rr mode) until a marker or silence ends a flow.

    A marker is acknowledged with a marker, after the flow's line is out; repeated markers (the
    client retries when an acknowledgement is lost) are acknowledged again and change nothing.
    """
    check_every = min(0.5, args.idle_timeout / 2)
    common.set_timeouts(sock, check_every, sends=False)  # an echo waits for room
    buffer = bytearray(common.MAX_UDP_PAYLOAD + 1)
    view = memoryview(buffer)
    next_check = time.monotonic() + check_every
    while True:
        now = time.monotonic()
        if now >= next_check:
            next_check = now + check_every
            if flows.close(flows.idle(now - args.idle_timeout)) and args.once:
                return
        try:
            received, address = sock.recvfrom_into(buffer)
        except BlockingIOError:  # the receive timeout: time to look for idle flows
            continue
        if received == len(common.END_OF_TEST):
            ended = flows.close([address])
            sock.sendto(common.END_OF_TEST, address)
            if ended and args.once:
                return
            continue
        flow = flows.get(address)
        flow.bytes += received
        flow.messages += 1
        flow.last = time.monotonic()
        if args.mode == "rr":
            sock.sendto(view[:received], address)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    common.name_process(args.process_name or "nm-server")
    flows = Flows()
    stop_on_signals()
    try:
        with listen(args) as sock:
            (serve_tcp if args.proto == "tcp" else serve_udp)(sock, args, flows)
    except Shutdown:
        pass
    finally:
        flows.close_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
