"""Whether KVM works on this controller, asked once by booting a tiny guest, and cached.

`/dev/kvm` can exist and still be unusable: in nested or sandboxed setups a guest may hang
early (after "Probing EDD") or QEMU abort on a model-specific register. So the answer is not
read from the device but found out: the box's kernel is booted under KVM with no root file
system, which must end in its "VFS: Unable to mount root fs" panic within seconds. A guest
that does not get there in PROBE_TIMEOUT means KVM does not work, and the lab uses QEMU's
emulation (TCG) instead: slower (traffic about 12x), but mode-to-mode ratios still compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from orchestrator.lab.tools import Say

QEMU = "qemu-system-x86_64"
KVM_DEVICE = Path("/dev/kvm")
PROBE_TIMEOUT = 30.0
PANIC = "Kernel panic"


def accel_args(kvm: bool) -> list[str]:
    """QEMU's accelerator flags: KVM with its default CPU model (`-cpu host` aborts on some
    hosts), or TCG with a bigger translation cache."""
    return ["-accel", "kvm"] if kvm else ["-accel", "tcg,tb-size=256"]


def kvm_works(kernel: Path, cache: Path, say: Say = print) -> bool:
    """True when a guest boots under KVM here (cached in the `cache` directory, per host
    kernel and QEMU version); says which accelerator the lab uses and why."""
    if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
        say(f"KVM: {KVM_DEVICE} is not usable: VMs run under QEMU's emulation (TCG)")
        return False
    cache = cache / "kvm-probe.json"
    key = f"{os.uname().release} {_qemu_version()}"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return _said(bool(cached["works"]), say, cached=True)
    except (OSError, ValueError, KeyError):
        pass
    works = _probe(kernel)
    cache.write_text(json.dumps({"key": key, "works": works}))
    return _said(works, say, cached=False)


def _said(works: bool, say: Say, cached: bool) -> bool:
    how = "cached probe" if cached else "a test guest"
    if works:
        say(f"KVM works here ({how}): VMs use it")
    else:
        say(
            f"KVM: {KVM_DEVICE} exists but a guest hangs under it ({how}): VMs run under "
            "QEMU's emulation (TCG), about 12x slower"
        )
    return works


def _probe(kernel: Path) -> bool:
    with tempfile.TemporaryDirectory(prefix="netmatrix-kvm-") as scratch:
        log = Path(scratch) / "console.log"
        command = [
            QEMU,
            *accel_args(True),
            "-m",
            "256",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            f"file:{log}",
            "-no-reboot",
            "-nic",
            "none",
            "-kernel",
            str(kernel),
            "-append",
            "console=ttyS0 panic=-1",
        ]
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return PANIC in (log.read_text(errors="replace") if log.exists() else "")


def _qemu_version() -> str:
    try:
        found = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return "?"
    return found.stdout.splitlines()[0] if found.stdout else "?"
