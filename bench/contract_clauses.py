"""Contract questions answered from the contract's own clauses without the model (rag/contract_clauses.py): term
ends, renewals, renewal notice, governing law; graded against contracts-dev's references.

For every "When does the initial term of … end?", "For how long does … renew?", "How much notice is needed to
stop … from renewing?" and "Which jurisdiction's law governs …?" question of the set: the passages the answer
would get (the default search), then `Answerer.read_contract_clause`; each answer read graded by rag/grading.py.
Questions it does not answer go to the model in the app (bench/answer.py measures those). No model is started.

    python -m bench.contract_clauses [--work bench/work] [--json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.quality_sets import DEFAULT_WORK, eval_set, opened
from bench.report import console, machine, save
from rag.citations import asks_for_place
from rag.contract_clauses import ASKS_END, ASKS_RENEWAL_LENGTH, ASKS_RENEWAL_NOTICE
from rag.evaluation import first_rank
from rag.grading import grade
from storage.records import ScoredChunk


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.contract_clauses", description=__doc__)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = console(args.json)
    s = eval_set("contracts")
    rows = []
    with opened(s, args.work) as (services, _):
        answerer = services.workspace()._answerer([s.name])
        for q in s.questions():
            if not (any(p.search(q.question) for p in (ASKS_END, ASKS_RENEWAL_LENGTH, ASKS_RENEWAL_NOTICE))
                    or asks_for_place(q.question)):
                continue
            passages = answerer.search(q.question, answerer.k)
            answer = answerer.read_contract_clause(q.question, q.question, passages, "counted")
            cited = answer is not None and first_rank([ScoredChunk(c.chunk, 1.0) for c in answer.citations],
                                                       q.evidence, level="page") is not None
            graded = (grade(answer.text, q.answer, declined=False, answerable=True, cites_evidence=cited,
                            embedder=services.embedder, question=q.question).grade
                      if answer is not None else "to the model")
            rows.append({"id": q.id, "grade": graded, "answer": answer.text if answer else "", "reference": q.answer})
            out.print(f"{q.id}: {graded:12} {rows[-1]['answer'][:110]} | reference {q.answer}")
    counted = [r for r in rows if r["grade"] != "to the model"]
    summary = {"questions": len(rows), "counted": len(counted), "right": sum(r["grade"] == "right" for r in counted),
               "wrong": sum(r["grade"] == "wrong" for r in counted)}
    out.print(f"contract-clause questions {summary['questions']}: counted {summary['counted']}, "
              f"right {summary['right']}, wrong {summary['wrong']}; the rest go to the model")
    save("contract-clauses", out, {"benchmark": "contract_clauses", "machine": machine(), "summary": summary, "rows": rows},
         args.json)


if __name__ == "__main__":
    main()
