"""Inference latency of exported models: onnxruntime beside Keras ``predict``.

Usage::

    KERAS_BACKEND=tensorflow python benchmarks/export_latency.py [--quick] [--json out.json]

Three tables (medians; the load average is printed before and after, since
other work on the machine moves the figures):

1. Full-sequence latency at batch 1 and batch 256 for lstm, bigru, mut1 and
   convlstm (MNIST-row models: 28 steps x 28 features, 128 units, 10
   classes; untrained weights -- latency does not depend on their values):
   the ONNX file that ``kerasrnn.export.export_model`` ships, run by
   onnxruntime, beside ``model.predict`` (and ``predict_on_batch``, without
   predict's per-call data pipeline) on the Keras backend in use.
2. ONNX forms of the recurrences whose math is an ONNX operator: the native
   operator (RNN/GRU/LSTM, kerasrnn.export.native_onnx), tf2onnx's own graph
   (a native LSTM for keras' LSTM, a Loop for the others) and a pure Loop
   (tf2onnx with its RNN rewriters switched off), each with its max error
   against Keras.
3. The streaming (single-step) ONNX model: latency per step at batch 1.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasrnn  # noqa: E402
from kerasrnn.export import export_model  # noqa: E402
from kerasrnn.export.graph import dynamic_time_twin  # noqa: E402

STEPS, FEATURES, CLASSES = 28, 28, 10


def load():
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def median_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def session(source, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def build(arch, units):
    keras.utils.set_random_seed(0)
    return kerasrnn.build_model(arch, "classification", (STEPS, FEATURES), CLASSES, units=units)


def full_sequence(args, workdir):
    rows = []
    rng = np.random.default_rng(0)
    for arch in args.archs:
        model = build(arch, args.units)
        path = os.path.join(workdir, arch)
        streaming = not arch.startswith("bi")
        report = export_model(model, path, format="onnx", streaming=streaming, verbose=False)
        ort_session = session(os.path.join(path, "model.onnx"), args.threads)
        row = {
            "arch": arch,
            "onnx_form": report["artifacts"]["onnx"]["onnx_ops"],
            "recurrent_ops": report["artifacts"]["onnx"]["recurrent_ops"],
            "parity_max_abs_error": report["artifacts"]["onnx"]["max_abs_error"],
        }
        for batch in (1, 256):
            x = rng.standard_normal((batch, STEPS, FEATURES)).astype("float32")
            repeats = args.repeats if batch == 1 else max(5, args.repeats // 10)
            row[f"onnxruntime_b{batch}_ms"] = median_ms(lambda: ort_session.run(None, {"sequences": x}), repeats)
            row[f"keras_predict_b{batch}_ms"] = median_ms(
                lambda: model.predict(x, batch_size=batch, verbose=0), max(5, repeats // 4)
            )
            row[f"keras_predict_on_batch_b{batch}_ms"] = median_ms(
                lambda: model.predict_on_batch(x), max(5, repeats // 4)
            )
        if streaming:
            step_path = os.path.join(path, "streaming", "model.onnx")
            step = session(step_path, args.threads)
            metadata = json.load(open(os.path.join(path, "metadata.json")))
            inputs = metadata["streaming"]["inputs"]
            feed = {"x_t": rng.standard_normal((1, FEATURES)).astype("float32")}
            for spec in inputs[1:]:
                feed[spec["name"]] = np.zeros((1, *spec["shape"][1:]), np.float32)
            row["streaming_step_b1_ms"] = median_ms(lambda: step.run(None, feed), args.repeats * 5)
            row["streaming_parity_max_abs_error"] = report["artifacts"]["streaming/onnx"]["max_abs_error"]
        rows.append(row)
        print(
            f"{arch:<9} onnx ({row['onnx_form']}, {'/'.join(row['recurrent_ops'])}): "
            f"b1 {row['onnxruntime_b1_ms']:.3f} ms, b256 {row['onnxruntime_b256_ms']:.2f} ms | "
            f"keras predict: b1 {row['keras_predict_b1_ms']:.2f} ms, b256 {row['keras_predict_b256_ms']:.2f} ms "
            f"(predict_on_batch: b1 {row['keras_predict_on_batch_b1_ms']:.2f}, "
            f"b256 {row['keras_predict_on_batch_b256_ms']:.2f})"
            + (f" | streaming step b1 {row['streaming_step_b1_ms'] * 1e3:.0f} us" if streaming else ""),
            flush=True,
        )
    return rows


def _tf2onnx_proto(model, loop_only, opset=17):
    """tf2onnx's conversion; ``loop_only`` switches its LSTM/GRU rewriters off (a plain Loop)."""
    import tensorflow as tf
    import tf2onnx.tfonnx as tfonnx

    from kerasrnn.export.writers import tf2onnx_proto, traced

    signature = [tf.TensorSpec((None, None, FEATURES), tf.float32, name="sequences")]
    function = traced(lambda x: {"outputs": model(x, training=False)}, signature)
    names = [
        "rewriter_lstm_tf2",
        "rewrite_gru_tf2",
        "rewrite_single_direction_lstm",
        "rewrite_bi_direction_lstm",
        "rewrite_single_direction_gru",
        "rewrite_bi_direction_gru",
    ]
    saved = {name: getattr(tfonnx, name) for name in names}
    try:
        if loop_only:
            for name in names:
                setattr(tfonnx, name, lambda g, ops: ops)
        return tf2onnx_proto(function, signature, opset)
    finally:
        for name, value in saved.items():
            setattr(tfonnx, name, value)


def onnx_forms(args):
    from kerasrnn.export.native_onnx import build_native_onnx
    from kerasrnn.export.writers import recurrent_ops

    rows = []
    rng = np.random.default_rng(1)
    x1 = rng.standard_normal((1, STEPS, FEATURES)).astype("float32")
    x256 = rng.standard_normal((256, STEPS, FEATURES)).astype("float32")
    for arch in args.form_archs:
        model = dynamic_time_twin(build(arch, args.units))
        reference = keras.ops.convert_to_numpy(model(x256))
        forms = {
            "native": build_native_onnx(model),
            "tf2onnx": _tf2onnx_proto(model, loop_only=False),
            "loop": _tf2onnx_proto(model, loop_only=True),
        }
        for form, proto in forms.items():
            s = session(proto.SerializeToString(), args.threads)
            error = float(np.abs(s.run(None, {"sequences": x256})[0] - reference).max())
            row = {
                "arch": arch,
                "form": form,
                "ops": recurrent_ops(proto),
                "max_abs_error": error,
                "b1_ms": median_ms(lambda: s.run(None, {"sequences": x1}), args.repeats),
                "b256_ms": median_ms(lambda: s.run(None, {"sequences": x256}), max(5, args.repeats // 10)),
            }
            rows.append(row)
            print(
                f"{arch:<14} {form:<8} {'/'.join(row['ops']):<5} b1 {row['b1_ms']:.3f} ms  "
                f"b256 {row['b256_ms']:.2f} ms  max|err| {error:.1e}",
                flush=True,
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=["lstm", "bigru", "mut1", "convlstm"])
    parser.add_argument(
        "--form-archs",
        nargs="+",
        default=["rnn", "gru", "gru-cudnn", "lstm", "peephole-lstm", "bigru"],
    )
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=100, help="timed runs at batch 1 (batch 256: a tenth)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--skip-forms", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 20
    if keras.backend.backend() != "tensorflow":
        print(f"note: Keras predict runs on the {keras.backend.backend()} backend; export goes through the TF worker")
    import platform

    import onnxruntime

    header = {
        "keras_backend": keras.backend.backend(),
        "cpu_count": os.cpu_count(),
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "threads": args.threads,
        "load_average_before": load(),
        "shape": {"steps": STEPS, "features": FEATURES, "units": args.units, "classes": CLASSES},
    }
    print(json.dumps(header))
    workdir = tempfile.mkdtemp(prefix="kerasrnn-latency-")
    try:
        results = {"header": header, "full_sequence": full_sequence(args, workdir)}
        if not args.skip_forms:
            results["onnx_forms"] = onnx_forms(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    header["load_average_after"] = load()
    print(f"load average (1/5/15 min) before: {header['load_average_before']}, after: {header['load_average_after']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
