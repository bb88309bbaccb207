import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from storage.audit import CSV_HEADER, DETAIL_CAP, QUESTION_CAP, AuditEvent, SqlAudit, SqliteAudit

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def audit(records: Engine) -> SqlAudit:
    """The audit log over a new records database: SQLite, and PostgreSQL (tests/conftest.py)."""
    return SqlAudit(records)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def minutes_of(events: list[AuditEvent]) -> list[int]:
    return [int((datetime.fromisoformat(e.at) - T0).total_seconds() // 60) for e in events]


def event(minutes: int, user: str = "alice", action: str = "ask", collections: tuple[str, ...] = ("hr",), *,
          question: str = "", documents: tuple[str, ...] = (), model: str = "", detail: str = "",
          client: str = "") -> AuditEvent:
    return AuditEvent(at(minutes), user, action, collections, question=question, documents=documents, model=model,
                      detail=detail, client=client)


def test_record_and_read_back_newest_first_with_unicode_and_tuples(audit: SqlAudit) -> None:
    audit.record(AuditEvent(at(0), "alice", "ask", ("hr", "legal"), question="Congé parental ?\nDurée — 育児休業",
                            documents=("politique congés.pdf", "β.docx"), model="qwen2.5", detail="2 citations",
                            client="ui 10.0.0.7"))
    audit.record(event(5, user="bob", action="search"))
    audit.record(event(2, user="carol", action="download"))

    found = audit.events()
    assert [e.user for e in found] == ["bob", "carol", "alice"]
    first = found[-1]
    assert first.collections == ("hr", "legal") and isinstance(first.collections, tuple)
    assert first.documents == ("politique congés.pdf", "β.docx")
    assert first.question == "Congé parental ?\nDurée — 育児休業"
    assert (first.model, first.detail, first.client) == ("qwen2.5", "2 citations", "ui 10.0.0.7")
    assert datetime.fromisoformat(first.at) == T0
    assert len({e.id for e in found}) == 3 and all(e.id > 0 for e in found)
    assert audit.count() == 3


def test_empty_at_is_stamped_now_in_utc_and_z_suffix_is_accepted(audit: SqlAudit) -> None:
    before = datetime.now(UTC)
    audit.record(AuditEvent("", "alice", "login", ()))
    audit.record(AuditEvent("2025-03-01T12:00:00Z", "bob", "login", ()))
    stamped = {e.user: datetime.fromisoformat(e.at) for e in audit.events()}
    assert stamped["alice"].utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamped["alice"] <= datetime.now(UTC) + timedelta(seconds=1)
    assert stamped["bob"] == T0
    with pytest.raises(ValueError, match="ISO-8601"):
        audit.record(AuditEvent("yesterday", "eve", "login", ()))
    assert audit.count() == 2


def test_times_in_other_offsets_sort_and_filter_as_instants(audit: SqlAudit) -> None:
    audit.record(AuditEvent("2025-03-01T13:30:00+02:00", "early", "ask", ("hr",)))  # 11:30 UTC
    audit.record(AuditEvent("2025-03-01T12:00:00+00:00", "late", "ask", ("hr",)))
    assert [e.user for e in audit.events()] == ["late", "early"]
    assert [e.user for e in audit.events(since=datetime(2025, 3, 1, 11, 45))] == ["late"]  # naive means UTC


def test_filters_by_user_action_since_until_and_limit(audit: SqlAudit) -> None:
    for minutes, user, action in [(0, "alice", "ask"), (1, "bob", "ask"), (2, "alice", "search"),
                                  (3, "alice", "ask"), (4, "bob", "ingest")]:
        audit.record(event(minutes, user=user, action=action))

    assert minutes_of(audit.events(user="alice")) == [3, 2, 0]
    assert [e.user for e in audit.events(action="ask")] == ["alice", "bob", "alice"]
    assert minutes_of(audit.events(user="alice", action="ask")) == [3, 0]
    window = audit.events(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert minutes_of(window) == [2, 1]  # since inclusive, until exclusive
    assert minutes_of(audit.events(since=T0 + timedelta(minutes=3, seconds=1))) == [4]
    assert minutes_of(audit.events(limit=2)) == [4, 3]
    assert audit.events(user="mallory") == []
    with pytest.raises(ValueError):
        audit.events(limit=-1)


def test_collections_filter_never_shows_an_event_that_touched_another_collection(audit: SqlAudit) -> None:
    audit.record(event(0, user="only-a", collections=("a",)))
    audit.record(event(1, user="a-and-b", collections=("a", "b")))
    audit.record(event(2, user="only-c", collections=("c",)))
    audit.record(event(3, user="global", action="login", collections=()))

    def users(allowed: set[str], include_global: bool = False) -> list[str]:
        return [e.user for e in audit.events(collections=allowed, include_global=include_global)]

    assert users({"a"}) == ["only-a"]
    assert users({"a", "b"}) == ["a-and-b", "only-a"]
    assert users({"a", "b", "c", "d"}) == ["only-c", "a-and-b", "only-a"]
    assert users({"b"}) == []
    assert users(set()) == []
    for allowed in ({"a"}, {"b"}, {"c"}, {"a", "c"}, {"zzz"}):
        for e in audit.events(collections=allowed, include_global=True):
            assert set(e.collections) <= allowed


def test_include_global_adds_events_without_collections_only_when_asked(audit: SqlAudit) -> None:
    audit.record(event(0, collections=("a",)))
    audit.record(event(1, user="root", action="user_added", collections=()))
    assert [e.user for e in audit.events(collections={"a"})] == ["alice"]
    assert [e.user for e in audit.events(collections={"a"}, include_global=True)] == ["root", "alice"]
    assert [e.user for e in audit.events(collections=set(), include_global=True)] == ["root"]
    assert len(audit.events()) == 2  # without a collections filter, everything


def test_collections_filter_applies_before_limit(audit: SqlAudit) -> None:
    audit.record(event(0, user="visible", collections=("a",)))
    for minutes in range(1, 6):
        audit.record(event(minutes, user="hidden", collections=("a", "secret")))
    assert [e.user for e in audit.events(collections={"a"}, limit=1)] == ["visible"]


def test_a_lone_string_is_one_collection_not_its_characters(audit: SqlAudit) -> None:
    audit.record(AuditEvent(at(0), "alice", "ask", "hr", documents="a.pdf"))  # type: ignore[arg-type]
    (found,) = audit.events(collections={"hr"})
    assert found.collections == ("hr",) and found.documents == ("a.pdf",)
    assert audit.events(collections={"h", "r"}) == []


def test_export_csv_header_rows_and_formula_neutralisation(audit: SqlAudit) -> None:
    audit.record(event(0, user="alice", collections=("hr", "legal"), question='=HYPERLINK("http://x.test","go")',
                       documents=("a.pdf", "b.pdf"), model="qwen", detail="line one\nline two", client="api"))
    audit.record(event(1, user="@bob", action="-delete", collections=("+evil",), question="\r=1+1", detail="\tx",
                       model="+1", client="+cli"))
    audit.record(event(2, user="carol", collections=("secret",), question="plain"))

    out = io.StringIO(newline="")
    written = audit.export_csv(out, collections={"hr", "legal", "+evil"})
    assert written == 2
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[0] == list(CSV_HEADER)
    assert rows[0] == ["at", "user", "client", "action", "collections", "documents", "question", "model", "detail"]
    assert len(rows) == 3
    newest, oldest = dict(zip(CSV_HEADER, rows[1])), dict(zip(CSV_HEADER, rows[2]))
    assert oldest["question"] == "'=HYPERLINK(\"http://x.test\",\"go\")"
    assert oldest["collections"] == "hr; legal" and oldest["documents"] == "a.pdf; b.pdf"
    assert (oldest["user"], oldest["client"], oldest["action"]) == ("alice", "api", "ask")
    assert oldest["detail"] == "line one\nline two"
    assert datetime.fromisoformat(oldest["at"]) == T0
    assert (newest["user"], newest["action"], newest["collections"]) == ("'@bob", "'-delete", "'+evil")
    assert (newest["question"], newest["detail"]) == ("'\r=1+1", "'\tx")
    assert (newest["model"], newest["client"]) == ("'+1", "'+cli")
    assert "plain" not in out.getvalue()


def test_export_csv_with_no_matches_writes_only_the_header(audit: SqlAudit) -> None:
    audit.record(event(0))
    out = io.StringIO(newline="")
    assert audit.export_csv(out, user="nobody") == 0
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [list(CSV_HEADER)]


def test_prune_deletes_only_events_older_than_the_retention(audit: SqlAudit) -> None:
    for days in (0, 10, 29, 31, 400):
        audit.record(AuditEvent((T0 - timedelta(days=days)).isoformat(), f"d{days}", "ask", ("hr",)))
    assert audit.prune(30, now=T0) == 2
    assert sorted(e.user for e in audit.events()) == ["d0", "d10", "d29"]
    assert audit.prune(30, now=T0) == 0
    assert audit.prune(30, now=T0 + timedelta(days=15)) == 1  # the clock moved on: d29 is now 44 days old
    assert sorted(e.user for e in audit.events()) == ["d0", "d10"]
    assert audit.prune(0, now=T0 + timedelta(days=1)) == 2
    assert audit.count() == 0
    with pytest.raises(ValueError):
        audit.prune(-1)


def test_long_and_odd_text_is_capped_and_never_raises(audit: SqlAudit) -> None:
    audit.record(event(0, question="q" * 50_000, detail="d\n" * 10_000, user="u" * 1000))
    audit.record(event(1, user="odd", question="nul\x00byte, lone \ud800 surrogate, emoji 🦉, rtl שלום"))
    odd, long = audit.events()
    assert len(long.question) == QUESTION_CAP and long.question.startswith("qqq")
    assert len(long.detail) == DETAIL_CAP
    assert len(long.user) < 1000
    assert "\x00" not in odd.question and "\ud800" not in odd.question
    assert odd.question.startswith("nulbyte, lone ") and odd.question.endswith("emoji 🦉, rtl שלום")


def test_concurrent_records_from_eight_threads_all_land(audit: SqlAudit) -> None:
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            for i in range(50):
                audit.record(AuditEvent("", f"user{n}", "ask", ("hr",), question=f"q{n}-{i}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert audit.count() == 400
    found = audit.events(limit=None)
    assert len(found) == 400 and len({e.id for e in found}) == 400
    assert {e.question for e in found} == {f"q{n}-{i}" for n in range(8) for i in range(50)}
    assert len(audit.events(user="user3", limit=None)) == 50


def test_events_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    first = SqliteAudit(path)
    first.record(event(0, user="alice", collections=("hr",)))
    first.close()
    second = SqliteAudit(path)
    try:
        assert [(e.user, e.collections) for e in second.events()] == [("alice", ("hr",))]
    finally:
        second.close()
