"""The command line, in process (kg.cli.main) and once through `python -m kg`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kg.cli import COMMANDS, main
from kg.model import resources

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sheets"
SHAPE_FIXTURES = Path(__file__).parents[1] / "shapes"


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "build"
    assert main(["build", "--out", str(out), "--data", str(FIXTURES / "valid"), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_the_commands_own_exit_codes(command: str, capsys: pytest.CaptureFixture) -> None:
    from importlib import import_module

    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    own = import_module(f"kg.cli.{command}").EXIT_CODES
    assert out.endswith("\n\n" + own + "\n")
    assert own.startswith("exit codes:\n  0  ") and "\n  2  usage error" in own
    assert "the graph conforms" not in out


def test_exit_codes_differ_by_command() -> None:
    from importlib import import_module

    from kg.cli.common import exit_codes

    texts = {c: import_module(f"kg.cli.{c}").EXIT_CODES for c in COMMANDS}
    assert texts["add"].splitlines()[1:3] == [
        "  0  every entry was added",
        "  1  an entry is invalid: nothing was written (with --keep-valid: the valid entries were added"]
    assert texts["validate"].splitlines()[1] == "  0  the entries conform (warnings may be printed)"
    assert "\n  1  " not in texts["push"] and "\n  1  " not in texts["serve"]  # they never exit 1
    assert len(set(texts.values())) == len(COMMANDS)
    assert exit_codes((0, "ok"), (2, "a " * 50)) == (
        "exit codes:\n  0  ok\n  2  " + "a " * 44 + "a\n     " + "a " * 4 + "a")


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_query_list(capsys: pytest.CaptureFixture) -> None:
    assert main(["query", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "cq/studies-per-platform\tStudies per platform" in lines
    assert any(line.startswith("cq/platform-by-activity\t") for line in lines)
    at = lines.index("cq/platform-by-activity\tGap map of platforms by QI activity")
    assert lines[at + 1:at + 3] == [
        "    --param platform=…  only this platform key (a literal, e.g. --param platform=twitter)",
        "    --param activity=…  only this QI activity key (a literal)"]


def test_query_runs_a_plain_rq_file_without_header(fixture_build: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    plain = tmp_path / "plain.rq"
    plain.write_text("PREFIX smqi: <https://w3id.org/smqi/ontology#>\n"
                     "SELECT (COUNT(?s) AS ?n) WHERE { ?s a smqi:Study }\n", encoding="utf-8")
    assert main(["query", str(plain), "--graph", str(fixture_build / "smqi.trig"), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]


@pytest.mark.parametrize("where", [[], ["--graph"]], ids=["store", "graph"])
def test_an_unknown_param_is_a_usage_error_naming_the_parameters(where: list[str], fixture_build: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    extra = [where[0], str(fixture_build / "smqi.trig")] if where else ["--store", str(fixture_build / "store")]
    assert main(["query", "platform-by-activity", *extra, "--param", "dimension=platform"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("smqi query: error: query 'cq/platform-by-activity' has no parameter ?dimension: it "
                            "takes ?platform, ?activity. See 'smqi query --list'.\n")


def test_query_formats_on_a_built_graph(fixture_build: Path, capsys: pytest.CaptureFixture) -> None:
    graph = str(fixture_build / "smqi.trig")
    assert main(["query", "studies-per-host", "--graph", graph, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "key,label,studies",
        "health-organisation,Health organisation,1",
        "professionals,Professionals,1",
        "third-party-platform,Third-party platform,1",
    ]
    assert main(["query", "studies-per-host", "--graph", graph, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["head"]["vars"] == ["key", "label", "studies"]
    assert doc["results"]["bindings"][0]["key"] == {"type": "literal", "value": "health-organisation"}
    assert main(["query", "studies-per-host", "--graph", graph]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["key", "label", "studies"]
    assert len(table) == 5  # header, rule, three rows


def test_query_param_is_bound_not_pasted(fixture_build: Path, capsys: pytest.CaptureFixture) -> None:
    graph = str(fixture_build / "smqi.trig")
    assert main(["query", "studies-per-host", "--graph", graph, "--format", "csv",
                 "--param", "key=professionals"]) == 0
    assert capsys.readouterr().out.splitlines() == ["key,label,studies", "professionals,Professionals,1"]
    hostile = "x\" } UNION { ?s ?p ?o } #"
    assert main(["query", "studies-per-host", "--graph", graph, "--format", "csv",
                 "--param", f"key={hostile}"]) == 0
    assert capsys.readouterr().out.splitlines() == ["key,label,studies"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "studies-per-platfrom"], "studies-per-platform"),
        (["query"], "give a query name"),
        (["query", "studies-per-host", "--param", "no-equals"], "write NAME=VALUE"),
        (["query", "studies-per-host", "--graph", "missing.ttl"], "missing.ttl: no such file"),
        (["validate", "nothing-here.ttl"], "nothing-here.ttl: no such file"),
    ],
    ids=["unknown-query", "no-name", "bad-param", "missing-graph", "missing-file"],
)
def test_user_errors_exit_2_without_traceback(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_validate_sheets_text_and_json(capsys: pytest.CaptureFixture) -> None:
    bad = [str(FIXTURES / "bad" / "studies.csv"), str(FIXTURES / "bad" / "uses.csv")]
    assert main(["validate", *bad]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Conforms: no (3 problems)\n")
    assert main(["validate", *bad, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["conforms"] is False
    assert [(Path(p["file"]).name, p["row"], p["field"], p["value"]) for p in doc["problems"]] == [
        ("studies.csv", 4, "study_id", "smithb2020"),
        ("uses.csv", 2, "platforms", "tweeter"),
        ("uses.csv", 3, "host", ""),
    ]
    good = [str(FIXTURES / "valid" / "studies.csv"), str(FIXTURES / "valid" / "uses.csv")]
    assert main(["validate", *good]) == 0
    assert capsys.readouterr().out == "Conforms: yes\n"


def test_validate_only_one_sheet_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(FIXTURES / "valid" / "uses.csv")]) == 2
    assert "the studies sheet is missing" in capsys.readouterr().err


def test_validate_turtle(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    valid = sorted((SHAPE_FIXTURES / "social-media-use" / "valid").glob("*.ttl"))[0]
    assert main(["validate", str(valid)]) == 0
    capsys.readouterr()
    invalid = SHAPE_FIXTURES / "social-media-use" / "invalid"
    no_host = invalid / "missing-host.ttl"
    assert main(["validate", str(no_host)]) == 1
    out = capsys.readouterr().out
    assert "field host" in out
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e \n", encoding="utf-8")
    assert main(["validate", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.ttl:" in err and "not valid turtle" in err and "Traceback" not in err


def test_validate_refuses_remote_jsonld_context(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    doc = tmp_path / "entry.jsonld"
    doc.write_text(json.dumps({"@context": "https://example.org/context.jsonld", "@id": "x"}), encoding="utf-8")
    assert main(["validate", str(doc)]) == 2
    assert "would have to be fetched" in capsys.readouterr().err


def test_python_dash_m_kg_works() -> None:
    done = subprocess.run([sys.executable, "-m", "kg", "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("smqi-kg ")


def test_typology_assignments_csv(capsys: pytest.CaptureFixture) -> None:
    assert main(["typology", "--assignments", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "study_id,use_no,model"
    uses = (resources.data_dir() / "uses.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(uses)  # a header and one row per use
    assert lines[1] == "ahne2020,1,listening"


def test_typology_summary_and_explain(capsys: pytest.CaptureFixture) -> None:
    assert main(["typology", "--data", str(FIXTURES / "valid"), "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "key,label,uses,studies,example_studies"
    assert "listening,Social listening and online reviews,1,1,smitha2020" in out
    assert main(["typology", "--data", str(FIXTURES / "valid"), "--explain", "smitha2020-2"]) == 0
    text = capsys.readouterr().out
    assert "rule 1 listening: does not match" in text
    assert "model: consultation (Online consultation)" in text
    assert main(["typology", "--data", str(FIXTURES / "valid"), "--explain", "smitha2021"]) == 2
    assert "smitha2020" in capsys.readouterr().err


def test_network_writes_graphml_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["network", "--data", str(FIXTURES / "valid"), "--out", str(tmp_path / "n")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network analysis of the evidence\n")
    assert sorted(p.name for p in (tmp_path / "n").iterdir()) == [
        "bipartite.graphml", "cooccurrence.graphml", "network.json"]
    first = (tmp_path / "n" / "network.json").read_bytes()
    assert main(["network", "--data", str(FIXTURES / "valid"), "--out", str(tmp_path / "n")]) == 0
    assert (tmp_path / "n" / "network.json").read_bytes() == first


def test_build_reports_its_steps_on_stderr_with_progress_never_on_stdout(tmp_path: Path, capsys) -> None:
    """Made-up data (tests/fixtures/sheets/valid); stderr is captured, so only --progress shows steps."""
    import re

    data = Path(__file__).parents[1] / "fixtures" / "sheets" / "valid"
    out_dir = tmp_path / "build"
    assert main(["build", "--data", str(data), "--out", str(out_dir), "--no-owl", "--progress"]) == 0
    out, err = capsys.readouterr()
    steps = re.sub(r"… \(\d+\.\d s\)$", "…", err, flags=re.M).splitlines()
    assert steps == [
        "smqi: reading the ontology, vocabularies and entries…",
        "smqi: checking, converting and loading the sheets…",
        "smqi: validating with SHACL (compiled to SPARQL)…",
        "smqi: deriving the typology of models of use and running the summary queries…",
        "smqi: checking the review's claims…",
        f"smqi: writing {out_dir}…",
        "smqi: analysing the evidence network…",
        "smqi: writing the HTML report and the ontology documentation…",
    ]
    assert "smqi:" not in out
    assert out.startswith(f"Built {out_dir}/")
    assert main(["build", "--data", str(data), "--out", str(out_dir), "--no-owl"]) == 0
    assert capsys.readouterr().err == ""
