"""Shared mode in the app: sign-in required, roles decide the pages, and a member of one collection never sees
another collection's documents, passages or names on any page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from confidant.services import build_services
from confidant.settings import Settings
from rag.embedders import Embedder
from storage.accounts import Role, SqlAccounts
from storage.records import DocState
from tests.documents import make_pdf
from tests.fakes import ExtractiveChat
from ui.context import AppContext

PASSWORD = "correct horse battery"


def run_app(ctx) -> None:  # type: ignore[no-untyped-def]  # AppTest runs this source alone, without imports
    from ui.main import main

    main(ctx)


@pytest.fixture
def ctx(tmp_path: Path, embedder: Embedder) -> Iterator[AppContext]:
    services = build_services(Settings(home=tmp_path / "home", auth="accounts"), embedder=embedder,
                              chat_model=ExtractiveChat())
    services.__dict__["accounts"] = SqlAccounts(services.records, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
    hr = make_pdf(tmp_path / "leave-policy.pdf", ["Parental leave. Employees receive sixteen weeks of paid leave."])
    legal = make_pdf(tmp_path / "merger-secret.pdf", ["Project Falcon. The indemnification cap is twice the price."])
    assert services.pipeline.ingest([hr], "hr")[0].state is DocState.INDEXED
    assert services.pipeline.ingest([legal], "legal")[0].state is DocState.INDEXED
    services.accounts.add_user("alice", PASSWORD, Role.READER)
    services.accounts.grant("alice", "hr")
    services.accounts.add_user("root", PASSWORD, Role.ADMIN)
    context = AppContext.create(services)
    yield context
    context.close()
    services.close()


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [df.value.to_csv() for df in at.dataframe] + [str(r.options) for r in at.radio]
    parts += [str(s.options) for s in at.selectbox] + [str(m.options) for m in at.multiselect]
    return "\n".join(parts)


def signed_in(ctx: AppContext, user: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_function(run_app, args=(ctx,), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.text_input(key="login_user") is not None
    at.text_input(key="login_user").set_value(user)
    at.text_input(key="login_password").set_value(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_nothing_is_shown_before_sign_in_and_a_wrong_password_is_refused(ctx: AppContext) -> None:
    at = signed_in(ctx, "alice", "not the password")
    text = page_text(at)
    assert "wrong username or password" in text
    assert "leave-policy" not in text and "merger-secret" not in text and "hr" not in [r for r in at.radio]
    assert not at.chat_input  # no chat before signing in
    events = ctx.gate.parts.audit().events(include_global=True)
    assert [(e.user, e.action) for e in events] == [("alice", "login_failed")]


def test_a_reader_sees_only_their_collection_on_every_page(ctx: AppContext) -> None:
    at = signed_in(ctx, "alice")
    assert "Signed in as **alice** (reader)" in page_text(at)
    pages = at.radio(key="page").options
    assert "Upload" not in pages and "Admin" not in pages and "Collections" not in pages
    at.chat_input[0].set_value("What is the indemnification cap of Project Falcon?").run()
    assert not at.exception, at.exception
    for page in pages:
        at.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
        text = page_text(at)
        assert "merger-secret" not in text and "Falcon" not in text and "legal" not in text, page
    at.radio(key="page").set_value("Documents").run()
    assert "leave-policy.pdf" in page_text(at)
    asked = [e for e in ctx.gate.parts.audit().events() if e.action == "ask"]
    assert [(e.user, e.collections) for e in asked] == [("alice", ("hr",))]


def test_an_admin_manages_users_and_reads_the_audit_log(ctx: AppContext) -> None:
    at = signed_in(ctx, "root")
    assert "Admin" in at.radio(key="page").options and "Upload" in at.radio(key="page").options
    at.radio(key="page").set_value("Admin").run()
    assert not at.exception, at.exception
    text = page_text(at)
    assert "alice" in text and "root" in text
    assert "login" in text  # the audit tab lists root's own sign-in


def test_a_removed_user_is_signed_out_on_the_next_page_run(ctx: AppContext) -> None:
    at = signed_in(ctx, "alice")
    assert at.chat_input
    ctx.gate.parts.accounts().remove_user("alice")
    at.run()
    assert not at.chat_input and at.text_input(key="login_user") is not None
