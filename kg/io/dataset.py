"""Assemble the knowledge graph: one rdflib Dataset whose named graphs keep the sources apart.

Graphs: ontology, vocab, evidence (the extraction sheets), reference (income classifications),
provenance, and derived (typology assignments, added later). Queries see the union.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg.model import resources
from kg.model.errors import Problem
from kg.model.prefixes import PREFIXES
from kg.io.sheets import Loaded, Origin, load_income_groups, load_sheets
from kg.model.namespaces import (
    G_DERIVED,
    G_EVIDENCE,
    G_ONTOLOGY,
    G_PROVENANCE,
    G_REFERENCE,
    G_VOCAB,
)
from kg.model.vocabularies import Vocabulary, load_ontology_graph, load_vocab_graph

__all__ = ["bind_prefixes", "KnowledgeGraph", "new_dataset", "add_graph", "assemble", "PREFIXES"]



def bind_prefixes(graph: Graph) -> Graph:
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True, replace=True)
    return graph


@dataclass
class KnowledgeGraph:
    """The assembled dataset plus what the build needs to report on it."""

    dataset: Dataset
    origins: dict[URIRef, Origin] = field(default_factory=dict)
    study_ids: list[str] = field(default_factory=list)
    use_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)

    def graph(self, name: URIRef) -> Graph:
        return self.dataset.graph(name)

    def shacl_data_graph(self) -> Graph:
        """Evidence + reference + vocabularies + the review: what the shapes are checked against."""
        data = Graph()
        for name in (G_EVIDENCE, G_REFERENCE, G_VOCAB, URIRef("https://w3id.org/smqi/graph/review")):
            for triple in self.dataset.graph(name):
                data.add(triple)
        return data


def new_dataset() -> Dataset:
    return bind_prefixes(Dataset(default_union=True))  # type: ignore[return-value]


def add_graph(dataset: Dataset, name: URIRef, graph: Graph) -> None:
    target = dataset.graph(name)
    for triple in graph:
        target.add(triple)


def assemble(data_dir: Path | None = None) -> KnowledgeGraph:
    """Load ontology, vocabularies and the sheets in ``data_dir`` (default: the shipped data)."""
    data_dir = Path(data_dir) if data_dir else resources.data_dir()
    if (data_dir / ".smqi-write.journal").exists():  # an add killed mid-write: finish it (kg.io.atomic)
        from kg.io.atomic import recover

        recover(data_dir)
    vocab_graph = load_vocab_graph()
    vocab = Vocabulary(vocab_graph)
    studies, uses = data_dir / "studies.csv", data_dir / "uses.csv"
    income = data_dir / "world_bank_income_groups.csv"
    if not income.exists():  # a user's data folder may hold only the two sheets
        income = resources.data_dir() / "world_bank_income_groups.csv"
    # entries added as RDF by `smqi add` (kg/add.py): <data_dir>/entries/<study_id>.ttl
    from kg.model.namespaces import SMQI
    from kg.io.rdf import parse_into

    entry_files = sorted((data_dir / "entries").glob("*.ttl"))
    entry_graph = Graph()
    for path in entry_files:
        parse_into(entry_graph, path)
    entry_ids = sorted(str(o) for o in entry_graph.objects(None, SMQI.studyId))
    loaded: Loaded = load_sheets(studies, uses, vocab, known_study_ids=set(entry_ids))
    for triple in entry_graph:
        loaded.graph.add(triple)
    loaded.study_ids.extend(i for i in entry_ids if i not in loaded.study_ids)
    dataset = new_dataset()
    add_graph(dataset, G_ONTOLOGY, load_ontology_graph())
    add_graph(dataset, G_VOCAB, vocab_graph)
    add_graph(dataset, G_EVIDENCE, loaded.graph)
    add_graph(dataset, G_REFERENCE, load_income_groups(income, vocab))
    dataset.graph(G_PROVENANCE)
    dataset.graph(G_DERIVED)
    from kg.model.identifiers import link_identifiers  # issue #5: DOI/PubMed IRIs, SSSOM mapping graph
    from kg.io.review import add_review_graph  # issue #5: the seed review and its claims

    linked_inputs = [*link_identifiers(dataset, loaded.graph), add_review_graph(dataset, data_dir)]
    return KnowledgeGraph(
        dataset=dataset,
        origins=loaded.origins,
        study_ids=loaded.study_ids,
        use_count=loaded.use_count,
        warnings=loaded.warnings,
        inputs=[studies, uses, income, *entry_files, *linked_inputs],
    )
