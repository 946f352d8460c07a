"""Property-based fuzzing of every input path (issue #8), in process through kg.cli.main.

Invariants for every generated input: main returns 0, 1 or 2 (0 only when the input happens to be
valid), never raises, never prints a traceback or the "internal error" fallback, and after a
failing command every file of the data folder is byte-identical.

Profiles (SMQI_HYPOTHESIS_PROFILE): "ci" (the default, `make test`: a few dozen cases per test) and
"fuzz" (`make fuzz`: over 10,000 cases in all, see FUZZ_EXAMPLES).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from datacopy import copy_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.cli import main
from kg.io.sheets import STUDY_COLUMNS, USE_COLUMNS
from kg.io.queries import list_queries

HERE = Path(__file__).parents[1]
VALID_SHEETS = HERE / "fixtures" / "sheets" / "valid"
ENTRY_TTL = (HERE / "add" / "valid" / "entry.ttl").read_text(encoding="utf-8")
ENTRY_JSONLD = (HERE / "add" / "valid" / "entry.jsonld").read_text(encoding="utf-8")

PROFILE = os.environ.get("SMQI_HYPOTHESIS_PROFILE", "ci")
# examples per test in the fuzz profile: 4,000 + 4,000 + 1,000 + 1,000 = 10,000 cases
FUZZ_EXAMPLES = {"query": 4000, "parse": 4000, "csv": 1000, "rdf": 1000}
CI_EXAMPLES = {"query": 40, "parse": 40, "csv": 25, "rdf": 25}
# SMQI_FUZZ_CASES=N runs N cases in all (shared in the same proportions), e.g. to time a reduced run
if os.environ.get("SMQI_FUZZ_CASES", "").isdigit():
    _total = int(os.environ["SMQI_FUZZ_CASES"])
    FUZZ_EXAMPLES = {k: max(1, v * _total // 10_000) for k, v in FUZZ_EXAMPLES.items()}
_common = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
for _name, _table in (("ci", CI_EXAMPLES), ("fuzz", FUZZ_EXAMPLES)):
    settings.register_profile(_name, max_examples=max(_table.values()), **_common)
settings.load_profile(PROFILE if PROFILE in ("ci", "fuzz") else "ci")


def examples(kind: str) -> settings:
    table = FUZZ_EXAMPLES if PROFILE == "fuzz" else CI_EXAMPLES
    return settings(max_examples=table[kind])


def run(argv: list[str]) -> tuple[int, str, str]:
    """kg.cli.main in process, with stdout and stderr captured, and what the libraries log (a user
    sees it on stderr, where pytest's log capture would hide it from ``err``)."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        root.removeHandler(handler)
    return code, out.getvalue(), err.getvalue()


def check(code: object, err: str, argv: list[str]) -> None:
    assert isinstance(code, int) and code in (0, 1, 2), (code, argv, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    assert "internal error" not in err, err[-3000:]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "data"
    copy_data(VALID_SHEETS, folder)
    return folder


def restore(folder: Path) -> None:
    shutil.rmtree(folder)
    copy_data(VALID_SHEETS, folder)


# ---------------------------------------------------------------- strategies

KEYS = ["twitter", "facebook", "two-way", "one-way-inbound", "health-organisation", "patients-consumers",
        "consultation", "plan", "GB", "AU", "XX", "qualitative", "high", "1", "2", "0", "-1", "²", "١",
        "2020", "1999", "99999", "smith2020", "newb2022", "10.1234/abc", "https://doi.org/10.1/X",
        "12345", "0123", "https://example.org/x", "http:///x", "twitter;facebook", "twitter;twitter"]
SPECIAL = ['"', '""', ",", "\n", "\r\n", "\r", ";", "\ufeff", "\x00", "\\", "'", "\t", " ", "é", "日本",
           "\U0001F600", "\u202e", "<script>", "<urn:x>", "%s", "{}"]

cells = st.one_of(
    st.sampled_from(KEYS),
    st.text(max_size=20),
    st.lists(st.sampled_from(SPECIAL + KEYS), max_size=6).map("".join),
    st.integers(min_value=1000, max_value=200_000).map(lambda n: "é" * n),  # very long fields
    st.just(""),
)


@st.composite
def sheet(draw, columns: list[str]) -> bytes:
    header = list(columns)
    mutation = draw(st.sampled_from(["none", "none", "drop", "dupe", "extra", "shuffle", "empty"]))
    if mutation == "drop" and header:
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif mutation == "dupe":
        header.append(draw(st.sampled_from(columns)))
    elif mutation == "extra":
        header.insert(draw(st.integers(0, len(header))), draw(st.text(max_size=8)))
    elif mutation == "shuffle":
        header = draw(st.permutations(header))
    elif mutation == "empty":
        header = []
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(columns) + 2), max_size=4))
    if draw(st.booleans()):  # rows of the right width, mostly plausible
        rows = [(r + [""] * len(header))[:len(header)] for r in rows]
    buffer = io.StringIO()
    if draw(st.booleans()):
        writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
    else:  # raw, unquoted: commas, quotes and newlines inside cells break the structure
        buffer.write(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.booleans()) and raw:  # truncated
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


def valid_study_row(draw) -> dict[str, str]:
    sid = draw(st.sampled_from(["newb2022", "smith2020", "newc2023", "Bad Id"]))
    return {"study_id": sid, "first_author": "New B", "authors": "New B", "year": "2022", "title": "T",
            "journal": "", "doi": "", "pmid": "", "countries": "GB", "design": "qualitative",
            "source_url": "https://example.org/x", "summary": ""}


@st.composite
def near_valid_sheets(draw) -> tuple[bytes, bytes]:
    """A studies and a uses sheet of right shape with one or two cells replaced by fuzz."""
    study = valid_study_row(draw)
    use = {"study_id": study["study_id"], "use_no": "1", "platforms": "twitter", "communication_model": "two-way",
           "host": "health-organisation", "user_populations": "patients-consumers",
           "qi_activities": "consultation", "qi_stages": "plan", "note": "", "confidence": "high"}
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from([study, use]))
        target[draw(st.sampled_from(sorted(target)))] = draw(cells)
    out = []
    for columns, row in ((STUDY_COLUMNS, study), (USE_COLUMNS, use)):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
        out.append(buffer.getvalue().encode("utf-8"))
    return out[0], out[1]


REPLACEMENTS = ['"2021"^^xsd:gYear', '"abc"^^xsd:gYear', '"x"^^xsd:positiveInteger', '"-1"^^xsd:positiveInteger',
                "[]", "[ a smqi:Study ]", "_:b0", "platform:tweeter", "platform:twitter", '"twitter"',
                "<http://example.invalid/x>", "study:testc2021", "use:testc2021-1", "<>", "<not an iri>",
                '"' + "x" * 120_000 + '"', '"""multi\nline"""', '"unterminated', "(", ")", ";", ".", ",",
                "owl:imports", "<http://example.invalid/onto>", '"2021"@en', "1", "1.5e3", "true"]


@st.composite
def turtle_text(draw) -> str:
    tokens = ENTRY_TTL.split(" ")
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(tokens) - 1))
        tokens[index] = draw(st.one_of(st.sampled_from(REPLACEMENTS), st.text(max_size=10)))
    text = " ".join(tokens)
    if draw(st.booleans()):
        text = text[:draw(st.integers(0, len(text)))]
    return text


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10),
              st.sampled_from(["twitter", "@id", "http://example.invalid/ctx", "https://w3id.org/smqi/context.jsonld"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.one_of(st.sampled_from(["@context", "@id", "@type", "@graph", "@import", "study_id", "platforms",
                                   "use_no", "@value", "@language", "@list"]), st.text(max_size=6)),
        inner, max_size=3)),
    max_leaves=10)


@st.composite
def jsonld_text(draw) -> str:
    doc = json.loads(ENTRY_JSONLD)
    choice = draw(st.sampled_from(["mutate", "replace", "truncate"]))
    if choice == "truncate":
        return ENTRY_JSONLD[:draw(st.integers(0, len(ENTRY_JSONLD)))]
    if choice == "replace":
        return json.dumps(draw(json_values))

    def mutate(node):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()):
                node[key] = draw(json_values)
            else:
                mutate(node[key])
        elif isinstance(node, list) and node:
            mutate(node[draw(st.integers(0, len(node) - 1))])

    for _ in range(draw(st.integers(1, 3))):
        mutate(doc)
    return json.dumps(doc)


ntriples_terms = st.sampled_from([
    "<https://w3id.org/smqi/kg/study/n2020>", "<https://w3id.org/smqi/ontology#studyId>", '"n2020"',
    "_:b1", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", "<https://w3id.org/smqi/ontology#Study>",
    '"2020"^^<http://www.w3.org/2001/XMLSchema#gYear>', '"bad"^^<http://www.w3.org/2001/XMLSchema#integer>',
    "<bad iri>", '"unterminated', "<http://www.w3.org/2002/07/owl#imports>", "<http://example.invalid/x>", "."])


@st.composite
def ntriples_text(draw) -> str:
    lines = draw(st.lists(st.lists(ntriples_terms, min_size=0, max_size=5), max_size=5))
    return "".join(" ".join(line) + draw(st.sampled_from([" .\n", "\n", " . ."])) for line in lines)


rdf_documents = st.one_of(
    turtle_text().map(lambda t: (".ttl", t)),
    jsonld_text().map(lambda t: (".jsonld", t)),
    ntriples_text().map(lambda t: (".nt", t)),
)


# ---------------------------------------------------------------- the properties


def add_then_restore(data: Path, argv: list[str]) -> None:
    """`smqi add` on fuzzed input: a clean outcome; a refused one leaves the data folder unchanged."""
    before = digest(data)
    code, _out, err = run(argv)
    check(code, err, argv)
    if code == 0:
        restore(data)
    else:
        assert digest(data) == before


@examples("csv")
@given(st.one_of(st.tuples(sheet(STUDY_COLUMNS), sheet(USE_COLUMNS)), near_valid_sheets()))
def test_fuzz_csv_sheets(data: Path, tmp_path_factory, pair: tuple[bytes, bytes]) -> None:
    folder = tmp_path_factory.mktemp("csv")
    studies, uses = folder / "studies.csv", folder / "uses.csv"
    studies.write_bytes(pair[0])
    uses.write_bytes(pair[1])
    add_then_restore(data, ["add", str(studies), str(uses), "--data", str(data)])


@examples("rdf")
@given(rdf_documents)
def test_fuzz_rdf_entries(data: Path, tmp_path_factory, document: tuple[str, str]) -> None:
    suffix, text = document
    path = tmp_path_factory.mktemp("rdf") / f"entry{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    add_then_restore(data, ["add", str(path), "--data", str(data)])


@examples("parse")
@given(rdf_documents)
def test_fuzz_rdf_parsing_with_query_graph(tmp_path_factory, document: tuple[str, str]) -> None:
    """Every RDF reader (Turtle, JSON-LD, N-Triples) on broken input: `smqi query --graph FILE`."""
    suffix, text = document
    path = tmp_path_factory.mktemp("parse") / f"g{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    argv = ["query", "studies-per-platform", "--graph", str(path), "--format", "json"]
    code, _out, err = run(argv)
    check(code, err, argv)


NAMES = [q.name for q in list_queries()] + [q.qualified_name for q in list_queries()]
SMALL_GRAPH = HERE / "fixtures" / "fuzz-small.ttl"

param_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(['" } UNION { ?s ?p ?o } #', "<urn:x>", "<>", "<urn:x> } #>", "<http://example.invalid/x>",
                     "twitter", "<https://w3id.org/smqi/vocab/platform/twitter>", "\x00", "'", "\\", "?x"]),
    st.lists(st.sampled_from(SPECIAL), max_size=5).map("".join),
)
params = st.tuples(st.one_of(st.sampled_from(["key", "platform", "s", "x", "study", "n"]), st.text(max_size=6)),
                   st.sampled_from(["=", "=", ":", ""]), param_values).map("".join)


@examples("query")
@given(st.one_of(st.sampled_from(NAMES), st.text(max_size=25), st.sampled_from(["../x.rq", "/", ".rq", "x/y"])),
       st.lists(params, max_size=3), st.sampled_from(["table", "csv", "json"]))
def test_fuzz_query_names_and_params(name: str, values: list[str], fmt: str) -> None:
    argv = ["query", name, "--graph", str(SMALL_GRAPH), "--format", fmt]
    for value in values:
        argv += ["--param", value]
    code, _out, err = run(argv)
    check(code, err, argv)
