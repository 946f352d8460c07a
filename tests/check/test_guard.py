"""The query guard (kg/check/guard.py) decides on the whole query, whatever its depth (issue 16).

The queries are made up here. Nesting is bounded by a linear pre-check before any parser runs, in
process (`smqi query FILE.rq`) as in the server front (tests/serve/test_front.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.check.guard import QueryRefused, check_nesting, check_query, query_shape
from kg.cli import main
from kg.io.queries import list_queries
from kg.model.errors import UsageError
from kg.model.limits import DEFAULTS

NESTING = DEFAULTS["SMQI_MAX_QUERY_NESTING"]
REMOTE = "<http://127.0.0.1:9/sparql>"


def nested_service(depth: int) -> str:
    return "SELECT * WHERE " + "{ " * depth + f"SERVICE {REMOTE} {{ ?s ?p ?o }}" + " }" * depth


def test_depth_is_counted_outside_strings_iris_and_comments() -> None:
    text = ('SELECT * WHERE { ?s <http://x/a(b)> "{{{(" . ?s ?p """((\n[[""" # {{{{{{\n'
            " FILTER((?o < 3)) ?s ?p '[[' }")
    shape = query_shape(text)
    assert (shape.depth, shape.line, shape.service, shape.unclosed_line) == (3, 3, False, None)
    assert query_shape("SELECT * { ?s ?p ?o } # SERVICE <x> {}").service is False
    for hidden in ('SELECT * { ?s ?p "x"@en SERVICE <x> {} }', "SELECT * { ?s a.SERVICE <x> {} }",
                   "select * { service <x> {} }"):
        assert query_shape(hidden).service is True, hidden
    for name in ("SELECT ?service { ?service ?p ex:SERVICE }", 'SELECT * { ?s ?p "x"@service }',
                 "PREFIX service: <urn:> SELECT * { ?s service:p ?o }"):
        assert query_shape(name).service is False, name


def test_iri_shaped_operators_never_lower_the_depth() -> None:
    """`<` may be less-than: brackets inside an IRI-shaped token count where they deepen the nesting."""
    assert query_shape("ASK { FILTER(?a<((((?b>0)))) }").depth == 6
    assert query_shape("ASK { FILTER(?a<(?b>1)) FILTER(((1))) }").depth == 4
    assert query_shape("ASK { ?s <http://x/(> ?o FILTER((1)) }").depth == 4  # 3 as parsed: one too many, never too few


def test_unclosed_string_stops_the_scan() -> None:
    with pytest.raises(UsageError, match=r"^q\.rq: line 2: the query does not parse: a string is opened"):
        check_nesting('SELECT * {\n ?s ?p "never closed }', "q.rq")


@pytest.mark.parametrize("depth", [NESTING + 1, 2_000, 1_000_000])
def test_deep_nesting_is_refused_before_parsing(depth: int) -> None:
    with pytest.raises(UsageError) as caught:
        check_query(nested_service(depth), "deep.rq")
    assert str(caught.value) == (f"deep.rq: line 1: the query nests brackets ({{ }}, ( ), [ ]) more than "
                                 f"{NESTING} levels deep; smqi reads at most {NESTING} "
                                 "(SMQI_MAX_QUERY_NESTING): write it flatter")


def test_service_at_every_depth_up_to_the_limit_is_refused() -> None:
    for depth in range(1, NESTING):
        with pytest.raises(QueryRefused, match=r"SERVICE <http://127\.0\.0\.1:9/sparql> would send"):
            check_query(nested_service(depth))
    for levels in range(1, (NESTING - 2) // 2):
        text = ("ASK { " + "FILTER EXISTS { ?s ?p ?o " * levels + f"SERVICE {REMOTE} {{ ?s ?p ?o }}"
                + " }" * levels + " }")
        with pytest.raises(QueryRefused, match=r"SERVICE <http://127\.0\.0\.1:9/sparql> would send"):
            check_query(text)


def test_shipped_queries_are_within_the_limit() -> None:
    assert max(query_shape(q.text).depth for q in list_queries()) <= NESTING // 2


def test_smqi_query_refuses_deep_nesting_in_process(tmp_path: Path, capsys) -> None:
    """`smqi query FILE.rq` on the built store would hand the text to pyoxigraph, which crashes the
    process at about 3,000 levels: the pre-check refuses it first (exit 2), with or without --allow-service."""
    query = tmp_path / "deep.rq"
    graph = tmp_path / "g.ttl"
    graph.write_text("<urn:s> <urn:p> <urn:o> .\n", encoding="utf-8")
    for depth in (2_000, 100_000):
        query.write_text("#+ summary: made up, nested deep\n" + nested_service(depth), encoding="utf-8")
        for extra in ([], ["--allow-service"]):
            assert main(["query", str(query), "--graph", str(graph), *extra]) == 2
            err = capsys.readouterr().err
            assert f"{query}: line 2: the query nests brackets" in err and "Traceback" not in err
