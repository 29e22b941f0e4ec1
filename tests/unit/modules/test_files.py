"""copy, template and file against a small stateful fake filesystem."""

import hashlib
import shlex

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.modules.base import ModuleArgError
from tests.fakes import FakeConnection, FakeFilesystem
from tests.unit.modules.helpers import argv_of, ran, run_module

CANARY = "$(touch /tmp/canary)"


@pytest.fixture
def fs() -> FakeFilesystem:
    filesystem = FakeFilesystem(FakeConnection())
    filesystem.install()
    return filesystem


# --- copy -----------------------------------------------------------------------------------


def test_copy_content_creates_then_is_idempotent(fs):
    first = run_module("copy", fs.conn, {"content": "net.core.x = 1\n", "dest": "/etc/a.conf"})
    assert first.changed and fs.conn.files["/etc/a.conf"] == b"net.core.x = 1\n"
    assert first.as_dict()["checksum"] == hashlib.sha256(b"net.core.x = 1\n").hexdigest()
    uploads = [path for path in fs.conn.files if path.startswith("/tmp/.netmatrix-")]
    assert uploads == []  # the staging copy is removed
    second = run_module("copy", fs.conn, {"content": "net.core.x = 1\n", "dest": "/etc/a.conf"})
    assert not second.changed and "already up to date" in second.msg


def test_copy_compares_sha256_before_transferring(fs):
    fs.write("/etc/a.conf", "same\n")
    puts_before = dict(fs.conn.files)
    result = run_module("copy", fs.conn, {"content": "same\n", "dest": "/etc/a.conf"})
    assert not result.changed
    assert fs.conn.files == puts_before
    assert not ran(fs.conn, "cp")


def test_copy_replaces_different_content(fs):
    fs.write("/etc/a.conf", "old\n", mode=0o600)
    result = run_module("copy", fs.conn, {"content": "new\n", "dest": "/etc/a.conf"})
    assert result.changed and fs.conn.files["/etc/a.conf"] == b"new\n"
    assert fs.mode("/etc/a.conf") == 0o600  # existing mode kept when none is asked for


def test_copy_mode_and_owner(fs):
    fs.write("/etc/a.conf", "x")
    args = {"content": "x", "dest": "/etc/a.conf", "mode": "0600", "owner": "lab"}
    result = run_module("copy", fs.conn, args)
    assert result.changed and "mode 0600" in result.msg and "owner lab" in result.msg
    assert fs.meta["/etc/a.conf"][:2] == [0o600, "lab"]
    assert not run_module("copy", fs.conn, args).changed


def test_copy_yaml_octal_mode(fs):
    # YAML 1.1 reads `mode: 0644` as the integer 420; that is already the mode.
    run_module("copy", fs.conn, {"content": "x", "dest": "/etc/b", "mode": 0o640})
    assert fs.mode("/etc/b") == 0o640


def test_copy_check_mode_changes_nothing(fs):
    fs.write("/etc/a.conf", "old\n")
    result = run_module(
        "copy", fs.conn, {"content": "new\n", "dest": "/etc/a.conf", "mode": "0600"}, check=True
    )
    assert result.changed and "would change" in result.msg
    assert fs.conn.files == {"/etc/a.conf": b"old\n"}
    assert fs.mode("/etc/a.conf") == 0o644
    assert not ran(fs.conn, "cp", "chmod")


def test_copy_check_mode_for_a_new_file(fs):
    result = run_module("copy", fs.conn, {"content": "x", "dest": "/etc/new"}, check=True)
    assert result.changed and fs.conn.files == {}


def test_copy_src_from_the_playbook_files_folder_into_a_directory(fs, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "daemon.json").write_text('{"iptables": false}\n')
    fs.dirs.add("/etc/docker")
    args = {"src": "daemon.json", "dest": "/etc/docker"}
    result = run_module("copy", fs.conn, args, base_dir=tmp_path)
    assert result.changed and result.as_dict()["dest"] == "/etc/docker/daemon.json"
    assert fs.conn.files["/etc/docker/daemon.json"] == b'{"iptables": false}\n'


def test_copy_missing_src_names_where_it_looked(fs, tmp_path):
    with pytest.raises(NetmatrixError, match=r"could not find 'nope\.txt'"):
        run_module("copy", fs.conn, {"src": "nope.txt", "dest": "/x"}, base_dir=tmp_path)


def test_copy_force_off_keeps_an_existing_file(fs):
    fs.write("/etc/a", "mine")
    result = run_module("copy", fs.conn, {"content": "theirs", "dest": "/etc/a", "force": False})
    assert not result.changed and fs.conn.files["/etc/a"] == b"mine"


def test_copy_destination_with_shell_metacharacters_is_data(fs):
    dest = f"/tmp/{CANARY}"
    run_module("copy", fs.conn, {"content": "x", "dest": dest})
    assert fs.conn.files[dest] == b"x"
    touching = [text for text in fs.conn.commands if "touch /tmp/canary" in text]
    assert touching  # the path did reach the host...
    for text in touching:  # ...always as one quoted word
        assert dest in shlex.split(text) and shlex.quote(dest) in text


def test_copy_write_failure_is_an_error(fs):
    fs.conn.rules.insert(0, (r"^cp ", (1, "", "cp: cannot create regular file: Permission denied")))
    with pytest.raises(NetmatrixError, match="Permission denied"):
        run_module("copy", fs.conn, {"content": "x", "dest": "/etc/x"})
    assert not [p for p in fs.conn.files if p.startswith("/tmp/.netmatrix-")]


def test_copy_bad_mode(fs):
    with pytest.raises(ModuleArgError, match="octal"):
        run_module("copy", fs.conn, {"content": "x", "dest": "/x", "mode": "u+rwx"})


# --- template -------------------------------------------------------------------------------


def test_template_renders_on_the_controller(fs, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text("lab {{ name }}\n")
    args = {"src": "motd.j2", "dest": "/etc/motd"}
    render = lambda text: text.replace("{{ name }}", "lab1")  # noqa: E731
    result = run_module("template", fs.conn, args, base_dir=tmp_path, renderer=render)
    assert result.changed and fs.conn.files["/etc/motd"] == b"lab lab1\n"
    again = run_module("template", fs.conn, args, base_dir=tmp_path, renderer=render)
    assert not again.changed


# --- file -----------------------------------------------------------------------------------


def test_file_directory_create_and_idempotent(fs):
    result = run_module("file", fs.conn, {"path": "/srv/traces", "state": "directory"})
    assert result.changed and "/srv/traces" in fs.dirs
    assert argv_of(fs.conn, "mkdir") == [["mkdir", "-p", "--", "/srv/traces"]]
    assert not run_module("file", fs.conn, {"path": "/srv/traces", "state": "directory"}).changed


def test_file_directory_mode(fs):
    fs.dirs.add("/srv")
    result = run_module("file", fs.conn, {"path": "/srv", "state": "directory", "mode": "0700"})
    assert result.changed and fs.meta["/srv"][0] == 0o700


def test_file_absent(fs):
    fs.write("/tmp/x", "1")
    assert run_module("file", fs.conn, {"path": "/tmp/x", "state": "absent"}).changed
    assert "/tmp/x" not in fs.conn.files
    assert not run_module("file", fs.conn, {"path": "/tmp/x", "state": "absent"}).changed


def test_file_touch_creates_once(fs):
    assert run_module("file", fs.conn, {"path": "/tmp/t", "state": "touch"}).changed
    assert not run_module("file", fs.conn, {"path": "/tmp/t", "state": "touch"}).changed


def test_file_state_file_requires_the_file(fs):
    result = run_module("file", fs.conn, {"path": "/nope", "state": "file"})
    assert result.failed and "is absent" in result.msg


def test_file_directory_over_a_file_fails(fs):
    fs.write("/tmp/x", "1")
    result = run_module("file", fs.conn, {"path": "/tmp/x", "state": "directory"})
    assert result.failed and "not a directory" in result.msg


def test_file_check_mode(fs):
    fs.write("/tmp/x", "1")
    result = run_module("file", fs.conn, {"path": "/tmp/x", "state": "absent"}, check=True)
    assert result.changed and "/tmp/x" in fs.conn.files
    created = run_module("file", fs.conn, {"path": "/d", "state": "directory"}, check=True)
    assert created.changed and "/d" not in fs.dirs


def test_file_canary_path_is_one_argument(fs):
    path = f"/tmp/{CANARY}"
    run_module("file", fs.conn, {"path": path, "state": "directory"})
    assert argv_of(fs.conn, "mkdir") == [["mkdir", "-p", "--", path]]
