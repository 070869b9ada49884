"""kerasrnn as a demanding user tries it: the real command on real files, every case judged.

Usage::

    python tests/scenarios/user_cases.py [--backend tensorflow|jax|torch] [--json REPORT] [--only PATTERN]

Not a pytest module (no ``test_`` prefix): it runs the installed ``kerasrnn``
command (``python -m kerasrnn.cli``) in subprocesses, as a user would, and
takes a few minutes (budget: under 10 minutes on 2 CPU cores with TensorFlow).

A workspace is prepared once per harness run (finished tiny runs on MNIST, on
a user CSV file and on a text corpus, an interrupted run, the user's
``notes.txt``, an empty directory, a binary file, an ``x.npz`` ...). Every
case runs in a fresh copy of it, always at the same absolute path (runs
record the absolute paths of their data, so a copy elsewhere would silently
read the template's files). Each case is judged by outcome, never by the exact
wording of a message, on these counts:

* **traceback** -- "Traceback" in stdout or stderr of any command (no --debug);
* **data lost** -- a file or directory that existed before the case (other
  runs, the run's own files, inputs, ``notes.txt``) vanished or changed,
  other than the case's declared outputs;
* **silent wrong** -- a command that must be refused (non-zero exit) or must
  warn (a declared keyword in its output) exited 0 without it; or a declared
  post-condition failed (``--out m.onnx`` must give a file, a resumed run
  must record its new lr ...);
* **wrong answer** -- the rest: a command that must work failed, a refusal
  with the wrong exit status (2 is a usage error) or one that does not name
  the problem, a command that hung.

One line per case (``ok`` / ``FAIL: <count>: <detail>``, then the tails of
the failing case's commands), then the totals. ``--json`` writes the same as
JSON. Exit status 1 if any case fails. The copies of failed cases are kept
(under ``--workdir``, default a new temporary directory) for inspection.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "kerasrnn.cli"]

TRACEBACK = "traceback"
DATA_LOST = "data lost"
SILENT_WRONG = "silent wrong"
WRONG_ANSWER = "wrong answer"
COUNTS = (TRACEBACK, DATA_LOST, SILENT_WRONG, WRONG_ANSWER)

#: Files whose content may change under any command (a writer lock's pid).
IGNORED_NAMES = {".kerasrnn.lock"}

#: Lines a user should never see from a tiny fit or a usage error.
NOISE = re.compile(
    r"absl|\bcuda|cudart|cuInit|onednn|TF_ENABLE_ONEDNN_OPTS|^[IWEF]\d{4} \d|tensorflow/core|"
    r"computation_placer|Unable to register|This TensorFlow binary is optimized",
    re.IGNORECASE | re.MULTILINE,
)

#: Tiny options: each fit takes seconds (most of it importing the backend).
MNIST_TINY = ["--arch", "gru", "--units", "4", "--epochs", "1", "--batch-size", "16", "--max-samples", "48", "--quiet"]
CSV_TINY = ["--data", "data.csv", "--arch", "gru", "--units", "4", "--epochs", "1", "--batch-size", "8", "--quiet"]
LM_TINY = ["--text", "corpus.txt", "--max-chars", "5000", "--seq-len", "20", "--units", "8", "--epochs", "1", "--quiet"]

DAMAGED_WORDS = (
    "damaged",
    "truncated",
    "corrupt",
    "unreadable",
    "cannot read",
    "cannot load",
    "not a valid",
    "invalid",
    "incomplete",
    "broken",
)
CHANGED_WORDS = ("changed",)
UNSEEN_WORDS = (
    "never occur",
    "not in training",
    "not in the training",
    "do not occur",
    "does not occur",
    "unseen",
    "not seen in training",
    "absent from the training",
    "cannot predict",
    "cannot know",
)


# --------------------------------------------------------------------------- #
# Running the command
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Result:
    """One finished command."""

    args: list[str]
    cwd: str
    rc: int | None
    out: str
    err: str
    seconds: float
    timed_out: bool = False

    @property
    def text(self) -> str:
        return self.out + "\n" + self.err

    def says(self, words: Sequence[str]) -> bool:
        text = self.text.lower()
        return any(word.lower() in text for word in words)

    def shown(self) -> str:
        return "kerasrnn " + " ".join(_quote(a) for a in self.args)

    def transcript(self, lines: int = 12) -> dict[str, Any]:
        return {
            "command": self.shown(),
            "cwd": self.cwd,
            "rc": self.rc,
            "seconds": round(self.seconds, 2),
            "timed_out": self.timed_out,
            "stdout_tail": _tail(self.out, lines),
            "stderr_tail": _tail(self.err, lines),
        }


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else repr(arg)


def _tail(text: str, lines: int) -> str:
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(line if len(line) <= 300 else line[:300] + " ..." for line in kept)


def _environment(backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env.pop("KERASRNN_DATA", None)  # the bundled MNIST, as on a fresh install
    return env


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the process group of a command this harness started (it is its own session leader)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Started:
    """A command running in the background (output to files), for cases that race or kill commands."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], logs: Path):
        self.args, self.cwd = args, cwd
        logs.mkdir(parents=True, exist_ok=True)
        stem = f"{time.monotonic_ns()}"
        self.out_path, self.err_path = logs / f"{stem}.out", logs / f"{stem}.err"
        self._out, self._err = open(self.out_path, "wb"), open(self.err_path, "wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float) -> Result:
        timed_out = False
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(self.process)
            self.process.wait()
        seconds = time.monotonic() - self.started
        self._out.close()
        self._err.close()
        out = self.out_path.read_bytes().decode("utf-8", "replace")
        err = self.err_path.read_bytes().decode("utf-8", "replace")
        return Result(
            self.args, str(self.cwd), None if timed_out else self.process.returncode, out, err, seconds, timed_out
        )


def run_command(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Result:
    started = time.monotonic()
    process = subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        timed_out = True
    return Result(
        args,
        str(cwd),
        None if timed_out else process.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        time.monotonic() - started,
        timed_out,
    )


def descendants(pid: int) -> list[int]:
    """The pids of every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


# --------------------------------------------------------------------------- #
# Cases and their judgment
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class Case:
    name: str
    what: str
    run: Callable[[Ctx], None]
    needs: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()  # fnmatch patterns (relative to the workspace) the case may change or remove
    setup: Callable[[Ctx], None] | None = None  # changes to the workspace made before the snapshot
    in_workspace: bool = True


CASES: list[Case] = []


def case(
    name: str,
    what: str,
    *,
    needs: Sequence[str] = (),
    changes: Sequence[str] = (),
    setup: Callable[[Ctx], None] | None = None,
    in_workspace: bool = True,
):
    def register(function: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        CASES.append(Case(name, what, function, tuple(needs), tuple(changes), setup, in_workspace))
        return function

    return register


class Ctx:
    """What a case sees: its workspace, the command, and the judge."""

    def __init__(self, harness: Harness, ws: Path):
        self.harness, self.ws = harness, ws
        self.issues: list[tuple[str, str]] = []
        self.results: list[Result] = []
        self.notes: list[str] = []

    # -- commands ----------------------------------------------------------- #

    def kr(self, *args: str, cwd: Path | None = None, timeout: float = 180, backend: str | None = None) -> Result:
        env = self.harness.env if backend is None else {**self.harness.env, "KERAS_BACKEND": backend}
        result = run_command(list(args), cwd or self.ws, env, timeout)
        return self.adopt(result)

    def start(
        self, *args: str, cwd: Path | None = None, backend: str | None = None, env: dict[str, str] | None = None
    ) -> Started:
        env = {**self.harness.env, **(env or {})}
        if backend is not None:
            env["KERAS_BACKEND"] = backend
        return Started(list(args), cwd or self.ws, env, self.harness.root / "logs")

    def adopt(self, result: Result) -> Result:
        """Judge ``result`` (a command of this case, or of the preparation it relies on)."""
        self.results.append(result)
        if "Traceback" in result.text:
            line = next(
                (
                    row
                    for row in result.text.splitlines()
                    if row.strip() and not row.startswith(" ") and "Traceback" not in row and "Error" in row
                ),
                "",
            )
            self.issue(TRACEBACK, f"{result.shown()}: {line.strip()[:200]}")
        return result

    def prep(self, name: str) -> Result | None:
        return self.harness.prepared.get(name)

    # -- judgment ----------------------------------------------------------- #

    def note(self, text: str) -> None:
        """Something worth knowing about how the case went (not a failure)."""
        self.notes.append(text)

    def issue(self, count: str, detail: str) -> None:
        self.issues.append((count, detail))

    def check(self, condition: bool, detail: str, count: str = SILENT_WRONG) -> bool:
        if not condition:
            self.issue(count, detail)
        return condition

    def refused(
        self, result: Result, *, code: int | None = None, says: Sequence[str] = (), also: Sequence[str] = ()
    ) -> bool:
        """``result`` must be a refusal (exit ``code``, or any non-zero), naming the problem.

        ``says``: at least one of these words; ``also``: each of these too.
        """
        if result.timed_out:
            self.issue(WRONG_ANSWER, f"{result.shown()}: still running after {result.seconds:.0f} s (killed)")
            return False
        if result.rc == 0:
            self.issue(SILENT_WRONG, f"{result.shown()}: exit 0, must be refused")
            return False
        ok = True
        if result.rc is not None and result.rc < 0:
            ok = self.check(False, f"{result.shown()}: killed by signal {-result.rc}", WRONG_ANSWER)
        elif code is not None and result.rc != code:
            ok = self.check(False, f"{result.shown()}: exit {result.rc}, expected {code}", WRONG_ANSWER)
        if says and not result.says(says):
            ok = self.check(
                False,
                f"{result.shown()}: refused (exit {result.rc}) without saying any of "
                f"{list(says)}: {_last_line(result.err or result.out)}",
                WRONG_ANSWER,
            )
        for word in also:
            if word.lower() not in result.text.lower():
                ok = self.check(
                    False,
                    f"{result.shown()}: refused without naming {word!r}: {_last_line(result.err or result.out)}",
                    WRONG_ANSWER,
                )
        return ok

    def works(self, result: Result) -> bool:
        if result.timed_out:
            self.issue(WRONG_ANSWER, f"{result.shown()}: still running after {result.seconds:.0f} s (killed)")
            return False
        return self.check(
            result.rc == 0,
            f"{result.shown()}: exit {result.rc}, must work: {_last_line(result.err or result.out)}",
            WRONG_ANSWER,
        )

    def warns(self, result: Result, says: Sequence[str], *, refusal_ok: bool = False) -> bool:
        """``result`` must work and say one of ``says`` (or, with ``refusal_ok``, be refused saying it)."""
        if result.rc not in (0, None) and refusal_ok:
            return self.refused(result, says=says)
        if not self.works(result):
            return False
        return self.check(
            result.says(says), f"{result.shown()}: exit 0 without a warning (none of {list(says)} in its output)"
        )

    def read_json(self, relative: str) -> dict[str, Any] | None:
        path = self.ws / relative
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            self.issue(SILENT_WRONG, f"cannot read {relative}: {error}")
            return None


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def snapshot(ws: Path) -> dict[str, str]:
    """Every file (sha256) and directory ("dir") of the workspace, by relative path."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(ws):
        base = Path(folder)
        for name in dirs:
            found[(base / name).relative_to(ws).as_posix()] = "dir"
        for name in files:
            if name in IGNORED_NAMES:
                continue
            path = base / name
            rel = path.relative_to(ws).as_posix()
            try:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if not path.is_symlink() else "link"
            except OSError as error:
                found[rel] = f"unreadable: {error}"
    return found


def lost_files(before: dict[str, str], after: dict[str, str], allowed: Sequence[str]) -> list[str]:
    lost = []
    for rel, digest in sorted(before.items()):
        if any(fnmatch.fnmatch(rel, pattern) for pattern in allowed):
            continue
        now = after.get(rel)
        if now is None:
            lost.append(f"{rel} vanished")
        elif now != digest:
            lost.append(f"{rel} {'changed' if digest != 'dir' and now != 'dir' else 'changed kind'}")
    # Report a vanished directory once, not each file in it.
    gone_dirs = {
        line[: -len(" vanished")]
        for line in lost
        if line.endswith(" vanished") and before.get(line[: -len(" vanished")]) == "dir"
    }
    return [line for line in lost if not any(line.startswith(d + "/") for d in gone_dirs)]


# --------------------------------------------------------------------------- #
# The workspace
# --------------------------------------------------------------------------- #


def write_series(path: Path, rows: int = 40, seed: int = 0, labels: Sequence[int] = (0, 1)) -> Path:
    """``label,v1,...,v6`` rows; the values depend on the label (learnable) and on ``seed``."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(rows):
        label = labels[i % len(labels)]
        values = rng.normal(size=6) + label
        lines.append(",".join([str(label)] + [f"{v:.4f}" for v in values]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_corpus(path: Path) -> Path:
    rng = random.Random(0)
    words = (
        "the quick brown fox jumps over a lazy dog and then runs away from the small river near "
        "an old town where people sing songs at night"
    ).split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))).capitalize() + "." for _ in range(150)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


INTERRUPTED_SCRIPT = """
import sys
import keras
from kerasrnn.training import RunConfig, fit

class CtrlC(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt

try:
    fit(RunConfig(dataset="file", data_file="data.csv", arch="gru", units=4, batch_size=8, epochs=3,
                  time_budget=0.0, patience=0),
        out="runs/interrupted", progress=False, extra_callbacks=(CtrlC(),))
except KeyboardInterrupt:
    print("interrupted at the end of epoch 1 of 3")
    sys.exit(0)
sys.exit("the run was not interrupted")
"""


class Harness:
    def __init__(self, backend: str, root: Path):
        self.backend, self.root = backend, root
        self.env = _environment(backend)
        self.ws = root / "ws"  # every case runs here: runs record absolute data paths
        self.template = root / "template"
        self.prepared: dict[str, Result] = {}
        self.prep_errors: dict[str, str] = {}

    @property
    def worker_backend(self) -> str:
        """A backend whose exports go through the TensorFlow worker process."""
        return "jax" if self.backend == "tensorflow" else self.backend

    # -- preparation --------------------------------------------------------- #

    def prepare(self, needs: set[str], reuse: bool = False) -> None:
        record = self.root / "prepared.json"
        if reuse and self.template.is_dir() and record.is_file():
            saved = json.loads(record.read_text())
            if saved.get("backend") == self.backend and needs <= set(saved["items"]):
                self.prepared = {name: Result(**value) for name, value in saved["results"].items()}
                self.prep_errors = saved["errors"]
                print(f"  reusing the workspace prepared in {self.template}", flush=True)
                return
        shutil.rmtree(self.ws, ignore_errors=True)
        ws = self.ws
        ws.mkdir(parents=True)
        (ws / "notes.txt").write_text("my notes: lr 3e-3 worked best; keep runs/mnist!\n")
        (ws / "empty_dir").mkdir()
        (ws / "binary.bin").write_bytes(bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100)
        (ws / "empty.txt").write_text("")
        write_corpus(ws / "corpus.txt")
        write_series(ws / "data.csv")
        write_series(ws / "train.csv", rows=30, seed=2, labels=(0, 1))
        write_series(ws / "test.csv", rows=10, seed=3, labels=(2, 3))  # labels the training file never has
        write_series(ws / "unseen.csv", rows=8, seed=4, labels=(0, 1, 2, 3))
        rng = np.random.default_rng(5)
        np.savez(ws / "x.npz", x=rng.normal(size=(5, 6)).astype("float32"))
        classes = np.arange(40) % 3
        x = (rng.normal(size=(40, 6, 1)) + classes[:, None, None]).astype("float32")
        np.savez(ws / "onehot.npz", x=x, y=np.eye(3, dtype="float32")[classes])
        (ws / "runs").mkdir()

        steps: list[tuple[str, list[str]]] = [
            ("mnist", ["fit", *MNIST_TINY, "--out", "runs/mnist"]),
            ("csv", ["fit", *CSV_TINY, "--out", "runs/csv"]),
            ("lm", ["fit", *LM_TINY, "--out", "runs/lm"]),
        ]
        for name, args in steps:
            if name in needs:
                self._prepare_step(
                    name, lambda args=args: run_command(args, ws, self.env, 300), ws / "runs" / name / "model.keras"
                )
        if "interrupted" in needs:

            def interrupted() -> Result:
                started = time.monotonic()
                process = subprocess.run(
                    [sys.executable, "-c", INTERRUPTED_SCRIPT],
                    cwd=ws,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                return Result(
                    ["(library) fit(...) interrupted after epoch 1 of 3"],
                    str(ws),
                    process.returncode,
                    process.stdout,
                    process.stderr,
                    time.monotonic() - started,
                )

            self._prepare_step("interrupted", interrupted, ws / "runs" / "interrupted" / "checkpoint" / "state.json")
        shutil.rmtree(self.template, ignore_errors=True)
        os.rename(self.ws, self.template)
        record.write_text(
            json.dumps(
                {
                    "backend": self.backend,
                    "items": sorted(needs),
                    "results": {name: dataclasses.asdict(result) for name, result in self.prepared.items()},
                    "errors": self.prep_errors,
                }
            )
        )

    def _prepare_step(self, name: str, step: Callable[[], Result], product: Path) -> None:
        started = time.monotonic()
        try:
            result = step()
        except subprocess.TimeoutExpired:
            self.prep_errors[name] = "timed out"
            return
        self.prepared[name] = result
        if result.rc != 0 or not product.exists():
            state = "missing" if not product.exists() else "ok"
            self.prep_errors[name] = f"exit {result.rc}, {product.name} {state}: {_last_line(result.err or result.out)}"
        print(
            f"  prepared {name:<12} {time.monotonic() - started:5.1f} s"
            f"{'  FAILED: ' + self.prep_errors[name] if name in self.prep_errors else ''}",
            flush=True,
        )

    # -- one case ------------------------------------------------------------ #

    def run_case(self, item: Case) -> dict[str, Any]:
        started = time.monotonic()
        shutil.rmtree(self.ws, ignore_errors=True)
        shutil.copytree(self.template, self.ws, symlinks=True)
        ctx = Ctx(self, self.ws)
        for need in item.needs:
            if need in self.prep_errors:
                ctx.issue(WRONG_ANSWER, f"the workspace's {need!r} could not be prepared: {self.prep_errors[need]}")
        if not ctx.issues:
            try:
                if item.setup:
                    item.setup(ctx)
                before = snapshot(self.ws)
                item.run(ctx)
                if item.in_workspace:
                    lost = lost_files(before, snapshot(self.ws), item.changes)
                    if lost:
                        more = f" (+{len(lost) - 8} more)" if len(lost) > 8 else ""
                        ctx.issue(DATA_LOST, "; ".join(lost[:8]) + more)
            except Exception as error:  # a bug of the harness: say so, go on with the next case
                ctx.issue(WRONG_ANSWER, f"harness error: {type(error).__name__}: {error}")
        ok = not ctx.issues
        kept = None
        if ok:
            shutil.rmtree(self.ws, ignore_errors=True)
        else:
            kept = self.root / "failed" / item.name
            shutil.rmtree(kept, ignore_errors=True)
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.ws, kept)
        return {
            "name": item.name,
            "what": item.what,
            "ok": ok,
            "issues": [{"count": count, "detail": detail} for count, detail in ctx.issues],
            "notes": ctx.notes,
            "seconds": round(time.monotonic() - started, 1),
            "commands": [result.transcript() for result in ctx.results],
            "workspace_kept": str(kept) if kept else None,
        }


# --------------------------------------------------------------------------- #
# 1. export --out over runs
# --------------------------------------------------------------------------- #


@case(
    "export_out_holds_the_runs",
    "export RUN --out runs --overwrite (the directory of all runs) is refused",
    needs=("csv", "mnist"),
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("export", "runs/csv", "--format", "onnx", "--out", "runs", "--overwrite"))


@case("export_out_is_the_run", "export RUN --out RUN --overwrite is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("export", "runs/csv", "--format", "onnx", "--out", "runs/csv", "--overwrite"))


@case("export_out_is_another_run", "export RUN --out OTHER_RUN --overwrite is refused", needs=("csv", "mnist"))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("export", "runs/csv", "--format", "onnx", "--out", "runs/mnist", "--overwrite"))


@case("export_out_is_a_user_file", "export RUN --out notes.txt --overwrite is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("export", "runs/csv", "--format", "onnx", "--out", "notes.txt", "--overwrite"))


# --------------------------------------------------------------------------- #
# 2. --text
# --------------------------------------------------------------------------- #


@case(
    "fit_text_trains_on_the_file",
    "fit --text corpus.txt trains on corpus.txt (config.json and source name it)",
    needs=("lm",),
)
def _(ctx: Ctx) -> None:
    ctx.works(ctx.adopt(ctx.prep("lm")))
    record = ctx.read_json("runs/lm/config.json")
    if record is None:
        return
    text_file = str((record.get("config") or {}).get("text_file"))
    source = str((record.get("data") or {}).get("source"))
    ctx.check(text_file.endswith("corpus.txt"), f"config.json config.text_file is {text_file!r}, not corpus.txt")
    ctx.check(
        "corpus.txt" in source and "shakespeare" not in source.lower(),
        f"config.json data.source does not name corpus.txt: {source[:200]!r}",
    )


@case("fit_text_empty_file", "fit --text empty.txt is refused")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *LM_TINY[2:], "--text", "empty.txt", "--out", "runs/new"))


@case("fit_text_binary_file", "fit --text binary.bin is refused")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *LM_TINY[2:], "--text", "binary.bin", "--out", "runs/new"))


# --------------------------------------------------------------------------- #
# 3. Data changed under a run
# --------------------------------------------------------------------------- #


def _edit_data(ctx: Ctx) -> None:
    write_series(ctx.ws / "data.csv", seed=1)  # same rows and labels, other values: sizes alone cannot see it


@case(
    "evaluate_changed_data",
    "evaluate RUN after its data.csv changed is refused (mentions changed)",
    needs=("csv",),
    setup=_edit_data,
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("evaluate", "runs/csv"), says=CHANGED_WORDS)


@case(
    "evaluate_allow_changed_data",
    "evaluate RUN --allow-changed-data works and says the data changed",
    needs=("csv",),
    setup=_edit_data,
    changes=("runs/csv/config.json",),
)
def _(ctx: Ctx) -> None:
    ctx.warns(ctx.kr("evaluate", "runs/csv", "--allow-changed-data"), CHANGED_WORDS)


@case(
    "resume_changed_data",
    "fit --resume INTERRUPTED after its data changed is refused (mentions changed)",
    needs=("interrupted",),
    setup=_edit_data,
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", "--resume", "runs/interrupted", "--quiet"), says=CHANGED_WORDS)


def _other_directory(ctx: Ctx) -> None:
    (ctx.ws / "elsewhere").mkdir()
    write_series(ctx.ws / "elsewhere" / "data.csv", rows=60, seed=7)


@case(
    "evaluate_from_another_directory",
    "evaluate /abs/RUN from a directory holding another data.csv works, on the run's own file",
    needs=("csv",),
    setup=_other_directory,
)
def _(ctx: Ctx) -> None:
    result = ctx.kr("evaluate", str(ctx.ws / "runs" / "csv"), "--json", cwd=ctx.ws / "elsewhere")
    if not ctx.works(result):
        return
    ctx.check(not result.says(CHANGED_WORDS), "evaluate says the data changed: it read elsewhere/data.csv")
    metrics = ctx.read_json("runs/csv/metrics.json") or {}
    found = _first_json(result.out)
    if not ctx.check(found is not None, f"evaluate --json printed no JSON object: {_last_line(result.out)}"):
        return
    for key, recorded in (("test_loss", metrics.get("test_loss")), ("test_accuracy", metrics.get("test_accuracy"))):
        value = found.get(key)
        if isinstance(value, (int, float)) and isinstance(recorded, (int, float)):
            ctx.check(
                abs(value - recorded) < 1e-4,
                f"evaluate's {key} {value} differs from the run's {recorded}: not the run's data file",
            )
    source = str(found.get("data_source", ""))
    ctx.check("elsewhere" not in source, f"evaluated on {source!r}")


def _first_json(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


# --------------------------------------------------------------------------- #
# 4. Exports racing and killed
# --------------------------------------------------------------------------- #

ARTIFACT_NAMES = {"onnx": "model.onnx", "savedmodel": "savedmodel"}


def _temporaries(out: Path) -> list[str]:
    """``.NAME.tmp-*`` (a staged export) and ``.NAME.old-*`` (a replaced one) beside ``out``."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith((f".{out.name}.tmp-", f".{out.name}.old-")))


def _check_one_export(ctx: Ctx, out: Path, fmt: str | None) -> None:
    """``out`` holds one complete export (of ``fmt`` if given), and no temporaries lie beside it."""
    leftovers = _temporaries(out)
    ctx.check(not leftovers, f"temporaries left beside {out.name}: {leftovers}")
    if not ctx.check(out.is_dir(), f"{out.name} is not an export directory after a successful export"):
        return
    try:
        metadata = json.loads((out / "metadata.json").read_text())
    except (OSError, ValueError) as error:
        ctx.issue(SILENT_WRONG, f"{out.name}/metadata.json unreadable: {error}")
        return
    artifacts = metadata.get("artifacts") or {}
    if fmt is not None:
        ctx.check(
            set(artifacts) == {fmt}, f"{out.name}/metadata.json lists {sorted(artifacts)}, the winner wrote {fmt}"
        )
    for name, relative in artifacts.items():
        ctx.check((out / str(relative)).exists(), f"{out.name}: {name} artifact {relative} missing (incomplete)")
    for name, relative in ARTIFACT_NAMES.items():
        if name not in artifacts:
            ctx.check(
                not (out / relative).exists(), f"{out.name} mixes two exports: {relative} beside {sorted(artifacts)}"
            )
    ctx.check((out / "parity.json").is_file(), f"{out.name}/parity.json missing (incomplete export)")


@case(
    "export_twice_at_once",
    "two exports to one new --out at once: at most one succeeds, one complete export",
    needs=("csv",),
)
def _(ctx: Ctx) -> None:
    first = ctx.start("export", "runs/csv", "--format", "onnx", "--out", "exp")
    second = ctx.start("export", "runs/csv", "--format", "savedmodel", "--out", "exp")
    results = [ctx.adopt(first.wait(240)), ctx.adopt(second.wait(240))]
    winners = [fmt for fmt, r in zip(("onnx", "savedmodel"), results) if r.rc == 0]
    for r in results:
        ctx.check(not r.timed_out, f"{r.shown()}: still running after {r.seconds:.0f} s", WRONG_ANSWER)
    ctx.check(len(winners) <= 1, "both exports to one new --out succeeded (the second must be refused)")
    if not ctx.check(
        bool(winners),
        "neither export succeeded: " + " | ".join(_last_line(r.err or r.out) for r in results),
        WRONG_ANSWER,
    ):
        return
    _check_one_export(ctx, ctx.ws / "exp", winners[0] if len(winners) == 1 else None)


@case(
    "export_after_kill_9",
    "kill -9 of an export on JAX (through the TensorFlow worker); the next export "
    "succeeds, no .NAME.tmp-* remains, no worker survives",
    needs=("csv",),
)
def _(ctx: Ctx) -> None:
    run, backend = "runs/csv", ctx.harness.worker_backend  # KERAS_BACKEND=jax: the export runs in a worker
    export = ctx.start("export", run, "--format", "onnx", "--out", "exp", backend=backend)
    deadline, seen_workers, killed = time.monotonic() + 180, set(), False
    while time.monotonic() < deadline and export.process.poll() is None:
        seen_workers.update(descendants(export.pid))
        if list(ctx.ws.glob(".exp.tmp-*")):
            seen_workers.update(descendants(export.pid))
            os.kill(export.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.01)
    ctx.note(
        f"killed {time.monotonic() - export.started:.1f} s after the start, "
        f"with {len(seen_workers)} process(es) below it"
        if killed
        else "not killed"
    )
    first = ctx.adopt(export.wait(10))
    if not ctx.check(
        killed,
        f"the export ended (exit {first.rc}) before its temporary directory appeared; nothing to kill",
        WRONG_ANSWER,
    ):
        return
    ctx.check(
        bool(seen_workers), "the export started no worker process (JAX-trained runs export through one)", WRONG_ANSWER
    )
    wait_until = time.monotonic() + 20
    while time.monotonic() < wait_until and any(alive(pid) for pid in seen_workers):
        time.sleep(0.2)
    survivors = [pid for pid in seen_workers if alive(pid)]
    if not ctx.check(
        not survivors, f"worker process(es) {survivors} still running 20 s after kill -9 of the export", WRONG_ANSWER
    ):
        for pid in survivors:  # started (indirectly) by this harness
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    again = ctx.kr("export", run, "--format", "onnx", "--out", "exp", timeout=240, backend=backend)
    if ctx.works(again):
        _check_one_export(ctx, ctx.ws / "exp", "onnx")
    else:
        leftovers = _temporaries(ctx.ws / "exp")
        ctx.check(not leftovers, f"temporaries left beside exp: {leftovers}")


# --------------------------------------------------------------------------- #
# 5. predict --output over its inputs
# --------------------------------------------------------------------------- #


@case("predict_output_over_the_model", "predict RUN --input x.npz --output RUN/model.keras is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("predict", "runs/csv", "--input", "x.npz", "--output", "runs/csv/model.keras"))


@case("predict_output_over_its_input", "predict RUN --input x.npz --output x.npz is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("predict", "runs/csv", "--input", "x.npz", "--output", "x.npz"))


@case("predict_output_is_the_run", "predict RUN --input x.npz --output RUN (a directory) is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("predict", "runs/csv", "--input", "x.npz", "--output", "runs/csv"))


# --------------------------------------------------------------------------- #
# 6. Two fits in the same second
# --------------------------------------------------------------------------- #


FROZEN_CLOCK = """
# Written by tests/scenarios/user_cases.py: time.strftime(format) (the current local time) reads one fixed
# second in every process started with this directory on PYTHONPATH, so that two runs "start in the same
# second" however loaded the machine is.
import os
import time

_frozen = float(os.environ["KERASRNN_CASES_FROZEN_TIME"])
_strftime = time.strftime


def strftime(format, t=None):
    return _strftime(format, time.localtime(_frozen) if t is None else t)


time.strftime = strftime
"""


@case(
    "two_fits_in_one_second",
    "two fits started at once without --out (their clocks in one second): two run directories, both complete",
)
def _(ctx: Ctx) -> None:
    before = {p.name for p in (ctx.ws / "runs").iterdir()}
    clock = ctx.harness.root / "frozen-clock"
    clock.mkdir(exist_ok=True)
    (clock / "sitecustomize.py").write_text(FROZEN_CLOCK)
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(clock), os.environ.get("PYTHONPATH")])),
        "KERASRNN_CASES_FROZEN_TIME": str(time.time()),
    }
    started = [ctx.start("fit", *CSV_TINY, env=env), ctx.start("fit", *CSV_TINY, env=env)]
    results = [ctx.adopt(s.wait(300)) for s in started]
    for result in results:
        ctx.works(result)
    new = sorted({p.name for p in (ctx.ws / "runs").iterdir()} - before)
    if not ctx.check(len(new) == 2, f"{len(new)} new run directories {new}, expected 2"):
        return
    stamps = {name.split("-")[0] + name.split("-")[1] for name in new if name.count("-") >= 2}
    for name in new:
        record = ctx.read_json(f"runs/{name}/config.json") or {}
        ctx.check(
            record.get("status") == "complete" and (ctx.ws / "runs" / name / "model.keras").is_file(),
            f"runs/{name} is not complete (status {record.get('status')!r})",
        )
    ctx.note(f"run directories {new}" + ("" if len(stamps) == 1 else " (not started in the same second)"))


# --------------------------------------------------------------------------- #
# 7. The mnist-10k test split over seeds
# --------------------------------------------------------------------------- #


def _mnist_test_split(record: dict[str, Any] | None) -> Any:
    return (((record or {}).get("data") or {}).get("info") or {}).get("mnist_10k", {}).get("test_indices_sha256_16")


@case(
    "mnist_test_split_same_over_seeds", "--seed 0 and --seed 1 record the same mnist-10k test split", needs=("mnist",)
)
def _(ctx: Ctx) -> None:
    ctx.adopt(ctx.prep("mnist"))
    if not ctx.works(ctx.kr("fit", *MNIST_TINY, "--seed", "1", "--out", "runs/mnist-seed1", timeout=300)):
        return
    seed0 = _mnist_test_split(ctx.read_json("runs/mnist/config.json"))
    seed1 = _mnist_test_split(ctx.read_json("runs/mnist-seed1/config.json"))
    ctx.check(seed0 is not None and seed1 is not None, "config.json lacks data.info.mnist_10k.test_indices_sha256_16")
    ctx.check(seed0 == seed1, f"the test split differs over seeds: {seed0} (seed 0) vs {seed1} (seed 1)")


# --------------------------------------------------------------------------- #
# 8. Silently wrong
# --------------------------------------------------------------------------- #


@case(
    "test_labels_never_in_training", "fit --data train.csv --test-data test.csv (labels 2, 3 never in training) warns"
)
def _(ctx: Ctx) -> None:
    ctx.warns(
        ctx.kr("fit", *CSV_TINY[2:], "--data", "train.csv", "--test-data", "test.csv", "--out", "runs/new"),
        UNSEEN_WORDS,
        refusal_ok=True,
    )


@case(
    "predict_unseen_labels",
    "predict RUN --input unseen.csv --label-col 0 says labels 2, 3 were never trained on",
    needs=("csv",),
)
def _(ctx: Ctx) -> None:
    ctx.warns(ctx.kr("predict", "runs/csv", "--input", "unseen.csv", "--label-col", "0"), UNSEEN_WORDS)


@case("onehot_npz_is_classification", "fit --data onehot.npz (one-hot y) trains a classifier (test_accuracy)")
def _(ctx: Ctx) -> None:
    if not ctx.works(ctx.kr("fit", *CSV_TINY[2:], "--data", "onehot.npz", "--out", "runs/onehot")):
        return
    metrics = ctx.read_json("runs/onehot/metrics.json") or {}
    ctx.check(
        "test_accuracy" in metrics and "test_rmse" not in metrics,
        f"one-hot y trained as {'regression' if 'test_rmse' in metrics else '?'}: metrics {sorted(metrics)}",
    )


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@case(
    "evaluate_truncated_model",
    "evaluate RUN with a truncated model.keras is refused, naming the file as damaged",
    needs=("csv",),
    setup=lambda ctx: _truncate(ctx.ws / "runs/csv/model.keras"),
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("evaluate", "runs/csv"), says=DAMAGED_WORDS, also=("model.keras",))


def _truncate_checkpoint(ctx: Ctx) -> None:
    archives = sorted((ctx.ws / "runs/interrupted/checkpoint").glob("*.npz"))
    if not archives:
        raise RuntimeError("the interrupted run has no checkpoint archive")
    for archive in archives:
        _truncate(archive)


@case(
    "resume_truncated_checkpoint",
    "fit --resume with a truncated checkpoint archive is refused, naming the file",
    needs=("interrupted",),
    setup=_truncate_checkpoint,
)
def _(ctx: Ctx) -> None:
    names = sorted(p.name for p in (ctx.ws / "runs/interrupted/checkpoint").glob("*.npz"))
    result = ctx.kr("fit", "--resume", "runs/interrupted", "--quiet")
    ctx.refused(result, says=DAMAGED_WORDS)
    ctx.check(
        any(name in result.text for name in names),
        f"the refusal does not name the damaged file ({names}): {_last_line(result.err or result.out)}",
        WRONG_ANSWER,
    )


def _holds_number(value: Any, target: float) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return abs(value - target) <= 1e-12 + 1e-9 * abs(target)
    if isinstance(value, dict):
        return any(_holds_number(v, target) for v in value.values())
    if isinstance(value, list):
        return any(_holds_number(v, target) for v in value)
    return False


@case(
    "resume_with_new_lr",
    "fit --resume INTERRUPTED --lr 1e-4 works and config.json records the new lr",
    needs=("interrupted",),
    changes=("runs/interrupted/*",),
)
def _(ctx: Ctx) -> None:
    if not ctx.works(ctx.kr("fit", "--resume", "runs/interrupted", "--lr", "1e-4", "--quiet", timeout=300)):
        return
    record = ctx.read_json("runs/interrupted/config.json") or {}
    ctx.check(
        _holds_number(record.get("resumed"), 1e-4) or _holds_number((record.get("config") or {}).get("lr"), 1e-4),
        f"config.json records no lr 1e-4 (config.lr {(record.get('config') or {}).get('lr')}, "
        f"resumed {json.dumps(record.get('resumed'))[:200]})",
    )
    ctx.check(record.get("status") == "complete", f"the resumed run's status is {record.get('status')!r}")


# --------------------------------------------------------------------------- #
# 9. Options that do not apply: exit 2
# --------------------------------------------------------------------------- #


@case("option_pixel_with_data", "fit --pixel --data data.csv: exit 2")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *CSV_TINY, "--pixel", "--out", "runs/new"), code=2)


@case("option_window_with_mnist", "fit --window 5 (MNIST): exit 2")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *MNIST_TINY, "--window", "5", "--out", "runs/new"), code=2)


@case("option_merge_mode_one_way", "fit --merge-mode sum --arch gru: exit 2")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *MNIST_TINY, "--merge-mode", "sum", "--out", "runs/new"), code=2)


@case("option_epochs_and_iterations", "fit --epochs 3 --iterations 10: exit 2")
def _(ctx: Ctx) -> None:
    args = [a for a in MNIST_TINY]
    args[args.index("--epochs") + 1] = "3"
    ctx.refused(ctx.kr("fit", *args, "--iterations", "10", "--out", "runs/new"), code=2)


@case("option_data_dir_empty", "fit --data-dir EMPTY_DIR: exit 2, no silent fall back to the bundled MNIST")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *MNIST_TINY, "--data-dir", "empty_dir", "--out", "runs/new"), code=2)


@case("option_augment_shift_with_text", "fit --text corpus.txt --augment-shift 2: exit 2")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *LM_TINY, "--augment-shift", "2", "--out", "runs/new"), code=2)


@case("bidirectional_language_model", "fit --text corpus.txt --arch bigru (reads what it predicts): exit 2")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *LM_TINY, "--arch", "bigru", "--out", "runs/new"), code=2)


# --------------------------------------------------------------------------- #
# 10. Output
# --------------------------------------------------------------------------- #


@case("usage_error_one_line", "fit --arch nope: exit 2, one line on stderr, no absl/CUDA lines, within 5 s")
def _(ctx: Ctx) -> None:
    result = ctx.kr("fit", "--arch", "nope", "--out", "runs/new", timeout=60)
    ctx.refused(result, code=2)
    lines = [line for line in result.err.splitlines() if line.strip()]
    ctx.check(len(lines) == 1, f"{len(lines)} lines on stderr, expected 1: {lines[:4]}", WRONG_ANSWER)
    noise = NOISE.search(result.text)
    ctx.check(noise is None, f"framework noise: {noise.group(0) if noise else ''}", WRONG_ANSWER)
    ctx.check(result.seconds <= 5, f"took {result.seconds:.1f} s to reject an unknown --arch", WRONG_ANSWER)


@case("tiny_fit_prints_no_framework_noise", "a tiny fit prints no absl/CUDA/oneDNN lines", needs=("mnist",))
def _(ctx: Ctx) -> None:
    result = ctx.adopt(ctx.prep("mnist"))
    ctx.works(result)
    noise = [line for line in result.text.splitlines() if NOISE.search(line)]
    ctx.check(not noise, f"{len(noise)} framework line(s), e.g. {noise[0][:160]!r}" if noise else "", WRONG_ANSWER)


@case("generate_huge_length", "generate LM --length 100000000: exit 2", needs=("lm",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("generate", "runs/lm", "--length", "100000000", timeout=60), code=2)


@case("generate_streams", "generate LM --length 200 streams (text appears before the command ends)", needs=("lm",))
def _(ctx: Ctx) -> None:
    log = ctx.harness.root / "logs"
    log.mkdir(exist_ok=True)
    err_path = log / f"generate-{time.monotonic_ns()}.err"
    args = ["generate", "runs/lm", "--length", "200"]
    started = time.monotonic()
    with open(err_path, "wb") as err:
        process = subprocess.Popen(
            [*COMMAND, *args],
            cwd=ctx.ws,
            env=ctx.harness.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        chunks: list[tuple[float, bytes]] = []
        fd, timed_out = process.stdout.fileno(), False
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, started + 120 - time.monotonic()))
            if not ready:
                timed_out = True
                _kill_group(process)
                break
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append((time.monotonic(), data))
        process.wait()
        process.stdout.close()
    end = time.monotonic()
    out = b"".join(data for _, data in chunks).decode("utf-8", "replace")
    result = ctx.adopt(
        Result(
            args,
            str(ctx.ws),
            None if timed_out else process.returncode,
            out,
            err_path.read_bytes().decode("utf-8", "replace"),
            end - started,
            timed_out,
        )
    )
    if not ctx.works(result):
        return
    visible = [(t, data) for t, data in chunks if data.strip()]
    if not ctx.check(bool(visible), "generate printed no text"):
        return
    first, last = visible[0][0], visible[-1][0]
    ctx.check(
        len(visible) >= 3 and last - first >= 0.02,
        f"not streamed: the text came in {len(visible)} piece(s) within {1000 * (last - first):.0f} ms, "
        f"{1000 * (end - last):.0f} ms before the command ended",
    )


@case(
    "history_columns_after_resume",
    "history.csv of a resumed run has the columns of a fresh run, in order",
    needs=("interrupted", "csv"),
    changes=("runs/interrupted/*",),
)
def _(ctx: Ctx) -> None:
    if not ctx.works(ctx.kr("fit", "--resume", "runs/interrupted", "--quiet", timeout=300)):
        return
    fresh = (ctx.ws / "runs/csv/history.csv").read_text().splitlines()[0].split(",")
    resumed = (ctx.ws / "runs/interrupted/history.csv").read_text().splitlines()[0].split(",")
    ctx.check(fresh == resumed, f"resumed {resumed} vs fresh {fresh}")


@case(
    "export_onnx_to_a_file_name",
    "export RUN --format onnx --out m.onnx writes the file m.onnx",
    needs=("csv",),
)
def _(ctx: Ctx) -> None:
    result = ctx.kr("export", "runs/csv", "--format", "onnx", "--out", "m.onnx", timeout=240)
    if not ctx.works(result):
        return
    target = ctx.ws / "m.onnx"
    if not ctx.check(target.is_file(), f"m.onnx is {'a directory' if target.is_dir() else 'missing'}, not a file"):
        return
    ctx.check(target.stat().st_size > 0, "m.onnx is empty")
    try:
        import onnx  # optional: check the file is a model when onnx is installed
    except ImportError:
        return
    try:
        onnx.checker.check_model(onnx.load(str(target)))
    except Exception as error:  # noqa: BLE001 - any failure means a broken file
        ctx.issue(SILENT_WRONG, f"m.onnx is not a valid ONNX model: {type(error).__name__}: {error}"[:300])


@case("export_all_to_an_onnx_file_name", "export RUN --format all --out m.onnx is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("export", "runs/csv", "--format", "all", "--out", "m.onnx", timeout=240))


@case("docs_never_point_at_shared", "docs/ and README.md never tell users to look in ../shared", in_workspace=False)
def _(ctx: Ctx) -> None:
    hits = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if "../shared" in line:
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    ctx.check(not hits, f"{len(hits)} mention(s): " + " | ".join(hits[:5]))


# --------------------------------------------------------------------------- #
# More misuse a demanding user tries
# --------------------------------------------------------------------------- #


@case("fit_out_is_a_user_file", "fit --out notes.txt (an existing file) is refused, notes.txt intact")
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *CSV_TINY, "--out", "notes.txt"))


@case(
    "fit_out_is_an_existing_run", "fit --out runs/mnist (a finished run) is refused, the run intact", needs=("mnist",)
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *CSV_TINY, "--out", "runs/mnist"))


@case(
    "fit_data_is_a_run_directory", "fit --data runs/csv (a run directory, not a data file) is refused", needs=("csv",)
)
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("fit", *CSV_TINY[2:], "--data", "runs/csv", "--out", "runs/new"))


@case("predict_with_a_language_model", "predict LM --input x.npz is refused (use generate)", needs=("lm",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("predict", "runs/lm", "--input", "x.npz"))


@case("generate_with_a_classifier", "generate RUN (a classifier) is refused", needs=("csv",))
def _(ctx: Ctx) -> None:
    ctx.refused(ctx.kr("generate", "runs/csv", "--length", "20", timeout=60))


@case("evaluate_not_a_run", "evaluate notes.txt / empty_dir / a missing path is refused")
def _(ctx: Ctx) -> None:
    for target in ("notes.txt", "empty_dir", "runs/nope"):
        ctx.refused(ctx.kr("evaluate", target))


@case("predict_binary_input", "predict RUN --input binary.bin is refused in one line", needs=("csv",))
def _(ctx: Ctx) -> None:
    result = ctx.kr("predict", "runs/csv", "--input", "binary.bin")
    ctx.refused(result, also=("binary.bin",))


@case(
    "resume_a_finished_run",
    "fit --resume on a finished run (no checkpoint) does not retrain or touch it",
    needs=("mnist",),
)
def _(ctx: Ctx) -> None:
    result = ctx.kr("fit", "--resume", "runs/mnist", "--quiet", timeout=300)
    # Refusing is right; so is "nothing to do" with exit 0 -- as long as the run is untouched (data-lost check).
    if result.rc == 0:
        ctx.check(
            result.says(("complete", "finished", "nothing", "already")),
            f"{result.shown()}: exit 0 without saying the run is already complete",
        )


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def _print_case(report: dict[str, Any]) -> None:
    notes = "".join(f"\n    note: {note}" for note in report["notes"])
    if report["ok"]:
        print(f"{report['name']:<40} ok  ({report['seconds']:.0f} s){notes}", flush=True)
        return
    issues = "; ".join(f"{i['count']}: {i['detail']}" for i in report["issues"])
    print(f"{report['name']:<40} FAIL: {issues}  ({report['seconds']:.0f} s){notes}", flush=True)
    for command in report["commands"]:
        print(
            f"    $ {command['command']}   -> exit {command['rc']} in {command['seconds']:.1f} s"
            f"{' (timed out)' if command['timed_out'] else ''}"
        )
        for stream in ("stdout_tail", "stderr_tail"):
            tail = [line for line in command[stream].splitlines() if line.strip()][-6:]
            if tail:
                print(textwrap.indent("\n".join(tail), f"      {stream[:6]}| "))
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backend", choices=("tensorflow", "jax", "torch"), default=os.environ.get("KERAS_BACKEND", "tensorflow")
    )
    parser.add_argument("--json", metavar="REPORT", help="also write the report as JSON here")
    parser.add_argument("--only", metavar="PATTERN", help="run only the cases whose name matches this regex")
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="where the workspace and kept failed cases go (default: a new temporary directory)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: reuse the workspace prepared by an earlier harness run there (for iterating on cases)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    selected = [c for c in CASES if not args.only or re.search(args.only, c.name)]
    if args.list:
        for item in CASES:
            print(f"{item.name:<40} {item.what}")
        return 0
    if not selected:
        parser.error(f"no case matches {args.only!r}")
    root = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="kerasrnn-user-cases-"))
    root.mkdir(parents=True, exist_ok=True)
    harness = Harness(args.backend, root)
    reuse = args.reuse and bool(args.workdir)
    needs = {need for item in (CASES if reuse else selected) for need in item.needs}

    started = time.monotonic()
    print(f"kerasrnn user cases: {len(selected)} case(s), backend {args.backend}, workspace {root}", flush=True)
    harness.prepare(needs, reuse=reuse)
    prep_seconds = time.monotonic() - started
    reports = []
    for item in selected:
        report = harness.run_case(item)
        reports.append(report)
        _print_case(report)
    wall = time.monotonic() - started

    def failing(count: str) -> int:
        return sum(any(i["count"] == count for i in r["issues"]) for r in reports)

    totals = {
        "cases": len(reports),
        "ok": sum(r["ok"] for r in reports),
        "failed": sum(not r["ok"] for r in reports),
        "data_lost": failing(DATA_LOST),
        "silent_wrong": failing(SILENT_WRONG),
        "tracebacks": failing(TRACEBACK),
        "wrong_answer": failing(WRONG_ANSWER),
        "prepare_seconds": round(prep_seconds, 1),
        "wall_seconds": round(wall, 1),
    }
    print()
    print(
        f"cases {totals['cases']}, ok {totals['ok']}, failed {totals['failed']}: data lost {totals['data_lost']}, "
        f"silent wrong {totals['silent_wrong']}, tracebacks {totals['tracebacks']}, "
        f"wrong answer {totals['wrong_answer']}; wall time {wall:.0f} s (preparing {prep_seconds:.0f} s)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "backend": args.backend,
                    "only": args.only,
                    "workspace": str(root),
                    "prepared": {name: result.transcript() for name, result in harness.prepared.items()},
                    "prepare_errors": harness.prep_errors,
                    "cases": reports,
                    "totals": totals,
                },
                indent=2,
            )
            + "\n"
        )
    if not reuse:
        shutil.rmtree(harness.template, ignore_errors=True)
        (root / "prepared.json").unlink(missing_ok=True)
    shutil.rmtree(root / "logs", ignore_errors=True)
    if totals["failed"]:
        print(f"failed cases' workspaces kept under {root / 'failed'}")
    elif not args.workdir:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
