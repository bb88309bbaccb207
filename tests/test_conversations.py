"""Conversations kept on the server, per user (storage/conversations.py, the Workspace's conversation methods):
saved before the answer, the answer's text while it streams, the checked answer at the end, and each user's own.
The store runs on SQLite and on PostgreSQL; the streaming tests use the real embedded model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from confidant.access import AccessDenied
from confidant.services import Services, build_services
from confidant.settings import Settings
from rag.answering import Answer, Retrieved, Token
from rag.embedders import Embedder
from storage.conversations import ConversationNotFound, ConversationStore, title_from
from storage.records import FileResult
from tests.test_access import World, build_world

HR = {"collections": ["hr"]}


def test_store_keeps_turns_in_order_newest_conversation_first_and_each_owners_own(records: Engine) -> None:
    store = ConversationStore(records)
    first = store.create("alice", "What is the dental deductible?", HR)
    second = store.create("alice", "How many vacation days do I get?", HR)
    theirs = store.create("bob", "Who signs the supply contract?", {"collections": ["legal"]})
    turn = store.start_turn("alice", first.id, "What is the dental deductible?", "collections hr")
    store.write_partial("alice", first.id, turn, "The dental deduct")
    assert store.get("alice", first.id).turns[0].state == "asking"
    assert store.get("alice", first.id).turns[0].partial == "The dental deduct"
    store.finish_turn("alice", first.id, turn, {"answer": "It is $50 [1].", "citations": []})
    later = store.start_turn("alice", first.id, "And for a child?", "collections hr")
    store.interrupt_turn("alice", first.id, later, "For a ch")
    store.interrupt_turn("alice", first.id, turn)  # only a turn still asking can be interrupted: no change
    got = store.get("alice", first.id)
    assert [(t.question, t.state, t.partial) for t in got.turns] == [
        ("What is the dental deductible?", "answered", ""), ("And for a child?", "interrupted", "For a ch")]
    assert got.turns[0].answer == {"answer": "It is $50 [1].", "citations": []}
    # newest activity first: the first conversation was asked in after the second was made
    assert [c.id for c in store.list("alice")] == [first.id, second.id]
    assert [c.id for c in store.list("alice", "child")] == [first.id]  # a question asked in it
    assert [c.id for c in store.list("alice", "VACATION")] == [second.id]  # its title, any case
    assert store.list("alice", "100%_") == []  # LIKE wildcards are literal
    assert [c.id for c in store.list("bob")] == [theirs.id]
    for call in (lambda: store.get("bob", first.id), lambda: store.rename("bob", first.id, "mine"),
                 lambda: store.delete("bob", first.id), lambda: store.start_turn("bob", first.id, "q", ""),
                 lambda: store.rate_turn("bob", first.id, turn, "down")):
        with pytest.raises(ConversationNotFound):
            call()
    store.rename("alice", first.id, "Dental")
    store.rate_turn("alice", first.id, turn, "up")
    assert store.get("alice", first.id).title == "Dental"
    assert store.get("alice", first.id).turns[0].rating == "up"
    store.delete("alice", first.id)
    with pytest.raises(ConversationNotFound):
        store.get("alice", first.id)
    assert [c.id for c in store.list("alice")] == [second.id]


def test_a_title_is_the_first_question_on_one_line_cut_at_a_word() -> None:
    assert title_from("  What is\nthe deductible?  ") == "What is the deductible?"
    long = title_from("How many weeks of paid parental leave do employees receive after the adoption of a child "
                      "under the Northwind Health Plus plan?")
    assert len(long) <= 81 and long.endswith("…") and not long.endswith(" …")


def test_answer_json_round_trip_keeps_citations_and_passages(world: World) -> None:
    answer = world.workspace("alice").ask("What is the dental deductible?", ["hr"])
    back = Answer.from_json(answer.as_json())
    assert back.text == answer.text and back.declined == answer.declined and back.model == answer.model
    assert back.citations == answer.citations
    assert [p.chunk for p in back.passages] == [p.chunk for p in answer.passages]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("conversations"), embedder)
    yield w
    w.services.close()


def test_conversations_are_the_callers_own_and_refusals_are_audited(world: World) -> None:
    alice, bob, root = (world.workspace(n) for n in ("alice", "bob", "root"))
    mine = alice.start_conversation("What is the dental deductible?", HR)
    list(alice.stream_answer_in(mine.id, "What is the dental deductible?", HR))
    assert [c.id for c in alice.conversations()] == [mine.id]
    assert mine.id not in [c.id for c in bob.conversations()]
    refused = len(root.audit_events(user="bob", action="refused", limit=None))
    for call in (lambda: bob.conversation(mine.id), lambda: bob.rename_conversation(mine.id, "taken"),
                 lambda: bob.delete_conversation(mine.id),
                 lambda: list(bob.stream_answer_in(mine.id, "Who signs?", {"collections": ["legal"]}))):
        with pytest.raises(AccessDenied, match="no such conversation"):
            call()
    assert len(root.audit_events(user="bob", action="refused", limit=None)) == refused + 4
    assert alice.conversation(mine.id).title == "What is the dental deductible?"  # untouched
    with pytest.raises(AccessDenied):  # a reader of hr cannot start a conversation over legal
        alice.start_conversation("Who signs?", {"collections": ["legal"]})
    [created] = root.audit_events(user="alice", action="conversation_created", limit=1)
    assert created.collections == ("hr",)


def test_an_answer_from_a_collection_the_caller_lost_is_withheld(world: World) -> None:
    root = world.workspace("root")
    root.grant("alice", "legal")
    alice = world.workspace("alice")
    scope = {"collections": ["hr", "legal"]}
    talk = alice.start_conversation("Who signs the supply contract?", scope)
    list(alice.stream_answer_in(talk.id, "What is the indemnification cap?", scope))
    assert alice.conversation(talk.id).turns[0].answer is not None
    root.revoke("alice", "legal")
    alice = world.workspace("alice")
    [turn] = alice.conversation(talk.id).turns
    assert turn.state == "withheld" and turn.answer is None and turn.question == "What is the indemnification cap?"


# --- with the real model: the question is saved first, the answer at the end, and leaving stops the model --------
@pytest.fixture(scope="module")
def hr(hr_home: tuple[Path, list[FileResult]], embedder: Embedder, real_model: object) -> Iterator[Services]:
    s = build_services(Settings(home=hr_home[0]), embedder=embedder, chat_model=real_model)  # type: ignore[arg-type]
    yield s
    s.close()


@pytest.mark.slow
def test_the_question_is_kept_before_the_answer_and_the_answer_after_it(hr: Services) -> None:
    ws = hr.workspace()
    question = "What is the deductible for the Northwind Standard plan?"
    talk = ws.start_conversation(question, HR)
    events = ws.stream_answer_in(talk.id, question, HR)
    assert isinstance(next(events), Retrieved)
    [asking] = ws.conversation(talk.id).turns
    assert (asking.question, asking.state, asking.answer) == (question, "asking", None)
    answer = [e for e in events if isinstance(e, Answer)][0]
    [kept] = ws.conversation(talk.id).turns
    assert kept.state == "answered" and kept.id == (kept.answer or {}).get("turn_id")
    back = Answer.from_json(kept.answer or {})
    assert (back.text, back.citations, back.declined) == (answer.text, answer.citations, answer.declined)


@pytest.mark.slow
def test_leaving_mid_answer_keeps_what_was_written_and_stops_the_model(hr: Services, real_model: object) -> None:
    ws = hr.workspace()
    question = "Explain in detail everything the Northwind Health Plus plan covers for mental health."
    talk = ws.start_conversation(question, HR)
    events = ws.stream_answer_in(talk.id, question, HR)
    written = []
    for event in events:
        if isinstance(event, Token):
            written.append(event.text)
            if len(written) == 3:
                break
    events.close()  # what Streamlit does to the page's script when the person navigates away or reloads
    [turn] = ws.conversation(talk.id).turns
    assert turn.state == "interrupted" and turn.partial == "".join(written) and turn.answer is None
    # the model stopped: its one slot is free again after a few of the up to 512 tokens it may write
    decoded = stopped_slot(real_model)
    assert decoded < 64, f"the model wrote {decoded} tokens after the page was left"


def stopped_slot(model: object) -> int:
    """Wait until the embedded server's slot stops working; the most tokens it was seen to have written."""
    address, key = model.address, model.api_key  # type: ignore[attr-defined]
    most = 0
    for _ in range(120):
        [slot] = httpx.get(f"{address}/slots", headers={"Authorization": f"Bearer {key}"}).json()
        if not slot["is_processing"]:
            return most
        most = max(most, slot["next_token"][0]["n_decoded"])
        time.sleep(0.25)
    pytest.fail("the model was still writing 30 s after the page was left")
