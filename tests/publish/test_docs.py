"""The ontology and vocabulary documentation: every term and concept of the graphs is on the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import OWL, RDF, Graph, Literal, URIRef
from rdflib.namespace import SKOS

from htmltree import parse
from kg.publish import docs
from kg.cli import main
from kg.model.vocabularies import load_ontology_graph, load_vocab_graph


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("docs") / "docs"
    docs.write_docs(out)
    return out, parse((out / "index.html").read_text(encoding="utf-8"))


def test_every_class_and_property_is_documented(page) -> None:
    _, tree = page
    onto = load_ontology_graph()
    for kind, section in ((OWL.Class, "classes"), (OWL.ObjectProperty, "object-properties"),
                          (OWL.DatatypeProperty, "datatype-properties")):
        iris = {str(s) for s in onto.subjects(RDF.type, kind) if isinstance(s, URIRef)}
        assert iris, kind
        shown = {d.find("p", **{"class": "iri"}).text: d
                 for d in tree.find("section", id=section).find_all("div", **{"class": "term"})}
        assert set(shown) == iris, section
        for iri, div in shown.items():
            if iri.startswith("https://w3id.org/smqi/"):
                definition = str(onto.value(URIRef(iri), SKOS.definition))
                assert definition in div.text, iri
            else:
                assert "reused from another vocabulary" in div.text, iri
    reports_use = tree.find("div", id="smqi-reportsUse")
    facts = dict(zip([dt.text for dt in reports_use.find_all("dt")], [dd.text for dd in reports_use.find_all("dd")]))
    assert facts["domain"] == "smqi:Study" and facts["range"] == "smqi:SocialMediaUse"
    assert facts["characteristics"] == "inverse functional"
    assert reports_use.find("a").attrs["href"] == "#smqi-Study"  # local terms link within the page


def test_every_concept_scheme_and_concept_is_listed(page) -> None:
    _, tree = page
    vocab = load_vocab_graph()
    schemes = {s for s in vocab.subjects(RDF.type, SKOS.ConceptScheme)}
    assert len(schemes) >= 10
    rows = {tr.attrs["data-concept"]: tr for tr in tree.find_all("tr", data_concept=True)}
    concepts = {str(c) for s in schemes for c in vocab.subjects(SKOS.inScheme, s)}
    assert set(rows) == concepts
    facebook = rows["https://w3id.org/smqi/vocab/platform/facebook"].find_all("td")
    assert [facebook[0].text, facebook[1].text] == ["facebook", "Facebook"]
    assert facebook[3].find("a").attrs["href"] == "http://www.wikidata.org/entity/Q355"
    blog = rows["https://w3id.org/smqi/vocab/platform/blog"].find_all("td")
    assert blog[4].find("a").text == "wd:Q30849" and blog[3].text == ""


def test_docs_escape_labels() -> None:
    onto, vocab = Graph(), Graph()
    cls = URIRef("https://w3id.org/smqi/ontology#Made")
    onto.add((cls, RDF.type, OWL.Class))
    onto.add((cls, SKOS.definition, Literal("Made up: <script>x</script> & \"q\"", lang="en")))
    html = docs.render_docs(onto, vocab)
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt; &amp;" in html


def test_docs_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "d"
    assert main(["docs", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "report.css"]
    assert "Wrote" in capsys.readouterr().out


def test_typology_rules_are_listed_in_priority_order_with_their_conditions(page) -> None:
    """The typology's models in the order their rules are tried (CODEBOOK.md's table, written out by
    hand in tests/codebook.py), each with its priority and its rule in words."""
    from codebook import CODEBOOK_RULES

    _, tree = page
    section = tree.find("section", id=[s.attrs["id"] for s in tree.find_all("section")
                                       if s.attrs.get("id", "").endswith("typology")][0])
    rows = [[td.text for td in tr.find_all("td")][:4] for tr in section.find_all("tr", data_concept=True)]
    assert [r[1] for r in rows] == [key for key, _rule in CODEBOOK_RULES]
    assert [r[0] for r in rows] == [str(n) for n in range(1, len(CODEBOOK_RULES) + 1)]
    rules = {r[1]: r[3] for r in rows}
    assert rules["listening"] == "communication model = one-way-inbound"
    assert rules["consumer-advocacy"] == "host = consumers-community and QI activity includes advocacy"
    assert rules["co-design-space"] == "QI activity includes any of co-design, collaborative-work"
    assert "the first rule that matches it" in section.text
