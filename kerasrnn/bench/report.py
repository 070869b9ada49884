"""The text table of a benchmark result: throughputs with their ratios side by side."""

from __future__ import annotations

from typing import Any

from kerasrnn.bench.runner import KERAS_BASELINE, KERAS_BI_BASELINE, TORCH_BASELINE, TORCH_BI_BASELINE

COLUMNS = (
    ("row", "<"),
    ("backend", "<"),
    ("device", "<"),
    ("train/s", ">"),
    ("x torch", ">"),
    ("x keras", ">"),
    ("predict/s", ">"),
    ("x torch", ">"),
    ("x keras", ">"),
    ("peak MB", ">"),
    ("+train MB", ">"),
    ("x keras", ">"),
)
GPU_COLUMNS = (("GPU MB", ">"), ("x keras", ">"))
#: With ``--distribute``: after each phase's ratios, the distributed row's throughput / its 1-device row's.
DEVICES_COLUMN = ("x 1dev", ">")
#: With ``--paired``: after train's ratios, the ratio to the native reference timed in the row's own process.
PAIRED_COLUMN = ("x torch paired", ">")
TRAIN_RATIOS_END, PREDICT_RATIOS_END = 6, 9  # where the column goes (after "x keras" of train / predict)


def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _device(row: dict[str, Any]) -> str:
    """``cpu``; a distributed row ``cpu x2`` (its devices)."""
    device = (row.get("device") or {}).get("type") or "?"
    return f"{device} x{row['devices']}" if row.get("distribute", "none") != "none" else device


def _cells(
    row: dict[str, Any], gpu: bool = False, distributed: bool = False, paired: bool = False
) -> tuple[list[str], str | None]:
    name = row.get("name") or row.get("id") or "?"
    backend = row.get("backend") or "?"
    if row.get("status") == "skipped":
        return [name, backend, f"- x{row.get('devices')}"], f"skipped: {row.get('skipped')}"
    if row.get("status") != "ok":
        return [
            name,
            backend,
            _device(row) if row.get("device") else "-",
        ], f"ERROR: {row.get('error') or 'unknown error'}"
    ratios = row.get("ratios", {})
    memory = row.get("memory", {})
    device = _device(row)

    def ratio(key: str) -> str:
        # A bidirectional row against the bidirectional reference (marked *)
        # where that row ran, else against the one-way one.
        bi_key = key.replace("_lstm", "_bilstm")
        if bi_key in ratios:
            return _ratio(ratios[bi_key]) + "*"
        return _ratio(ratios.get(key))

    cells = [
        name,
        backend,
        device,
        _rate(row["train"]["samples_per_s"]),
        ratio("train_vs_torch_lstm"),
        ratio("train_vs_keras_lstm"),
        _rate(row["predict"]["samples_per_s"]),
        ratio("predict_vs_torch_lstm"),
        ratio("predict_vs_keras_lstm"),
        _mb(memory.get("peak_rss_train_mb")),
        _mb(memory.get("train_increment_mb")),
        ratio("peak_rss_train_vs_keras_lstm"),
    ] + (
        [
            _mb(memory.get("gpu_peak_train_mb")),
            ratio("gpu_peak_train_vs_keras_lstm"),
        ]
        if gpu
        else []
    )
    if distributed:
        cells.insert(PREDICT_RATIOS_END, _ratio(ratios.get("predict_vs_1_device")))
        cells.insert(TRAIN_RATIOS_END, _ratio(ratios.get("train_vs_1_device")))
    if paired:
        cells.insert(TRAIN_RATIOS_END, ratio("train_vs_torch_lstm_paired"))
    return cells, None


def format_table(result: dict[str, Any]) -> str:
    """The result of :func:`run_bench` as a text table (one line per row)."""
    config, machine = result["config"], result["machine"]
    before, after = machine.get("loadavg_before"), machine.get("loadavg_after")
    load = f"{before[0]:.2f} -> {after[0]:.2f}" if before and after else "unknown"
    lines = [
        f"kerasrnn bench, shape {config['shape']}: {config['time_steps']} steps x {config['features']} features, "
        f"hidden {config['units']}, batch {config['batch_size']}, {config['num_classes']} classes, Adam"
        + (" (tiny)" if config.get("tiny") else ""),
        f"samples/s: median of {config['repeats']} repeats of {config['batches']} batches after "
        f"{config['warmup']} warm-up; {machine.get('usable_cpus')} CPUs, 1-min load average {load}",
        f"Keras rows compiled with jit_compile={config.get('jit_compile', 'auto')}"
        + (" (Keras' default)" if config.get("jit_compile", "auto") == "auto" else ""),
        f"x torch = / {TORCH_BASELINE} (native, same run); x keras = / {KERAS_BASELINE} on the same backend",
        "",
    ]
    gpu = any((row.get("memory") or {}).get("gpu_peak_train_mb") for row in result["rows"])
    columns = list(COLUMNS + (GPU_COLUMNS if gpu else ()))
    distributed = config.get("distribute", "none") != "none"
    if distributed:
        columns.insert(PREDICT_RATIOS_END, DEVICES_COLUMN)
        columns.insert(TRAIN_RATIOS_END, DEVICES_COLUMN)
        lines.insert(
            -1,
            f"x 1dev = a {config['distribute']} row on {config['devices']} devices (device column: cpu x"
            f"{config['devices']}) / the 1-device row above it; same global batch {config['batch_size']}; "
            "on a CPU the devices are simulated and share its cores",
        )
    paired = bool(config.get("paired"))
    if paired:
        columns.insert(TRAIN_RATIOS_END, PAIRED_COLUMN)
        lines.insert(
            -1,
            f"x torch paired = / {TORCH_BASELINE} trained in the row's own process, one epoch after each of the "
            "row's (median of the per-repeat ratios: the machine's drift between rows cancels)",
        )
    table, errors = [], {}
    for index, row in enumerate(result["rows"]):
        cells, error = _cells(row, gpu, distributed, paired)
        if error:
            errors[index] = error
        table.append(cells)
    header = [title for title, _ in columns]
    widths = [len(title) for title in header]
    for cells in table:
        for column, cell in enumerate(cells):
            widths[column] = max(widths[column], len(cell))

    def render(cells: list[str], strip: bool = True) -> str:
        parts = []
        for column, cell in enumerate(cells):
            align = columns[column][1]
            parts.append(f"{cell:{align}{widths[column]}}")
        text = "  ".join(parts)
        return text.rstrip() if strip else text

    lines.append(render(header))
    lines.append("  ".join("-" * width for width in widths))
    for index, cells in enumerate(table):
        line = render(cells, strip=index not in errors)
        if index in errors:
            line = f"{line}  {errors[index]}"
        lines.append(line)
    if any(cell.endswith("*") for cells in table for cell in cells):
        lines.append("")
        lines.append(
            f"*: a bidirectional row against the bidirectional references, {TORCH_BI_BASELINE} and "
            f"{KERAS_BI_BASELINE} (the same two directions of work); the JSON also has the one-way ratios"
        )
    lines += [
        "",
        "peak MB: process peak RSS (ru_maxrss) up to the end of training, incl. the framework baseline; "
        "+train MB: above the RSS after imports and model build; x keras: peak / keras.layers.LSTM's",
    ]
    if gpu:
        lines.append("GPU MB: the GPU allocator's peak in training (bytes in use, not the pool reserved)")
    if not result.get("complete", True):
        planned = result.get("rows_planned") or []
        lines.append(f"INCOMPLETE: {len(result['rows'])} of {len(planned)} planned rows ran")
    if machine.get("busy_before_run"):
        lines.append(
            f"WARNING: the machine was busy before the run (1-min load {before[0]:.2f} on "
            f"{machine.get('usable_cpus')} CPUs): throughputs are unreliable, multi-threaded PyTorch's most"
        )
    failed = result.get("failed") or []
    if failed:
        lines.append(f"{len(failed)} of {len(result['rows'])} rows failed: {', '.join(failed)}")
    return "\n".join(lines)
