"""Routing a question to the documents it names (rag/routing.py), on small real PDFs in a real index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confidant.services import Services
from rag.embedders import Embedder
from rag.routing import name_words, split_letters_digits
from storage.records import DocState
from tests.conftest import make_services
from tests.documents import make_pdf

BOILERPLATE = ("Each party shall keep the other's confidential information secret. Nothing in this agreement "
               "creates a partnership. Invoices are payable within thirty days. ")


def contract(kind: str, a: str, b: str, term: str, year: int) -> list[str]:
    return [f"{kind.upper()} AGREEMENT\nThis {kind} Agreement, dated 1 March {year}, is made between {a} and {b}. "
            f"{a} and {b} agree as follows. " + BOILERPLATE,
            f"Term. {term} Either party may stop the renewal by notice. " + BOILERPLATE,
            BOILERPLATE + "Northwind Audit reviews the invoices under this agreement every year. " + BOILERPLATE,
            f"IN WITNESS WHEREOF {a} and {b} sign this {kind} Agreement.\n{a}\nBy: ______\n{b}\nBy: ______"]


@pytest.fixture(scope="module")
def legal(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Services]:
    folder = tmp_path_factory.mktemp("legal")
    make_pdf(folder / "supply.pdf", contract("Supply", "Acme Widgets Inc.", "Borealis Foods LLC",
                                             "The agreement renews each year for one further year.", 1999))
    make_pdf(folder / "hosting.pdf", contract("Hosting", "Corio Inc.", "Changepoint Corp.",
                                              "The initial term ends on 31 March 2003.", 2001))
    make_pdf(folder / "hosting-renewal.pdf", contract("Hosting", "Corio Inc.", "Changepoint Corp.",
                                                      "The renewed term ends on 31 March 2006.", 2003))
    make_pdf(folder / "reseller.pdf", contract("Reseller", "Zephyr Labs Ltd.", "Quantum Retail GmbH",
                                               "The agreement renews for two years at a time.", 2002))
    make_pdf(folder / "handbook.pdf", ["Employee handbook of Zephyr Labs Ltd., audited by Northwind Audit. " +
                                       BOILERPLATE,
                                       "Leave. Employees receive sixteen weeks of paid parental leave.",
                                       BOILERPLATE, BOILERPLATE])
    services = make_services(tmp_path_factory.mktemp("legal-home"), embedder)
    results = services.pipeline.ingest([folder], "legal")
    assert [r.state for r in results] == [DocState.INDEXED] * 5, results
    yield services
    services.close()


def route(services: Services, question: str) -> tuple[list[str], str] | None:
    records = services.registry.documents("legal")
    assert services.retriever.router is not None
    found = services.retriever.router.route(question, records)
    if found is None:
        return None
    names = {r.id: r.file_name for r in records}
    return sorted(names[d] for d in found.document_ids), found.question


def test_names_are_capitalised_inside_a_sentence_or_hold_digits() -> None:
    assert name_words("What is the role of the Appeals Board? Role of FY2017 Adobe in 2021") == [
        "appeals", "board", "fy2017", "adobe", "2021"]
    assert split_letters_digits("FY2017 and Q3") == "FY 2017 and Q 3"


def test_a_question_naming_a_contract_searches_it_without_the_names(legal: Services) -> None:
    found = route(legal, "When does the initial term of the 2001 Hosting Agreement between Corio Inc. and "
                         "Changepoint end?")
    assert found is not None
    documents, question = found
    assert documents == ["hosting.pdf"]
    assert "Corio" not in question and "Changepoint" not in question and "initial term" in question
    [first, *_] = legal.retriever.search("When does the initial term of the 2001 Hosting Agreement between Corio "
                                         "Inc. and Changepoint end?", 5, ["legal"])
    assert (first.chunk.file_name, first.chunk.page) == ("hosting.pdf", 2)


def test_a_question_that_names_nothing_or_only_a_year_is_not_routed(legal: Services) -> None:
    assert route(legal, "How many weeks of parental leave do employees receive?") is None
    assert route(legal, "Which agreements were signed in 2001?") is None


def test_a_year_picks_among_the_documents_the_names_name(legal: Services) -> None:
    found = route(legal, "When does the renewed term of the 2003 Hosting Agreement between Corio Inc. and "
                         "Changepoint end?")
    assert found is not None and found[0] == ["hosting-renewal.pdf"]
    assert "2003" not in found[1]  # spent: the one named document holds it


def test_a_name_on_two_documents_routes_to_both(legal: Services) -> None:
    """Zephyr Labs is a party to the reseller agreement and the employer in the handbook."""
    question = "What does Zephyr Labs offer for parental leave?"
    found = route(legal, question)
    assert found is not None and found[0] == ["handbook.pdf", "reseller.pdf"]
    [first, *_] = legal.retriever.search(question, 5, ["legal"])
    assert (first.chunk.file_name, first.chunk.page) == ("handbook.pdf", 2)


def test_a_name_used_across_documents_does_not_route(legal: Services) -> None:
    """Northwind Audit is on one first page, but its passages are in every contract: it names no document."""
    assert route(legal, "How often does Northwind Audit review invoices?") is None



def test_the_question_asked_of_named_documents_is_the_question_without_their_names(legal: Services) -> None:
    named = legal.retriever.searched_question("When does the initial term of the 2001 Hosting Agreement between "
                                              "Corio Inc. and Changepoint end?", ["legal"])
    assert "Corio" not in named and "initial term" in named
    # a question routed by a name it keeps (the name is a small part of a long question) asks what it asks, as
    # written: its punctuation and hyphens stay for the sentences the answer's passages are cut to
    long = ("Which party's in-house reviews, audits and annual invoice checks does Zephyr Labs arrange, and how "
            "often, and who pays for them, and within how many days are the invoices payable?")
    assert route(legal, long) is not None
    assert legal.retriever.searched_question(long, ["legal"]) == long


COVER_TEXT = ("Indicate by check mark whether the registrant has filed all reports required to be filed by Section 13 "
              "or 15(d) of the Securities Exchange Act during the preceding twelve months, and whether it has been "
              "subject to such filing requirements for the past ninety days. Indicate by check mark whether the "
              "registrant is a large accelerated filer, an accelerated filer, a non-accelerated filer, a smaller "
              "reporting company or an emerging growth company. ")


@pytest.fixture(scope="module")
def filings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Services]:
    """Two filings of one company: the annual report's long cover gives its name once, the quarterly report's
    short cover five times; and two other companies' filings."""
    folder = tmp_path_factory.mktemp("filings")
    make_pdf(folder / "annual-report.pdf", ["ANNUAL REPORT\nKestrel Outfitters\nNew York Stock Exchange, "
                                            "Standard Industrial Classification 5661\n" + COVER_TEXT * 5,
                                            "Revenues rose to 4.1 billion dollars, led by footwear.", BOILERPLATE,
                                            "New accounting standards. The lease standard had no material effect.",
                                            "The revenue standard changed when licence revenues are recognised."])
    make_pdf(folder / "quarterly-report.pdf", ["QUARTERLY REPORT of Kestrel Outfitters. Kestrel Outfitters, "
                                               "Kestrel Outfitters and Kestrel Outfitters, Kestrel Outfitters.",
                                               "Quarterly revenues were 1.2 billion dollars.", BOILERPLATE])
    for name, company in (("lumen.pdf", "Lumen Harbour Shipping"), ("orchid.pdf", "Orchid Valley Mills")):
        make_pdf(folder / name, [f"ANNUAL REPORT\n{company}\n" + COVER_TEXT,
                                 "Revenues fell to 800 million dollars.", BOILERPLATE])
    make_pdf(folder / "benefit-options.pdf", ["BENEFIT OPTIONS\nChoosing your medical plan for next year.",
                                              "Northwind Standard costs 45 dollars per paycheck for an employee "
                                              "with one dependent.",
                                              "Northwind Standard covers preventive care in network."])
    services = make_services(tmp_path_factory.mktemp("filings-home"), embedder)
    results = services.pipeline.ingest([folder], "filings")
    assert [r.state for r in results] == [DocState.INDEXED] * 5, results
    yield services
    services.close()


def test_a_document_that_names_the_company_once_is_as_named_as_one_that_repeats_it(filings: Services) -> None:
    """Word counts say how much a page is about a name, not whether it names it: the long annual-report cover
    that gives the company's name once is one of the company's documents all the same."""
    records = filings.registry.documents("filings")
    assert filings.retriever.router is not None
    found = filings.retriever.router.route("What were Kestrel Outfitters' revenues?", records)
    assert found is not None
    names = {r.id: r.file_name for r in records}
    assert sorted(names[d] for d in found.document_ids) == ["annual-report.pdf", "quarterly-report.pdf"]


def test_a_name_only_another_documents_inner_pages_hold_does_not_route_to_a_cover_that_shares_a_word(
        filings: Services) -> None:
    """Tried in the app with a benefits booklet beside an annual report: "Northwind Standard" is on no first page
    (the booklet's cover says "Benefit options"), "Standard" is on the annual report's cover — the question was
    routed to the annual report alone and declined. A name the question gives that another document uses inside it
    keeps the search on every document."""
    question = "How much does Northwind Standard cost per paycheck for an employee with one dependent?"
    records = filings.registry.documents("filings")
    assert filings.retriever.router is not None
    assert filings.retriever.router.route(question, records) is None
    [first, *_] = filings.retriever.search(question, 5, ["filings"])
    assert (first.chunk.file_name, first.chunk.page) == ("benefit-options.pdf", 2)
