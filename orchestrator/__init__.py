"""netmatrix: an Ansible-style experiment orchestrator for container-networking research."""

__version__ = "0.1.0"
