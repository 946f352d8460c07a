"""`smqi build`: load → validate → summarise → write the build folder, all or nothing.

The new build is written into a temporary folder beside the target and swapped in only when every
step succeeded, so a failed build (invalid sheet, violations, a crash) leaves the previous build as
it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from rdflib import RDF, Dataset, Graph, Literal, Namespace, URIRef

from kg import __version__
from kg.io.dataset import KnowledgeGraph, assemble, bind_prefixes
from kg.derive import network
from kg.io.atomic import write_folder
from kg.model.errors import InputInvalid, JavaMissing, Problem
from kg.model.namespaces import SMQI
from kg.io.queries import list_queries, run_query
from kg.derive.owl import check_typology
from kg.derive.typology import UNCLASSIFIED, derive
from kg.check.shacl import Report, shacl_check

SPDX = Namespace("http://spdx.org/rdf/terms#")
OUTPUTS = ("smqi.trig", "smqi.ttl", "smqi.nt", "smqi.jsonld", "summary.json", "validation.txt", "void.ttl")
NOTICE = (
    "Evidence: an independent, dual-coded extraction of real studies that meet the inclusion criteria "
    "of Walsh et al. 2021 (doi 10.1177/2055207621996870); not that review's own list of 40 studies, "
    "so counts differ from the review's. See data/METHODS.md."
)


@dataclass
class BuildResult:
    out: Path
    kg: KnowledgeGraph
    report: Report
    summary: dict = field(default_factory=dict)


# Provenance lives in kg/provenance.py (issue #5); kept importable from here.
from kg.derive.provenance import add_provenance, sha256  # noqa: E402

__all__ = ["BuildResult", "summarise", "build", "SPDX", "OUTPUTS", "NOTICE"]


def summarise(dataset: Dataset) -> dict:
    """Counts, and the rows of every descriptive-summary query (queries/cq)."""
    def count(cls: URIRef) -> int:
        return len(set(dataset.subjects(RDF.type, cls)))

    summary: dict = {
        "smqi_kg_version": __version__,
        "notice": NOTICE,
        "counts": {"studies": count(SMQI.Study), "uses": count(SMQI.SocialMediaUse),
                   "triples": len(dataset)},
        "queries": {},
    }
    for query in list_queries():
        if query.kind != "cq":
            continue
        result = run_query(dataset, query)
        summary["queries"][query.name] = {
            "summary": query.summary,
            "rows": [
                {var: _plain(val) for var, val in zip(result.variables, row) if val is not None}
                for row in result.rows
            ],
        }
    return summary


def _plain(value: object) -> object:
    if isinstance(value, Literal):
        python = value.toPython()
        return python if isinstance(python, (int, float)) and not isinstance(python, bool) else str(value)
    return str(value)


def _write_outputs(dataset: Dataset, summary: dict, report: Report, folder: Path) -> None:
    union = bind_prefixes(Graph())
    for triple in dataset.triples((None, None, None)):
        union.add(triple)
    dataset.serialize(folder / "smqi.trig", format="trig")
    union.serialize(folder / "smqi.ttl", format="turtle")
    union.serialize(folder / "smqi.nt", format="nt", encoding="utf-8")
    dataset.serialize(folder / "smqi.jsonld", format="json-ld", indent=1)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    (folder / "validation.txt").write_text(report.as_text(), encoding="utf-8")


def build(out: Path, data_dir: Path | None = None,
          progress: Callable[[str], None] = lambda _msg: None, cross_check: bool = True) -> BuildResult:
    """Build into ``out``. Raises InputInvalid (exit 1) when the sheets or shapes are broken."""
    out = Path(out)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    progress("loading ontology, vocabularies and sheets")
    kg = assemble(data_dir)
    progress(f"loaded {len(kg.study_ids)} studies and {kg.use_count} uses; validating with SHACL")
    report = shacl_check(kg.shacl_data_graph(), origins=kg.origins)
    report.warnings = kg.warnings + report.warnings
    if not report.conforms:
        raise InputInvalid(problems=report.problems)
    add_provenance(kg, started)
    progress("deriving the typology of models of use")
    derivation = derive(kg.dataset)
    typology = {
        "unclassified_uses": sum(1 for m in derivation.assignments.values() if m == UNCLASSIFIED),
        "owl_cross_check": "not run",
    }
    if cross_check:
        progress("cross-checking the typology with OWL classes classified by HermiT")
        try:
            check_typology(kg.dataset, derivation.assignments)  # raises TypologyDisagreement (exit 1)
            typology["owl_cross_check"] = "HermiT agrees with the SPARQL derivation on every use"
        except JavaMissing as exc:
            typology["owl_cross_check"] = f"skipped: {exc}"
            report.warnings.append(Problem(message=f"OWL cross-check skipped. {exc}", severity="warning"))
    progress("running the summary queries")
    summary = summarise(kg.dataset)
    summary["typology"] = typology
    summary["built_at"] = started.isoformat()
    summary["inputs"] = {p.name: sha256(p) for p in kg.inputs}
    from kg.derive.claims import check_claims  # issue #5: the review's claims against this evidence

    claims = check_claims(kg.dataset)
    summary["claims"] = [v.as_dict() for v in claims]

    def write(tmp: Path) -> None:
        progress(f"writing {out}")
        _write_outputs(kg.dataset, summary, report, tmp)
        progress("analysing the evidence network")
        analysis = network.analyse(kg.dataset)
        network.write_outputs(analysis, tmp / "network")
        progress("writing the HTML report and the ontology documentation")
        from kg.publish import docs
        from kg.publish import report as html_report  # issue #7: build/report/ and build/docs/

        html_report.write_report(kg.dataset, tmp / "report", claims=claims, network_report=analysis)
        docs.write_docs(tmp / "docs")
        from kg.publish.void import write_void  # issue #5: DCAT/VoID of what was just written

        write_void(kg.dataset, tmp, modified=started)
        from kg.publish.manifest import write_manifest  # issue #4: hashes and assignments for smqi diff

        write_manifest(tmp, summary, kg.inputs, derivation.rows)  # last: it hashes the other outputs

    write_folder(out, write)  # kg.io.atomic: temp folder beside out, swapped in only on success
    return BuildResult(out=out, kg=kg, report=report, summary=summary)
