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
