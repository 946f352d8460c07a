"""Input limits (issue #8, kg/limits.py): a clear error naming file, row, field and value, not a hang."""

from __future__ import annotations

from pathlib import Path


from kg.cli import main
from kg.model.limits import DEFAULTS, limit
from datacopy import copy_data

HERE = Path(__file__).parents[1]
VALID = HERE / "fixtures" / "sheets" / "valid"
STUDIES = VALID / "studies.csv"


def test_defaults_and_environment(monkeypatch) -> None:
    assert DEFAULTS["SMQI_MAX_FILE_BYTES"] == 200_000_000 and DEFAULTS["SMQI_MAX_USES_PER_STUDY"] == 1000
    monkeypatch.setenv("SMQI_MAX_CELL_CHARS", "12_000")
    assert limit("SMQI_MAX_CELL_CHARS") == 12000
    monkeypatch.setenv("SMQI_MAX_CELL_CHARS", "lots")
    assert main(["validate", str(STUDIES), str(VALID / "uses.csv"), "--data", str(VALID)]) == 2


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    copy_data(VALID, data)
    return data


def test_cell_just_over_the_limit(tmp_path: Path, capsys) -> None:
    """A cell of DEFAULT + 1 characters (the default limit, not lowered): exit 1, named exactly."""
    cap = DEFAULTS["SMQI_MAX_CELL_CHARS"]
    lines = STUDIES.read_text(encoding="utf-8").splitlines(keepends=True)
    head = lines[0].rstrip("\n").split(",")
    long_row = lines[1].rstrip("\n").split(",")
    long_row[head.index("summary")] = "a" * (cap + 1)
    sheet = tmp_path / "studies.csv"
    sheet.write_text(lines[0] + ",".join(long_row) + "\n", encoding="utf-8")
    assert main(["validate", str(sheet), str(VALID / "uses.csv"), "--data", str(VALID)]) == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert "studies.csv:row 2" in text and "field summary" in text and f"{cap:,} characters" in text
    assert "SMQI_MAX_CELL_CHARS" in text and "Traceback" not in text


def test_file_size_limit(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SMQI_MAX_FILE_BYTES", "100")
    data = _data(tmp_path)
    assert main(["add", str(HERE / "add" / "valid" / "entry.ttl"), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "over the limit of 100 bytes" in err and "SMQI_MAX_FILE_BYTES" in err


def test_uses_per_study_limit(tmp_path: Path, monkeypatch, capsys) -> None:
    """The fixture study smitha2020 has two uses; with the limit lowered to 1 the second is refused."""
    monkeypatch.setenv("SMQI_MAX_USES_PER_STUDY", "1")
    assert main(["build", "--out", str(tmp_path / "build"), "--data", str(VALID), "--no-owl", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "uses.csv:row 3, smitha2020-2, field use_no" in err and "more than 1 uses" in err
    assert not (tmp_path / "build").exists()


def test_rows_per_sheet_limit(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SMQI_MAX_ROWS", "1")
    assert main(["build", "--out", str(tmp_path / "build"), "--data", str(VALID), "--no-owl", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "more than 1 rows" in err and "SMQI_MAX_ROWS" in err


def test_literal_over_the_limit_in_rdf(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SMQI_MAX_CELL_CHARS", "1000")
    text = (HERE / "add" / "valid" / "entry.ttl").read_text(encoding="utf-8")
    text = text.replace('"A made-up study of an online panel"', '"' + "b" * 1001 + '"')
    entry = tmp_path / "entry.ttl"
    entry.write_text(text, encoding="utf-8")
    data = _data(tmp_path)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    assert main(["add", str(entry), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "entry.ttl:line" in err and "field title" in err and "1,000 characters" in err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
