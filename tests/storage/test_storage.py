"""kerasrnn.storage: atomic files and directories, and the destination checks (no Keras backend)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kerasrnn.storage import DestinationError, Problem, StagedDirectory, atomic, check_new_directory, check_new_file

pytestmark = pytest.mark.backend_independent
needs_permissions = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")


def names(directory):
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #


def test_write_functions_round_trip(tmp_path):
    atomic.write_json(tmp_path / "a.json", {"b": np.int64(2), "a": np.float32(0.5), "c": np.arange(2)})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": 0.5,\n  "b": 2,\n  "c": [\n    0,\n    1\n  ]\n}\n'
    atomic.write_text(tmp_path / "t.txt", "héllo")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo"
    atomic.write_npz(tmp_path / "x.npz", {"x": np.ones(3)})
    with np.load(tmp_path / "x.npz") as data:
        np.testing.assert_array_equal(data["x"], np.ones(3))
    assert names(tmp_path) == ["a.json", "t.txt", "x.npz"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "state.json"
    atomic.write_json(target, {"epoch": 1})

    def failing(handle):
        handle.write(b'{"epoch": 2')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(target, failing)
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert names(tmp_path) == ["state.json"]


def test_write_with_a_path_writer_keeps_the_suffix(tmp_path):
    seen = []

    def save(path):
        seen.append(path)
        path.write_text("model")

    result = atomic.write_with(tmp_path / "model.keras", save)
    assert result == tmp_path / "model.keras" and result.read_text() == "model"
    assert seen[0].suffix == ".keras" and seen[0].parent == tmp_path and seen[0].name.startswith(".model.")
    assert atomic.is_temporary(seen[0].name)
    assert names(tmp_path) == ["model.keras"]


def test_write_with_failure_removes_the_temporary_and_keeps_the_old_file(tmp_path):
    (tmp_path / "model.keras").write_text("old")

    def half_written(path):
        path.write_text("partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic.write_with(tmp_path / "model.keras", half_written)
    assert names(tmp_path) == ["model.keras"] and (tmp_path / "model.keras").read_text() == "old"

    def makes_a_directory(path):
        (path / "inner").mkdir(parents=True)
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError):
        atomic.write_with(tmp_path / "model.onnx", makes_a_directory)
    assert names(tmp_path) == ["model.keras"]


def test_remove_stale_temporaries(tmp_path):
    for name in (".state.json.123.tmp", ".model.123.tmp.keras", ".model-99.tmp.keras", "keep.json", ".hidden"):
        (tmp_path / name).write_text("x")
    (tmp_path / ".export.tmp-abc").mkdir()  # a staged directory is not a temporary file
    removed = atomic.remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == [".model-99.tmp.keras", ".model.123.tmp.keras", ".state.json.123.tmp"]
    assert names(tmp_path) == [".export.tmp-abc", ".hidden", "keep.json"]
    assert atomic.remove_stale_temporaries(tmp_path / "missing") == []


# --------------------------------------------------------------------------- #
# Directories
# --------------------------------------------------------------------------- #


def test_staged_directory_commits_into_place(tmp_path):
    final = tmp_path / "new" / "deeper" / "out"
    with StagedDirectory(final, what="the export") as staging:
        assert staging.path.parent == final.parent and staging.path.name.startswith(".out.tmp-")
        assert atomic.staging_directories(final) == {staging.path}
        (staging.path / "a.txt").write_text("a")
        assert not final.exists()
    assert names(final) == ["a.txt"] and names(final.parent) == ["out"]
    assert oct(final.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def test_staged_directory_discards_on_error_and_removes_parents_it_made(tmp_path):
    final = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError):
        with StagedDirectory(final) as staging:
            (staging.path / "a.txt").write_text("a")
            raise RuntimeError("conversion failed")
    assert names(tmp_path) == []


def test_staged_directory_replaces_only_on_commit(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(DestinationError, match="already exists") as refused:
        StagedDirectory(final, what="the export")
    assert refused.value.problem is Problem.EXISTS
    staging = StagedDirectory(final, existing="replace")
    (staging.path / "new.txt").write_text("new")
    assert names(final) == ["old.txt"]
    staging.discard()
    assert names(final) == ["old.txt"] and names(tmp_path) == ["out"]
    staging = StagedDirectory(final, existing="replace")
    (staging.path / "new.txt").write_text("new")
    assert staging.commit() == final
    assert names(final) == ["new.txt"] and names(tmp_path) == ["out"]


def test_staged_directory_under_a_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(DestinationError, match=r"cannot write the export .*a-file/out: .*a-file is not a directory"):
        StagedDirectory(tmp_path / "a-file" / "out", what="the export")
    assert names(tmp_path) == ["a-file"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- #
# Destination checks
# --------------------------------------------------------------------------- #


def test_new_directory(tmp_path):
    assert check_new_directory(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    assert check_new_directory(tmp_path / "empty", "--out") == tmp_path / "empty"
    with pytest.raises(DestinationError, match="already exists") as error:
        check_new_directory(tmp_path / "empty", "the export", existing="refuse")
    assert str(error.value) == f"the export {tmp_path / 'empty'} already exists"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "model.keras").write_text("x")
    with pytest.raises(DestinationError) as error:
        check_new_directory(tmp_path / "full", "the run directory")
    assert error.value.problem is Problem.NOT_EMPTY and error.value.path == tmp_path / "full"
    assert str(error.value) == f"the run directory {tmp_path / 'full'} exists and is not empty"
    assert check_new_directory(tmp_path / "full", existing="replace") == tmp_path / "full"
    (tmp_path / "file").write_text("x")
    for existing in ("empty", "replace"):
        with pytest.raises(DestinationError, match="exists and is a file") as error:
            check_new_directory(tmp_path / "file", "--out", existing=existing)
        assert error.value.problem is Problem.NOT_A_DIRECTORY


def test_new_directory_under_a_file(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(DestinationError) as error:
        check_new_directory(tmp_path / "blocker" / "run" / "deeper", "the run directory", verb="create")
    assert error.value.problem is Problem.PARENT_NOT_A_DIRECTORY
    assert error.value.blocker == tmp_path / "blocker"
    assert str(error.value).startswith(f"cannot create the run directory {tmp_path / 'blocker' / 'run' / 'deeper'}: ")
    assert "\n" not in str(error.value)


def test_relative_paths_are_named_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(DestinationError, match=r"^--out full exists and is not empty$"):
        check_new_directory("full", "--out")
    assert check_new_directory("new") == tmp_path / "new"
    assert check_new_file("out.json", "--out") == tmp_path / "out.json"


@needs_permissions
def test_read_only_parents(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for check in (check_new_directory, check_new_file):
            with pytest.raises(DestinationError, match=r"cannot write .*locked is not writable") as error:
                check(locked / "out", "--out")
            assert error.value.problem is Problem.NOT_WRITABLE and error.value.blocker == locked
        with pytest.raises(DestinationError, match="permission denied"):
            check_new_directory(locked, "the run directory")  # empty, but cannot be filled
        with pytest.raises(DestinationError, match="cannot write the export"):
            StagedDirectory(locked / "export", what="the export")
        assert names(locked) == []
    finally:
        locked.chmod(0o755)


def test_unwritable_directories_as_seen_by_os_access(tmp_path, monkeypatch):
    """The permission checks without root's exemption: os.access says no for ``locked``."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    with pytest.raises(DestinationError) as error:
        check_new_directory(locked / "a" / "b", "the export")
    assert error.value.problem is Problem.NOT_WRITABLE and error.value.blocker == locked
    assert str(error.value) == f"cannot write the export {locked / 'a' / 'b'}: {locked} is not writable"
    with pytest.raises(DestinationError, match=f"^cannot write --out {locked / 'x.json'}: {locked} is not writable$"):
        check_new_file(locked / "x.json", "--out")
    with pytest.raises(DestinationError, match=f"^cannot write the run directory {locked}: permission denied$"):
        check_new_directory(locked, "the run directory")
    assert check_new_directory(tmp_path / "free") == tmp_path / "free"


def test_staged_directory_that_cannot_be_made_leaves_nothing(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)
    with pytest.raises(DestinationError, match=r"^cannot write the export .*out: Permission denied$") as error:
        StagedDirectory(tmp_path / "new" / "out", what="the export")
    assert error.value.problem is Problem.OS_ERROR
    assert names(tmp_path) == []


def test_new_file(tmp_path):
    assert check_new_file(tmp_path / "bench.json", "--out") == tmp_path / "bench.json"
    with pytest.raises(DestinationError, match=r"^--out .* is a directory$") as error:
        check_new_file(tmp_path, "--out")
    assert error.value.problem is Problem.IS_A_DIRECTORY
    missing = tmp_path / "missing" / "bench.json"
    with pytest.raises(DestinationError, match=f"--out {missing}: directory {missing.parent} does not exist"):
        check_new_file(missing, "--out")
    assert check_new_file(missing, create_parents=True) == missing
    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(DestinationError, match="already exists"):
        check_new_file(tmp_path / "old.json")
    assert check_new_file(tmp_path / "old.json", overwrite=True) == tmp_path / "old.json"
    assert not (tmp_path / "missing").exists() and not (tmp_path / "bench.json").exists()


def test_destination_error_is_a_value_error():
    assert issubclass(DestinationError, ValueError)
