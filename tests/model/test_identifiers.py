"""Identifier normalisation, DOI/PubMed IRIs, country identifiers and the SSSOM platform mappings (#5)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, SKOS

from kg.model import resources
from pipelinedata import pipeline_data
from kg.model.errors import DataError
from kg.model.identifiers import (
    G_LINKS, G_MAPPINGS, SSSOM, country_identifiers, doi_iri, normalise_doi, normalise_pmid, pmid_iri,
    read_sssom,
)
from kg.io.sheets import normalise_doi as load_normalise_doi
from kg.model.namespaces import SCHEMA, WD, concept_iri, study_iri
from kg.model.vocabularies import load_vocab_graph


def rows(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("written", "bare"), [
    ("10.1177/2055207621996870", "10.1177/2055207621996870"),
    ("https://doi.org/10.1177/2055207621996870", "10.1177/2055207621996870"),
    ("HTTP://DX.DOI.ORG/10.2196/JMIR.6946", "10.2196/jmir.6946"),
    ("http://dx.doi.org/10.2196/jmir.6946", "10.2196/jmir.6946"),
    ("doi:10.1136/BMJQS-2012-000906", "10.1136/bmjqs-2012-000906"),
    ("DOI: 10.1136/bmjqs-2012-000906", "10.1136/bmjqs-2012-000906"),
    ("DOI 10.1136/bmjqs-2012-000906", "10.1136/bmjqs-2012-000906"),
    ("  10.1111/hex.12682 \n", "10.1111/hex.12682"),
    ("doi.org/10.1111/HEX.12682", "10.1111/hex.12682"),
    ("urn:doi:10.1111/hex.12682", "10.1111/hex.12682"),
    ("https://doi.org/10.1002/%28SICI%291097-4571", "10.1002/(sici)1097-4571"),
    ("doi: https://doi.org/10.1111/hex.12682", "10.1111/hex.12682"),
])
def test_normalise_doi(written: str, bare: str) -> None:
    assert normalise_doi(written) == bare


def test_extends_the_loader_rule() -> None:
    for value in ("https://doi.org/10.1/AB", "doi:10.1/ab", " 10.1/Ab "):
        assert normalise_doi(value) == load_normalise_doi(value)


@pytest.mark.parametrize(("written", "digits"), [
    ("33717499", "33717499"), ("PMID: 33717499", "33717499"), ("pmid:33717499", "33717499"),
    ("PMID 033717499", "33717499"), ("https://pubmed.ncbi.nlm.nih.gov/33717499/", "33717499"),
    ("http://www.ncbi.nlm.nih.gov/pubmed/33717499", "33717499"), ("pubmed.ncbi.nlm.nih.gov/33717499", "33717499"),
    ("10.1177/2055207621996870", ""), ("PMC7917425", ""), ("", ""),
])
def test_normalise_pmid(written: str, digits: str) -> None:
    assert normalise_pmid(written) == digits


def test_identifier_iris() -> None:
    assert doi_iri("DOI:10.2196/JMIR.6946") == URIRef("https://doi.org/10.2196/jmir.6946")
    assert doi_iri("10.1000/a<b>") == URIRef("https://doi.org/10.1000/a%3Cb%3E")
    assert pmid_iri("PMID: 33717499") == URIRef("https://pubmed.ncbi.nlm.nih.gov/33717499/")


def test_every_study_links_its_doi_and_pmid() -> None:
    kg = pipeline_data()
    links = kg.graph(G_LINKS)
    expected = set()
    for r in rows("studies.csv"):
        if r["doi"]:
            expected.add((study_iri(r["study_id"]), SCHEMA.sameAs, URIRef("https://doi.org/" + r["doi"])))
        if r["pmid"]:
            expected.add((study_iri(r["study_id"]), SCHEMA.sameAs,
                          URIRef(f"https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/")))
    studies = rows("studies.csv")
    assert set(links) == expected and len(expected) == sum(bool(r["doi"]) + bool(r["pmid"]) for r in studies)
    assert not list(kg.dataset.triples((None, OWL.sameAs, None)))  # identity claims only in linksets


def test_country_identifiers_equal_the_world_bank_table() -> None:
    ids = country_identifiers(load_vocab_graph())
    table = {r["country_code"]: r["wikidata"] for r in rows("world_bank_income_groups.csv")}
    assert {cc: str(i.wikidata)[len(str(WD)):] for cc, i in ids.items() if i.wikidata} == table
    assert len(table) == len({r["country_code"] for r in rows("world_bank_income_groups.csv")}) and len(ids) == 249
    assert ids["AU"].iso3166_alpha2 == "AU" and ids["AU"].concept == concept_iri("country", "AU")
    assert ids["FR"].wikidata is None  # never guessed


def test_sssom_metadata_and_rows() -> None:
    mset = read_sssom()
    assert mset.mapping_set_id == "https://w3id.org/smqi/mappings/platforms"
    assert mset.metadata["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert mset.curie_map == {"smqiplatform": "https://w3id.org/smqi/vocab/platform/",
                              "wd": "http://www.wikidata.org/entity/",
                              "skos": "http://www.w3.org/2004/02/skos/core#",
                              "semapv": "https://w3id.org/semapv/vocab/"}
    with (resources.data_dir() / "platform_mappings.sssom.tsv").open(encoding="utf-8") as fh:
        table = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    assert len(mset.mappings) == len(table) == 12
    by_subject = {str(m.subject_id).rsplit("/", 1)[-1]: m for m in mset.mappings}
    assert by_subject["reddit"].confidence == 0.8 and by_subject["reddit"].predicate_id == SKOS.exactMatch
    assert by_subject["wiki"].predicate_id == SKOS.closeMatch and by_subject["wiki"].object_id == WD.Q171
    assert by_subject["twitter"].mapping_justification == URIRef("https://w3id.org/semapv/vocab/ManualMappingCuration")


def test_vocabulary_mappings_equal_the_sssom_file() -> None:
    vocab = load_vocab_graph()
    platform_ns = str(concept_iri("platform", ""))
    found = {(s, p, o) for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch,
                                 SKOS.relatedMatch)
             for s, o in vocab.subject_objects(p) if str(s).startswith(platform_ns)}
    assert found == {(m.subject_id, m.predicate_id, m.object_id) for m in read_sssom().mappings}


def test_mapping_graph_keeps_predicate_and_confidence() -> None:
    g = pipeline_data().graph(G_MAPPINGS)
    mset = URIRef("https://w3id.org/smqi/mappings/platforms")
    nodes = list(g.objects(mset, SSSOM.mappings))
    assert len(nodes) == 12
    weibo = URIRef(f"{mset}#weibo")
    assert g.value(weibo, OWL.annotatedProperty) == SKOS.exactMatch
    assert g.value(weibo, OWL.annotatedTarget) == WD.Q92526
    assert g.value(weibo, SSSOM.confidence).toPython() == 0.8
    assert g.value(URIRef(f"{mset}#blog"), OWL.annotatedProperty) == SKOS.closeMatch
    assert isinstance(g.value(weibo, SSSOM.subject_label), Literal)


def test_sssom_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.sssom.tsv"
    bad.write_text("# curie_map:\n#   wd: http://www.wikidata.org/entity/\n"
                   "subject_id\tpredicate_id\tobject_id\tmapping_justification\tconfidence\n"
                   "x:a\tskos:exactMatch\twd:Q1\tsemapv:ManualMappingCuration\t1.0\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"m\.sssom\.tsv:4: CURIE 'x:a' has no prefix in the curie_map"):
        read_sssom(bad)
    bad.write_text("# mapping_set_id: x\nsubject_id\tpredicate_id\tobject_id\tmapping_justification\n",
                   encoding="utf-8")
    with pytest.raises(DataError, match="no curie_map"):
        read_sssom(bad)
