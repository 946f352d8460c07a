"""No network (issue #8): nothing is fetched unless the user asks (owl:imports, remote JSON-LD
contexts, SERVICE). Sockets to any non-loopback address raise here, and the whole build (HermiT
cross-check, report, docs), validate, add and query still work."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from datacopy import copy_data
from rdflib import OWL, RDF, Graph, URIRef

from kg.cli import main

from conftest import NetworkBlocked  # the no_network fixture lives in conftest.py

HERE = Path(__file__).parent
VALID = HERE / "fixtures" / "sheets" / "valid"
IMPORTS = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
<https://w3id.org/smqi/test/imports> a owl:Ontology ; owl:imports <http://example.invalid/x> .
"""


def test_the_block_works(no_network) -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    no_network.clear()


def test_reasoner_never_sees_owl_imports(no_network, tmp_path: Path) -> None:
    """owlready2 would fetch an imported ontology; kg.derive.owl strips owl:imports first."""
    if shutil.which("java") is None:
        pytest.skip("HermiT needs Java")
    from kg.derive.owl import check_consistency, owl_safe

    graph = Graph().parse(data=IMPORTS, format="turtle")
    assert (None, OWL.imports, None) in graph
    assert (None, OWL.imports, None) not in owl_safe(graph)
    assert (URIRef("https://w3id.org/smqi/test/imports"), RDF.type, OWL.Ontology) in owl_safe(graph)
    check_consistency(graph)  # no fetch, no error


def test_whole_build_offline(no_network, tmp_path: Path, capsys) -> None:
    out = tmp_path / "build"
    code = main(["build", "--out", str(out), "--data", str(VALID), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    for name in ("smqi.trig", "summary.json", "manifest.json", "void.ttl", "report/index.html", "docs/index.html"):
        assert (out / name).is_file(), name
    if shutil.which("java") is not None:
        assert "HermiT agrees" in (out / "summary.json").read_text(encoding="utf-8")


def test_validate_add_query_offline(no_network, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    copy_data(VALID, data)
    entry = tmp_path / "entry.ttl"
    entry.write_text((HERE / "add" / "valid" / "entry.ttl").read_text(encoding="utf-8")
                     + "\n<https://w3id.org/smqi/kg/study/testc2021> "
                       "<http://www.w3.org/2002/07/owl#imports> <http://example.invalid/x> .\n", encoding="utf-8")
    assert main(["validate", str(entry), "--data", str(data)]) in (0, 1)
    remote = tmp_path / "remote.jsonld"
    remote.write_text('{"@context": {"@import": "http://example.invalid/ctx.jsonld"}, "@id": "urn:x"}',
                      encoding="utf-8")
    assert main(["validate", str(remote), "--data", str(data)]) == 2
    assert "would have to be fetched" in capsys.readouterr().err
    for path in sorted((HERE / "add").rglob("*.*")):
        if path.suffix in (".ttl", ".jsonld"):
            assert main(["validate", str(path), "--data", str(data)]) in (0, 1), path
    assert main(["add", str(HERE / "add" / "valid" / "entry.ttl"), "--data", str(data)]) == 0
    assert main(["query", "studies-per-platform", "--graph", str(HERE / "fixtures" / "fuzz-small.ttl")]) == 0
    rq = tmp_path / "service.rq"
    rq.write_text("#+ summary: remote (test)\nSELECT * WHERE { SERVICE <http://example.invalid/sparql> "
                  "{ ?s ?p ?o } }\n", encoding="utf-8")
    assert main(["query", str(rq), "--graph", str(HERE / "fixtures" / "fuzz-small.ttl")]) == 2
    capsys.readouterr()
