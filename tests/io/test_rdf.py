"""Reading RDF files (kg/io/rdf.py): every parser is bounded (issue 16).

The documents here are made up in the tests (an entity bomb, 20,000 prefixes, …); none is real data.
Each hostile input is refused before rdflib parses it, so these tests end at once; a regression
(the bound gone) would make them hang for minutes rather than fail fast, which pytest reports too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.cli import main
from kg.io.rdf import check_bounds, parse_file
from kg.model.errors import DataError
from kg.model.limits import DEFAULTS

HERE = Path(__file__).parents[1]
VALID = HERE / "fixtures" / "sheets" / "valid"
ENTRY = HERE / "add" / "valid" / "entry.ttl"

# the "billion laughs": 10 levels of 10 references each would expand to 10^10 copies of "lol"
ENTITY_BOMB = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY a0 "lol">
""" + "".join(f'  <!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">\n' for i in range(1, 10)) + """]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/s"><ex:p>&a9;</ex:p></rdf:Description>
</rdf:RDF>
"""
PLAIN_RDFXML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/s"><ex:p>lol</ex:p></rdf:Description>
</rdf:RDF>
"""


def _prefixes(n: int, sparql_style: bool = False) -> str:
    form = "PREFIX p{i}: <http://example.org/{i}/>\n" if sparql_style else "@prefix p{i}: <http://example.org/{i}/> .\n"
    return "".join(form.format(i=i) for i in range(n)) + "p1:s p1:p p1:o .\n"


def test_entity_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.rdf"
    bomb.write_text(ENTITY_BOMB, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        parse_file(bomb)
    assert str(caught.value).startswith(f"{bomb}:2: RDF/XML with a document type declaration (<!DOCTYPE …>) is refused")


@pytest.mark.parametrize("declaration", ['<!ENTITY x "y">', "<!doctype rdf:RDF>", "<! DOCTYPE rdf:RDF SYSTEM 'file:///etc/passwd'>"])
def test_any_dtd_or_entity_declaration_is_refused(tmp_path: Path, declaration: str) -> None:
    path = tmp_path / "x.owl"
    path.write_text('<?xml version="1.0"?>\n' + declaration + "\n" + PLAIN_RDFXML.split("\n", 1)[1], encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.owl:2: RDF/XML with a document type declaration"):
        parse_file(path)


def test_rdfxml_without_dtd_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plain.rdf"
    path.write_text(PLAIN_RDFXML, encoding="utf-8")
    assert [str(o) for o in parse_file(path).objects()] == ["lol"]


def test_entity_bomb_through_validate(tmp_path: Path, capsys) -> None:
    bomb = tmp_path / "bomb.rdf"
    bomb.write_text(ENTITY_BOMB, encoding="utf-8")
    data = tmp_path / "data"
    copy_data(VALID, data)
    assert main(["validate", str(bomb), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{bomb}:2: RDF/XML with a document type declaration" in err and "Traceback" not in err


@pytest.mark.parametrize("sparql_style", [False, True])
def test_twenty_thousand_prefixes_are_refused(tmp_path: Path, sparql_style: bool) -> None:
    path = tmp_path / "many.ttl"
    path.write_text(_prefixes(20_000, sparql_style), encoding="utf-8")
    cap = DEFAULTS["SMQI_MAX_PREFIXES"]
    with pytest.raises(DataError) as caught:
        parse_file(path)
    assert str(caught.value) == (
        f"{path}:{cap + 1}: more than {cap:,} @prefix / PREFIX declarations; smqi reads at most {cap:,} "
        "prefixes in one file (raise the limit with the environment variable SMQI_MAX_PREFIXES)")


def test_prefixes_up_to_the_limit_are_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMQI_MAX_PREFIXES", "50")
    path = tmp_path / "fifty.trig"
    path.write_text(_prefixes(50), encoding="utf-8")
    assert len(parse_file(path)) == 1
    path.write_text(_prefixes(51), encoding="utf-8")
    with pytest.raises(DataError, match=r"fifty\.trig:51: more than 50 @prefix"):
        parse_file(path)


def test_xmlns_and_jsonld_terms_count_as_prefixes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMQI_MAX_PREFIXES", "10")
    rdfxml = tmp_path / "ns.rdf"
    rdfxml.write_text('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
                      + "".join(f' xmlns:p{i}="http://example.org/{i}/"\n' for i in range(10)) + "/>\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ns\.rdf:11: more than 10 xmlns: namespace declarations"):
        parse_file(rdfxml)
    jsonld = tmp_path / "ctx.jsonld"
    context = {f"p{i}": f"http://example.org/{i}/" for i in range(11)}
    jsonld.write_text(json.dumps({"@context": [{"@version": 1.1}, context], "@id": "http://example.org/s",
                                  "p1:x": "y"}), encoding="utf-8")
    with pytest.raises(DataError, match=r"ctx\.jsonld: the JSON-LD @context defines 11 terms, more than the limit of 10"):
        parse_file(jsonld)
    del context["p10"]
    jsonld.write_text(json.dumps({"@context": context, "@id": "http://example.org/s", "p1:x": "y"}), encoding="utf-8")
    assert [str(o) for o in parse_file(jsonld).objects()] == ["y"]


def test_twenty_thousand_prefixes_through_add(tmp_path: Path, capsys) -> None:
    """`smqi add` of an entry with 20,000 prefixes: refused with exit 2, the data folder unchanged."""
    data = tmp_path / "data"
    copy_data(VALID, data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    entry = tmp_path / "entry.ttl"
    entry.write_text(_prefixes(20_000) + ENTRY.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["add", str(entry), "--data", str(data)]) == 2
    assert "SMQI_MAX_PREFIXES" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


def test_check_bounds_ignores_formats_without_prefixes() -> None:
    check_bounds("@prefix a: <x> .\n" * 5000, "nt", "x.nt")  # N-Triples has no prefixes: nothing to bound


@pytest.mark.parametrize("context", [
    "http://example.invalid/ctx",
    [[0.5, False], ["http://example.invalid/ctx", {}], {}],  # found by `make fuzz`: nested lists
    [{"t": {"@id": "http://example.org/t", "@context": [["http://example.invalid/ctx"]]}}],
    {"@import": "http://example.invalid/ctx"},
    [{}, [[], "https://w3id.org/smqi/context.jsonld"]],  # ours, but nested where the local copy is not put
])
def test_remote_jsonld_context_at_any_depth_is_refused(tmp_path: Path, no_network, context) -> None:
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps({"@context": context, "@id": "http://example.org/s"}), encoding="utf-8")
    with pytest.raises(DataError, match=r"remote\.jsonld: JSON-LD @context 'https?://[a-z0-9./]+(ctx|context\.jsonld)' "
                                        "would have to be fetched"):
        parse_file(path)


def test_ill_typed_literal_is_read_without_a_logged_traceback(tmp_path: Path, caplog) -> None:
    """rdflib logs a traceback for "bad"^^xsd:integer; a user would see it on stderr (found by `make fuzz`)."""
    path = tmp_path / "bad.nt"
    path.write_text('<urn:s> <urn:p> "bad"^^<http://www.w3.org/2001/XMLSchema#integer> .\n', encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert [str(o) for o in parse_file(path).objects()] == ["bad"]
    assert caplog.records == []


@pytest.mark.parametrize(("name", "text", "message"), [
    ("object.ttl", '@prefix ex: <http://example.org/> .\n\nex:a ex:b ex:c .\nex:a ex:b oops .\n',
     "object.ttl:4:10: not valid turtle: an object is missing here (an IRI, a prefixed name, a literal or a blank "
     "node), at line 4, column 10: ex:a ex:b ▸ oops ."),
    ("literal.ttl", '@prefix ex: <http://example.org/> .\nex:a ex:b "Linköping .\nex:c ex:d ex:e .\n',
     'literal.ttl:2:23: not valid turtle: a line break inside a "…" literal (close the quote, or use """…""" for '
     'text over several lines), at line 2, column 23: ex:a ex:b "Linköping . ▸'),
    ("broken.nt", "<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n<a> <b> oops .\n",
     "broken.nt:2: not valid nt: Invalid line: <a> <b> oops ."),
])
def test_a_syntax_error_names_file_line_and_column_in_plain_words(tmp_path: Path, name: str, text: str,
                                                                    message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        parse_file(path)
    assert str(info.value) == f"{tmp_path}/{message}"
    assert "b'" not in str(info.value) and "\\n" not in str(info.value)
