"""One records database for everything Confidant keeps, its schema by Alembic migrations: a data folder made before
(by commit 3172629, when accounts and the audit log had files of their own) is migrated in place with nothing lost,
and the same records work on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from sqlalchemy import inspect, text

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from storage.accounts import Role
from storage.migrations import current, head
from storage.records import DocState
from storage.sql import metadata, open_records

OLD_FOLDER = Path(__file__).parent / "fixtures" / "data-folder-3172629"


def old_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(OLD_FOLDER, home)
    return home


def test_a_data_folder_of_the_earlier_release_is_migrated_in_place(tmp_path: Path, embedder: Embedder) -> None:
    home = old_home(tmp_path)
    token = (home / "alice-token.txt").read_text().strip()
    services = build_services(Settings(home=home), embedder=embedder)
    try:
        docs = {(d.collection, d.file_name): d for d in services.registry.documents()}
        hr = docs[("hr", "leave-policy.pdf")]
        assert (hr.state, hr.chunks, hr.version, hr.current, hr.effective_date, hr.ocr_pages) == (
            DocState.INDEXED, 5, 1, True, "2025-01-01", (2,))
        assert hr.embedded == 5 and not services.registry.awaiting_vectors()  # embedded whole before revision 0005
        assert ("legal", "supply-contract.pdf") in docs
        # accounts: passwords (argon2 hashes as they were), roles, memberships and tokens all came over
        alice = services.accounts.verify_login("alice", "alice's long password")
        assert alice.role is Role.READER and services.accounts.collections_of("alice") == {"hr"}
        assert services.accounts.get_user("root").role is Role.ADMIN  # type: ignore[union-attr]
        assert services.accounts.user_for_token(token).username == "alice"
        # the audit log, with its collections filter working on the old events
        events = services.audit.events(include_global=True)
        assert [e.action for e in events] == ["user_added", "search", "ask"]
        assert [e.question for e in services.audit.events(collections=["hr"])] == ["How long is parental leave?"]
        # collection settings and feedback were in the registry file already
        assert services.assistants.get("hr").starters == ["How long is parental leave?"]
        assert "board" in services.assistants.names()
        [wrong] = services.feedback.all("down")
        assert wrong.comment == "it is twenty weeks"
        assert current(services.records) == head()
    finally:
        services.close()
    data = Settings(home=home).data_dir
    assert not (data / "accounts.sqlite3").exists() and (data / "accounts.sqlite3.adopted").is_file()
    assert not (data / "audit.sqlite3").exists() and (data / "audit.sqlite3.adopted").is_file()
    again = build_services(Settings(home=home), embedder=embedder)  # opening again copies nothing twice
    try:
        assert len(again.audit.events(include_global=True)) == 3
        assert [u.username for u in again.accounts.users()] == ["alice", "root"]
        assert len(again.registry.documents()) == 2
    finally:
        again.close()


def test_four_openings_of_an_old_folder_at_once_copy_it_once(tmp_path: Path, embedder: Embedder) -> None:
    home = old_home(tmp_path)
    opened: list[object] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            services = build_services(Settings(home=home), embedder=embedder)
            services.audit.count()  # opens the records database (and adopts the old files)
            opened.append(services)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    first = opened[0]
    try:
        assert first.audit.count() == 3  # type: ignore[attr-defined]
        assert len(first.accounts.users()) == 2  # type: ignore[attr-defined]
    finally:
        for services in opened:
            services.close()  # type: ignore[attr-defined]


def test_a_new_database_gets_every_table_and_the_newest_revision(tmp_path: Path) -> None:
    engine = open_records(tmp_path / "records.sqlite3")
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= tables and "alembic_version" in tables
        assert current(engine) == head()
        open_records(tmp_path / "records.sqlite3").dispose()  # opening again changes nothing
        assert current(engine) == head()
    finally:
        engine.dispose()


def test_an_early_registry_without_version_columns_gets_them(tmp_path: Path) -> None:
    """The first release's documents table (no versions): its rows stay and become version 1 of themselves."""
    path = tmp_path / "registry.sqlite3"
    import sqlite3

    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE documents (id TEXT NOT NULL, collection TEXT NOT NULL, file_name TEXT NOT NULL,
            source_path TEXT NOT NULL DEFAULT '', bytes INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '', pages INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0,
            characters INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (collection, id));
        INSERT INTO documents VALUES ('abc', 'hr', 'policy.pdf', '/p', 10, 'indexed', '', 3, 7, 100, 't', 't');
    """)
    conn.close()
    from storage.registry import SqliteRegistry

    registry = SqliteRegistry(path)
    try:
        [doc] = registry.documents()
        assert (doc.source_key, doc.version, doc.current, doc.chunks, doc.embedded) == ("policy.pdf", 1, True, 7, 7)
    finally:
        registry.close()


def test_all_records_of_a_node_go_to_postgresql(tmp_path: Path, embedder: Embedder, postgres_url: str) -> None:
    """With CONFIDANT_REGISTRY_URL on PostgreSQL, accounts, audit, collections and feedback are there too: nothing
    of them is written to the node's data folder."""
    from tests.conftest import fresh_database

    url = fresh_database(postgres_url)
    services = build_services(Settings(home=tmp_path / "home", registry_url=url), embedder=embedder)
    try:
        services.accounts.add_user("carol", "correct horse battery", "editor")
        services.workspace().create_collection("board")
        services.feedback.add("q", "a", [], "up")
        services.audit.count()
        engine = services.records
        assert engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["carol"]
            assert conn.execute(text("SELECT name FROM collection_settings")).scalars().all() == ["board"]
            assert conn.execute(text("SELECT action FROM audit")).scalars().all() == ["collection_created"]
    finally:
        services.close()
    kept = [p.name for p in (tmp_path / "home").rglob("*") if p.name.startswith(("registry", "accounts", "audit"))]
    assert kept == []
