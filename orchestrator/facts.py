"""Host facts: what a lab host is (kernel, distro, NICs, tools) and what its kernel can do.

Each fact is a small probe in pyinfra's style: a shell `command` and a `process(stdout)` that
turns the command's output into a value. `gather_facts` runs all probes in one round trip —
a single shell script that prints one section per fact — and hands each section to its
parser. A probe that fails (tool missing, file absent) yields `None`, never an exception:
absent is a fact too.

`netdev_types` is the one probe that changes state, briefly: it creates a throwaway link of
each type under a unique name and deletes it again (a shell trap deletes it even when the
probe is interrupted). It needs root; without root every type comes out unsupported with the
kernel's "Operation not permitted", which is what the host would answer the experiment too.

One file of about 540 lines: each probe is a few lines of shell beside its parser, and the
one-round-trip script is built from all of them; a reader checks a fact where it is made.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Generic, TypeVar

from orchestrator.connection import CommandFailed, Connection, connect
from orchestrator.errors import NetmatrixError
from orchestrator.host import Host

log = logging.getLogger(__name__)

T = TypeVar("T")

NETDEV_TYPES = ("bridge", "veth", "macvlan", "ipvlan", "vxlan")
"""Link types the experiment modes rely on, in the order they are probed."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Distro:
    """From /etc/os-release: `ID`, `VERSION_ID`, `PRETTY_NAME` (each may be missing)."""

    id: str | None
    version_id: str | None
    pretty_name: str | None


@dataclass(frozen=True)
class Nic:
    """One network interface as the kernel lists it."""

    name: str
    mac: str | None
    mtu: int | None
    promisc: bool


@dataclass(frozen=True)
class Tracefs:
    """Where tracefs is mounted, if it is; `supported` says whether the kernel has it at all."""

    mounted: bool
    path: str | None
    supported: bool


@dataclass(frozen=True)
class NetdevSupport:
    """Whether the kernel accepted a link of one type; if not, the message it gave."""

    supported: bool
    message: str | None = None


@dataclass(frozen=True)
class HostFacts:
    """Everything `gather_facts` learns about one host; `None` means the probe found nothing."""

    kernel_release: str | None = None
    distro: Distro | None = None
    cpus: int | None = None
    mem_mb: int | None = None
    nics: tuple[Nic, ...] | None = None
    default_nic: str | None = None
    docker_version: str | None = None
    perf_version: str | None = None
    tracefs: Tracefs | None = None
    tracers: tuple[str, ...] | None = None
    netdev_types: Mapping[str, NetdevSupport] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: nested values become dicts and lists, absent values stay `None`."""
        return {item.name: _plain(getattr(self, item.name)) for item in fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, Distro | Nic | Tracefs | NetdevSupport):
        return {item.name: _plain(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class FactOutput:
    """What one probe's command printed, and how it exited."""

    stdout: str
    stderr: str = ""
    rc: int = 0


class Fact(Generic[T]):
    """A probe: `command` (shell text) and `process(stdout)`.

    By default a command that exits non-zero means the fact is absent (`None`); probes whose
    output is useful even then set `needs_success = False`.
    """

    name: ClassVar[str]
    command: ClassVar[str]
    needs_success: ClassVar[bool] = True

    def process(self, stdout: str) -> T | None:
        raise NotImplementedError

    def collect(self, output: FactOutput) -> T | None:
        if self.needs_success and output.rc != 0:
            return None
        return self.process(output.stdout)


class KernelRelease(Fact[str]):
    name = "kernel_release"
    command = "uname -r"

    def process(self, stdout: str) -> str | None:
        return stdout.strip() or None


class DistroFact(Fact[Distro]):
    name = "distro"
    command = "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"

    def process(self, stdout: str) -> Distro | None:
        values = parse_os_release(stdout)
        if not values:
            return None
        return Distro(values.get("ID"), values.get("VERSION_ID"), values.get("PRETTY_NAME"))


def parse_os_release(text: str) -> dict[str, str]:
    """`KEY=value` lines, values unquoted the way os-release(5) quotes them (shell-like)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            value = " ".join(shlex.split(raw))
        except ValueError:  # unbalanced quote: keep what is there
            value = raw.strip("\"'")
        values[key.strip()] = value
    return values


class Cpus(Fact[int]):
    name = "cpus"
    command = "getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c '^processor' /proc/cpuinfo"

    def process(self, stdout: str) -> int | None:
        text = stdout.strip()
        return int(text) if text else None


class MemMb(Fact[int]):
    name = "mem_mb"
    command = "cat /proc/meminfo"

    def process(self, stdout: str) -> int | None:
        match = re.search(r"^MemTotal:\s+(\d+)\s*kB", stdout, re.MULTILINE)
        return int(match.group(1)) // 1024 if match else None


IFF_PROMISC = 0x100


class Nics(Fact[tuple[Nic, ...]]):
    """`ip -j link` where iproute2 speaks JSON, else one line per /sys/class/net entry."""

    name = "nics"
    command = (
        "ip -j link show 2>/dev/null || "
        "for d in /sys/class/net/*; do "
        'printf "%s %s %s %s\\n" "${d##*/}" "$(cat "$d/address" 2>/dev/null)" '
        '"$(cat "$d/mtu" 2>/dev/null)" "$(cat "$d/flags" 2>/dev/null)"; '
        "done"
    )

    def process(self, stdout: str) -> tuple[Nic, ...] | None:
        text = stdout.strip()
        if not text:
            return None
        if text.startswith("["):
            return tuple(self._from_json(link) for link in json.loads(text))
        return tuple(self._from_sysfs(line) for line in text.splitlines() if line.strip())

    @staticmethod
    def _from_json(link: Mapping[str, Any]) -> Nic:
        mac = link.get("address")
        mtu = link.get("mtu")
        return Nic(
            name=str(link["ifname"]),
            mac=str(mac).lower() if mac else None,
            mtu=int(mtu) if mtu is not None else None,
            promisc="PROMISC" in link.get("flags", ()),
        )

    @staticmethod
    def _from_sysfs(line: str) -> Nic:
        # name, address, mtu, flags; address is empty for links without one (tun, wireguard)
        # and the shell's printf then leaves two spaces, so split on single spaces.
        name, mac, mtu, flags = [*line.split(" "), "", "", ""][:4]
        return Nic(
            name=name,
            mac=mac.lower() or None,
            mtu=int(mtu) if mtu else None,
            promisc=bool(int(flags, 16) & IFF_PROMISC) if flags else False,
        )


class DefaultNic(Fact[str]):
    """The device of the first default route (`ip route`), else from /proc/net/route."""

    name = "default_nic"
    command = "ip route show default 2>/dev/null || cat /proc/net/route"

    def process(self, stdout: str) -> str | None:
        lines = stdout.splitlines()
        if lines and lines[0].startswith("Iface"):
            for line in lines[1:]:
                columns = line.split()
                if len(columns) >= 8 and columns[1] == "00000000" and columns[7] == "00000000":
                    return columns[0]
            return None
        for line in lines:
            words = line.split()
            if words and words[0] == "default" and "dev" in words[:-1]:
                return words[words.index("dev") + 1]
        return None


class DockerVersion(Fact[str]):
    """The engine's version when the daemon answers, else the installed client's.

    `docker version` exits 1 when the daemon is down but still prints the client part,
    so the output is used whatever the exit code.
    """

    name = "docker_version"
    command = "docker version --format '{{json .}}'"
    needs_success = False

    def process(self, stdout: str) -> str | None:
        text = stdout.strip()
        if not text.startswith("{"):
            return None
        data = json.loads(text.splitlines()[0])
        for part in ("Server", "Client"):
            section = data.get(part) or {}
            if section.get("Version"):
                return str(section["Version"])
        return None


class PerfVersion(Fact[str]):
    """`perf version` prints `perf version 6.1.192`; Debian's wrapper fails without a match."""

    name = "perf_version"
    command = "perf version"

    def process(self, stdout: str) -> str | None:
        match = re.search(r"perf version (\S+)", stdout)
        return match.group(1) if match else None


class TracefsFact(Fact[Tracefs]):
    """tracefs mount points (or debugfs, whose `tracing/` automounts tracefs)."""

    name = "tracefs"
    command = (
        'awk \'$3 == "tracefs" || $3 == "debugfs" { print "mount", $3, $2 }\' /proc/mounts; '
        "grep -qw tracefs /proc/filesystems && echo 'filesystem tracefs'; true"
    )
    preferred = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

    def process(self, stdout: str) -> Tracefs:
        tracefs: list[str] = []
        debugfs: list[str] = []
        supported = False
        for line in stdout.splitlines():
            words = line.split(" ", 2)
            if words[:2] == ["filesystem", "tracefs"]:
                supported = True
            elif len(words) == 3 and words[0] == "mount":
                (tracefs if words[1] == "tracefs" else debugfs).append(words[2])
        mounts = tracefs + [f"{path.rstrip('/')}/tracing" for path in debugfs]
        if not mounts:
            return Tracefs(mounted=False, path=None, supported=supported)
        path = next((p for p in self.preferred if p in mounts), mounts[0])
        return Tracefs(mounted=True, path=path, supported=True)


class Tracers(Fact[tuple[str, ...]]):
    """`available_tracers` from the first readable tracefs; absent when none is mounted."""

    name = "tracers"
    command = (
        "for p in $(awk '$3 == \"tracefs\" { print $2 }' /proc/mounts) "
        "/sys/kernel/tracing /sys/kernel/debug/tracing; do "
        'if [ -r "$p/available_tracers" ]; then cat "$p/available_tracers"; exit 0; fi; '
        "done; exit 1"
    )

    def process(self, stdout: str) -> tuple[str, ...]:
        return tuple(stdout.split())


class NetdevTypes(Fact[dict[str, NetdevSupport]]):
    """Create and delete one throwaway link per type; the kernel's answer is the fact.

    Names are unique per probe (`nmp<letter><pid>`), so concurrent probes on one kernel do
    not collide. macvlan and ipvlan need a parent: the default route's device, else the
    first non-loopback link — the NIC the experiment would use.
    """

    name = "netdev_types"
    command = r"""
n=$$
nm_links="nmpb$n nmpv$n nmpx$n nmpm$n nmpi$n"
nm_cleanup() { for l in $nm_links; do ip link del "$l" >/dev/null 2>&1; done; }
trap nm_cleanup EXIT
trap 'exit 143' TERM INT HUP
parent=$(ip route show default 2>/dev/null |
  awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
[ -n "$parent" ] || parent=$(ip -o link show 2>/dev/null |
  awk -F': ' '{ n = $2; sub(/@.*/, "", n); if (n != "lo") { print n; exit } }')
probe() {
  t=$1; l=$2; shift 2
  msg=$(ip link add "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then ip link del "$l" >/dev/null 2>&1; msg=; fi
  printf '%s %s %s\n' "$t" "$rc" "$(printf '%s' "$msg" | tr '\n' ' ')"
}
probe bridge nmpb$n name nmpb$n type bridge
probe veth nmpv$n name nmpv$n type veth peer name nmpw$n
probe vxlan nmpx$n name nmpx$n type vxlan id 4242 dstport 4789
for t in macvlan ipvlan; do
  l=nmp$(printf '%s' "$t" | cut -c1)$n
  if [ -n "$parent" ]; then
    case $t in macvlan) m=bridge;; ipvlan) m=l2;; esac
    probe $t "$l" link "$parent" name "$l" type $t mode $m
  else
    printf '%s 1 no parent link for %s\n' "$t" "$t"
  fi
done
"""

    def process(self, stdout: str) -> dict[str, NetdevSupport] | None:
        found: dict[str, NetdevSupport] = {}
        for line in stdout.splitlines():
            kind, _, rest = line.partition(" ")
            if kind not in NETDEV_TYPES:
                continue
            rc_text, _, message = rest.partition(" ")
            rc = int(rc_text)
            message = message.strip()
            if rc == 0:
                found[kind] = NetdevSupport(True, None)
            else:
                found[kind] = NetdevSupport(False, message or f"ip link add exited {rc}")
        if not found:
            return None
        return {kind: found[kind] for kind in NETDEV_TYPES if kind in found}


FACTS: tuple[Fact[Any], ...] = (
    KernelRelease(),
    DistroFact(),
    Cpus(),
    MemMb(),
    Nics(),
    DefaultNic(),
    DockerVersion(),
    PerfVersion(),
    TracefsFact(),
    Tracers(),
    NetdevTypes(),
)
"""Every fact `gather_facts` collects, in `HostFacts` field order."""

# --------------------------------------------------------------------------- one round trip

MARKER = "@@netmatrix-fact"
FACT_TIMEOUT = 20
"""Seconds one probe may take (a hung `docker version` must not hold up the others)."""

_SECTION = re.compile(rf"\n{MARKER} (\S+) (stdout|stderr|rc)(?: (-?\d+))?\n")


def build_script(facts: Sequence[Fact[Any]] = FACTS) -> str:
    """One shell script that runs every probe and prints its stdout, stderr and rc.

    Each section starts on a marker line `@@netmatrix-fact <name> <stream>`; the newline
    before a marker belongs to the marker, so a section's text is exactly what the probe
    printed.
    """
    lines = [
        'nm_t=$(mktemp -d 2>/dev/null) || { nm_t=/tmp/netmatrix-facts.$$; mkdir -p "$nm_t"; }',
        "trap 'rm -rf \"$nm_t\"' EXIT",
        "if command -v timeout >/dev/null 2>&1; "
        f"then nm_to='timeout -k 2 {FACT_TIMEOUT}'; else nm_to=; fi",
        "nm_fact() {",
        '  $nm_to /bin/sh -c "$2" >"$nm_t/out" 2>"$nm_t/err" </dev/null',
        "  nm_rc=$?",
        f'  printf \'\\n{MARKER} %s stdout\\n\' "$1"; cat "$nm_t/out"',
        f'  printf \'\\n{MARKER} %s stderr\\n\' "$1"; cat "$nm_t/err"',
        f'  printf \'\\n{MARKER} %s rc %s\\n\' "$1" "$nm_rc"',
        "}",
    ]
    lines += [f"nm_fact {fact.name} {shlex.quote(fact.command)}" for fact in facts]
    return "\n".join(lines) + "\n"


def parse_sections(stdout: str) -> dict[str, FactOutput]:
    """Split the script's output back into one `FactOutput` per probe."""
    parts: dict[str, dict[str, Any]] = {}
    matches = list(_SECTION.finditer(stdout))
    for index, match in enumerate(matches):
        name, stream, rc = match.groups()
        end = matches[index + 1].start() if index + 1 < len(matches) else len(stdout)
        part = parts.setdefault(name, {"stdout": "", "stderr": "", "rc": None})
        if stream == "rc":
            part["rc"] = int(rc) if rc is not None else None
        else:
            part[stream] = stdout[match.end() : end]
    return {
        name: FactOutput(part["stdout"], part["stderr"], part["rc"])
        for name, part in parts.items()
        if part["rc"] is not None  # a probe cut off mid-way tells nothing reliable
    }


def facts_from_output(stdout: str, facts: Sequence[Fact[Any]] = FACTS) -> HostFacts:
    """Parse the script's output into `HostFacts`; a parser that chokes yields `None`."""
    sections = parse_sections(stdout)
    values: dict[str, Any] = {}
    for fact in facts:
        output = sections.get(fact.name)
        if output is None:
            values[fact.name] = None
            continue
        try:
            values[fact.name] = fact.collect(output)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            log.warning(
                "fact %s: cannot parse output (%s); recording it as absent", fact.name, error
            )
            values[fact.name] = None
    return HostFacts(**values)


def gather_facts(
    conn: Connection,
    *,
    become: bool | None = None,
    timeout: float = 120,
    facts: Sequence[Fact[Any]] = FACTS,
) -> HostFacts:
    """Run every probe on the host in one round trip and parse the answers.

    Args:
        conn: the host's connection.
        become: run the probes through `sudo` (needed for `netdev_types` when the login
            user is not root); defaults to the host's `ansible_become`.
        timeout: seconds for the whole script.
        facts: the probes to run (all by default).

    Raises:
        CommandFailed: the script produced no section at all (e.g. sudo refused).
        UnreachableError, CommandTimeout: from the connection.
    """
    use_sudo = conn.host.become if become is None else become
    script = build_script(facts)
    runner = conn.sudo if use_sudo else conn.run
    result = runner(script, timeout=timeout)
    if not _SECTION.search(result.stdout):
        # The script's text is long and says nothing to the reader of the error.
        raise CommandFailed(conn.host.name, replace(result, command="gather facts"))
    return facts_from_output(result.stdout, facts)


# --------------------------------------------------------------------------- many hosts


def gather_hosts(
    hosts: Sequence[Host],
    *,
    forks: int = 5,
    connect_timeout: float = 10,
    retries: int = 3,
    opener: Callable[..., Connection] | None = None,
) -> dict[str, HostFacts | NetmatrixError]:
    """Facts of every host, gathered in parallel (at most `forks` at a time).

    A host that cannot be reached or answered nothing useful maps to its error, so one
    bad host never hides the others' facts. The map keeps the order of `hosts`.
    """
    open_host = opener or connect

    def one(host: Host) -> HostFacts | NetmatrixError:
        try:
            conn = open_host(host, connect_timeout=connect_timeout, retries=retries)
        except NetmatrixError as error:
            return error
        try:
            return gather_facts(conn)
        except NetmatrixError as error:
            return error
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=max(1, forks)) as pool:
        answers = list(pool.map(one, hosts))
    return {host.name: answer for host, answer in zip(hosts, answers, strict=True)}
