"""Answering: retrieve → prompt → stream from a local model → verify and link citations → an Answer value."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rag.cases import Case, quote_cases, unscoped_case
from rag.chat import ChatModel, ModelFailed, ModelUnavailable
from rag.citations import (
    CheckedAnswer,
    answers_place_question,
    answers_time_question,
    asks_for_place,
    asks_for_time,
    check_answer,
    content_words,
    figure_share,
    only_restates,
    split_sentences,
)
from rag.contract_clauses import (
    ClauseAnswer,
    OpenEnded,
    StatedEnd,
    clause_query,
    count_term_end,
    on_the_clause,
    read_governing_law,
    read_renewal,
)
from rag.embedders import Embedder, embedding_text
from rag.follow_up import is_follow_up, retrieval_query, standalone_question
from rag.prompting import DECLINE_TEXT, SentenceScores, build_messages, says_it_cannot_answer
from rag.retriever import Mode
from rag.routing import without_names
from storage.records import Chunk, ScoredChunk

Search = Callable[[str, int], list[ScoredChunk]]

QUOTE_MIN_WORDS = 4
QUOTE_MAX_CHARS = 500  # a longer "sentence" is a run of headings, definitions or table text, not an answer
QUOTE_MAX_FIGURES = 0.2  # share of table cells above which a "sentence" is a table read as text
OFF_THE_QUESTION = "The model's answer does not say which state's or country's law or courts apply, so it is not shown."
OFF_THE_TIME = "The model's answer does not say when, for how long or with how much notice, so it is not shown."
FROM_CLAUSES = "read from the contract's clauses, no model"  # what answered, for an answer the readers gave
QUOTED_INSTEAD = "this is the sentence of the passages closest to your question, word for word."
QUOTED = f"The model's answer did not hold up against the passages, so it is not shown; {QUOTED_INSTEAD}"
CASES = ("The model's answer gave what the documents say for one case without saying which case it is, so it is not "
         "shown; here is each case in the documents' own words.")
RESTATED = "The model's answer only says the question back, so it is not shown"


@dataclass(frozen=True)
class Citation:
    n: int
    chunk: Chunk

    def as_json(self) -> dict[str, object]:
        c = self.chunk
        return {"n": self.n, "file": c.file_name, "page": c.page, "start": c.start, "end": c.end, "text": c.text,
                "document_id": c.document_id, "collection": c.collection, "index": c.index}

    @staticmethod
    def chunk_from_json(data: dict[str, object]) -> Chunk:
        return Chunk(str(data["document_id"]), str(data["collection"]), str(data["file"]), int(data["page"]),  # type: ignore[call-overload]
                     int(data["start"]), int(data["end"]), str(data["text"]), int(data.get("index", 0)))  # type: ignore[call-overload]


@dataclass
class Answer:
    question: str
    text: str
    declined: bool
    model: str
    passages: list[ScoredChunk]
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # sentences no passage supports
    message: str = ""  # shown to the user: why there is no answer, or what was corrected
    raw_text: str = ""  # what the model wrote, before citations were checked
    timings: dict[str, float] = field(default_factory=dict)
    quoted: bool = False  # the text is a passage sentence word for word: the model's own answer failed the checks
    asked_as: str = ""  # a follow-up as the model rewrote it to stand alone (what was searched and answered)
    quote: str = ""  # the passage's own words the answer was read from (a clause reader's sentence, or the quote shown)

    def as_json(self) -> dict[str, object]:
        return {
            "question": self.question, "asked_as": self.asked_as, "answer": self.text, "declined": self.declined,
            "quoted": self.quoted, "quote": self.quote,
            "model": self.model,
            "message": self.message, "unsupported": self.unsupported,
            "citations": [c.as_json() for c in self.citations],
            "passages": [{"n": n, "score": round(p.score, 4), **Citation(n, p.chunk).as_json()}
                         for n, p in enumerate(self.passages, start=1)],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Answer:
        """The answer as `as_json` wrote it (a conversation read back from the records database)."""
        def items(key: str) -> list[dict[str, object]]:
            value = data.get(key) or []
            return list(value) if isinstance(value, list) else []

        return cls(
            question=str(data.get("question", "")), text=str(data.get("answer", "")),
            declined=bool(data.get("declined")), model=str(data.get("model", "")),
            passages=[ScoredChunk(Citation.chunk_from_json(p), float(p.get("score", 0.0)))  # type: ignore[arg-type]
                      for p in items("passages")],
            citations=[Citation(int(c["n"]), Citation.chunk_from_json(c)) for c in items("citations")],  # type: ignore[call-overload]
            unsupported=[str(s) for s in items("unsupported")], message=str(data.get("message", "")),
            timings={str(k): float(v) for k, v in dict(data.get("timings") or {}).items()},  # type: ignore[call-overload]
            quoted=bool(data.get("quoted")), asked_as=str(data.get("asked_as", "")), quote=str(data.get("quote", "")))


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Retrieved:
    passages: list[ScoredChunk]


AnswerEvent = Retrieved | Token | Answer


def _without_names(question: str) -> str:
    """The question for ranking a document's sentences: the names pick the document; within it they only point at
    its title lines (kept when little else is left)."""
    unnamed = without_names(question)
    return unnamed if len(content_words(unnamed)) >= 2 else question


@dataclass(frozen=True)
class AnswerOptions:
    """How answers are made; built from Settings by the wiring (confidant/services.py), so it has no defaults of its
    own that could disagree with them."""

    k: int  # passages given to the model
    min_relevance: float  # below this similarity of the best passage, decline without asking the model
    max_tokens: int  # most tokens the model writes for one answer
    passage_chars: int  # >0: each passage in the prompt cut to about this many characters around its best sentences
    cut_with_ranker: bool  # cut around the sentence ranker's best sentence rather than the embedding's
    from_clauses: bool  # standard contract questions read from the contract's clauses (rag/contract_clauses.py)


class Answerer:
    def __init__(self, search: Search, model: ChatModel | None, embedder: Embedder | None, options: AnswerOptions, *,
                 searched_question: Callable[[str], str] | None = None, quote_fallback: bool = True,
                 rank_sentences: Callable[[str, list[str]], Sequence[float]] | None = None,
                 opening: Callable[[Chunk], list[Chunk]] | None = None,
                 search_document: Callable[[Chunk, str, int, Mode], list[ScoredChunk]] | None = None,
                 around: Callable[[Chunk], list[Chunk]] | None = None) -> None:
        self.search = search
        # search one passage's document only, in one mode (a clause by its wording)
        self.search_document = search_document
        self.opening = opening  # the first page's passages of a passage's document (where its date is written)
        # the passages either side of one in its document: where the other cases of a fact it gives are written
        # ("In-Network Copays: …" just before "Out-of-Network Copays: …")
        self.around = around
        # the question as the search read it (without the names of the documents it was narrowed to): what the
        # prompt's passages are cut around, so a contract's own clause is kept rather than its title line
        self.searched_question = searched_question
        # when every sentence of the model's answer fails the checks: quote the passage sentence closest to the
        # question instead of declining (the model thought the passages answer it; its wording did not hold up)
        self.quote_fallback = quote_fallback
        self.rank_sentences = rank_sentences  # relevance of sentences to a question, for the quote (a cross-encoder)
        self.model = model
        self.embedder = embedder
        self.options = options
        self.k = options.k
        self.min_relevance = options.min_relevance
        self.max_tokens = options.max_tokens
        self.passage_chars = options.passage_chars  # >0: each passage in the prompt cut to its most relevant sentences
        self.cut_with_ranker = options.cut_with_ranker  # the passages cut around rank_sentences' best sentence too

    def _sentence_scores(self, question: str) -> SentenceScores:
        """Relevance of sentences to the question: the sentence ranker when cutting with it, else embedding
        similarity, or shared words without an embedder."""
        rank = self.rank_sentences
        if self.cut_with_ranker and rank is not None:
            asked = _without_names(question)
            return lambda sentences: [float(v) for v in rank(asked, list(sentences))]
        embedder = self.embedder
        if embedder is not None:
            query = np.asarray(embedder.embed_query(question)).ravel()
            return lambda sentences: [float(v) for v in np.asarray(embedder.embed_documents(sentences)) @ query]
        words = set(re.findall(r"\w+", question.lower()))
        return lambda sentences: [len(words & set(re.findall(r"\w+", s.lower()))) for s in sentences]

    def quote(self, question: str, passages: Sequence[ScoredChunk]) -> tuple[int, str] | None:
        """The passage sentence closest to the question (passage number, sentence), verbatim; sentences of fewer than
        QUOTE_MIN_WORDS content words (headings, signature lines) are never quoted, nor are those that do not read
        as a sentence: longer than QUOTE_MAX_CHARS, or table rows (more than QUOTE_MAX_FIGURES of their words
        figures). Asked which state's law governs, only a sentence naming a state or country and speaking of law is
        quoted; asked when a term ends or how it renews, only a sentence about the term or the renewal."""
        candidates = [(n, s) for n, p in enumerate(passages, start=1)
                      for s in split_sentences(" ".join(p.chunk.text.split()))
                      if len(content_words(s)) >= QUOTE_MIN_WORDS and len(s) <= QUOTE_MAX_CHARS
                      and figure_share(s) <= QUOTE_MAX_FIGURES]
        if asks_for_place(question):
            candidates = [(n, s) for n, s in candidates if answers_place_question(question, s)]
        candidates = [(n, s) for n, s in candidates if on_the_clause(question, s)]
        if not candidates:
            return None
        sentences = [s for _, s in candidates]
        question = _without_names(question)
        scores = (self.rank_sentences(question, sentences) if self.rank_sentences is not None
                  else self._sentence_scores(question)(sentences))
        return candidates[max(range(len(candidates)), key=lambda i: scores[i])]

    def _focus(self, question: str, query: str) -> str:
        """What the passages are cut around: the question, or, when the search narrowed it to the documents it
        names, the question without those names."""
        if self.searched_question is None:
            return question
        searched = self.searched_question(query)
        return searched if searched != query else question

    def model_name(self) -> str:
        return self.model.name if self.model is not None else "no model"

    def ask(self, question: str, history: Sequence[str] = (), instructions: str = "") -> Answer:
        for event in self.stream(question, history, instructions):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def stream(self, question: str, history: Sequence[str] = (), instructions: str = "") -> Iterator[AnswerEvent]:
        """Yield the passages first, then answer tokens as they come, then the checked Answer."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        asked, query = question, retrieval_query(question, history)
        if self.model is not None and is_follow_up(question, history):
            standalone = standalone_question(self.model, question, history)
            timings["rewrite_ms"] = (time.perf_counter() - started) * 1000
            if standalone is not None:
                asked = query = standalone
        searching = time.perf_counter()
        passages = self.search(query, self.k)
        timings["retrieve_ms"] = (time.perf_counter() - searching) * 1000
        yield Retrieved(passages)
        model_name = self.model.name if self.model is not None else "none"
        similarity = max((p.similarity for p in passages if p.similarity is not None), default=0.0)
        focus = self._focus(asked, query)
        # a question that names its documents is about them: their closest passages go to the model (and the checks)
        # even when a clause is worded far from the question; the floor is for questions no document is close to
        named = focus != asked
        as_asked = asked if asked != question else ""
        if (similarity < self.min_relevance and not (named and passages)
                and self._similarity_by_words_alone(query, passages) < self.min_relevance):
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            yield Answer(question, DECLINE_TEXT, True, model_name, passages, asked_as=as_asked, timings=timings,
                         message="No passage in the documents is relevant to this question.")
            return
        counted = self.read_contract_clause(question, asked, passages, FROM_CLAUSES) if self.options.from_clauses else None
        if counted is not None:
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            counted.timings, counted.asked_as = timings, as_asked
            yield Token(counted.text)
            yield counted
            return
        if self.model is None:
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            yield Answer(question, "", False, model_name, passages, timings=timings,
                         message="No language model is available; here are the most relevant passages.")
            return
        pieces: list[str] = []
        message = ""
        try:
            messages = build_messages(asked, passages, instructions, budget_chars=self.passage_chars,
                                      scores=self._sentence_scores(focus)
                                      if self.passage_chars > 0 else None)
            timings["prompt_ready_ms"] = (time.perf_counter() - started) * 1000
            for piece in self.model.stream(messages, max_tokens=self.max_tokens):
                if not pieces:
                    timings["first_token_ms"] = (time.perf_counter() - started) * 1000
                pieces.append(piece)
                yield Token(piece)
        except ModelUnavailable as exc:
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            yield Answer(question, "", False, model_name, passages, timings=timings,
                         message=f"No language model could answer ({exc}). Here are the most relevant passages.")
            return
        except ModelFailed as exc:
            message = f"The model stopped mid-answer ({exc}); the answer may be incomplete."
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        answer = self._finish(question, "".join(pieces), passages, model_name, message, timings, focus, asked)
        answer.asked_as = as_asked
        yield answer

    def _similarity_by_words_alone(self, query: str, passages: Sequence[ScoredChunk]) -> float:
        """The best similarity to the question among the passages that keyword search alone found, which carry none
        (all of them for a document still waiting for its vectors: without this its questions were declined as
        having no relevant passage), measured now."""
        unscored = [p for p in passages if p.similarity is None]
        if not unscored or self.embedder is None:
            return 0.0
        question = self.embedder.embed_query(query)
        vectors = self.embedder.embed_documents([embedding_text(p.chunk) for p in unscored])
        return float(np.max(vectors @ question))

    def read_contract_clause(self, question: str, asked: str, passages: list[ScoredChunk], model: str) -> Answer | None:
        """The standard contract questions answered from the contract's own clauses (rag/contract_clauses.py): when
        the initial term ends (counted, both sentences cited), for how long it renews, how much notice stops the
        renewal, which law governs. When the passages found for the question do not hold the clause, the clause is
        looked up by its usual wording in the first-ranked contract (a question full of the parties' names finds
        their preamble and signature pages first). None when the contract's words do not fix the answer (the model
        is asked as usual)."""
        found = self._read_clause(question, asked, passages, model)
        query = clause_query(asked)
        if found is not None or query is None or not passages or self.search_document is None:
            return found
        # by its words first: the clause is one sentence of its passage, whose meaning (its vector) is mostly the
        # sentences around it, so hybrid search shows the page by a neighbouring passage (seen: "This Agreement shall
        # be governed by the laws of the State of Texas" inside a passage about assignment, on a page whose
        # severability passage is nearer the wording's meaning)
        seen = {(p.chunk.document_id, p.chunk.index) for p in passages}
        more: list[ScoredChunk] = []
        modes: tuple[Mode, ...] = ("keyword", "hybrid")
        for mode in modes:
            for hit in self.search_document(passages[0].chunk, query, self.k, mode):
                if (hit.chunk.document_id, hit.chunk.index) not in seen:
                    seen.add((hit.chunk.document_id, hit.chunk.index))
                    more.append(hit)
        found = self._read_clause(question, asked, [*passages, *more], model) if more else None
        if found is not None:  # the looked-up passages after the one cited are not shown
            found.passages = found.passages[:max([len(passages), *(c.n for c in found.citations)])]
        return found

    def _read_clause(self, question: str, asked: str, passages: list[ScoredChunk], model: str) -> Answer | None:
        openings: dict[int, list[Chunk]] = {}

        def opening(i: int) -> list[str]:
            openings[i] = self.opening(passages[i].chunk) if self.opening is not None else []
            return [c.text for c in openings[i]]

        documents = [(f"{p.chunk.collection}/{p.chunk.document_id}", p.chunk.text) for p in passages]
        found = (count_term_end(asked, documents, opening) or read_renewal(asked, documents)
                 or read_governing_law(asked, documents))
        if found is None:
            return None
        if isinstance(found, StatedEnd | OpenEnded | ClauseAnswer):
            text = f"{found.answer().removesuffix('.')} [{found.at + 1}]."
            return Answer(question, text, False, model, passages, [Citation(found.at + 1, passages[found.at].chunk)],
                          message="Taken from the contract's own words, not written by the model: "
                          f"“{found.sentence}” [{found.at + 1}]", raw_text=text, quote=found.sentence)
        shown = list(passages)
        start_n = found.start_at + 1
        if found.start_at >= len(passages):
            shown.append(ScoredChunk(openings[found.length_at][found.start_at - len(passages)], 0.0))
            start_n = len(shown)
        cited = list(dict.fromkeys([found.length_at + 1, start_n]))
        text = f"{found.answer().removesuffix('.')} {''.join(f'[{n}]' for n in cited)}."
        quotes = [f"“{found.length_sentence}” [{found.length_at + 1}]"]
        if start_n != found.length_at + 1:
            quotes.append(f"“{found.start_sentence}” [{start_n}]")
        return Answer(question, text, False, model, shown, [Citation(n, shown[n - 1].chunk) for n in cited],
                      message="Counted from the contract's own words, not written by the model: "
                      + " and ".join(quotes), raw_text=text,
                      quote=" … ".join(dict.fromkeys([found.length_sentence, found.start_sentence])))

    def _finish(self, question: str, raw: str, passages: list[ScoredChunk], model: str, message: str,
                timings: dict[str, float], focus: str = "", asked: str = "") -> Answer:
        """Check the model's reply against the passages it was given (numbered [1..n] in the prompt) and the
        question it was asked (`asked`: a follow-up made standalone)."""
        if not raw.strip() or says_it_cannot_answer(raw):
            return Answer(question, DECLINE_TEXT, True, model, passages, raw_text=raw, timings=timings,
                          message=message or "The documents do not answer this question; the closest passages are below.")
        checked = check_answer(raw, passages, self.embedder, asked or question)
        held = [s for s in checked.sentences if s.supported]
        cases, passages = self._drop_unscoped(checked, passages, asked or question)
        unscoped = [s for s in held if not s.supported]
        # "Which state's law governs …?" is not answered by a sentence that names no state or country (the
        # arbitration body, a definition of "Applicable Law"), however well its words match a passage
        # (whether or not its sentences held up: a sentence naming the law of a place the passages give only as
        # an address is unsupported, not off the question)
        off_the_question = (bool(checked.sentences) and asks_for_place(asked or question)
                            and not any(answers_place_question(asked or question, s.text)
                                        for s in checked.sentences))
        # likewise "When does the initial term end?" is not answered by "it ends on 10.1 or 10.2 of this Agreement"
        off_the_time = (bool(checked.sentences) and asks_for_time(asked or question)
                        and not any(answers_time_question(s.text) for s in checked.sentences))
        # the answer's first claim gave one case's value: the cases are the answer, what else held up follows
        if cases and (not checked.cited or held[0] in unscoped):
            shown = [f"“{c.context}” [{c.passage}]" for c in cases]
            numbers = list(dict.fromkeys([c.passage for c in cases] + checked.cited))
            text = "The documents say, for different cases: " + " and ".join(shown)
            text += f". {checked.text}" if checked.text else ""
            return Answer(question, text, False, model, passages,
                          [Citation(n, passages[n - 1].chunk) for n in numbers],
                          checked.unsupported, CASES, raw, timings, quoted=True,
                          quote=" … ".join(c.context for c in cases))
        # "What protection does Contoso offer against balance billing?" is not answered by "Contoso offers balance
        # billing protection [1]", however well it is cited
        held_up = [s.text for s in checked.sentences if s.supported]
        restated = bool(checked.cited) and only_restates(held_up, asked or question)
        if not checked.cited or off_the_question or off_the_time or restated:
            unsupported = checked.unsupported + (held_up if off_the_question or off_the_time or restated else [])
            quote = self.quote(focus or question, passages) if self.quote_fallback else None
            if quote is not None:
                n, sentence = quote
                return Answer(question, f"The documents say: “{sentence}” [{n}]", False, model, passages,
                              [Citation(n, passages[n - 1].chunk)], unsupported,
                              f"{RESTATED}; {QUOTED_INSTEAD}" if restated else QUOTED, raw, timings,
                              quoted=True, quote=sentence)
            return Answer(question, DECLINE_TEXT, True, model, passages, raw_text=raw, timings=timings,
                          unsupported=unsupported,
                          message=OFF_THE_QUESTION if off_the_question else OFF_THE_TIME if off_the_time else
                          f"{RESTATED}." if restated else
                          "The model's answer is not supported by any passage, so it is not shown.")
        citations = [Citation(n, passages[n - 1].chunk) for n in checked.cited]
        notes = [message] if message else []
        if len(checked.unsupported) > len(unscoped):
            notes.append(f"{len(checked.unsupported) - len(unscoped)} sentence(s) of the model's answer were left "
                         "out: no passage supports them.")
        if unscoped:
            notes.append(f"{len(unscoped)} sentence(s) of the model's answer were left out: they give what the "
                         "documents say for one case without saying which.")
        return Answer(question, checked.text, False, model, passages, citations, checked.unsupported,
                      " ".join(notes), raw, timings)

    def _drop_unscoped(self, checked: CheckedAnswer, passages: list[ScoredChunk],
                       question: str) -> tuple[list[Case], list[ScoredChunk]]:
        """Mark unsupported each sentence that gives one case's value without saying which case (rag/cases.py),
        the other cases looked for in the passages and in the text either side of the passages it cites. Returns
        the cases to quote for the first such sentence (none when there is none), and the passages with those a
        quoted case comes from added."""
        texts = [(p.chunk.document_id, p.chunk.text) for p in passages]
        cases: list[Case] = []
        nearby: dict[int, list[Chunk]] = {}
        for sentence in checked.sentences:
            if not sentence.supported:
                continue
            found = unscoped_case(sentence.text, texts, question)
            if found is None and self.around is not None:
                more = _nearby(self.around, sentence.cited, passages, nearby)
                found = unscoped_case(sentence.text, texts + [(c.document_id, c.text) for c in more], question)
                if found is not None and not cases:
                    cases = quote_cases(*found)
                    shown, renumbered = list(passages), []
                    for case in cases:  # a case from the text around a passage: shown after the passages
                        if case.passage > len(passages):
                            shown.append(ScoredChunk(more[case.passage - len(passages) - 1], 0.0))
                            case = replace(case, passage=len(shown))
                        renumbered.append(case)
                    cases, passages = renumbered, shown
                    texts = [(p.chunk.document_id, p.chunk.text) for p in passages]
            if found is not None:
                sentence.supported, sentence.cited = False, []
                cases = cases or quote_cases(*found)
        return cases, passages


def _nearby(around: Callable[[Chunk], list[Chunk]], cited: Sequence[int], passages: Sequence[ScoredChunk],
            cache: dict[int, list[Chunk]]) -> list[Chunk]:
    """The passages either side of the cited ones (1-based), not among `passages`."""
    have = {(p.chunk.document_id, p.chunk.index) for p in passages}
    out: list[Chunk] = []
    for n in cited:
        if n not in cache:
            cache[n] = around(passages[n - 1].chunk)
        out += [c for c in cache[n] if (c.document_id, c.index) not in have]
        have |= {(c.document_id, c.index) for c in cache[n]}
    return out
