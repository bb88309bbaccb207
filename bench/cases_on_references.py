"""How often do the case check (rag/cases.py) and the label check (rag/citations.unlabelled_figures) flag a right
answer? Each set's reference answers, sentence by sentence, checked as if the model had written them, against their
own evidence pages and the page after each (the pages' text by pdfium, in passages of about 900 characters). A
flagged reference sentence is one the app would not show as checked: it gives one case's figure or polarity where
its pages also give another, without saying which (cases); or every passage holding its amounts holds them only
under another label (labels; the question's words count as the sentence's). No model, no index: seconds.

    python -m bench.cases_on_references [--sets hr,contracts,financebench] [--json]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from bench.quality_sets import eval_set
from bench.report import console, machine, rows_table, save
from rag.cases import unscoped_case
from rag.citations import amounts, key_facts, split_sentences, unlabelled_figures

PASSAGE_CHARS = 900


def page_texts(path: Path, pages: Sequence[int]) -> list[str]:
    """These pages' text (1-based; none for a page past the end), the file opened once."""
    document = pdfium.PdfDocument(str(path))
    try:
        return [document[page - 1].get_textpage().get_text_range() for page in pages if 0 < page <= len(document)]
    finally:
        document.close()


def passages(text: str) -> list[str]:
    """The text in pieces of about PASSAGE_CHARS, cut between words."""
    out: list[str] = []
    piece: list[str] = []
    for word in text.split():
        piece.append(word)
        if sum(len(w) + 1 for w in piece) > PASSAGE_CHARS:
            out.append(" ".join(piece))
            piece = []
    return out + ([" ".join(piece)] if piece else [])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cases_on_references", description=__doc__)
    parser.add_argument("--sets", default="hr,contracts,financebench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = console(args.json)
    results: dict[str, dict[str, Any]] = {}
    flagged: dict[str, list[dict[str, str]]] = {}
    for name in args.sets.split(","):
        s = eval_set(name)
        checked, found, unlabelled, with_amounts = 0, [], [], 0
        for q in s.questions():
            if not q.answerable:
                continue
            texts = [(e.file, t) for e in q.evidence
                     for text in page_texts(s.docs / e.file, (e.page or 0, (e.page or 0) + 1)) for t in passages(text)]
            for sentence in split_sentences(q.answer):
                checked += 1
                cases = unscoped_case(sentence, texts, q.question)
                if cases is not None:
                    found.append({"id": q.id, "reference": sentence, "its case": cases[0][0].sentence,
                                  "other case": cases[1][0].sentence})
                holding = [t for _, t in texts if key_facts(sentence) and key_facts(sentence) <= key_facts(t)]
                with_amounts += bool(holding and amounts(sentence, q.question))
                figures = [unlabelled_figures(sentence, t, q.question) for t in holding]
                if figures and all(figures):
                    unlabelled.append({"id": q.id, "reference": sentence, "figures": ", ".join(sorted(figures[0]))})
        results[name] = {"reference_sentences": checked, "flagged": len(found),
                         "flagged_share": round(len(found) / max(1, checked), 4),
                         "with_amounts_on_its_pages": with_amounts, "unlabelled": len(unlabelled)}
        flagged[name] = found + unlabelled
        for f in found:
            out.print(f"{name} {f['id']}: {f['reference'][:150]!r}\n    other case: {f['other case'][:150]!r}")
        for f in unlabelled:
            out.print(f"{name} {f['id']}: {f['reference'][:150]!r}\n    figures under another label: {f['figures']}")
    out.print(rows_table("Reference answers the case and label checks would not show as checked", "set", results,
                         ["reference_sentences", "flagged", "flagged_share", "with_amounts_on_its_pages",
                          "unlabelled"]))
    save("cases-on-references", out, {"benchmark": "cases-on-references", "machine": machine(), "results": results,
                                      "flagged": flagged}, args.json)


if __name__ == "__main__":
    main()
