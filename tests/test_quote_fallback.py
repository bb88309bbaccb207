"""When the model's answer fails the checks, the app quotes the passage sentence that answers, word for word: picked
by the cross-encoder over the question without the names of the agreement it was narrowed to."""

from pathlib import Path

from confidant.services import build_services
from confidant.settings import Settings
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
