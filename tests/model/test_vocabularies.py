"""The SKOS vocabularies (ontology/vocab/*.ttl), the ontology's annotations, and their agreement with
the data, the mapping tables and kg/namespace.py."""

from __future__ import annotations

import csv
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg.io import canon
from kg.model import resources
from kg.model.namespaces import SMQI, WD, concept_iri, scheme_iri

SMQI_NS = "https://w3id.org/smqi/ontology#"

# scheme slug -> (class of its concepts, exact number of concepts)
SCHEMES: dict[str, tuple[URIRef, int]] = {
    "platform": (SMQI.Platform, 15),
    "communication-model": (SMQI.CommunicationModel, 4),
    "host": (SMQI.Host, 6),
    "user-population": (SMQI.UserPopulation, 10),
    "qi-activity": (SMQI.QIActivity, 11),
    "qi-stage": (SMQI.QIStage, 4),
    "country": (SMQI.Country, 249),  # ISO 3166-1 as in Debian iso-codes when generated
    "income-group": (SMQI.IncomeGroup, 4),
    "study-design": (SMQI.StudyDesign, 5),
    "confidence": (SMQI.CodingConfidence, 3),
    "typology": (SMQI.ModelOfUse, 9),
}

# (data file, column) -> scheme slug; multi-valued cells are ';'-separated
DATA_COLUMNS: dict[tuple[str, str], str] = {
    ("uses.csv", "platforms"): "platform",
    ("uses.csv", "communication_model"): "communication-model",
    ("uses.csv", "host"): "host",
    ("uses.csv", "user_populations"): "user-population",
    ("uses.csv", "qi_activities"): "qi-activity",
    ("uses.csv", "qi_stages"): "qi-stage",
    ("uses.csv", "confidence"): "confidence",
    ("studies.csv", "countries"): "country",
    ("studies.csv", "design"): "study-design",
    ("world_bank_income_groups.csv", "country_code"): "country",
    ("world_bank_income_groups.csv", "income_group"): "income-group",
}
NOT_STATED = {"country": {"XX"}}

FIX_HINT = "run: python -m kg.io.canon --fix ontology/vocab"


# ---------------------------------------------------------------- helpers


def vocab_path(slug: str) -> Path:
    return resources.resource_dir("ontology") / "vocab" / f"{slug}.ttl"


@cache
def vocab(slug: str) -> Graph:
    return Graph().parse(vocab_path(slug), format="turtle")


@cache
def ontology() -> Graph:
    return Graph().parse(resources.ontology_file(), format="turtle")


def concepts(g: Graph, slug: str) -> set[URIRef]:
    return {c for c in g.subjects(SKOS.inScheme, scheme_iri(slug)) if isinstance(c, URIRef)}


def notations(slug: str) -> set[str]:
    return {str(n) for n in vocab(slug).objects(None, SKOS.notation)}


def read_csv(name: str) -> list[dict[str, str]]:
    with open(resources.data_dir() / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def english(g: Graph, s: URIRef, p: URIRef) -> list[Literal]:
    return [o for o in g.objects(s, p) if isinstance(o, Literal) and o.language == "en"]


def concept_problems(g: Graph, slug: str, cls: URIRef) -> list[str]:
    """Everything wrong with the concepts of one scheme graph (empty when all is well)."""
    scheme = scheme_iri(slug)
    problems = []
    for c in sorted(concepts(g, slug) | set(g.subjects(RDF.type, SKOS.Concept))):
        key = str(c).rsplit("/", 1)[-1]
        nots = list(g.objects(c, SKOS.notation))
        checks = {
            "IRI is not <scheme>/<key>": c == concept_iri(slug, key),
            "not typed skos:Concept": (c, RDF.type, SKOS.Concept) in g,
            f"not typed smqi:{str(cls)[len(SMQI_NS):]}": (c, RDF.type, cls) in g,
            "not exactly one skos:notation": len(nots) == 1,
            "notation is not a plain string equal to the last IRI segment": len(nots) == 1
            and isinstance(nots[0], Literal)
            and nots[0].language is None
            and nots[0].datatype is None
            and str(nots[0]) == key,
            "not exactly one skos:prefLabel@en": len(english(g, c, SKOS.prefLabel)) == 1,
            "not exactly one skos:definition@en": len(english(g, c, SKOS.definition)) == 1,
            "not exactly one skos:inScheme": list(g.objects(c, SKOS.inScheme)) == [scheme],
            "not skos:topConceptOf its scheme": (c, SKOS.topConceptOf, scheme) in g,
            "scheme lacks skos:hasTopConcept": (scheme, SKOS.hasTopConcept, c) in g,
        }
        problems += [f"{c}: {what}" for what, ok in checks.items() if not ok]
    for c in g.objects(scheme, SKOS.hasTopConcept):
        if (c, SKOS.inScheme, scheme) not in g:
            problems.append(f"{c}: top concept of {scheme} but not in it")
    return problems


# ---------------------------------------------------------------- the files


def test_every_scheme_has_a_file_and_no_other_files() -> None:
    assert sorted(p.stem for p in resources.vocab_files()) == sorted(SCHEMES)


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_vocab_parses(slug: str) -> None:
    assert len(vocab(slug)) > 0


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_scheme_annotations(slug: str) -> None:
    g, scheme = vocab(slug), scheme_iri(slug)
    assert (scheme, RDF.type, SKOS.ConceptScheme) in g
    assert set(g.subjects(RDF.type, SKOS.ConceptScheme)) == {scheme}
    for p in (SKOS.prefLabel, SKOS.definition, URIRef("http://purl.org/dc/terms/title")):
        assert len(english(g, scheme, p)) == 1, f"{scheme}: needs exactly one {g.qname(p)}@en"


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_concept_count(slug: str) -> None:
    found = concepts(vocab(slug), slug)
    assert found, f"{slug}: no concepts"
    assert len(found) == SCHEMES[slug][1]


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_concepts_well_formed(slug: str) -> None:
    problems = concept_problems(vocab(slug), slug, SCHEMES[slug][0])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_vocab_canonical(slug: str) -> None:
    assert canon.check_files([vocab_path(slug)]) == [], FIX_HINT


def test_all_vocab_files_canonical() -> None:
    bad = canon.check_files(resources.vocab_files())
    assert not bad, f"not canonical: {', '.join(p.name for p in bad)}; {FIX_HINT}"


# ---------------------------------------------------------------- tests of the tests


def test_missing_definition_is_caught() -> None:
    g = Graph()
    for t in vocab("qi-stage"):
        g.add(t)
    g.remove((concept_iri("qi-stage", "do"), SKOS.definition, None))
    problems = concept_problems(g, "qi-stage", SMQI.QIStage)
    assert f"{concept_iri('qi-stage', 'do')}: not exactly one skos:definition@en" in problems


def test_wrong_class_and_notation_are_caught() -> None:
    g = Graph()
    for t in vocab("qi-stage"):
        g.add(t)
    c = concept_iri("qi-stage", "act")
    g.remove((c, RDF.type, SMQI.QIStage))
    g.set((c, SKOS.notation, Literal("Act")))
    problems = concept_problems(g, "qi-stage", SMQI.QIStage)
    assert f"{c}: not typed smqi:QIStage" in problems
    assert f"{c}: notation is not a plain string equal to the last IRI segment" in problems


def test_non_canonical_file_is_caught(tmp_path: Path) -> None:
    src = vocab_path("qi-stage").read_text(encoding="utf-8")
    f = tmp_path / "qi-stage.ttl"
    f.write_text(src.replace('    skos:notation "do" ;', 'skos:notation "do";'), encoding="utf-8")
    assert canon.check_files([f]) == [f]
    assert canon.main([str(tmp_path)]) == 1
    assert canon.format_files([tmp_path]) == [f]
    assert f.read_text(encoding="utf-8") == src
    assert canon.main([str(f)]) == 0


def test_bad_turtle_exits_2_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.ttl"
    f.write_text("# header\n\n<a:b> <a:c> <a:d> .\n<a:b> <a:c> oops .\n", encoding="utf-8")
    assert canon.main(["--fix", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:4:" in err and "Traceback" not in err


def test_canonical_form_is_stable() -> None:
    g = vocab("platform")
    header = "# a header\n# second line"
    once = canon.canonical_turtle(g, header)
    again = canon.canonical_turtle(Graph().parse(data=once, format="turtle"), header)
    assert once == again
    assert once.startswith(header + "\n\n")


# ---------------------------------------------------------------- agreement with the data


@pytest.mark.parametrize(("file", "column"), sorted(DATA_COLUMNS))
def test_data_keys_are_concepts(file: str, column: str) -> None:
    slug = DATA_COLUMNS[(file, column)]
    known = notations(slug)
    missing: dict[str, list[str]] = defaultdict(list)
    for n, row in enumerate(read_csv(file), start=2):
        for key in (k.strip() for k in row[column].split(";")):
            if key not in known and key not in NOT_STATED.get(slug, set()):
                missing[key].append(f"line {n}")
    assert not missing, f"{file} column {column}: keys not in vocab/{slug}: {dict(missing)}"


def test_platform_mappings_equal_sssom() -> None:
    with open(resources.data_dir() / "platform_mappings.sssom.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    prefixes = {
        "smqiplatform:": str(concept_iri("platform", "")),
        "skos:": str(SKOS),
        "wd:": str(WD),
    }

    def expand(curie: str) -> URIRef:
        for p, ns in prefixes.items():
            if curie.startswith(p):
                return URIRef(ns + curie[len(p):])
        raise AssertionError(f"unknown CURIE prefix in {curie}")

    expected = {(expand(r["subject_id"]), expand(r["predicate_id"]), expand(r["object_id"])) for r in rows}
    assert len(expected) == len(rows) > 0
    g = vocab("platform")
    found = {
        (s, p, o)
        for p in (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
        for s, o in g.subject_objects(p)
    }
    assert found == expected


def test_country_wikidata_equals_world_bank_table() -> None:
    expected = {(r["country_code"], r["wikidata"]) for r in read_csv("world_bank_income_groups.csv") if r["wikidata"]}
    g = vocab("country")
    found = set()
    for s, o in g.subject_objects(SKOS.exactMatch):
        assert str(o).startswith(str(WD)), f"{s}: exactMatch to non-Wikidata {o}"
        found.add((str(s).rsplit("/", 1)[-1], str(o)[len(str(WD)):]))
    other = [(s, p, o) for s, p, o in g if p in (SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)]
    assert not other, f"unexpected mappings: {other}"
    assert found == expected


def test_some_countries_present() -> None:
    codes = notations("country")
    for cc in ("AU", "CN", "GB", "NG", "NL", "TW", "US", "ZW"):
        assert cc in codes
    assert "XX" not in codes
    assert all(len(cc) == 2 and cc.isupper() and cc.isalpha() for cc in codes)
    tw = concept_iri("country", "TW")
    assert english(vocab("country"), tw, SKOS.prefLabel) == [Literal("Taiwan, Province of China", lang="en")]


def test_income_groups_have_no_wikidata_links() -> None:
    g = vocab("income-group")
    assert notations("income-group") == {"HIC", "UMC", "LMC", "LIC"}
    assert not [t for t in g if str(t[2]).startswith(str(WD))]


# ---------------------------------------------------------------- the ontology


def declared_terms() -> set[URIRef]:
    g = ontology()
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    return {s for k in kinds for s in g.subjects(RDF.type, k) if isinstance(s, URIRef) and str(s).startswith(SMQI_NS)}


def test_ontology_declares_terms() -> None:
    assert len(declared_terms()) >= 10


def test_ontology_terms_annotated() -> None:
    g = ontology()
    problems = []
    for term in sorted(declared_terms()):
        name = str(term)[len(SMQI_NS):]
        if len(english(g, term, RDFS.label)) != 1:
            problems.append(f"smqi:{name} needs exactly one rdfs:label@en")
        if len(english(g, term, SKOS.definition)) != 1:
            problems.append(f"smqi:{name} needs exactly one skos:definition@en")
    assert not problems, "\n".join(problems)


def test_ontology_has_version_info() -> None:
    g = ontology()
    onts = set(g.subjects(RDF.type, OWL.Ontology))
    assert len(onts) == 1
    assert len(list(g.objects(onts.pop(), OWL.versionInfo))) == 1


def test_namespace_class_matches_ontology() -> None:
    in_code = {name for name in SMQI.__annotations__ if not name.startswith("_")}
    in_ttl = {str(t)[len(SMQI_NS):] for t in declared_terms()}
    assert in_code == in_ttl, (
        f"declared in smqi.ttl but missing from kg/namespace.py SMQI: {sorted(in_ttl - in_code)}; "
        f"in kg/namespace.py SMQI but not declared in smqi.ttl: {sorted(in_code - in_ttl)}"
    )


@pytest.mark.parametrize("slug", sorted(SCHEMES))
def test_scheme_class_is_declared(slug: str) -> None:
    cls = SCHEMES[slug][0]
    assert (cls, RDF.type, OWL.Class) in ontology()
    assert (cls, RDFS.subClassOf, SMQI.CodingConcept) in ontology()


def test_namespace_schemes_agree() -> None:
    from kg.model.namespaces import SCHEMES as NS_SCHEMES

    assert {slug: cls for slug, cls in NS_SCHEMES.values()} == {slug: cls for slug, (cls, _) in SCHEMES.items()}


# ---------------------------------------------------------------- the codebook's names as hidden labels

HIDDEN_SCHEMES = ("platform", "host", "user-population")


def test_every_hidden_label_is_a_name_the_codebook_gives_in_the_row_of_its_key() -> None:
    import re

    rows = {}
    for line in (Path(__file__).parents[2] / "CODEBOOK.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 2:
            rows.setdefault(cells[0], []).append(cells[1].casefold())
    found = {}
    for slug in sorted(SCHEMES):
        for concept, label in vocab(slug).subject_objects(SKOS.hiddenLabel):
            key = str(concept).rsplit("/", 1)[-1]
            assert isinstance(label, Literal) and label.language == "en", (key, label)
            pattern = re.compile(rf"(?<!\w){re.escape(str(label).casefold())}")
            assert any(pattern.search(row) for row in rows[key]), f"{key}: {label!r} is not in its codebook row"
            found.setdefault(slug, set()).add((key, str(label)))
    assert found == {
        "platform": {("twitter", "X"), ("facebook", "Messenger"), ("weibo", "Sina Weibo"),
                     ("rating-site", "Care Opinion"), ("rating-site", "NHS Choices"), ("rating-site", "Yelp"),
                     ("rating-site", "RateMDs"), ("online-forum", "message board"),
                     ("online-forum", "discussion forum")},
        "host": {("health-organisation", "hospital"), ("health-organisation", "clinic"),
                 ("health-organisation", "health department")},
        "user-population": {("first-nations", "Indigenous peoples"), ("young-people", "adolescents"),
                            ("clinical-providers", "doctors"), ("clinical-providers", "nurses")},
    }


@pytest.mark.parametrize(("slug", "value", "expected"), [
    ("platform", "Yelp", "rating-site"),
    ("platform", "yelp.", "rating-site"),
    ("platform", "NHS choices", "rating-site"),
    ("platform", "Care-Opinion", "rating-site"),
    ("platform", "Yelpp", "rating-site"),  # close to a name
    ("platform", "X", "twitter"),
    ("platform", "Sina Weibo", "weibo"),
    ("platform", "Message Board", "online-forum"),
    ("platform", "tweeter", "twitter"),  # close to a key, as before
    ("platform", "xx", None),  # names under three characters are matched exactly only
    ("platform", "zzzz", None),
    ("host", "Hospital", "health-organisation"),
    ("user-population", "Indigenous peoples", "first-nations"),
])
def test_suggestions_use_the_codebook_names(slug: str, value: str, expected: str | None) -> None:
    from kg.model.vocabularies import default_vocabulary

    assert default_vocabulary().suggest(slug, value) == expected


def test_an_unknown_platform_named_by_the_codebook_gets_its_key(tmp_path: Path) -> None:
    from kg.io.sheets import load_sheets
    from kg.model.errors import InputInvalid
    from kg.model.vocabularies import default_vocabulary

    fixture = Path(__file__).parents[1] / "fixtures" / "sheets" / "valid"
    uses = tmp_path / "uses.csv"
    uses.write_text((fixture / "uses.csv").read_text(encoding="utf-8").replace("twitter", "Yelp", 1), encoding="utf-8")
    with pytest.raises(InputInvalid) as info:
        load_sheets(fixture / "studies.csv", uses, default_vocabulary())
    assert [(p.row, p.field, p.value, p.suggestion) for p in info.value.problems] == [(2, "platforms", "Yelp",
                                                                                       "rating-site")]
