"""The libvirt provider: real VMs under QEMU, from the box `lab.box` builds.

What `vagrant up --provider=libvirt` needs, checked and prepared first: a libvirt daemon that
answers (refused with the command that starts one), the box (built when missing, with the
traffic image preloaded: unpacking it inside an emulated VM would take minutes), and the
settings the Vagrantfile reads (`netmatrix-libvirt.json`: the box name and the QEMU driver,
`kvm` where a test guest showed KVM works, else `qemu`, QEMU's emulation).

Promiscuous mode: VirtualBox's internal network delivers to a VM only the frames addressed to
its own MAC unless `nicpromisc` is allow-all, which is why macvlan and ipvlan need it there.
libvirt's private network is a Linux bridge on the controller whose ports pass every frame
the bridge forwards to them, with no hypervisor-side filter; so there is nothing to set
outside, and `lab.promisc` sets the guest's own NIC with `ip link`, verified with `ip -d link`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from orchestrator.connection import Connection
from orchestrator.errors import NetmatrixError
from orchestrator.lab import box, qemu
from orchestrator.lab.config import LabPaths
from orchestrator.lab.tools import Say, one_line, require, run_tool

URI = "qemu:///system"
START_HINT = (
    "start it with `bash scripts/start-libvirt.sh` (`virtlogd -d && libvirtd -d` where there "
    "is no systemd, else `systemctl start libvirtd`)"
)
INSTALL_HINT = (
    "install the libvirt provider (apt-get install vagrant-libvirt libvirt-daemon-system "
    "qemu-system-x86 qemu-utils dnsmasq-base ebtables)"
)
KERNEL_PACKAGES = re.compile(r"linux-image-\d[a-z0-9+.-]*")


def settings_file(paths: LabPaths) -> Path:
    return paths.dotfile / "netmatrix-libvirt.json"


def require_libvirtd() -> None:
    """Refuse, before anything is created, a controller whose libvirt daemon does not answer."""
    virsh = require("virsh", INSTALL_HINT)
    result = run_tool([virsh, "-c", URI, "version"])
    if result.returncode != 0:
        raise NetmatrixError(
            f"libvirt is not running ({one_line(result.stderr or 'no answer')}): {START_HINT}"
        )


def prepare(paths: LabPaths, kernels: Sequence[str], say: Say) -> box.Box:
    """Daemon, box and the Vagrantfile's settings: what `vagrant up` will need."""
    require_libvirtd()
    the_box = ensure_lab_box(paths, kernels, say)
    driver = "kvm" if qemu.kvm_works(the_box.vmlinuz, paths.cache, say) else "qemu"
    paths.dotfile.mkdir(parents=True, exist_ok=True)
    settings_file(paths).write_text(json.dumps({"box": the_box.name, "driver": driver}))
    return the_box


def ensure_lab_box(paths: LabPaths, kernels: Sequence[str], say: Say) -> box.Box:
    """The box with `kernels` and this version of the traffic image (built on the lab's node
    image by the controller's Docker, as provisioning builds it)."""
    from orchestrator.experiment.traffic_image import ensure_traffic_tarball, traffic_image
    from orchestrator.lab.config import load_config
    from orchestrator.lab.dockerd import ensure_dockerd
    from orchestrator.lab.node_image import ensure_node_image

    client = ensure_dockerd(say)
    node = load_config(paths).image
    ensure_node_image(client, node, paths.cache, say)
    tarball = ensure_traffic_tarball(client, node, paths.cache, say)
    return box.ensure_box(paths.cache, kernels, say, image=traffic_image(), image_tarball=tarball)


def installed_kernels(conn: Connection) -> list[str]:
    """The `linux-image-<release>` packages installed on a VM: its `kernels` host var, so the
    matrix can switch between them."""
    listed = conn.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\\n", "linux-image-*"], check=True
    ).stdout
    return [
        fields[0]
        for fields in (line.split() for line in listed.splitlines())
        if fields and fields[-1] == "installed" and KERNEL_PACKAGES.fullmatch(fields[0])
    ]


def domain_state(domain_uuid: str) -> str:
    """`virsh domstate` of a VM (`running`, `shut off`…), `?` when libvirt cannot say."""
    result = run_tool(["virsh", "-c", URI, "domstate", domain_uuid])
    return result.stdout.strip() if result.returncode == 0 else "?"
