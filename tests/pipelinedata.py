"""The graph of a data folder for tests that read rdflib: the pipeline's store (kg.publish.pipeline,
SHACL skipped as the reading commands do) as an rdflib Dataset, with the counts the tests check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg.derive.claims import G_REVIEW
from kg.io.store import dataset_of
from kg.model.namespaces import G_CODINGS, G_DERIVED, G_EVIDENCE, G_REFERENCE, G_VOCAB
from kg.publish.pipeline import run_pipeline


@dataclass
class PipelineData:
    dataset: Dataset
    use_count: int  # uses of the sheets
    study_ids: list[str]  # studies of the sheets

    def graph(self, name: URIRef) -> Graph:
        return self.dataset.graph(name)

    def shacl_data_graph(self) -> Graph:
        """Evidence + reference + vocabularies + the review + the codings: what the shapes are checked
        against."""
        data = Graph()
        for name in (G_EVIDENCE, G_REFERENCE, G_VOCAB, G_REVIEW, G_CODINGS):
            for triple in self.dataset.graph(name):
                data.add(triple)
        return data


def pipeline_data(data_dir: Path | None = None, derived: bool = False) -> PipelineData:
    """Every named graph the pipeline makes of ``data_dir`` (default: the shipped data); without the
    typology's derived graph unless ``derived``, for tests that derive it themselves."""
    pipe = run_pipeline(data_dir, check=False)
    dataset = dataset_of(pipe.store)
    if not derived:
        dataset.remove_graph(dataset.graph(G_DERIVED))
    return PipelineData(dataset, use_count=pipe.loaded.use_count, study_ids=list(pipe.loaded.study_ids))
