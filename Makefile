# The README's two commands live here: `make demo` and `make test`.
# Both install what is missing (Debian packages with apt, the Python environment in .venv)
# and skip what is already there, so a second run starts at once.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the tests and the demo need on the controller.
SYSTEM_PACKAGES := openssh-server openssh-client docker.io iptables linux-perf debootstrap \
	vagrant xz-utils iproute2 procps sudo ca-certificates python3-venv
# The libvirt lab provider (real VMs; `invoke lab.up --provider libvirt`, `invoke lab.box`).
LIBVIRT_PACKAGES := qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients \
	vagrant-libvirt dnsmasq-base ebtables e2fsprogs
# Only the tests need these: a real browser for the HTML report, LaTeX for the tables,
# PostgreSQL for the shared results server.
TEST_PACKAGES := chromium texlive-latex-base texlive-latex-recommended postgresql

.PHONY: demo test unit integration lint system test-system venv clean postgres libvirt

demo: system venv
	$(VENV)/bin/invoke demo

test: system test-system libvirt venv
	bash scripts/run-tests.sh

unit: venv
	$(VENV)/bin/pytest tests/unit -q

integration: system test-system libvirt venv
	$(VENV)/bin/pytest tests/integration -q

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# A throwaway PostgreSQL server on a loopback port, to try a shared results database:
# prints the NETMATRIX_DB to export and how to stop it.
postgres: test-system venv
	@$(PY) -m tests.integration.postgres

system:
	@bash scripts/install-system-packages.sh $(SYSTEM_PACKAGES)

# Installs the libvirt provider and starts its daemons (no systemd needed).
libvirt:
	@bash scripts/install-system-packages.sh $(LIBVIRT_PACKAGES)
	@bash scripts/start-libvirt.sh

test-system:
	@bash scripts/install-system-packages.sh $(TEST_PACKAGES)

venv: $(VENV)/.synced

# Re-synced only when the dependency declaration or the lock changes.
$(VENV)/.synced: pyproject.toml uv.lock
	@test -x $(VENV)/bin/uv || { python3 -m venv $(VENV) && $(VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(VENV)/bin/uv sync --frozen --inexact --quiet
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
