"""A throwaway PostgreSQL server for tests, benchmarks and `make postgres`.

Debian's `postgresql` package, but not its service: `initdb` and `pg_ctl` make a cluster in
a temporary directory that listens on 127.0.0.1 at a free port (and on a Unix socket in that
directory), so that it collides with no other server on the machine and leaves nothing
behind. PostgreSQL refuses to run as root: as root, the cluster belongs to `nobody`.

TCP connections need a password (SCRAM, as a shared server would); the socket trusts the
local superuser `postgres`, which sets the cluster up. `Cluster.url()` is the URL a lab puts
in `NETMATRIX_DB`, for the role `netmatrix` that owns the database `netmatrix`.

Tests take the session's cluster with `postgres_cluster` (its `netmatrix` role's password is
the planted `MARKER`, which no output, file or table may hold) and a new empty database of
their own with `postgres_url`; import both fixtures into the test module.

`python -m tests.integration.postgres [DIR]` (`make postgres`) starts one and prints its URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL

ROLE = "netmatrix"
DATABASE = "netmatrix"
SUPERUSER = "postgres"
RUN_AS = "nobody"  # when started by root
START_TIMEOUT_S = 60
# The '@' must be quoted in a URL: a password shown unquoted or quoted is found either way.
MARKER = "Mk7planted-secret@pw"
MARKER_TEXT = "Mk7planted-secret"


def binaries() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not versions:
        raise RuntimeError("no initdb: install Debian's postgresql package (make test-system)")
    return Path(versions[-1]).parent


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster: its directory, port and the `netmatrix` role's password."""

    directory: Path
    port: int
    password: str

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = DATABASE, *, password: str | None = "", user: str = ROLE) -> str:
        """The SQLAlchemy URL of `database` over TCP, with the password in it (by default the
        role's; None: without one, for PGPASSFILE)."""
        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=self.password if password == "" else password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the Unix socket, in autocommit (the caller closes it)."""
        return psycopg.connect(
            host=str(self.directory), port=self.port, user=SUPERUSER, dbname=database,
            autocommit=True,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        """A new empty database owned by the `netmatrix` role; its URL."""
        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(ROLE)
            ))  # fmt: skip
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        _as_owner(self.directory, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster(
    password: str, directory: Path | None = None, *, durable: bool = False
) -> Cluster:
    """initdb, start, and create the `netmatrix` role (with `password`) and database.

    Args:
        directory: where the cluster lives (default: a new directory under /tmp, which
            `nobody` can reach, unlike pytest's private temporary directories).
        durable: keep PostgreSQL's fsync (benchmarks); tests turn it off to go faster.
    """
    directory = directory or Path(tempfile.mkdtemp(prefix="netmatrix-pg-"))
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(RUN_AS)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    directory.chmod(0o755)  # the socket is reached through it
    _as_owner(
        directory, "initdb", "-D", str(directory / "data"), "-U", SUPERUSER, "-E", "UTF8",
        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions",
    )  # fmt: skip
    settings = ["-c listen_addresses=127.0.0.1", f"-k {directory}"]
    if not durable:
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    for _ in range(5):  # a free port found now may be taken before the server binds it
        port = _free_port()
        started = _as_owner(
            directory, "pg_ctl", "-D", str(directory / "data"), "-l", str(directory / "server.log"),
            "-w", "-t", str(START_TIMEOUT_S), "-o", " ".join([*settings, f"-p {port}"]), "start",
            check=False,
        )  # fmt: skip
        if started.returncode == 0:
            break
    else:
        raise RuntimeError(f"PostgreSQL did not start:\n{(directory / 'server.log').read_text()}")
    cluster = Cluster(directory, port, password)
    with cluster.admin() as conn:
        # The password travels in the statement: nothing logs statements on this cluster.
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(password)
            )
        )
    cluster.create_database(DATABASE)
    return cluster


def _as_owner(
    directory: Path, program: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as the cluster's owner (`nobody` when we are root)."""
    done = subprocess.run(
        _owner_command(program, *args),
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done


def _owner_command(program: str, *args: str) -> list[str]:
    command = [str(binaries() / program), *args]
    return ["runuser", "-u", RUN_AS, "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", name="postgres_cluster")
def postgres_cluster_fixture() -> Iterator[Cluster]:
    """The session's server, stopped and removed at its end."""
    cluster = start_cluster(MARKER)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(name="postgres_url")
def postgres_url_fixture(postgres_cluster: Cluster) -> str:
    """A new empty database on the session's server, owned by `netmatrix`: its URL."""
    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def main(argv: list[str]) -> None:
    """`make postgres`: start a cluster that outlives this command, print how to use it."""
    directory = Path(argv[0]).resolve() if argv else None
    cluster = start_cluster(os.urandom(12).hex(), directory, durable=True)
    print(f"PostgreSQL {binaries().parent.name} in {cluster.directory}, port {cluster.port}")
    print(f"export NETMATRIX_DB='{cluster.url()}'")
    print(f"stop it: {' '.join(_owner_command('pg_ctl', '-D', str(cluster.data), 'stop'))}")


if __name__ == "__main__":
    main(sys.argv[1:])
