"""`smqi query` honours FROM / FROM NAMED that name graphs of the local dataset and refuses any other
IRI (issue 13): nothing is fetched. The store and TriG file are made up here (three triples in two
named graphs)."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main

TRIG = """<urn:g:one> { <urn:s:a> <urn:p> "1" . <urn:s:b> <urn:p> "2" . }
<urn:g:two> { <urn:s:c> <urn:p> "3" . }
"""
COUNT = "#+ summary: count (test)\nSELECT (COUNT(*) AS ?n) FROM_ WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }\n"


@pytest.fixture()
def sources(tmp_path: Path) -> dict[str, list[str]]:
    trig = tmp_path / "g.trig"
    trig.write_text(TRIG, encoding="utf-8")
    store = ox.Store(str(tmp_path / "store"))
    store.bulk_load(path=str(trig), format=ox.RdfFormat.TRIG)
    store.flush()
    del store
    return {"store": ["--store", str(tmp_path / "store")], "graph": ["--graph", str(trig)]}


def count(tmp_path: Path, source: list[str], from_: str, capsys) -> int:
    rq = tmp_path / "count.rq"
    rq.write_text(COUNT.replace("FROM_", from_), encoding="utf-8")
    assert main(["query", str(rq), *source, "--format", "json"]) == 0, capsys.readouterr().err
    return int(json.loads(capsys.readouterr().out)["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("where", ["store", "graph"])
def test_from_names_the_dataset(sources, tmp_path: Path, capsys, where: str) -> None:
    source = sources[where]
    assert count(tmp_path, source, "", capsys) == 6  # the union default graph, and each named graph
    assert count(tmp_path, source, "FROM <urn:g:one>", capsys) == 2
    assert count(tmp_path, source, "FROM <urn:g:two>", capsys) == 1
    assert count(tmp_path, source, "FROM NAMED <urn:g:two>", capsys) == 1
    assert count(tmp_path, source, "FROM <urn:g:one> FROM NAMED <urn:g:two>", capsys) == 3


@pytest.mark.parametrize("where", ["store", "graph"])
@pytest.mark.parametrize("clause", ["FROM", "FROM NAMED"])
def test_from_another_iri_is_refused(sources, tmp_path: Path, capsys, where: str, clause: str) -> None:
    rq = tmp_path / "other.rq"
    rq.write_text(f"#+ summary: other (test)\nSELECT * {clause} <http://127.0.0.1:9/x.ttl> WHERE {{ ?s ?p ?o }}\n",
                  encoding="utf-8")
    assert main(["query", str(rq), *sources[where]]) == 2
    assert capsys.readouterr().err == (
        f"smqi query: error: {rq}: {clause} <http://127.0.0.1:9/x.ttl> names no graph of this dataset, and smqi "
        "never fetches a graph from its IRI; its 2 graphs are: <urn:g:one>, <urn:g:two>\n")


LONG = '<urn:g:one> { <urn:s:a> <urn:p> "a made-up value long enough to be cut when the table is narrow" . }\n'


@pytest.mark.parametrize("where", ["store", "graph"])
def test_table_is_cut_to_columns_and_csv_keeps_full_values(tmp_path: Path, capsys, monkeypatch, where) -> None:
    trig = tmp_path / "long.trig"
    trig.write_text(LONG, encoding="utf-8")
    source = ["--graph", str(trig)]
    if where == "store":
        store = ox.Store(str(tmp_path / "store"))
        store.bulk_load(path=str(trig), format=ox.RdfFormat.TRIG)
        store.flush()
        del store
        source = ["--store", str(tmp_path / "store")]
    rq = tmp_path / "long.rq"
    rq.write_text("SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }\n", encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "30")
    assert main(["query", str(rq), *source]) == 0
    assert capsys.readouterr().out == (
        "s        o\n"
        "-------  ---------------------\n"
        "urn:s:a  a made-up value long…\n"
        "(cells cut with … to fit 30 columns; --format csv or json gives the full values)\n")
    assert main(["query", str(rq), *source, "--format", "csv"]) == 0
    assert capsys.readouterr().out.endswith(
        "urn:s:a,a made-up value long enough to be cut when the table is narrow\r\n")
    monkeypatch.delenv("COLUMNS")  # piped (captured), no COLUMNS: never cut
    assert main(["query", str(rq), *source]) == 0
    assert capsys.readouterr().out.splitlines()[2] == \
        "urn:s:a  a made-up value long enough to be cut when the table is narrow"


def test_table_width_comes_from_columns_then_a_terminal_only(monkeypatch) -> None:
    from kg.cli.common import table_width

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "72")
    assert table_width() == 72
    monkeypatch.setenv("COLUMNS", "wide")
    assert table_width() is None  # captured stdout is no terminal
    monkeypatch.delenv("COLUMNS")
    assert table_width() is None
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback: __import__("os").terminal_size((120, 40)))
    assert table_width(Tty()) == 120
