"""Campaigns, host snapshots and cells: created once, found again, never silently changed."""

from datetime import UTC

import pytest

from orchestrator.db import repository
from orchestrator.db.models import Campaign, HostSnapshot
from orchestrator.db.repository import CampaignRef
from orchestrator.db.session import Database
from orchestrator.errors import NetmatrixError
from tests.unit.db.builders import FACTS, KERNEL, add_cell


def test_same_name_and_spec_hash_is_the_same_campaign(db: Database, campaign: CampaignRef):
    again = repository.get_or_create_campaign(
        db, "demo", "name: demo\n", "a" * 64, "0.2.0", "other"
    )

    assert again == campaign
    with db.transaction() as session:
        stored = session.get(Campaign, campaign.id)
        assert stored is not None
        assert (stored.version, stored.git_commit, stored.spec_text) == (
            "0.1.0",
            "f857f64",
            "name: demo\n",
        )
        assert stored.created_at.tzinfo is UTC


def test_an_edited_spec_is_a_new_campaign(db: Database, campaign: CampaignRef):
    edited = repository.get_or_create_campaign(
        db, "demo", "name: demo\n#\n", "b" * 64, "0.1.0", None
    )

    assert edited.id != campaign.id
    assert repository.find_campaign(db, "demo") == edited
    assert repository.find_campaign(db) == edited


def test_find_campaign_names_the_known_ones(db: Database, campaign: CampaignRef):
    with pytest.raises(NetmatrixError, match="no campaign named nope; the database has: demo"):
        repository.find_campaign(db, "nope")


def test_find_campaign_in_an_empty_database(db: Database):
    with pytest.raises(NetmatrixError, match="no campaign yet: run `invoke matrix`"):
        repository.find_campaign(db)


def test_host_snapshot_keeps_every_fact(db: Database):
    snapshot = repository.record_host_snapshot(db, "lab2", FACTS)

    assert (snapshot.host, snapshot.kernel) == ("lab2", KERNEL)
    with db.transaction() as session:
        stored = session.get(HostSnapshot, snapshot.id)
        assert stored is not None
        assert (stored.distro, stored.cpus, stored.mem_mb) == ("Debian GNU/Linux 12", 2, 1987)
        assert (stored.docker_version, stored.perf_version) == ("20.10.24+dfsg1", "6.1.55")
        assert stored.facts == FACTS


def test_host_snapshot_needs_the_kernel(db: Database):
    with pytest.raises(NetmatrixError, match="facts of lab2 have no kernel release"):
        repository.record_host_snapshot(db, "lab2", {"cpus": 2, "kernel_release": None})


def test_a_cell_is_created_once(db: Database, campaign: CampaignRef):
    first = add_cell(db, campaign)

    assert add_cell(db, campaign) == first
    assert first.key == "mode=bridge,size=1400,proto=tcp,host=lab1"
    assert add_cell(db, campaign, size=64).id != first.id


def test_a_cell_on_another_kernel_is_refused(db: Database, campaign: CampaignRef):
    cell = add_cell(db, campaign)

    with pytest.raises(NetmatrixError, match=f"measured with kernel={KERNEL}, now kernel=6.6.0"):
        repository.get_or_create_cell(
            db, campaign, cell.key, "bridge", 1400, "tcp", "lab1", "6.6.0"
        )
