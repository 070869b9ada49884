"""``kerasrnn bench`` at a tiny size: it runs, its JSON is complete, bad requests are clear errors.

Speed is never asserted here (the bench measures it); only that every figure
is there and positive. One real run per backend: one architecture on the
current backend beside native torch.nn.LSTM, each row in its own process.
"""

import json
import os
import time

import keras
import pytest
from click.testing import CliRunner

from kerasrnn.bench import BenchError, format_table, make_config, run_bench
from kerasrnn.bench.runner import add_ratios, row_id, row_specs, run_row
from kerasrnn.cli.main import main as kerasrnn_cli
from kerasrnn.models import ARCHITECTURES

BACKEND = keras.backend.backend()
ARCH = "lstm"
#: The one end-to-end --distribute run rides on the module's run, on JAX only (it starts fastest).
DISTRIBUTED = BACKEND == "jax"


def invoke(*args):
    return CliRunner().invoke(kerasrnn_cli, ["bench", *(str(a) for a in args)], catch_exceptions=False)


def ok_row(name, backend, train, predict=None, memory=None, device="cpu", devices=1, paired=None):
    """A finished row as the worker writes it, with only the figures the ratios and the table read."""
    distribute = "data-parallel" if devices > 1 else "none"
    row = {
        "id": row_id(name, backend, distribute, devices),
        "name": name,
        "backend": backend,
        "distribute": distribute,
        "devices": devices,
        "status": "ok",
        "device": {"type": device},
        "train": {"samples_per_s": train},
        "predict": {"samples_per_s": train if predict is None else predict},
        "memory": memory or {},
    }
    if paired:
        row["train"]["paired"] = {"reference": paired[0], "ratio": paired[1]}
    return row


def check_phase(phase, repeats, warmup):
    assert phase["samples_per_s"] > 0
    assert len(phase["repeats_samples_per_s"]) == repeats
    assert len(phase["repeats_seconds"]) == repeats
    assert len(phase["warmup_seconds"]) == warmup
    assert all(value > 0 for value in phase["repeats_samples_per_s"] + phase["repeats_seconds"])
    assert min(phase["repeats_samples_per_s"]) <= phase["samples_per_s"] <= max(phase["repeats_samples_per_s"])


def check_row(row, config):
    assert row["status"] == "ok", (row.get("error"), row.get("traceback"), row.get("output_tail"))
    check_phase(row["train"], config["repeats"], config["warmup"])
    check_phase(row["predict"], config["repeats"], config["warmup"])
    assert row["train"]["samples_per_repeat"] == config["batch_size"] * config["batches"]
    memory = row["memory"]
    for key in ("rss_after_imports_mb", "rss_after_build_mb", "peak_rss_train_mb", "peak_rss_mb", "vmhwm_mb"):
        assert memory[key] > 0, key
    assert memory["peak_rss_mb"] >= memory["peak_rss_train_mb"] >= memory["rss_after_build_mb"] - 1
    # ru_maxrss is the row's own: not the (bigger) peak of this pytest process,
    # which a child would inherit across exec without the worker's extra hop.
    assert memory["peak_rss_mb"] <= memory["vmhwm_mb"] + 5
    assert row["device"]["type"] in ("cpu", "gpu")
    assert row["model"]["params"] > 0
    assert row["timing"]["total_s"] > 0


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    lines = []
    result = run_bench(
        archs=[ARCH],
        backends=[BACKEND],
        references=["torch.nn.LSTM"],
        tiny=True,
        out=out,
        progress=lines.append,
        torch_threads=1,  # OpenMP threads spin badly on a busy CI machine
        distribute="data-parallel" if DISTRIBUTED else "none",
        paired=BACKEND == "torch",
    )
    return result, out, lines


def test_tiny_run_gives_every_figure(bench):
    result, out, lines = bench
    config = result["config"]
    assert config["tiny"] and config["units"] == 8 and config["batch_size"] == 16
    assert config["repeats"] == 2 and config["warmup"] == 1
    distributed = [f"{ARCH}@{BACKEND}[data-parallel x2]"] if DISTRIBUTED else []
    assert [row["id"] for row in result["rows"]] == ["torch.nn.LSTM@native", f"{ARCH}@{BACKEND}", *distributed]
    assert result["failed"] == []
    for row in result["rows"]:
        check_row(row, config)
    native, arch = result["rows"][:2]
    # The native row is pure PyTorch; the arch row runs the backend asked for.
    assert native["keras_imported"] is False and "torch" in native["frameworks_imported"]
    assert arch["keras_imported"] is True and arch["versions"]["keras"] == keras.__version__
    # Same synthetic data for every row.
    assert native["data_sha1"] == arch["data_sha1"]
    assert native["ratios"]["train_vs_torch_lstm"] == pytest.approx(1.0)
    assert arch["ratios"]["train_vs_torch_lstm"] > 0 and arch["ratios"]["predict_vs_torch_lstm"] > 0
    assert "train_vs_keras_lstm" not in arch["ratios"]  # no keras.layers.LSTM row in this run
    if BACKEND != "torch":
        return
    # Paired: native torch.nn.LSTM trained in the arch row's own process, one epoch after each of the row's.
    paired = arch["train"]["paired"]
    assert paired["reference"] == "torch.nn.LSTM" and len(paired["ratios"]) == config["repeats"]
    assert paired["reference_samples_per_s"] > 0 and min(paired["ratios"]) <= paired["ratio"] <= max(paired["ratios"])
    assert arch["ratios"]["train_vs_torch_lstm_paired"] == pytest.approx(paired["ratio"], rel=1e-3)
    assert "torch" in arch["frameworks_imported"]
    assert "paired" not in native["train"] and all("paired" not in row["train"] for row in result["rows"][2:])
    total = len(result["rows"])
    assert len(lines) == total and lines[1].startswith(f"[2/{total}] {ARCH}@{BACKEND}: train ")


def test_json_records_the_run(bench):
    result, out, _ = bench
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert written["schema"] == "kerasrnn-bench/1"
    assert written["complete"] is True and written["rows_planned"] == [row["id"] for row in result["rows"]]
    assert isinstance(written["command"], str) and written["argv"]
    machine = written["machine"]
    assert machine["cpu_count"] >= 1 and machine["usable_cpus"] >= 1
    assert len(machine["loadavg_before"]) == 3 and len(machine["loadavg_after"]) == 3
    assert written["versions"]["keras"] == keras.__version__
    assert "ru_maxrss" in written["memory_note"]


def test_table_puts_ratios_beside_throughputs(bench):
    result, _, _ = bench
    table = format_table(result)
    assert "x torch" in table and "x keras" in table and "peak MB" in table
    line = next(line for line in table.splitlines() if line.startswith(f"{ARCH} "))
    assert BACKEND in line


def test_cli_tiny_run_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    # Reference rows only: native torch needs no Keras, so this stays quick.
    result = invoke("--tiny", "--archs", "none", "--references", "torch.nn.GRU", "--torch-threads", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "torch.nn.GRU" in result.stdout and "x torch" in result.stdout
    assert "[1/1] torch.nn.GRU@native" in result.stderr
    written = json.loads(out.read_text())
    assert written["config"]["references"] == ["torch.nn.GRU"] and written["config"]["archs"] == []
    row = written["rows"][0]
    assert row["status"] == "ok" and row["train"]["samples_per_s"] > 0 and row["predict"]["samples_per_s"] > 0
    assert row["threads"]["torch"] == 1 and written["config"]["torch_threads"] == 1
    assert row["ratios"] == {}  # no torch.nn.LSTM in this run


@pytest.mark.skipif(
    BACKEND == "jax", reason="jit_compile off makes JAX's loop eager (47 s); the plumbing is checked on the others"
)
def test_bidirectional_references_run_and_serve_bi_rows(tmp_path):
    # One tiny real row of each: torch's bidirectional LSTM (no Keras) and
    # Keras' Bidirectional(LSTM) on this backend, compiled as --jit-compile off.
    out = tmp_path / "bench.json"
    result = run_bench(
        archs="none",
        backends=[BACKEND],
        references=["torch.nn.LSTM(bidirectional)", "keras.layers.Bidirectional(LSTM)"],
        tiny=True,
        torch_threads=1,
        jit_compile="off",
        out=out,
    )
    assert [row["id"] for row in result["rows"]] == [
        "torch.nn.LSTM(bidirectional)@native",
        f"keras.layers.Bidirectional(LSTM)@{BACKEND}",
    ]
    for row in result["rows"]:
        check_row(row, result["config"])
    torch_bi, keras_bi = result["rows"]
    units = result["config"]["units"]
    assert (
        torch_bi["model"]["params"]
        == 2 * (4 * units * (result["config"]["features"] + units + 2)) + 2 * units * 10 + 10
    )
    assert keras_bi["model"]["jit_compile"] is False and result["config"]["jit_compile"] == "off"
    assert keras_bi["ratios"]["train_vs_torch_bilstm"] > 0 and "train_vs_keras_bilstm" in keras_bi["ratios"]
    assert "jit_compile=off" in format_table(result)


def test_bidirectional_rows_are_compared_with_bidirectional_references():
    def ok(name, backend, train, rss):
        return ok_row(name, backend, train, memory={"peak_rss_train_mb": rss})

    rows = add_ratios(
        [
            ok("torch.nn.LSTM", "native", 1000.0, 300.0),
            ok("torch.nn.LSTM(bidirectional)", "native", 500.0, 400.0),
            ok("keras.layers.LSTM", "jax", 800.0, 600.0),
            ok("keras.layers.Bidirectional(LSTM)", "jax", 400.0, 800.0),
            ok("bilstm", "jax", 600.0, 400.0),
            ok("lstm", "jax", 900.0, 600.0),
        ]
    )
    bilstm, lstm = rows[4]["ratios"], rows[5]["ratios"]
    assert bilstm["train_vs_torch_bilstm"] == 1.2 and bilstm["train_vs_keras_bilstm"] == 1.5
    assert bilstm["peak_rss_train_vs_keras_bilstm"] == 0.5
    assert bilstm["train_vs_torch_lstm"] == 0.6  # the one-way ratios stay in the JSON
    assert "train_vs_torch_bilstm" not in lstm
    config = make_config(archs="lstm,bilstm", backends="jax")
    table = format_table({"config": config, "rows": rows, "failed": [], "machine": {"usable_cpus": 2}})
    line = next(line for line in table.splitlines() if line.startswith("bilstm"))
    assert "1.20*" in line and "1.50*" in line and "0.50*" in line
    assert "*: a bidirectional row against the bidirectional references" in table
    assert "*" not in next(line for line in table.splitlines() if line.startswith("lstm "))


def test_default_references_add_bidirectional_ones_for_bi_archs_only():
    assert "torch.nn.LSTM(bidirectional)" not in make_config(archs="lstm", backends="jax")["references"]
    ids = [spec["id"] for spec in row_specs(make_config(archs="bilstm", backends="jax"))]
    assert ids == [
        "torch.nn.LSTM@native",
        "torch.nn.GRU@native",
        "torch.nn.LSTM(bidirectional)@native",
        "keras.layers.LSTM@jax",
        "keras.layers.GRU@jax",
        "keras.layers.Bidirectional(LSTM)@jax",
        "bilstm@jax",
    ]


def test_jit_compile_is_checked_and_passed_to_every_keras_row():
    with pytest.raises(BenchError, match="unknown jit_compile 'sometimes'"):
        make_config(jit_compile="sometimes")
    specs = row_specs(make_config(archs="mut1", backends="torch", jit_compile="on"))
    assert {spec["jit_compile"] for spec in specs} == {True}
    assert make_config()["jit_compile"] == "auto"


# --------------------------------------------------------------------------- #
# Failing rows are reported in their row
# --------------------------------------------------------------------------- #


def spec_for(**changes):
    config = make_config(archs="none", references=["torch.nn.LSTM"], tiny=True)
    spec = row_specs(config)[0]
    spec.update(changes)
    return spec


def test_a_failing_row_is_an_error_in_its_row():
    row = run_row(spec_for(kind="bogus", id="bogus@native"), timeout=60)
    assert row["status"] == "error" and "unknown row kind 'bogus'" in row["error"]
    assert "Traceback" in row["traceback"]


def test_a_row_past_its_timeout_is_killed_and_reported():
    row = run_row(spec_for(), timeout=1)
    assert row["status"] == "error" and row["error"] == "timed out after 1 s"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the whole process group is gone, measuring child included
        try:
            os.killpg(row["worker_pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the row's processes outlived its timeout")


def test_ratios_and_table_with_an_error_row():
    def ok(name, backend, train, predict, peak):
        return ok_row(name, backend, train, predict, {"peak_rss_train_mb": peak, "train_increment_mb": 10.0})

    rows = add_ratios(
        [
            ok("torch.nn.LSTM", "native", 1000.0, 4000.0, 300.0),
            ok("keras.layers.LSTM", "jax", 500.0, 2000.0, 800.0),
            ok("mut1", "jax", 750.0, 5000.0, 400.0),
            {"id": "mut1@torch", "name": "mut1", "backend": "torch", "status": "error", "error": "ValueError: nope"},
        ]
    )
    assert rows[2]["ratios"] == {
        "train_vs_torch_lstm": 0.75,
        "train_vs_keras_lstm": 1.5,
        "predict_vs_torch_lstm": 1.25,
        "predict_vs_keras_lstm": 2.5,
        "peak_rss_train_vs_keras_lstm": 0.5,
    }
    assert rows[3]["ratios"] == {}
    config = make_config(archs="mut1", backends="jax,torch", references=True)
    result = {
        "config": config,
        "rows": rows,
        "failed": ["mut1@torch"],
        "machine": {"usable_cpus": 2, "loadavg_before": [0.1, 0, 0], "loadavg_after": [2.0, 0, 0]},
    }
    table = format_table(result)
    mut1 = [line for line in table.splitlines() if line.startswith("mut1")]
    assert "0.75" in mut1[0] and "1.50" in mut1[0] and "1.25" in mut1[0] and "2.50" in mut1[0]
    assert "ERROR: ValueError: nope" in mut1[1]
    assert "1 of 4 rows failed: mut1@torch" in table
    assert "WARNING" not in table
    result["machine"]["busy_before_run"] = True
    assert "WARNING: the machine was busy" in format_table(result)


def test_gpu_rows_get_gpu_memory_columns():
    def ok(name, backend, gpu_peak):
        return ok_row(
            name, backend, 1000.0, memory={"peak_rss_train_mb": 900.0, "gpu_peak_train_mb": gpu_peak}, device="gpu"
        )

    rows = add_ratios([ok("keras.layers.LSTM", "jax", 40.0), ok("mut1", "jax", 30.0)])
    assert rows[1]["ratios"]["gpu_peak_train_vs_keras_lstm"] == 0.75
    config = make_config(archs="mut1", backends="jax", references=["keras.layers.LSTM"])
    result = {"config": config, "rows": rows, "failed": [], "machine": {"usable_cpus": 16}}
    table = format_table(result)
    assert "GPU MB" in table
    assert [line for line in table.splitlines() if line.startswith("mut1")][0].split()[-2:] == ["30", "0.75"]
    # A CPU-only run keeps the CPU columns alone.
    for row in rows:
        row["memory"]["gpu_peak_train_mb"] = None
    assert "GPU MB" not in format_table(result)


def test_a_stopped_run_leaves_its_finished_rows_in_the_json(tmp_path):
    out = tmp_path / "bench.json"

    def stop_after_first_row(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bench(
            archs="none",
            references=["torch.nn.LSTM", "torch.nn.GRU"],
            tiny=True,
            out=out,
            progress=stop_after_first_row,
            torch_threads=1,
        )
    written = json.loads(out.read_text())
    assert written["complete"] is False
    assert written["rows_planned"] == ["torch.nn.LSTM@native", "torch.nn.GRU@native"]
    assert [row["id"] for row in written["rows"]] == ["torch.nn.LSTM@native"]
    assert written["rows"][0]["status"] == "ok"
    assert "INCOMPLETE: 1 of 2 planned rows ran" in format_table(written)


# --------------------------------------------------------------------------- #
# Requests
# --------------------------------------------------------------------------- #


def test_config_defaults_and_row_order():
    config = make_config()
    # Every registered architecture: each recurrent one and its bi form, plus the one-way conv-lstm and tcn.
    assert config["archs"] == list(ARCHITECTURES) and {"conv-lstm", "tcn"} <= set(config["archs"])
    assert config["backends"] == ["tensorflow", "jax", "torch"]
    assert (config["time_steps"], config["features"], config["units"], config["batch_size"]) == (28, 28, 128, 128)
    assert config["repeats"] >= 5 and config["warmup"] >= 1
    assert make_config(shape="long")["time_steps"] == 784 and make_config(shape="long")["features"] == 1
    assert make_config(shape="wide")["units"] == 512
    assert make_config(tiny=True, repeats=3)["repeats"] == 3
    ids = [spec["id"] for spec in row_specs(make_config(archs="gru,mut2", backends="jax"))]
    assert ids == [
        "torch.nn.LSTM@native",
        "torch.nn.GRU@native",
        "keras.layers.LSTM@jax",
        "keras.layers.GRU@jax",
        "gru@jax",
        "mut2@jax",
    ]
    assert [spec["id"] for spec in row_specs(make_config(archs="rnn", backends="torch", references=False))] == [
        "rnn@torch"
    ]


def test_convlstm_rows_keep_its_default_filters_unless_units_are_given():
    # "convlstm", the name before the registry's spelling rule, names the conv-lstm row.
    units = {spec["id"]: spec["units"] for spec in row_specs(make_config(archs="lstm,convlstm", backends="jax"))}
    assert units["lstm@jax"] == 128 and units["conv-lstm@jax"] == 16 and units["keras.layers.LSTM@jax"] == 128
    given = row_specs(make_config(archs="conv-lstm", backends="jax", units=32, references=False))
    assert [spec["units"] for spec in given] == [32]
    assert [
        spec["units"] for spec in row_specs(make_config(archs="convlstm", backends="jax", tiny=True, references=False))
    ] == [8]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"archs": "lstm,nope"}, "unknown architecture 'nope'; expected one of: rnn, birnn, rnn-relu"),
        ({"backends": "jax,theano"}, "unknown backend 'theano'; expected one of: tensorflow, jax, torch"),
        ({"shape": "huge"}, "unknown shape 'huge'; expected one of: default, long, wide"),
        ({"references": "torch.nn.RNN"}, "unknown reference row 'torch.nn.RNN'"),
        ({"archs": "all,lstm"}, "'all' and 'none' cannot be combined"),
        ({"archs": "lstm,lstm"}, "architecture named twice: lstm"),
        ({"repeats": 0}, "repeats must be an integer >= 1"),
        ({"warmup": -1}, "warmup must be an integer >= 0"),
        ({"archs": "none", "references": False}, "nothing to run"),
        ({"backends": ""}, "no backends given"),
    ],
)
def test_bad_requests_are_clear_errors(kwargs, message):
    with pytest.raises(BenchError) as error:
        run_bench(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--archs", "nope"], "unknown architecture 'nope'"),
        (["--backends", "theano"], "unknown backend 'theano'"),
        (["--shape", "huge"], "'huge' is not one of 'default', 'long', 'wide'"),
        (["--repeats", "0"], "--repeats"),
        (["--no-reference", "--references", "torch.nn.LSTM"], "exclude each other"),
        (["--out", "/nonexistent-dir/bench.json"], "does not exist"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_message(args, message):
    result = invoke("--tiny", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_cli_help_has_examples():
    result = invoke("--help")
    assert result.exit_code == 0
    for option in (
        "--archs",
        "--backends",
        "--shape",
        "--repeats",
        "--warmup",
        "--batches",
        "--out",
        "--no-reference",
        "--tiny",
    ):
        assert option in result.output
    assert "kerasrnn bench --tiny" in result.output


# --------------------------------------------------------------------------- #
# --distribute: a row on several devices beside each 1-device row
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent
def test_distribute_plans_a_row_beside_each_architecture_row():
    config = make_config(archs="lstm,mut1", backends="jax,torch", distribute="data-parallel")
    assert (config["distribute"], config["devices"]) == ("data-parallel", 2)
    specs = row_specs(config)
    assert [spec["id"] for spec in specs] == [
        "torch.nn.LSTM@native",
        "torch.nn.GRU@native",
        "keras.layers.LSTM@jax",
        "keras.layers.GRU@jax",
        "lstm@jax",
        "lstm@jax[data-parallel x2]",
        "mut1@jax",
        "mut1@jax[data-parallel x2]",
        "keras.layers.LSTM@torch",
        "keras.layers.GRU@torch",
        "lstm@torch",
        "lstm@torch[data-parallel x2]",
        "mut1@torch",
        "mut1@torch[data-parallel x2]",
    ]
    single, distributed = specs[4], specs[5]
    assert (single["distribute"], single["devices"]) == ("none", 1)
    assert (distributed["distribute"], distributed["devices"]) == ("data-parallel", 2)
    # Everything else, the global batch included, is the 1-device row's.
    assert {k: v for k, v in distributed.items() if k not in ("id", "distribute", "devices")} == {
        k: v for k, v in single.items() if k not in ("id", "distribute", "devices")
    }
    assert make_config(archs="lstm", backends="jax", distribute="data-parallel", devices=4)["devices"] == 4
    assert (make_config(archs="lstm")["distribute"], make_config(archs="lstm")["devices"]) == ("none", 1)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"distribute": "multi-worker"}, "unknown distribute 'multi-worker'; expected one of: none, data-parallel"),
        ({"devices": 2}, "devices is for distribute='data-parallel'"),
        ({"distribute": "data-parallel", "devices": 1}, "devices must be an integer >= 2"),
        ({"distribute": "data-parallel", "devices": 3}, "batch size 128 (the global batch) must be a multiple of"),
        ({"distribute": "data-parallel", "archs": "none"}, "times architecture rows; none were given"),
    ],
)
def test_distribute_bad_requests_are_clear_errors(kwargs, message):
    with pytest.raises(BenchError) as error:
        make_config(**{"archs": "lstm", "backends": "jax", **kwargs})
    assert message in str(error.value)


@pytest.mark.backend_independent
def test_a_distributed_torch_row_is_skipped_with_the_reason():
    spec = row_specs(make_config(archs="lstm", backends="torch", distribute="data-parallel", references=False))[1]
    row = run_row(spec, timeout=1)  # no process: it would be killed after 1 s
    assert row["status"] == "skipped" and row["skipped"].startswith("no Keras distribution backend on torch")
    assert (row["distribute"], row["devices"]) == ("data-parallel", 2) and "train" not in row


@pytest.mark.backend_independent
def test_distributed_rows_get_their_ratio_to_one_device_in_the_table():
    def ok(name, backend, train, predict, devices=1):
        return ok_row(name, backend, train, predict, {"peak_rss_train_mb": 500.0}, devices=devices)

    skipped = {
        "id": "lstm@torch[data-parallel x2]",
        "name": "lstm",
        "backend": "torch",
        "distribute": "data-parallel",
        "devices": 2,
        "status": "skipped",
        "skipped": "no Keras distribution backend on torch",
    }
    rows = add_ratios(
        [
            ok("lstm", "jax", 1000.0, 4000.0),
            ok("lstm", "jax", 1500.0, 2000.0, devices=2),
            ok("mut1", "jax", 800.0, 800.0),
            ok("mut1", "jax", 400.0, 1200.0, devices=2),
            ok("lstm", "torch", 700.0, 700.0),
            skipped,
        ]
    )
    assert rows[1]["ratios"] == {"train_vs_1_device": 1.5, "predict_vs_1_device": 0.5}
    assert rows[3]["ratios"] == {"train_vs_1_device": 0.5, "predict_vs_1_device": 1.5}
    assert rows[0]["ratios"] == {} and rows[5]["ratios"] == {}
    config = make_config(archs="lstm,mut1", backends="jax,torch", references=False, distribute="data-parallel")
    result = {"config": config, "rows": rows, "failed": [], "machine": {"usable_cpus": 2}}
    table = format_table(result).splitlines()
    header = next(line for line in table if line.startswith("row"))
    assert header.split() == [
        *("row", "backend", "device", "train/s", "x", "torch", "x", "keras", "x", "1dev"),
        *("predict/s", "x", "torch", "x", "keras", "x", "1dev", "peak", "MB", "+train", "MB", "x", "keras"),
    ]
    lstm = [line.split() for line in table if line.startswith("lstm ")]
    assert lstm[0][:10] == ["lstm", "jax", "cpu", "1,000", "-", "-", "-", "4,000", "-", "-"]
    assert lstm[1][:12] == ["lstm", "jax", "cpu", "x2", "1,500", "-", "-", "1.50", "2,000", "-", "-", "0.50"]
    assert "skipped: no Keras distribution backend on torch" in [" ".join(cells) for cells in lstm][3]
    assert any("x 1dev = a data-parallel row on 2 devices" in line for line in table)
    assert "x 1dev" not in format_table({**result, "config": make_config(archs="lstm,mut1", backends="jax")})


def test_paired_ratios_go_to_their_own_column():
    rows = add_ratios(
        [
            ok_row("torch.nn.LSTM", "native", 1000.0),
            ok_row("peephole-lstm", "torch", 500.0, paired=("torch.nn.LSTM", 0.8)),
            ok_row("bilstm", "torch", 400.0, paired=("torch.nn.LSTM(bidirectional)", 0.9)),
        ]
    )
    assert rows[1]["ratios"] == {
        "train_vs_torch_lstm": 0.5,
        "predict_vs_torch_lstm": 0.5,
        "train_vs_torch_lstm_paired": 0.8,
    }
    assert rows[2]["ratios"]["train_vs_torch_bilstm_paired"] == 0.9
    config = make_config(archs="peephole-lstm,bilstm", backends="torch", references="torch.nn.LSTM", paired=True)
    result = {"config": config, "rows": rows, "failed": [], "machine": {"usable_cpus": 2}}
    table = format_table(result).splitlines()
    header = next(line for line in table if line.startswith("row"))
    assert header.split()[:10] == ["row", "backend", "device", "train/s", "x", "torch", "x", "keras", "x", "torch"]
    cells = {line.split()[0]: line.split() for line in table if line.startswith(("peephole", "bilstm"))}
    assert cells["peephole-lstm"][4:7] == ["0.50", "-", "0.80"]
    assert cells["bilstm"][6] == "0.90*"
    assert any(line.startswith("x torch paired = / torch.nn.LSTM trained in the row's own process") for line in table)
    # The plan: every one-device Keras row is paired, with the bidirectional reference for a bi row.
    specs = {spec["id"]: spec for spec in row_specs(config)}
    assert specs["peephole-lstm@torch"]["paired"] == "torch.nn.LSTM"
    assert specs["bilstm@torch"]["paired"] == "torch.nn.LSTM(bidirectional)"
    assert "paired" not in specs["torch.nn.LSTM@native"]
    assert not any("paired" in spec for spec in row_specs(make_config(archs="lstm", backends="torch")))
    # Only torch-backend rows: elsewhere the backend's own thread pools would share the cores with the native epoch.
    specs = row_specs(make_config(archs="lstm", backends="jax,torch", references="keras.layers.LSTM", paired=True))
    assert [spec["id"] for spec in specs if "paired" in spec] == ["keras.layers.LSTM@torch", "lstm@torch"]
    # A convlstm row's units are its filters; its reference keeps the reference row's units.
    convlstm = row_specs(make_config(archs="conv-lstm", backends="torch", references="torch.nn.LSTM", paired=True))[1]
    assert convlstm["units"] == 16 and convlstm["paired_units"] == 128


def test_cli_devices_needs_distribute():
    result = invoke("--tiny", "--archs", "lstm", "--devices", "2")
    assert result.exit_code == 2 and "--devices needs --distribute data-parallel" in result.stderr
    result = invoke("--tiny", "--archs", "lstm", "--distribute", "multi-worker")
    assert result.exit_code == 2 and "'multi-worker' is not one of 'none', 'data-parallel'" in result.stderr


@pytest.mark.skipif(not DISTRIBUTED, reason="one end-to-end distributed run is enough (JAX starts fastest)")
def test_tiny_data_parallel_run_on_jax(bench):
    result, out, _ = bench
    assert result["failed"] == [] and result["config"]["devices"] == 2
    _, single, distributed = json.loads(out.read_text())["rows"]
    assert [single["id"], distributed["id"]] == [f"{ARCH}@jax", f"{ARCH}@jax[data-parallel x2]"]
    for row in (single, distributed):
        check_row(row, result["config"])
    assert (single["distribute"], single["devices"], "distribution" not in single) == ("none", 1, True)
    assert (distributed["distribute"], distributed["devices"]) == ("data-parallel", 2)
    placement = distributed["distribution"]
    assert placement["mode"] == "data-parallel" and placement["replicas"] == 2 and len(placement["devices"]) == 2
    # The weights really live on both (simulated) devices; the 1-device row's on one.
    assert len(distributed["device"]["weight_devices"]) == 2 and len(single["device"]["weight_devices"]) == 1
    assert distributed["data_sha1"] == single["data_sha1"]
    assert distributed["train"]["samples_per_repeat"] == single["train"]["samples_per_repeat"]
    ratio = distributed["train"]["samples_per_s"] / single["train"]["samples_per_s"]
    assert distributed["ratios"]["train_vs_1_device"] == pytest.approx(ratio, rel=1e-3)
    line = next(line for line in format_table(result).splitlines() if line.startswith(ARCH) and "cpu x2" in line)
    assert f"{distributed['ratios']['train_vs_1_device']:.2f}" in line
