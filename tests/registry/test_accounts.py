"""Users, groups, tokens (hashed, revocable, last used), passwords (argon2), releases restricted to
groups, and the run queue: the registry's rules for the shared site, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

import registry
from registry import NotFound, PermissionDenied, ValidationError
from registry.accounts import token_hash


@pytest.fixture
def site(registry_url, tmp_path):
    """A registry with an operator view, an admin, two users and a restricted release."""
    op = registry.open(registry_url, user="root", operator=True, storage=tmp_path / "store")
    op.add_user("ada", admin=True, password="correct horse battery")
    op.add_user("bob")
    op.add_user("eve")
    op.add_group("team-dp")
    op.add_member("team-dp", "bob")
    op.add_release("DP1")
    op.add_release("public")
    op.restrict_release("DP1", ["team-dp"])
    return op


def upload(reg, name, table_files, release=None):
    _df, paths = table_files
    cols = [
        registry.ColumnSpec("RA", "ra"),
        registry.ColumnSpec("DEC", "dec"),
        registry.ColumnSpec("redshift", "z"),
    ]
    return reg.upload(
        name, registry.REFERENCE_REDSHIFT_CATALOG, paths["parquet"], columns=cols, release=release
    )


def test_the_schema_matches_the_models(registry_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from registry.models import Base
    from registry.store import make_engine

    registry.upgrade(registry_url)
    engine = make_engine(registry_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_tokens_are_random_hashed_shown_once_revocable(site):
    token, info = site.create_token("bob", label="notebook")
    assert token.startswith("pzf_") and len(token) > 40
    assert info["prefix"] == token[:10] and info["last_used_at"] is None
    with site.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in stored and token_hash(token) in stored  # only the sha256 is kept
    user = site.authenticate_token(token)
    assert user["name"] == "bob" and not user["is_admin"]
    assert site.list_tokens("bob")[0]["last_used_at"] is not None
    assert site.authenticate_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert site.authenticate_token("not a token") is None
    bob = site.acting_as("bob")
    with pytest.raises(NotFound):
        site.acting_as("eve").revoke_token(info["id"])  # not eve's
    bob.revoke_token(info["id"])
    assert site.authenticate_token(token) is None
    second, _ = bob.create_token(expires_in_days=1)
    assert site.authenticate_token(second)["name"] == "bob"
    site.update_user("bob", active=False)
    assert site.authenticate_token(second) is None  # a deactivated user's tokens stop working


def test_passwords_are_argon2_and_checked(site):
    with site.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name='ada'")).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert site.check_password("ada", "correct horse battery")["is_admin"]
    assert site.check_password("ada", "wrong") is None
    assert site.check_password("nobody", "correct horse battery") is None
    with pytest.raises(ValidationError):
        site.set_password("bob", "short")


def test_only_admins_manage_accounts(site):
    bob = site.acting_as("bob")
    for call in (
        lambda: bob.add_user("mallory"),
        lambda: bob.add_group("x"),
        lambda: bob.add_member("team-dp", "eve"),
        lambda: bob.restrict_release("public", ["team-dp"]),
        lambda: bob.create_token("eve"),
        lambda: bob.update_user("bob", admin=True),
    ):
        with pytest.raises(PermissionDenied):
            call()
    ada = site.acting_as("ada")  # an admin in the database, whatever this process's settings
    ada.add_user("carol")
    assert ada.is_admin and not bob.is_admin
    with pytest.raises(ValidationError):
        site.add_user("../etc")


def test_restricted_release_is_hidden_from_non_members(site, table_files):
    bob, eve, ada = site.acting_as("bob"), site.acting_as("eve"), site.acting_as("ada")
    secret = upload(bob, "secret specz", table_files, release="DP1")
    shared = upload(eve, "open specz", table_files, release="public")
    assert {p.id for p in bob.list_products()} == {secret.id, shared.id}
    assert {p.id for p in ada.list_products()} == {secret.id, shared.id}
    assert [p.id for p in eve.list_products()] == [shared.id]
    for call in (
        lambda: eve.get_product(secret.id),
        lambda: eve.get_product(secret.internal_name),
        lambda: eve.get_dataframe(secret.id),
        lambda: eve.product_provenance(secret.id),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert not eve.can_read(secret.id) and bob.can_read(secret.id)
    # owner-or-admin edits, admin-only official: the same rules as the CLI's
    with pytest.raises(PermissionDenied):
        eve.update(secret.id, description="x")
    with pytest.raises(PermissionDenied):
        bob.update(shared.id, description="mine now")
    with pytest.raises(PermissionDenied):
        bob.set_official(secret.id)
    ada.set_official(shared.id)
    bob.update(secret.id, description="ok")
    with pytest.raises(PermissionDenied):
        bob.delete(shared.id)
    site.restrict_release("DP1", [])  # open again (a view is one request's: take a new one)
    assert {p.id for p in site.acting_as("eve").list_products()} == {secret.id, shared.id}


def test_queue_claims_each_run_once(site):
    bob = site.acting_as("bob")
    ids = [bob.submit_run("combine_redshift", {"n": i})["id"] for i in range(6)]
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name):
        view = site.acting_as(None)
        while (run := view.claim_run(name)) is not None:
            with lock:
                claimed.append(run["id"])

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every run once, none twice
    total, page = bob.list_queued_runs()
    assert total == 6 and {r["state"] for r in page} == {"running"}
    with pytest.raises(PermissionDenied):
        site.acting_as("eve").queued_run(ids[0])
    with pytest.raises(PermissionDenied):
        site.acting_as("eve").cancel_run(ids[0])
    bob.cancel_run(ids[0])
    assert site.heartbeat(ids[0], progress={"done": 1, "total": 3}) is True  # worker: stop it
    assert site.heartbeat(ids[1]) is False
    site.finish_queued_run(ids[0], "cancelled")
    assert bob.queued_run(ids[0])["state"] == "cancelled"
    assert set(site.interrupt_stale_runs(older_than_s=-1)) == set(ids[1:])
    assert bob.queued_run(ids[1])["state"] == "interrupted"


def test_cancelling_a_queued_run_is_immediate(site):
    bob = site.acting_as("bob")
    run = bob.submit_run("combine_redshift", {})
    assert bob.cancel_run(run["id"])["state"] == "cancelled"
    assert site.claim_run("w") is None
