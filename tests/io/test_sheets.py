"""Loading the extraction sheets: the graph it makes and every row-level error it reports.

Sheets here are made up for tests (see tests/fixtures/README.md); the real data is tested in
test_build.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib import RDF, XSD, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from kg.model.errors import DataError, InputInvalid
from kg.io.sheets import (
    STUDY_COLUMNS,
    USE_COLUMNS,
    load_income_groups,
    load_sheets,
    normalise_doi,
)
from kg.model.namespaces import FABIO, PRISM, SMQI, concept_iri, study_iri, use_iri
from kg.model.vocabularies import default_vocabulary

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sheets"

STUDY = {
    "study_id": "smitha2020", "first_author": "Smith A", "authors": "Smith A; Jones B", "year": "2020",
    "title": "Made-up title", "journal": "Test Journal", "doi": "10.9999/made-up.1", "pmid": "",
    "countries": "GB", "design": "qualitative", "source_url": "https://example.org/made-up/1",
    "summary": "made up",
}
USE = {
    "study_id": "smitha2020", "use_no": "1", "platforms": "twitter", "communication_model": "two-way",
    "host": "health-organisation", "user_populations": "patients-consumers",
    "qi_activities": "consultation", "qi_stages": "plan", "note": "made up", "confidence": "high",
}


def write(tmp_path: Path, studies: list[dict], uses: list[dict]) -> tuple[Path, Path]:
    paths = []
    for name, columns, rows in (("studies.csv", STUDY_COLUMNS, studies), ("uses.csv", USE_COLUMNS, uses)):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths[0], paths[1]


def problems_of(tmp_path: Path, studies: list[dict], uses: list[dict]) -> list[tuple]:
    s, u = write(tmp_path, studies, uses)
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary())
    return [(Path(p.file).name, p.row, p.entry, p.field, p.value) for p in info.value.problems]


def test_valid_fixture_graph_shape() -> None:
    loaded = load_sheets(FIXTURES / "valid" / "studies.csv", FIXTURES / "valid" / "uses.csv", default_vocabulary())
    g = loaded.graph
    s = study_iri("smitha2020")
    assert loaded.study_ids == ["smitha2020", "doeb2019"]
    assert loaded.use_count == 3
    assert set(g.subjects(RDF.type, SMQI.Study)) == {s, study_iri("doeb2019")}
    assert (s, FABIO.hasPublicationYear, Literal("2020", datatype=XSD.gYear)) in g
    assert (s, PRISM.doi, Literal("10.9999/made-up.1")) in g
    assert set(g.objects(s, DCTERMS.creator)) == {Literal("Smith A"), Literal("Jones B")}
    assert set(g.objects(s, SMQI.country)) == {concept_iri("country", "GB"), concept_iri("country", "US")}
    assert (s, PROV.wasDerivedFrom, URIRef("https://example.org/made-up/1")) in g
    # XX (not stated) gives no country triple
    assert list(g.objects(study_iri("doeb2019"), SMQI.country)) == []
    u = use_iri("smitha2020", 1)
    assert (u, SMQI.reportedIn, s) in g and (s, SMQI.reportsUse, u) in g
    assert (u, SMQI.useNumber, Literal(1, datatype=XSD.integer)) in g
    assert set(g.objects(u, SMQI.platform)) == {concept_iri("platform", "twitter"),
                                                 concept_iri("platform", "rating-site")}
    assert set(g.objects(use_iri("smitha2020", 2), SMQI.qiStage)) == {concept_iri("qi-stage", "plan"),
                                                                       concept_iri("qi-stage", "do")}
    # empty confidence: no triple
    assert list(g.objects(use_iri("doeb2019", 1), SMQI.codingConfidence)) == []
    assert loaded.origins[u].row == 2 and loaded.origins[s].row == 2


def test_bad_fixture_reports_exactly_three_problems() -> None:
    with pytest.raises(InputInvalid) as info:
        load_sheets(FIXTURES / "bad" / "studies.csv", FIXTURES / "bad" / "uses.csv", default_vocabulary())
    got = [(Path(p.file).name, p.row, p.entry, p.field, p.value) for p in info.value.problems]
    assert got == [
        ("studies.csv", 4, "smithb2020", "study_id", "smithb2020"),
        ("uses.csv", 2, "smithb2020-1", "platforms", "tweeter"),
        ("uses.csv", 3, "doeb2019-1", "host", ""),
    ]
    unknown = info.value.problems[1]
    assert unknown.suggestion == "twitter"
    assert "rating-site" in unknown.allowed and "twitter" in unknown.allowed


@pytest.mark.parametrize(
    ("study_change", "use_change", "expected"),
    [
        ({"year": "20x0"}, {}, ("studies.csv", 2, "smitha2020", "year", "20x0")),
        ({"year": "1999"}, {}, ("studies.csv", 2, "smitha2020", "year", "1999")),
        ({"doi": "https://doi.org/10.9999/X"}, {}, ("studies.csv", 2, "smitha2020", "doi", "https://doi.org/10.9999/X")),
        ({"pmid": "PMID123"}, {}, ("studies.csv", 2, "smitha2020", "pmid", "PMID123")),
        ({"countries": "UK"}, {}, ("studies.csv", 2, "smitha2020", "countries", "UK")),
        ({"countries": "XX;GB"}, {}, ("studies.csv", 2, "smitha2020", "countries", "XX;GB")),
        ({"design": "survey"}, {}, ("studies.csv", 2, "smitha2020", "design", "survey")),
        ({"title": ""}, {}, ("studies.csv", 2, "smitha2020", "title", "")),
        ({"study_id": "Smith-2020"}, {"study_id": "Smith-2020"}, ("studies.csv", 2, "Smith-2020", "study_id", "Smith-2020")),
        ({"source_url": "not a url"}, {}, ("studies.csv", 2, "smitha2020", "source_url", "not a url")),
        ({}, {"communication_model": "two-way;many-to-many"}, ("uses.csv", 2, "smitha2020-1", "communication_model", "two-way;many-to-many")),
        ({}, {"host": "hospital"}, ("uses.csv", 2, "smitha2020-1", "host", "hospital")),
        ({}, {"user_populations": ""}, ("uses.csv", 2, "smitha2020-1", "user_populations", "")),
        ({}, {"qi_stages": "plan;plan"}, ("uses.csv", 2, "smitha2020-1", "qi_stages", "plan")),
        ({}, {"use_no": "0"}, ("uses.csv", 2, "smitha2020-0", "use_no", "0")),
        ({}, {"use_no": "one"}, ("uses.csv", 2, "smitha2020-one", "use_no", "one")),
        ({}, {"confidence": "certain"}, ("uses.csv", 2, "smitha2020-1", "confidence", "certain")),
    ],
    ids=["year-malformed", "year-before-2004", "doi-not-bare", "pmid-letters", "country-unknown",
         "country-xx-mixed", "design-unknown", "title-missing", "study-id-pattern", "source-url",
         "two-communication-models", "host-unknown", "population-missing", "stage-twice", "use-no-zero",
         "use-no-word", "confidence-unknown"],
)
def test_row_errors(tmp_path: Path, study_change: dict, use_change: dict, expected: tuple) -> None:
    problems = problems_of(tmp_path, [{**STUDY, **study_change}], [{**USE, **use_change}])
    assert problems == [expected]


def test_use_pointing_to_unknown_study(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, [STUDY], [USE, {**USE, "study_id": "smith2020"}])
    assert problems == [("uses.csv", 3, "smith2020-1", "study_id", "smith2020")]


def test_study_without_any_use(tmp_path: Path) -> None:
    other = {**STUDY, "study_id": "lonely2021", "doi": ""}
    assert problems_of(tmp_path, [STUDY, other], [USE]) == [("studies.csv", 3, "lonely2021", "study_id", "lonely2021")]


def test_duplicate_use_and_duplicate_doi(tmp_path: Path) -> None:
    other = {**STUDY, "study_id": "jonesb2021"}
    problems = problems_of(tmp_path, [STUDY, other], [USE, USE, {**USE, "study_id": "jonesb2021"}])
    assert problems == [
        ("studies.csv", 3, "jonesb2021", "doi", "10.9999/made-up.1"),
        ("uses.csv", 3, "smitha2020-1", "use_no", "1"),
    ]


def test_did_you_mean_for_near_miss_keys(tmp_path: Path) -> None:
    s, u = write(tmp_path, [STUDY], [{**USE, "platforms": "Facebook", "host": "health organisation",
                                        "qi_activities": "codesign"}])
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary())
    assert [(p.field, p.suggestion) for p in info.value.problems] == [
        ("platforms", "facebook"), ("host", "health-organisation"), ("qi_activities", "co-design")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study_id,title\nx,y\n", "studies.csv:1: header has missing column(s) first_author"),
        (",".join(STUDY_COLUMNS) + ",extra\n", "unknown column(s) 'extra'"),
        (",".join(STUDY_COLUMNS) + "\n" + "a,b,c\n", "studies.csv:2: row has fewer cells"),
        (",".join(STUDY_COLUMNS) + "\n" + ",".join(["x"] * 13) + "\n", "studies.csv:2: row has more cells"),
    ],
    ids=["missing-columns", "extra-column", "short-row", "long-row"],
)
def test_unreadable_sheets(tmp_path: Path, text: str, message: str) -> None:
    s, u = write(tmp_path, [STUDY], [USE])
    s.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sheets(s, u, default_vocabulary())


def test_bom_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    s, u = write(tmp_path, [STUDY], [USE])
    s.write_bytes(b"\xef\xbb\xbf" + s.read_bytes() + b",,,,,,,,,,,\n")
    assert load_sheets(s, u, default_vocabulary()).study_ids == ["smitha2020"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_sheets(tmp_path / "nope.csv", tmp_path / "nope2.csv", default_vocabulary())


@pytest.mark.parametrize(
    ("raw", "bare"),
    [("https://doi.org/10.1136/X", "10.1136/x"), ("doi:10.1136/x", "10.1136/x"),
     (" 10.1136/X ", "10.1136/x"), ("http://dx.doi.org/10.1/AB", "10.1/ab")],
)
def test_normalise_doi(raw: str, bare: str) -> None:
    assert normalise_doi(raw) == bare


def test_income_groups_time_indexed(tmp_path: Path) -> None:
    from kg.model import resources

    g = load_income_groups(resources.data_dir() / "world_bank_income_groups.csv", default_vocabulary())
    ph = {(str(g.value(n, SMQI.fiscalYear)), g.value(n, SMQI.incomeGroup))
          for n in g.subjects(SMQI.classifiedCountry, concept_iri("country", "PH"))}
    assert ph == {("FY2025", concept_iri("income-group", "LMC")), ("FY2026", concept_iri("income-group", "UMC"))}
    bad = tmp_path / "wb.csv"
    bad.write_text("country_code,country_name,wikidata,fiscal_year,income_group,source\n"
                   "AU,Australia,Q408,2026,HIC,x\n", encoding="utf-8")
    with pytest.raises(InputInvalid) as info:
        load_income_groups(bad, default_vocabulary())
    assert [(p.row, p.field, p.value) for p in info.value.problems] == [(2, "fiscal_year", "2026")]


def test_source_url_holding_a_character_no_iri_may_hold(tmp_path: Path) -> None:
    s, u = write(tmp_path, [{**STUDY, "source_url": "https://example.org/a|b{c}"}], [USE])
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary())
    [problem] = info.value.problems
    assert (problem.row, problem.field, problem.value, problem.suggestion) == (
        2, "source_url", "https://example.org/a|b{c}", "https://example.org/a%7Cb%7Bc%7D")
    assert problem.message == ("each source_url must be an http(s) address that is a valid IRI: it holds the "
                               "character '|', which no IRI may hold (percent-encode it).")


@pytest.mark.parametrize("url, why, suggestion", [
    ("https://example.org/a<b>", "it holds the character '<'", "https://example.org/a%3Cb%3E"),
    ("https://example.org/a b", "it holds a space", "https://example.org/a%20b"),
    ("https://example.org/a\x01b", "it holds the control character U+0001", "https://example.org/a%01b"),
    ("https://example.org/a\x85b", "it holds the control character U+0085", "https://example.org/a%C2%85b"),
    ("https://example.org/a^b`c", "it holds the character '^'", "https://example.org/a%5Eb%60c"),
    ("https://example.org/100%", "it holds a '%' at character 24 that is not followed by two hex digits", None),
    ("https://exa[mple.org/", "it is not an IRI (Invalid IRI code point '[')", None),
    ("ftp://example.org/x", "it must be an http(s) address", None),
    ("example.org/x", "it has no scheme", None),
    ("https:example.org", "an https address needs '//' and a host after 'https:'", None),
])
def test_source_url_that_is_no_iri_is_a_row_problem(tmp_path: Path, url: str, why: str, suggestion) -> None:
    """Every source_url becomes an IRI: what is no IRI (RFC 3987) is refused on its row, not later."""
    s, u = write(tmp_path, [{**STUDY, "source_url": url}], [USE])
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary())
    [problem] = info.value.problems
    assert (problem.row, problem.field, problem.value, problem.suggestion) == (2, "source_url", url, suggestion)
    assert problem.message.startswith(f"each source_url must be an http(s) address that is a valid IRI: {why}")


def test_source_url_with_an_empty_host_is_a_warning(tmp_path: Path) -> None:
    """https:///… is a valid IRI (empty host); the shipped sheet holds one real such address."""
    s, u = write(tmp_path, [{**STUDY, "source_url": "https:///example.org/x"}], [USE])
    loaded = load_sheets(s, u, default_vocabulary())
    assert [(w.row, w.field, w.message) for w in loaded.warnings] == [
        (2, "source_url", "address has an empty host (three slashes).")]


def test_doi_with_brackets_makes_a_valid_resolver_iri(tmp_path: Path) -> None:
    """[ and ] may stand in a DOI but not in an IRI's path: the resolver link percent-encodes them."""
    s, u = write(tmp_path, [{**STUDY, "doi": "10.1234/a[b]c"}], [USE])
    loaded = load_sheets(s, u, default_vocabulary(), links_graph="https://w3id.org/smqi/graph/links")
    assert [line.split()[2] for line in loaded.links] == ["<https://doi.org/10.1234/a%5Bb%5Dc>"]


# ---------------------------------------------------------------- sheets saved by Excel (issue #14)


def test_a_semicolon_separated_sheet_is_told_to_re_save(tmp_path: Path) -> None:
    s, u = write(tmp_path, [STUDY], [USE])
    s.write_text(s.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_sheets(s, u, default_vocabulary())
    message = str(info.value)
    assert "studies.csv:1: header has missing column(s) study_id, first_author, " in message
    assert message.endswith(" The header looks ';'-separated (Excel uses ';' where the decimal separator is a "
                            "comma): re-save it as 'CSV UTF-8 (Comma delimited)', or in LibreOffice choose ',' as "
                            "the field delimiter.")


def test_a_cp1252_sheet_names_the_file_line_and_byte(tmp_path: Path) -> None:
    s, u = write(tmp_path, [{**STUDY, "summary": "Linköping"}], [USE])
    s.write_bytes(s.read_text(encoding="utf-8").encode("cp1252"))
    with pytest.raises(DataError) as info:
        load_sheets(s, u, default_vocabulary())
    raw = s.read_bytes()
    offset = raw.index(b"\xf6")
    assert str(info.value).endswith(
        f"studies.csv:2: not UTF-8 text: byte 0xf6 at offset {offset} (invalid start byte); the file looks like "
        "Windows-1252/Latin-1 (Excel's plain 'CSV (Comma delimited)'); byte 0xf6 is 'ö' there. Nothing was read: "
        "save it as UTF-8: in Excel, File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'; in LibreOffice, "
        "Save As > Text CSV with character set 'Unicode (UTF-8)'.")


def test_a_utf16_sheet_is_named_as_utf16(tmp_path: Path) -> None:
    s, u = write(tmp_path, [STUDY], [USE])
    s.write_bytes(s.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(DataError, match=r"studies.csv:1: not UTF-8 text: byte 0xff at offset 0 .*the file looks "
                                        r"like UTF-16 \(Excel's 'Unicode Text'\)\. Nothing was read"):
        load_sheets(s, u, default_vocabulary())


def test_a_comma_separated_list_is_told_to_use_semicolons(tmp_path: Path) -> None:
    s, u = write(tmp_path, [STUDY], [{**USE, "platforms": "twitter, facebook"}])
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary())
    [problem] = info.value.problems
    assert (problem.field, problem.value, problem.suggestion) == ("platforms", "twitter, facebook", None)
    assert problem.message == ("unknown platform key 'twitter, facebook': separate the keys of a list with ';', "
                               "not ',' (write 'twitter;facebook').")


def test_titles_are_checked_against_the_graph_and_earlier_rows_when_an_index_is_given(tmp_path: Path) -> None:
    from kg.io.sheets import Existing
    from kg.model.titles import TitleIndex

    index = TitleIndex()
    index.add("Patient feedback on a made-up rating site: a qualitative study", "olda2019")
    existing = Existing(study_ids={"olda2019"}, titles=index)
    rows = [
        {**STUDY, "title": "PATIENT FEEDBACK ON A MADE UP RATING-SITE: A QUALITATIVE STUDY!"},  # same as olda2019
        {**STUDY, "study_id": "jonesb2021", "doi": "", "title": "A made-up survey of hospital tweets"},
        {**STUDY, "study_id": "brownc2022", "doi": "", "title": "A made-up survey of hospital tweeets."},  # row 3
        {**STUDY, "study_id": "greend2022", "doi": "", "title": "Something else, made up"},
    ]
    s, u = write(tmp_path, rows, [{**USE, "study_id": r["study_id"]} for r in rows])
    with pytest.raises(InputInvalid) as info:
        load_sheets(s, u, default_vocabulary(), existing=existing)
    assert [(p.row, p.entry, p.field, p.value, p.message) for p in info.value.problems] == [
        (2, "smitha2020", "title", rows[0]["title"],
         "possible duplicate study: the same title (ignoring case, accents and punctuation) is already in the "
         "graph for study olda2019. If this is a different study, add it with --allow-similar-title."),
        (4, "brownc2022", "title", rows[2]["title"],
         "possible duplicate study: a very close title (98% alike; 93% or more counts) is already on row 3 "
         "for study jonesb2021: 'A made-up survey of hospital tweets'. If this is a different study, add it "
         "with --allow-similar-title."),
    ]
    # without an index (the build, --allow-similar-title) titles are not compared
    assert load_sheets(s, u, default_vocabulary(), existing=Existing(study_ids={"olda2019"})).study_ids == \
        ["smitha2020", "jonesb2021", "brownc2022", "greend2022"]
