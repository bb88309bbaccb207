from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text

from storage.accounts import AccountError, LoginRefused, Role, SqlAccounts, SqliteAccounts, TokenRefused, User

FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PW = "correct horse battery"
WINDOW = timedelta(minutes=15)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "accounts.sqlite3"


@pytest.fixture
def accounts(records: Engine) -> SqlAccounts:
    """The accounts store over a new records database: SQLite, and PostgreSQL (tests/conftest.py)."""
    return SqlAccounts(records, hasher=FAST)


def read(where: Path | SqlAccounts, sql: str) -> list[tuple[object, ...]]:
    """Rows as stored: from a SQLite file, or from the store's own database."""
    if isinstance(where, SqlAccounts):
        with where.engine.connect() as db:
            return [tuple(r) for r in db.execute(text(sql))]
    conn = sqlite3.connect(where)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def raw_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def refused(store: SqliteAccounts, username: str, password: str, at: datetime) -> str:
    with pytest.raises(LoginRefused) as info:
        store.verify_login(username, password, now=at)
    assert str(info.value) == info.value.reason
    return info.value.reason


def test_add_list_get_remove(accounts: SqlAccounts) -> None:
    alice = accounts.add_user("alice", PW, Role.ADMIN)
    bob = accounts.add_user("Bob.Smith@corp", PW, "editor")
    assert alice.username == "alice" and alice.role is Role.ADMIN and not alice.disabled
    assert datetime.fromisoformat(alice.created_at).utcoffset() == timedelta(0)
    assert [u.username for u in accounts.users()] == ["alice", "bob.smith@corp"]
    assert accounts.get_user("BOB.SMITH@CORP") == User("bob.smith@corp", Role.EDITOR, bob.created_at)
    assert accounts.get_user("nobody") is None
    accounts.remove_user("Bob.Smith@corp")
    assert accounts.get_user("bob.smith@corp") is None
    assert [u.username for u in accounts.users()] == ["alice"]
    with pytest.raises(AccountError, match="unknown user"):
        accounts.remove_user("bob.smith@corp")


def test_survives_reopen(path: Path) -> None:
    SqliteAccounts(path, hasher=FAST).add_user("alice", PW, Role.READER)
    again = SqliteAccounts(path, hasher=FAST)
    assert again.verify_login("alice", PW).role is Role.READER


def test_duplicate_names_are_case_insensitive(accounts: SqlAccounts) -> None:
    accounts.add_user("Carol", PW, Role.READER)
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_user("carol", "another password", Role.ADMIN)
    assert accounts.get_user("carol") == User("carol", Role.READER, accounts.users()[0].created_at)


@pytest.mark.parametrize("name", ["", "   ", "a" * 65, "has space", "semi;colon", "dröm", "slash/name", "x'--"])
def test_invalid_names_refused(accounts: SqlAccounts, name: str) -> None:
    with pytest.raises(AccountError, match="invalid username"):
        accounts.add_user(name, PW, Role.READER)
    assert accounts.users() == []


def test_longest_valid_name(accounts: SqlAccounts) -> None:
    name = "a" * 60 + "._@-"
    assert accounts.add_user(name, PW, Role.READER).username == name
    assert accounts.verify_login(name.upper(), PW).username == name
    assert refused(accounts, name + "x", PW, T0) == "wrong username or password"  # no aliasing by truncation


def test_short_password_refused(accounts: SqlAccounts) -> None:
    with pytest.raises(AccountError, match="at least 10 characters"):
        accounts.add_user("dave", "123456789", Role.READER)
    assert accounts.get_user("dave") is None
    accounts.add_user("dave", "1234567890", Role.READER)
    assert accounts.verify_login("dave", "1234567890").username == "dave"


def test_unknown_role_refused(accounts: SqlAccounts) -> None:
    with pytest.raises(AccountError, match="unknown role"):
        accounts.add_user("erin", PW, "superuser")
    accounts.add_user("erin", PW, Role.READER)
    with pytest.raises(AccountError, match="unknown role"):
        accounts.set_role("erin", "root")


def test_stored_hash_is_argon2_not_the_password(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    [(stored,)] = read(accounts, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert isinstance(stored, str) and stored.startswith("$argon2id$") and PW not in stored
    assert FAST.verify(stored, PW)
    if accounts.engine.dialect.name == "sqlite":  # nor anywhere in the file's bytes
        assert PW.encode() not in raw_bytes(Path(str(accounts.engine.url.database)))


def test_default_hasher_uses_argon2_defaults(path: Path) -> None:
    store = SqliteAccounts(path)
    store.add_user("alice", PW, Role.ADMIN)
    [(stored,)] = read(path, "SELECT password_hash FROM users")
    assert isinstance(stored, str) and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert store.verify_login("alice", PW).username == "alice"


def test_wrong_password_and_unknown_user_get_the_same_message(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    wrong_password = refused(accounts, "alice", "not the password", T0)
    unknown_user = refused(accounts, "mallory", PW, T0)
    invalid_name = refused(accounts, "no such name; " * 20, PW, T0)
    assert wrong_password == unknown_user == invalid_name == "wrong username or password"
    assert accounts.verify_login("ALICE", PW, now=T0).username == "alice"


def test_lockout_after_five_failures_even_with_right_password(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    accounts.add_user("bob", PW, Role.READER)
    for i in range(4):
        refused(accounts, "alice", "wrong password", T0 + timedelta(seconds=i))
    last = T0 + timedelta(minutes=1)
    assert refused(accounts, "alice", "wrong password", last) == "wrong username or password"
    # the lock ends 15 min after the last failure, 09:16:00; shown rounded up to the minute
    assert refused(accounts, "alice", PW, last + timedelta(seconds=1)) == (
        "too many failed attempts; account locked until 09:16 UTC")
    assert "locked until 09:16 UTC" in refused(accounts, "alice", PW, last + WINDOW - timedelta(seconds=1))
    assert accounts.verify_login("bob", PW, now=last).username == "bob"  # other accounts are not affected
    assert accounts.verify_login("alice", PW, now=last + WINDOW).username == "alice"


def test_lock_time_is_rounded_up_to_the_minute(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    last = T0 + timedelta(seconds=30)
    for _ in range(5):
        refused(accounts, "alice", "wrong password", last)
    assert refused(accounts, "alice", PW, last) == "too many failed attempts; account locked until 09:16 UTC"


def test_failures_outside_the_window_do_not_lock(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    for i in range(4):
        refused(accounts, "alice", "wrong password", T0 + timedelta(seconds=i))
    later = T0 + WINDOW + timedelta(minutes=1)
    assert refused(accounts, "alice", "wrong password", later) == "wrong username or password"
    assert accounts.verify_login("alice", PW, now=later).username == "alice"


def test_success_resets_failures(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    for i in range(4):
        refused(accounts, "alice", "wrong password", T0 + timedelta(seconds=i))
    accounts.verify_login("alice", PW, now=T0 + timedelta(seconds=5))
    for i in range(4):
        refused(accounts, "alice", "wrong password", T0 + timedelta(seconds=10 + i))
    assert accounts.verify_login("alice", PW, now=T0 + timedelta(seconds=20)).username == "alice"


def test_unknown_names_are_rate_limited_like_real_ones(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    for name in ("alice", "ghost"):
        for i in range(5):
            refused(accounts, name, "wrong password", T0 + timedelta(seconds=i))
    assert refused(accounts, "ghost", PW, T0 + timedelta(minutes=1)) == refused(
        accounts, "alice", PW, T0 + timedelta(minutes=1))
    assert "locked until" in refused(accounts, "Ghost", PW, T0 + timedelta(minutes=1))


def test_custom_lockout_settings(path: Path) -> None:
    store = SqliteAccounts(path, hasher=FAST, max_failures=2, lockout_window=timedelta(minutes=1))
    store.add_user("alice", PW, Role.ADMIN)
    refused(store, "alice", "wrong password", T0)
    refused(store, "alice", "wrong password", T0)
    assert "locked until 09:01 UTC" in refused(store, "alice", PW, T0 + timedelta(seconds=59))
    assert store.verify_login("alice", PW, now=T0 + timedelta(minutes=1)).username == "alice"


def test_set_password_makes_the_old_one_fail_and_unlocks(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.ADMIN)
    for _ in range(5):
        refused(accounts, "alice", "wrong password", T0)
    accounts.set_password("alice", "a brand new password")
    assert refused(accounts, "alice", PW, T0) == "wrong username or password"
    assert accounts.verify_login("alice", "a brand new password", now=T0).username == "alice"
    with pytest.raises(AccountError, match="at least 10"):
        accounts.set_password("alice", "short")
    with pytest.raises(AccountError, match="unknown user"):
        accounts.set_password("nobody", "a brand new password")
    assert accounts.verify_login("alice", "a brand new password", now=T0).username == "alice"


def test_outdated_hash_is_rehashed_on_login(path: Path) -> None:
    SqliteAccounts(path, hasher=FAST).add_user("alice", PW, Role.ADMIN)
    [(before,)] = read(path, "SELECT password_hash FROM users")
    stronger = SqliteAccounts(path, hasher=PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1))
    stronger.verify_login("alice", PW)
    [(after,)] = read(path, "SELECT password_hash FROM users")
    assert isinstance(before, str) and isinstance(after, str)
    assert "t=1" in before and "t=2" in after
    assert stronger.verify_login("alice", PW).username == "alice"


def test_roles(accounts: SqlAccounts) -> None:
    for name, role in (("ann", Role.ADMIN), ("ed", Role.EDITOR), ("rita", Role.READER)):
        accounts.add_user(name, PW, role)
    rights = {u.username: (u.role, u.is_admin, u.can_edit) for u in accounts.users()}
    assert rights == {"ann": (Role.ADMIN, True, True), "ed": (Role.EDITOR, False, True),
                      "rita": (Role.READER, False, False)}
    accounts.set_role("rita", "editor")
    rita = accounts.verify_login("rita", PW)
    assert rita.role is Role.EDITOR and rita.can_edit and not rita.is_admin
    assert Role("admin") is Role.ADMIN and f"{Role.READER}" == "reader"
    with pytest.raises(AccountError, match="unknown user"):
        accounts.set_role("nobody", Role.ADMIN)


def test_disabled_account_cannot_log_in_or_use_tokens(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    token = accounts.issue_token("alice", "cli")
    accounts.set_disabled("alice", True)
    assert accounts.get_user("alice").disabled  # type: ignore[union-attr]
    assert refused(accounts, "alice", PW, T0) == "account disabled"
    assert refused(accounts, "alice", "wrong password", T0) == "wrong username or password"
    with pytest.raises(TokenRefused, match="account disabled"):
        accounts.user_for_token(token)
    accounts.set_disabled("alice", False)
    assert accounts.verify_login("alice", PW, now=T0).username == "alice"
    assert accounts.user_for_token(token).username == "alice"


def test_membership(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    accounts.add_user("bob", PW, Role.READER)
    accounts.grant("alice", "hr")
    accounts.grant("Alice", "legal")
    accounts.grant("alice", "hr")  # twice is once
    accounts.grant("bob", "hr")
    assert accounts.collections_of("alice") == {"hr", "legal"}
    assert accounts.members("hr") == ["alice", "bob"]
    assert accounts.members("finance") == []
    accounts.revoke("alice", "legal")
    accounts.revoke("alice", "never-granted")
    assert accounts.collections_of("alice") == {"hr"} and accounts.members("legal") == []
    with pytest.raises(AccountError, match="unknown user"):
        accounts.grant("nobody", "hr")
    assert accounts.members("hr") == ["alice", "bob"]
    accounts.remove_user("bob")
    assert accounts.members("hr") == ["alice"]
    assert read(accounts, "SELECT * FROM memberships WHERE username = 'bob'") == []
    accounts.add_user("bob", PW, Role.READER)  # a new account of the same name starts with nothing
    assert accounts.collections_of("bob") == set()


def test_token_issue_and_use(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    token = accounts.issue_token("Alice", " laptop ", now=T0)
    assert token.startswith("cfd_") and len(token) == 4 + 43
    assert accounts.user_for_token(token, now=T0 + timedelta(days=1)) == accounts.get_user("alice")
    [info] = accounts.tokens("alice")
    assert (info.prefix, info.label, info.revoked) == (token[:8], "laptop", False)
    assert info.created_at == T0.isoformat() and info.expires_at == (T0 + timedelta(days=90)).isoformat()
    assert token not in repr(info)
    assert accounts.issue_token("alice", "laptop", now=T0) != token


def test_unknown_token_refused(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    token = accounts.issue_token("alice", "cli")
    for bad in ("", "cfd_", "cfd_" + "A" * 43, token[:-1], token + "x", token.upper()):
        with pytest.raises(TokenRefused, match="invalid token"):
            accounts.user_for_token(bad)


def test_expired_token_refused(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    short = accounts.issue_token("alice", "short", ttl=timedelta(hours=1), now=T0)
    forever = accounts.issue_token("alice", "forever", ttl=None, now=T0)
    assert accounts.user_for_token(short, now=T0 + timedelta(minutes=59)).username == "alice"
    with pytest.raises(TokenRefused, match="expired") as info:
        accounts.user_for_token(short, now=T0 + timedelta(hours=1))
    assert info.value.reason == "token expired"
    assert accounts.user_for_token(forever, now=T0 + timedelta(days=3650)).username == "alice"
    assert [t.expires_at for t in accounts.tokens("alice")] == [(T0 + timedelta(hours=1)).isoformat(), None]
    with pytest.raises(AccountError, match="positive"):
        accounts.issue_token("alice", "zero", ttl=timedelta(0))


def test_revoked_token_refused(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    accounts.add_user("bob", PW, Role.EDITOR)
    first = accounts.issue_token("alice", "one")
    second = accounts.issue_token("alice", "two")
    first_id = accounts.tokens("alice")[0].id
    with pytest.raises(AccountError, match="no token"):
        accounts.revoke_token("bob", first_id)  # not bob's token
    assert accounts.user_for_token(first).username == "alice"
    accounts.revoke_token("alice", first_id)
    with pytest.raises(TokenRefused, match="revoked"):
        accounts.user_for_token(first)
    assert accounts.user_for_token(second).username == "alice"
    assert [(t.label, t.revoked) for t in accounts.tokens("alice")] == [("one", True), ("two", False)]


def test_tokens_of_removed_user_refused(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    token = accounts.issue_token("alice", "cli")
    accounts.remove_user("alice")
    with pytest.raises(TokenRefused):
        accounts.user_for_token(token)
    assert read(accounts, "SELECT * FROM tokens") == []
    accounts.add_user("alice", PW, Role.EDITOR)  # a new account of the same name does not revive old tokens
    with pytest.raises(TokenRefused):
        accounts.user_for_token(token)
    assert accounts.tokens("alice") == []
    with pytest.raises(AccountError, match="unknown user"):
        accounts.issue_token("nobody", "cli")


def test_token_table_holds_no_plain_token(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    token = accounts.issue_token("alice", "cli")
    rows = read(accounts, "SELECT * FROM tokens")
    assert len(rows) == 1
    assert all(token not in str(value) and token[4:] not in str(value) for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]
    if accounts.engine.dialect.name == "sqlite":  # nor anywhere in the file's bytes
        path = Path(str(accounts.engine.url.database))
        assert token.encode() not in raw_bytes(path) and token[4:].encode() not in raw_bytes(path)


def test_shared_between_threads(accounts: SqlAccounts) -> None:
    accounts.add_user("alice", PW, Role.EDITOR)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                accounts.grant("alice", f"c{n}-{i}")
                accounts.user_for_token(accounts.issue_token("alice", f"t{n}-{i}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(accounts.collections_of("alice")) == 150 and len(accounts.tokens("alice")) == 150
