"""When the model's answer fails the checks, the app quotes the passage sentence that answers, word for word: picked
by the cross-encoder over the question without the names of the agreement it was narrowed to."""

from pathlib import Path

import pytest

from confidant.services import build_services
from confidant.settings import Settings
from rag.answering import RESTATED
from rag.citations import only_restates, split_sentences
from rag.embedders import Embedder
from tests.documents import make_pdf
from tests.fakes import ScriptedModel


def test_a_failed_answer_is_replaced_by_the_clause_that_answers(tmp_path: Path, embedder: Embedder) -> None:
    wrong = ScriptedModel("The Consulting Agreement between Acme Widgets Inc. and Beta Analytics LLC is governed by "
                          "the laws of the State of Delaware [1].")
    # the model's wrong answer and its fallback (the governing-law reader would answer without the model)
    services = build_services(Settings(home=tmp_path / "home", answer_from_clauses=False), embedder=embedder,
                              chat_model=wrong)
    try:
        make_pdf(tmp_path / "consulting.pdf", [
            "CONSULTING AGREEMENT. This Consulting Agreement is entered into as of January 1, 2020 by and between "
            "Acme Widgets Inc. and Beta Analytics LLC. The Consultant shall provide data analysis services.",
            "Payment. Acme Widgets Inc. shall pay the Consultant 150 dollars per hour within thirty days of invoice.",
            "Miscellaneous. This Agreement shall be governed by and construed in accordance with the laws of the "
            "State of Texas. Each party shall bear its own costs. Notices shall be given in writing.",
        ])
        make_pdf(tmp_path / "lease.pdf", ["Office lease. The tenant pays rent monthly. The lease is governed by the "
                                          "laws of the State of Ohio."] * 3)
        services.pipeline.ingest([tmp_path / "consulting.pdf", tmp_path / "lease.pdf"], "legal")
        answer = services.workspace().ask(
            "Which jurisdiction's law governs the Consulting Agreement between Acme Widgets Inc. and Beta Analytics "
            "LLC?", ["legal"])
        assert answer.quoted and not answer.declined, answer.text
        assert answer.unsupported and "Delaware" not in answer.text
        assert answer.text.startswith("The documents say: “") and "laws of the State of Texas" in answer.text
        (citation,) = answer.citations
        assert citation.chunk.file_name == "consulting.pdf" and citation.chunk.page == 3
    finally:
        services.close()


def test_an_answer_that_gives_no_time_to_a_when_question_is_not_shown(tmp_path: Path, embedder: Embedder) -> None:
    """Seen with the default model on a hosting agreement: asked when the initial term ends, it wrote that the term
    "ends on 10.1. or 10.2 of this Agreement" — words of the clause, every number in it, and no date. Not an
    answer: the clause on the term is quoted instead."""
    garbled = ScriptedModel("The initial term of this agreement ends on 10.1. or 10.2 of this Agreement (the "
                            "Initial Term) [1].")
    services = build_services(Settings(home=tmp_path / "home", answer_from_clauses=False), embedder=embedder,
                              chat_model=garbled)
    try:
        make_pdf(tmp_path / "hosting.pdf", [
            "SERVICES AND HOSTING AGREEMENT. This Agreement is made on March 14, 2018 between Vega Inc. and Orion "
            "LLC. Orion shall host the services described in Exhibit A.",
            "10. Term. 10.1 This Agreement begins on the Effective Date and continues for one (1) year, unless "
            "terminated earlier under Section 10.2 of this Agreement (the Initial Term). 10.2 Either party may "
            "terminate this Agreement for material breach on thirty (30) days written notice.",
        ])
        services.pipeline.ingest([tmp_path / "hosting.pdf"], "legal")
        answer = services.workspace().ask("When does the initial term of this agreement end?", ["legal"])
        assert "ends on 10.1" not in answer.text
        assert answer.quoted or answer.declined, answer.text
        if answer.quoted:
            assert "one (1) year" in answer.text, answer.text
    finally:
        services.close()


def test_an_answer_that_only_says_the_question_back_is_not_shown(tmp_path: Path, embedder: Embedder) -> None:
    """hr-001 with the default model: "Contoso offers balance billing protection [1]." — cited, every word in the
    passage, and nothing the question did not already say. The sentence that answers is quoted instead."""
    echo = ScriptedModel("Contoso offers balance billing protection [1].")
    services = build_services(Settings(home=tmp_path / "home"), embedder=embedder, chat_model=echo)
    try:
        make_pdf(tmp_path / "benefits.pdf", [
            "Balance Billing Protection. Contoso offers balance billing protection through the Northwind Standard "
            "plan. It protects employees from unexpected costs when they visit in-network providers, who may not "
            "bill you for the difference between their charge and the allowed amount.",
            "Vision care. Eye exams are covered once a year. Frames and lenses are reimbursed up to 150 dollars.",
        ])
        services.pipeline.ingest([tmp_path / "benefits.pdf"], "hr")
        answer = services.workspace().ask("What protection does Contoso offer against balance billing?", ["hr"])
        assert answer.quoted and answer.message.startswith(RESTATED), (answer.text, answer.message)
        assert answer.unsupported == ["Contoso offers balance billing protection."]
        assert answer.text.startswith("The documents say: “") and "Contoso offers balance billing protection" \
            not in answer.text.removeprefix("The documents say: “")[:40], answer.text
        (citation,) = answer.citations
        assert citation.chunk.page == 1
    finally:
        services.close()


@pytest.mark.parametrize(("question", "answer"), [
    ("What protection does Contoso offer against balance billing?", "Contoso offers balance billing protection [1]."),
    ("How can a policyholder in North Carolina utilize the appeals process and the North Carolina Department of "
     "Insurance to address coverage disputes and misleading statements about Northwind Health plans?",
     "To address coverage disputes and misleading statements about Northwind Health plans, policyholders in North "
     "Carolina can utilize the appeals process and the North Carolina Department of Insurance [2][3]."),
])
def test_a_sentence_that_says_the_question_back_is_caught(question: str, answer: str) -> None:
    assert only_restates(split_sentences(answer), question)


@pytest.mark.parametrize(("question", "answer"), [
    # one word the question lacks is something said
    ("What protection does Contoso offer against balance billing?",
     "Contoso offers balance billing protection for in-network visits [1]."),
    # a number, a "not", a yes to a yes-or-no question, the place a which-law question asks for
    ("What is the copay for specialist visits?", "The copay for specialist visits is $50 [1]."),
    ("For how long does the Business Development Agreement between Liquidmetal and Eutectix renew?",
     "The Business Development Agreement between Liquidmetal and Eutectix does not renew [1]."),
    ("Does the Northwind Standard plan cover home health care?", "The Northwind Standard plan covers home health "
     "care [1]."),
    ("Which jurisdiction's law governs the Sponsorship Agreement between National Processing Company and National "
     "City Bank of Kentucky?", "The agreement is governed by the laws of Kentucky [1]."),
    ("Who approves the leave requests of a manager's team?", "The manager approves the leave requests [1]."),
])
def test_a_sentence_that_adds_to_the_question_is_not_caught(question: str, answer: str) -> None:
    assert not only_restates(split_sentences(answer), question)
