"""The registry's side of analysis services, on SQLite and PostgreSQL, without a server: the
token claim under concurrency (threads racing on one token), expiry before the sweep, the sweep,
who may manage a service, groups, parameters checked against the schema, columns resolved."""

from __future__ import annotations

import threading
import time

import pytest

import registry
from registry.analyses import token_hash


@pytest.fixture
def reg(registry_url, tmp_path, table_files):
    op = registry.open(registry_url, user="op", operator=True, storage=tmp_path / "store")
    op.add_user("ada", admin=True)
    op.add_user("bob")
    op.add_user("eve")
    op.add_group("team")
    op.add_member("team", "bob")
    _df, paths = table_files
    bob = op.acting_as("bob")
    bob.upload(
        "cat",
        registry.PHOTOZ_ESTIMATES,
        paths["parquet"],
        columns=[registry.ColumnSpec("redshift", "z")],
    )
    yield op
    op.engine.dispose()


def test_one_claim_wins_among_racing_threads(reg):
    ada, bob = reg.acting_as("ada"), reg.acting_as("bob")
    ada.register_service("notes", upload_only=True, timeout_s=60)
    analysis, token, call = bob.start_analysis("notes", "cat")
    assert call["columns"] == {} and analysis["status"] == "pending"
    with reg.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM analyses").scalar()
    assert stored == token_hash(token) and token not in stored

    n = 16
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            reg.claim_analysis(token)
            outcomes.append("won")
        except registry.Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=claim) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * (n - 1) + ["won"]
    # a claimed callback never stored (the site stopped) does not stay "received" for ever
    assert reg.sweep_analyses(stuck_after_s=0) == []  # not yet expired
    with reg.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE analyses SET expires_at = created_at")
    assert reg.sweep_analyses(stuck_after_s=0) == [analysis["id"]]
    assert "never stored" in bob.get_analysis(analysis["id"])["message"]
    with pytest.raises(registry.NotFound):
        reg.claim_analysis("pza_unknown")


def test_expiry_the_sweep_and_cancel(reg):
    ada, bob = reg.acting_as("ada"), reg.acting_as("bob")
    ada.register_service("quick", upload_only=True, timeout_s=0.3)
    late, token, _ = bob.start_analysis("quick", "cat")
    time.sleep(0.5)
    with pytest.raises(registry.Conflict, match="expired"):
        reg.claim_analysis(token)  # refused even before any sweep
    assert reg.sweep_analyses() == [late["id"]]
    assert bob.get_analysis(late["id"])["status"] == "timed_out"
    assert reg.sweep_analyses() == []

    ada.update_service("quick", timeout_s=60)
    other, token2, _ = bob.start_analysis("quick", "cat")
    with pytest.raises(registry.PermissionDenied):
        reg.acting_as("eve").cancel_analysis(other["id"])
    assert bob.cancel_analysis(other["id"])["status"] == "cancelled"
    with pytest.raises(registry.Conflict, match="cancelled"):
        reg.claim_analysis(token2)


def test_services_rules(reg):
    ada, bob, eve = reg.acting_as("ada"), reg.acting_as("bob"), reg.acting_as("eve")
    with pytest.raises(registry.PermissionDenied):
        bob.register_service("mine", url="http://127.0.0.1:1/x")
    with pytest.raises(registry.ValidationError, match="http"):
        ada.register_service("ftp", url="ftp://example.org/x")
    with pytest.raises(registry.ValidationError, match="credentials"):
        ada.register_service("leaky", url="http://user:pw@example.org/x")
    with pytest.raises(registry.ValidationError, match="schema"):
        ada.register_service("bad", url="http://x.org/a", parameters={"type": "nonsense"})
    ada.register_service(
        "team_only",
        url="http://127.0.0.1:1/analyze",
        groups=["team"],
        owner="bob",
        columns=["z", "RA", "pit?"],
        parameters={"type": "object", "properties": {"k": {"type": "integer", "minimum": 1}},
                    "additionalProperties": False},
    )  # fmt: skip
    with pytest.raises(registry.Conflict):
        ada.register_service("team_only", url="http://x.org/a")
    assert [s["name"] for s in eve.list_services()] == []  # not in the group
    with pytest.raises(registry.PermissionDenied):
        eve.start_analysis("team_only", "cat")
    with pytest.raises(registry.ValidationError) as bad:
        bob.start_analysis("team_only", "cat", {"k": 0, "x": 1})
    assert len(bad.value.problems) == 2
    _a, _t, call = bob.start_analysis("team_only", "cat", {"k": 2})
    assert call["columns"] == {"z": "redshift", "RA": "RA"}  # a role, a name; pit? absent
    with pytest.raises(registry.PermissionDenied):
        eve.update_service("team_only", version="2")
    assert bob.update_service("team_only", version="2")["version"] == "2"  # the owner
    with pytest.raises(registry.PermissionDenied):
        bob.update_service("team_only", owner="eve")  # only admins hand it over
    ada.register_service("needs", url="http://x.org/a", columns=["flux_g"])
    with pytest.raises(registry.ValidationError, match="flux_g"):
        bob.start_analysis("needs", "cat")
    bob.delete_service("team_only")
    assert [s["name"] for s in ada.list_services()] == ["needs"]


def test_embedding_tasks_are_runs_claimed_once_and_end_with_their_run(reg):
    bob = reg.acting_as("bob")
    task = bob.submit_embedding("cat", {"transformer": "umap"}, run_config={"run_name": "t"})
    assert task["state"] == "PENDING" and task["result"] is None
    run = bob.queued_run(task["task_id"])  # queued as a run with the same id
    assert run["pipeline"] == "embedding_task" and run["state"] == "queued"
    assert run["config"] == {"run_name": "t", "task_id": task["task_id"],
                             "input": {"product": task["product_id"]},
                             "production": {"product": None},
                             "params": {"transformer": "umap"}}  # fmt: skip
    claimed = reg.claim_run("w1")
    assert claimed["id"] == task["task_id"]
    assert bob.embedding_task(task["task_id"])["state"] == "STARTED"
    assert reg.claim_run("w2") is None
    with pytest.raises(registry.PermissionDenied):
        reg.acting_as("eve").embedding_task(task["task_id"])
    assert reg.interrupt_stale_runs(3600) == []
    time.sleep(0.05)
    assert reg.interrupt_stale_runs(0.01) == [task["task_id"]]
    failed = bob.embedding_task(task["task_id"])
    assert failed["state"] == "FAILURE" and "w1 stopped reporting" in failed["error"]

    # cancelled while queued: the task fails with the run's reason; a success keeps the result
    other = bob.submit_embedding("cat", {})
    bob.cancel_run(other["task_id"])
    gone = bob.embedding_task(other["task_id"])
    assert gone["state"] == "FAILURE" and "cancelled by bob" in gone["error"]
    done = bob.submit_embedding("cat", {})
    reg.claim_run("w1")
    reg.finish_embedding(done["task_id"], result={"data": [[0, 1]]})
    reg.finish_queued_run(done["task_id"], "success")
    assert bob.embedding_task(done["task_id"])["result"] == {"data": [[0, 1]]}
