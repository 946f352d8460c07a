"""A data folder's files are untrusted (kg/io/datafolder.py, issue 16): entries are read only from
inside the folder (a symbolic link of ``entries/`` or of an entry file that leads outside is refused
with a message, by every command that reads the folder), and a read-only data folder is read as it
is. Fixtures: tests/fixtures/sheets/valid and tests/add/valid (made up).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.cli import main
from kg.io.datafolder import data_files, entry_files
from kg.model.errors import DataError

HERE = Path(__file__).parents[1]
VALID = HERE / "fixtures" / "sheets" / "valid"
ENTRY = HERE / "add" / "valid" / "entry.ttl"


def tree(folder: Path) -> dict[str, object]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() and not p.is_symlink() else "other"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    data, outside = tmp_path / "data", tmp_path / "outside"
    copy_data(VALID, data)
    outside.mkdir()
    shutil.copy(ENTRY, outside / "testc2021.ttl")
    return data, outside


def test_entries_inside_the_folder_are_read(folders) -> None:
    data, _outside = folders
    (data / "entries").mkdir()
    shutil.copy(ENTRY, data / "entries" / "testc2021.ttl")
    (data / "entries" / "alias.ttl").symlink_to(data / "entries" / "testc2021.ttl")  # a link inside: fine
    assert [p.name for p in data_files(data).entries] == ["alias.ttl", "testc2021.ttl"]


@pytest.mark.parametrize("link", ["entries-folder", "entry-file"])
def test_an_entry_link_leading_outside_is_refused_by_every_command(folders, tmp_path: Path, link: str,
                                                                   capsys) -> None:
    data, outside = folders
    if link == "entries-folder":
        (data / "entries").symlink_to(outside, target_is_directory=True)
        bad, real = data / "entries", outside.resolve()
    else:
        (data / "entries").mkdir()
        (data / "entries" / "testc2021.ttl").symlink_to(outside / "testc2021.ttl")
        bad, real = data / "entries" / "testc2021.ttl", (outside / "testc2021.ttl").resolve()
    message = (f"{bad}: a symbolic link that leads outside the data folder {data} (to {real}); entries are read "
               "only from inside it. Replace the link by the folder or file itself.")
    with pytest.raises(DataError) as info:
        entry_files(data)
    assert str(info.value) == message
    before = tree(tmp_path)
    new = HERE / "add" / "valid" / "entry.jsonld"
    for argv in (["validate", str(new), "--data", str(data)], ["add", str(new), "--data", str(data)],
                 ["build", "--data", str(data), "--out", str(tmp_path / "build"), "--no-owl", "--quiet"],
                 ["export", "--format", "csv", "--data", str(data)]):
        assert main(argv) == 2, argv
        said = f"smqi {argv[0]}: error: {message}\n"
        if argv[0] == "add":
            said += "smqi add: nothing was written: the data folder is unchanged.\n"
        assert capsys.readouterr().err == said, argv
        assert tree(tmp_path) == before, argv


def test_a_read_only_data_folder_is_built_and_validated(folders, tmp_path: Path, capsys) -> None:
    """Readers need no write access to the data folder (they read it without a lock there)."""
    from mounts import read_only

    data, _outside = folders
    with read_only(data, tmp_path / "ro") as ro:
        assert main(["build", "--data", str(ro), "--out", str(tmp_path / "build"), "--no-owl", "--quiet"]) == 0
        assert main(["validate", str(ENTRY), "--data", str(ro)]) == 0
        assert "Conforms: yes" in capsys.readouterr().out
        assert sorted(p.name for p in ro.iterdir()) == ["studies.csv", "uses.csv"]


@pytest.mark.parametrize("name", ["studies.csv", "entries/testc2021.ttl"])
def test_a_data_file_that_is_a_fifo_is_refused_not_read(folders, name: str) -> None:
    """Reading a FIFO would wait forever: a data folder holds regular files only."""
    import os

    data, _outside = folders
    (data / "entries").mkdir()
    (data / name).unlink(missing_ok=True)
    os.mkfifo(data / name)
    with pytest.raises(DataError) as info:
        data_files(data)
    assert str(info.value) == (f"{data / name}: not a regular file (a folder, a FIFO or a device); a data folder "
                               "holds regular files only.")
