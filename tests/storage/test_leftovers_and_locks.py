"""Writers apart and no leftovers: locks beside a destination, temporaries named after their process.

* :meth:`WriterLock.beside` takes a lock file next to a destination (its
  parent directory is created if missing and removed again if left empty);
  the second of two writers fails at once, and the lock file goes with the
  writer.
* Every temporary carries the pid of the process that made it, so that
  :func:`remove_abandoned` can remove those of a process that is gone (``kill
  -9``) and never those of a live one.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from kerasrnn.storage import atomic
from kerasrnn.storage.atomic import StagedDirectory
from kerasrnn.storage.locks import LOCK_SUFFIX, LockedError, WriterLock, remove_abandoned_locks

pytestmark = pytest.mark.backend_independent
needs_flock = pytest.mark.skipif(sys.platform.startswith("win"), reason="no flock on Windows")


def names(directory):
    return sorted(p.name for p in directory.iterdir())


def dead_pid():
    """The pid of a process that has ended (and was reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(done.stdout)
    assert not atomic.process_alive(pid)
    return pid


def test_process_alive():
    assert atomic.process_alive(os.getpid())
    assert not atomic.process_alive(dead_pid())


# --------------------------------------------------------------------------- #
# Temporaries carry their process id
# --------------------------------------------------------------------------- #


def test_staged_directory_names_carry_the_pid(tmp_path):
    staging = StagedDirectory(tmp_path / "out")
    assert staging.path.name.startswith(f".out{atomic.STAGING_INFIX}{os.getpid()}-")
    assert atomic.owner_pid(staging.path.name) == os.getpid()
    staging.discard()


@pytest.mark.parametrize(
    "name, pid",
    [
        (".out.tmp-123-abc_x9", 123),
        (".out.old-77-zz", 77),
        (".m.onnx.tmp-5-q", 5),
        (".state.json.123.tmp", 123),
        (".model.45.tmp.keras", 45),
        (".model-99.tmp.keras", 99),
        (".out.tmp-abcdefgh", None),  # an older staged directory: no pid, never removed
        ("out.tmp-1-a", None),
        ("notes.txt", None),
        (".hidden", None),
    ],
)
def test_owner_pid(name, pid):
    assert atomic.owner_pid(name) == pid


def test_remove_abandoned_removes_only_what_dead_processes_left(tmp_path):
    gone, alive = dead_pid(), os.getpid()
    for name in (f".a.tmp-{gone}-x1", f".b.tmp-{alive}-x2", ".c.tmp-legacy1", "keep"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    for name in (f".m.{gone}.tmp.onnx", f".m.{alive}.tmp.onnx", f".s.json.{gone}.tmp", "notes.txt", ".hidden"):
        (tmp_path / name).write_text("x")
    removed = atomic.remove_abandoned(tmp_path)
    assert sorted(p.name for p in removed) == sorted(
        [f".a.tmp-{gone}-x1", f".m.{gone}.tmp.onnx", f".s.json.{gone}.tmp"]
    )
    assert names(tmp_path) == sorted(
        [f".b.tmp-{alive}-x2", ".c.tmp-legacy1", "keep", f".m.{alive}.tmp.onnx", "notes.txt", ".hidden"]
    )
    # Only files of the given suffixes, when asked:
    (tmp_path / f".s.json.{gone}.tmp").write_text("x")
    (tmp_path / f".n.{gone}.tmp.onnx").write_text("x")
    removed = atomic.remove_abandoned(tmp_path, file_suffixes=(".onnx",))
    assert [p.name for p in removed] == [f".n.{gone}.tmp.onnx"]
    assert (tmp_path / f".s.json.{gone}.tmp").exists()
    assert atomic.remove_abandoned(tmp_path / "missing") == []


def test_remove_abandoned_restores_a_backup_whose_replacement_never_arrived(tmp_path):
    """A writer killed between its two renames: the previous directory is put back."""
    gone = dead_pid()
    backup = tmp_path / f".out{atomic.BACKUP_INFIX}{gone}-abc"
    backup.mkdir()
    (backup / "old.txt").write_text("old")
    atomic.remove_abandoned(tmp_path)
    assert names(tmp_path) == ["out"] and (tmp_path / "out" / "old.txt").read_text() == "old"
    # With the replacement in place, the backup is only removed.
    backup.mkdir()
    atomic.remove_abandoned(tmp_path)
    assert names(tmp_path) == ["out"]


def test_remove_stale_temporaries_can_spare_live_writers(tmp_path):
    gone = dead_pid()
    for name in (f".a.json.{gone}.tmp", f".b.json.{os.getpid()}.tmp"):
        (tmp_path / name).write_text("x")
    removed = atomic.remove_stale_temporaries(tmp_path, keep_live=True)
    assert [p.name for p in removed] == [f".a.json.{gone}.tmp"]
    assert names(tmp_path) == [f".b.json.{os.getpid()}.tmp"]


# --------------------------------------------------------------------------- #
# Locks beside a destination
# --------------------------------------------------------------------------- #


@needs_flock
def test_lock_beside_a_destination(tmp_path):
    out = tmp_path / "new" / "deeper" / "out"
    lock = WriterLock.beside(out, f"the export {out}")
    assert lock.path == out.parent / f".out{LOCK_SUFFIX}"
    with lock:
        assert names(out.parent) == [lock.path.name]
        second = WriterLock.beside(out, f"the export {out}")
        with pytest.raises(LockedError) as refused:
            second.acquire()
        message = str(refused.value)
        assert (
            message == f"the export {out} is being written by another kerasrnn process (pid {os.getpid()}); "
            "wait for it to finish"
        )
        assert "\n" not in message
    # The lock file and the parents the lock made are gone with it.
    assert names(tmp_path) == []


@needs_flock
def test_lock_beside_keeps_a_parent_that_received_something(tmp_path):
    out = tmp_path / "new" / "out"
    with WriterLock.beside(out, "the export"):
        out.mkdir()
    assert names(tmp_path / "new") == ["out"]


@needs_flock
def test_a_lock_held_by_another_process_and_released_by_its_death(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
            import sys, time
            from kerasrnn.storage.locks import WriterLock
            WriterLock.beside(sys.argv[1], "x").acquire()
            print("held", flush=True)
            time.sleep(120)
            """
            ),
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            WriterLock.beside(out, "the export").acquire()
        holder.kill()  # kill -9: the lock is released, its file stays
        holder.wait(timeout=30)
        assert names(tmp_path) == [f".out{LOCK_SUFFIX}"]
        with WriterLock.beside(out, "the export"):
            pass
        assert names(tmp_path) == []
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        holder.stdout.close()


@needs_flock
def test_remove_abandoned_locks(tmp_path):
    with WriterLock.beside(tmp_path / "busy", "busy"):
        (tmp_path / f".gone{LOCK_SUFFIX}").write_text("123\n")
        (tmp_path / ".other.lock").write_text("not ours")
        removed = remove_abandoned_locks(tmp_path)
        assert [p.name for p in removed] == [f".gone{LOCK_SUFFIX}"]
        assert names(tmp_path) == [f".busy{LOCK_SUFFIX}", ".other.lock"]


@needs_flock
def test_a_destination_whose_lock_is_held_keeps_its_temporaries(tmp_path):
    """A writer in another pid namespace has a pid that means nothing here; its lock still counts."""
    from kerasrnn.storage.locks import held_beside

    gone = dead_pid()
    (tmp_path / f".busy.tmp-{gone}-x1").mkdir()
    (tmp_path / f".idle.tmp-{gone}-x1").mkdir()
    with WriterLock.beside(tmp_path / "busy", "busy"):
        assert held_beside(tmp_path / "busy") and not held_beside(tmp_path / "idle")
        removed = atomic.remove_abandoned(tmp_path, in_use=held_beside)
    assert [p.name for p in removed] == [f".idle.tmp-{gone}-x1"]
    assert names(tmp_path) == [f".busy.tmp-{gone}-x1"]


def test_temporary_destination(tmp_path):
    assert atomic.temporary_destination(tmp_path / ".out.tmp-1-ab") == tmp_path / "out"
    assert atomic.temporary_destination(tmp_path / ".m.7.tmp.onnx") == tmp_path / "m.onnx"
    assert atomic.temporary_destination(tmp_path / ".s.json.7.tmp") == tmp_path / "s.json"
    assert atomic.temporary_destination(tmp_path / "notes.txt") is None
