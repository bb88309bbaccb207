"""Counting when a contract's term ends (rag/contract_clauses.py), on clauses and opening lines of real contracts
(../shared/eval/contracts-dev), and what must not be counted."""

from __future__ import annotations

from rag.contract_clauses import (
    KnownDate,
    OpenEnded,
    StatedEnd,
    TermEnd,
    count_term_end,
    governing_law,
    parse_date,
    read_governing_law,
    read_renewal,
    renewal_length,
    renewal_notice,
    term_length,
)

ASK = "When does the initial term of the Sponsorship Agreement between NPC and NCB end?"


def counted(clause: str, opening: str, question: str = ASK) -> str | None:
    found = count_term_end(question, [("npc", clause)], lambda i: [opening])
    return found.answer() if found is not None else None


def test_a_length_from_the_effective_date_counts_from_the_date_the_opening_defines() -> None:
    found = count_term_end(ASK, [("npc", "The term of this Agreement shall be five years commencing on the Effective "
                                          "Date and ending at the close of business on the fifth anniversary of the "
                                          "Effective Date.")],
                           lambda i: ['This Sponsorship Agreement is made between National Processing Company ("NPC") '
                                      'and National City Bank of Kentucky ("NCB") effective June 30, 1996 ("Effective '
                                      'Date"). WITNESSETH: WHEREAS, NCB is a bank.'])
    assert found is not None
    assert found.end == KnownDate(2001, 6, 30) and found.start == KnownDate(1996, 6, 30)
    assert (found.length_at, found.start_at) == (0, 1)  # the clause, then the opening (numbered after the passages)
    assert found.answer() == ("The initial term ends on June 30, 2001: it runs 5 years from the Effective Date "
                              "(June 30, 1996).")


def test_a_length_from_the_date_of_the_agreement_counts_from_the_day_it_was_made() -> None:
    assert counted("This Agreement shall become effective on the date first written above and shall continue in "
                   "effect for a period of Three (3) years.",
                   "THIS DISTRIBUTOR AGREEMENT (this “Agreement”) is made and effective as of1 August 2019, by and "
                   "between, B & C General Warehouse Corporation LLC") == (
        "The initial term ends on August 1, 2022: it runs 3 years from the date of the agreement (August 1, 2019).")
    assert counted('The term of this Agreement (the "Term") will begin on February 1, 1998 and end on the first '
                   "anniversary of the date of this Agreement; provided that either party may terminate it.",
                   "This Agreement is made and entered into as of January 26, 1998 by and between") == (
        "The initial term ends on January 26, 1999: it runs 1 year from the date of the agreement (January 26, 1998).")
    assert counted("the term of this Agreement shall be three years, commencing on the date of this Agreement and "
                   "expiring on the third anniversary date of this Agreement.",
                   "This Agreement is made as of the 20th day of March 2002, by and between Holiday RV") == (
        "The initial term ends on March 20, 2005: it runs 3 years from the date of the agreement (March 20, 2002).")


def test_a_date_left_blank_gives_the_end_as_far_as_it_is_known() -> None:
    assert counted("The initial term of this Agreement shall commence on the Effective Date and shall continue until "
                   "the fifth (5th) anniversary of the Effective Date (the “Term”).",
                   "THIS AGREEMENT (the “Agreement”) is effective as of , 2020 (the “Effective Date”), by and "
                   "between LIQUIDMETAL") == "The initial term ends in 2025: it runs 5 years from the Effective Date (2020)."
    # six months from a month left blank: the year is not known either
    assert counted("The term of this Agreement shall commence on the Effective Date and continue for six (6) months.",
                   'This Reseller Agreement is entered as of this ___ day of _________, 2004 ("Effective Date")') is None


def test_what_the_words_do_not_fix_is_not_counted() -> None:
    opening = 'This Agreement is made effective June 30, 1996 ("Effective Date").'
    # a length from an event the contract does not date
    assert counted("The initial term of this Agreement will begin on the Effective Date and end twelve (12) months "
                   "after the Launch (the “Term”).", opening) is None
    assert counted('This Agreement shall be effective as of the Effective Date and shall continue in force for three '
                   'years from the Launch Date (the "Initial Term").', opening) is None
    # a renewal's length is not the initial term's; no length (nor an open end); a start no text dates
    assert counted("Thereafter, the agreement shall automatically renew for successive five (5)-year terms from the "
                   "Effective Date.", opening) is None
    assert counted("Either party may terminate this Agreement on notice.", opening) is None
    assert counted("The initial term shall be five (5) years from the date of execution.",
                   "Strategic Alliance Agreement between Intricon Corporation and Dynamic Hearing Pty Ltd") is None
    # a question that does not ask when the term ends
    assert counted("The term shall be five years commencing on the Effective Date.", opening,
                   "Which state's law governs the agreement?") is None


def test_the_start_comes_from_the_same_contract_as_the_length() -> None:
    """Two contracts' passages side by side: the other contract's Effective Date is no start for this one's term."""
    passages = [("supply", "The term of this Agreement shall commence on the Effective Date and continue for an "
                           "initial period of five (5) years."),
                ("hosting", 'This Hosting Agreement is made as of December 13, 1999 ("Effective Date").')]
    assert count_term_end(ASK, passages) is None
    # nor is another contract's term clause, ranked below the contract asked about
    supply_opening = ['This Supply Agreement is made as of May 2, 2003 ("Effective Date").']
    assert count_term_end(ASK, [("hosting", "The Customer pays monthly."), *passages],
                          lambda i: supply_opening) is None
    found = count_term_end(ASK, passages, lambda i: supply_opening)
    assert found is not None and found.end == KnownDate(2008, 5, 2) and found.start_at == 2


def test_dates_as_contracts_write_them() -> None:
    assert parse_date("made as of the 1st day of January, 1997, by and") == KnownDate(1997, 1, 1)
    assert parse_date("DATED 15TH DECEMBER 2001") == KnownDate(2001, 12, 15)
    assert parse_date("entered into as of October 13, 2016, between") == KnownDate(2016, 10, 13)
    assert parse_date("as of ____, 2004") == KnownDate(2004)
    assert KnownDate(2000, 2, 29).plus(1, 0) == KnownDate(2001, 2, 28)
    assert term_length("This Agreement shall continue in full force and effect for twenty (20) years thereafter "
                       "from the Effective Date.") == (20, 0, "effective")


def test_a_term_that_runs_until_terminated_has_no_end_date() -> None:
    found = count_term_end(ASK, [("a", "9.1 Term. This Agreement shall become effective on the Effective Date and "
                                       "shall continue in effect until terminated in accordance with the provisions "
                                       "of this Article 9.")])
    assert isinstance(found, OpenEnded) and found.at == 0
    assert isinstance(count_term_end(ASK, [("a", "The term of this Agreement commences on the Effective Date and "
                                                 "continues in perpetuity, unless termination occurs.")]), OpenEnded)
    # a length anywhere wins: the initial term ends, whatever follows it
    found = count_term_end(ASK, [("a", "This Agreement shall continue until terminated by either party."),
                                 ("a", 'The initial term shall be two (2) years from the Effective Date. This '
                                       'Agreement is made as of May 2, 2003 ("Effective Date").')])
    assert isinstance(found, TermEnd) and found.end == KnownDate(2005, 5, 2)
    # an obligation that survives, or renewals, are no open-ended term
    assert count_term_end(ASK, [("a", "This Agreement shall survive and continue until terminated obligations are "
                                      "met.")]) is None
    assert count_term_end(ASK, [("a", "The Trust shall remain obligated to pay the fee until the shares are sold.")]) is None


def test_an_end_date_the_contract_writes_down_is_taken_as_written() -> None:
    found = count_term_end(ASK, [("a", '1.20. "Term" shall mean the Effective Date through June 15, 2001 and any '
                                       "Renewal Term.")])
    assert isinstance(found, StatedEnd) and found.end == KnownDate(2001, 6, 15)
    # a renewal's end is not the initial term's
    assert count_term_end(ASK, [("a", "This Agreement renews for one further year, through June 15, 2002.")]) is None
    found = count_term_end(ASK, [("a", "The term of this Agreement shall commence on January 1, 1997 and end on "
                                       "December 31, 2000."), ("a", "It renews for successive one-year terms.")])
    assert isinstance(found, StatedEnd) and found.end == KnownDate(2000, 12, 31) and found.at == 0
    assert found.answer() == "The initial term ends on December 31, 2000."
    # a date after "to" that is no end: the agreement it refers to
    assert count_term_end(ASK, [("a", "This Agreement is an amendment to the Agreement dated March 1, 2001.")]) is None


AUTO_RENEW = ("Thereafter, this Agreement shall automatically renew for subsequent one (1) year periods unless either "
              "party provides the other party with written notification at least thirty (30) days prior to the "
              "expiration of the initial five (5) year term or any one (1) year renewal term.")


def test_how_long_a_renewal_runs_and_the_notice_that_stops_it_are_read_from_the_renewal_clause() -> None:
    asks_length = "For how long does the License and Hosting Agreement between Corio and Changepoint renew?"
    asks_notice = "How much notice is needed to stop the License and Hosting Agreement from renewing?"
    found = read_renewal(asks_length, [("a", "The Customer pays monthly."), ("a", AUTO_RENEW)])
    assert found is not None and found.at == 1 and found.sentence == AUTO_RENEW
    assert found.answer() == "The agreement renews for successive periods of 1 year."
    found = read_renewal(asks_notice, [("a", AUTO_RENEW)])
    assert found is not None
    assert found.answer() == "Notice of at least 30 days before the end of the term is needed to stop it from renewing."
    assert renewal_notice('This Agreement shall automatically renew beyond the Initial Term for successive one (I) '
                          'year terms, unless a Party provides the other with written notice of termination at least '
                          'one hundred eighty (180) days prior to the expiration') == "180 days"
    assert renewal_length("7.2 This Agreement may be renewed for an additional term of ten (10) years by notice in "
                          "writing given by XFN to CEIS at the expiry of the Term.") == "a further 10 years"
    assert read_renewal("Which state's law governs it?", [("a", AUTO_RENEW)]) is None


def test_notice_about_something_else_is_not_the_notice_that_stops_a_renewal() -> None:
    """contracts-dev con-003: an insurer's notice of non-renewal of a policy was read as the agreement's (30 days;
    the agreement needs 180)."""
    insurance = ("Eutectix shall give thirty (30) days' prior written notice to Liquidmetal of cancellation, "
                 "non-renewal, or material change in coverage.")
    assert read_renewal("How much notice is needed to stop the Business Development Agreement from renewing?",
                        [("a", insurance)]) is None
    # another contract's renewal clause, ranked below the one asked about
    assert read_renewal("How much notice is needed to stop it from renewing?",
                        [("b", "The Customer pays monthly."), ("a", AUTO_RENEW)]) is None


def test_the_governing_law_is_the_place_named_after_the_laws_of() -> None:
    assert governing_law("THIS AGREEMENT SHALL BE GOVERNED BY, AND CONSTRUED AND INTERPRETED IN ACCORDANCE WITH, THE "
                         "LAW OF THE STATE OF NEW YORK.") == "New York"
    assert governing_law("This Agreement is governed by and construed in accordance with English law, save where "
                         "provided otherwise herein.") == "England"
    assert governing_law("This Agreement and its interpretation shall be governed by the laws of the United States "
                         "and, to the extent not inconsistent therewith, by the laws of the Commonwealth of Kentucky "
                         "without regard to conflicts of laws rules.") == "Kentucky"
    assert governing_law("This Agreement shall be construed and enforced in accordance with the laws of the State of "
                         "California, without regard to the conflict of law principles.") == "California"
    assert governing_law("The Agreement is governed by the laws in force in the Province of Ontario and the federal "
                         "laws of Canada applicable therein.") == "Ontario"
    # a party's state of incorporation, or laws that govern something else, name no governing law
    assert governing_law("Seller, a company governed by its board and organized under the laws of the State of "
                         "Delaware, agrees to sell.") is None
    assert governing_law("Distribution shall be subject to all United States laws and regulations governing the "
                         "export of technology.") is None
    found = read_governing_law("Which state's law governs the Hosting Agreement?",
                               [("a", "Notices go to the Seller at 1 Main Street, Austin, Texas."),
                                ("a", "This Agreement shall be governed by the laws of the State of California.")])
    assert found is not None and found.at == 1
    assert found.answer() == "The agreement is governed by the laws of California."
    assert read_governing_law("When does the term end?",
                              [("a", "This Agreement shall be governed by the laws of the State of California.")]) is None


def test_the_laws_thereof_are_those_of_the_state_the_agreement_was_made_in() -> None:
    """contracts-dev's HOLIDAYRVSUPERSTORES agreement: no reader found it, and the model's answer did not hold up."""
    assert governing_law("This Agreement has been made in the State of California and shall be governed by and "
                         "construed in accordance with the laws thereof without regard to principles of conflicts "
                         "of laws.") == "California"
    assert governing_law("The Company, a corporation of the State of Delaware, shall be governed by its bylaws.") is None


def test_the_laws_of_such_state_are_those_of_the_state_named_before() -> None:
    """contracts-dev's El Pollo Loco development agreement: its clause names the state once, then says "such state";
    the grid said "not found in this document"."""
    assert governing_law("This Agreement, after review by Developer and El Pollo Loco, was accepted in the state in "
                         "which Franchisor’s then-current headquarters (currently the State of California) is located "
                         "and shall be governed by and construed in accordance with the laws of such state, except "
                         "that the provisions in Section 20.1 shall be governed by the laws of the state in which the "
                         "breach occurs.") == "California"
    # "such state" with no state named before it names none
    assert governing_law("This Agreement shall be governed by the laws of such state as the parties agree.") is None
