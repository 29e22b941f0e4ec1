"""The lab: the machines experiments run on (Vagrant with VirtualBox, libvirt or Docker).

`lifecycle` brings them up and down and writes the inventory; the other modules are its parts.
Imported lazily by the tasks: it loads Docker's SDK and Fabric.
"""
