#!/usr/bin/env bash
# Starts the libvirt daemons for the libvirt lab provider on a machine without systemd, and
# waits until libvirt answers. Safe to run again: running daemons are left alone.
#
# /dev/kvm: Debian's udev rule gives it to group kvm, which libvirt's QEMU user belongs to.
# Where the device belongs to another group (some container hosts), libvirt probes QEMU with
# KVM as root, then finds KVM unusable for its QEMU user and probes again at every call (each
# virsh call then takes ~20 s); giving the device back to group kvm ends that.
set -euo pipefail

if [[ -c /dev/kvm ]] && getent group kvm >/dev/null && [[ $(stat -c %G /dev/kvm) != kvm ]]; then
    echo "giving /dev/kvm to group kvm (it belonged to $(stat -c %G /dev/kvm))"
    chgrp kvm /dev/kvm
fi
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl start libvirtd
else
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
fi
for _ in $(seq 60); do
    virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
    sleep 1
done
echo "error: libvirtd does not answer (virsh -c qemu:///system version)" >&2
exit 1
