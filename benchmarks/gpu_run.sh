#!/usr/bin/env bash
# The GPU measurements of issue 5, in one call on the lent GPU machine
# (../shared/gpu/README.md): the bench on the torch and JAX backends beside
# torch.nn.LSTM/GRU on cuDNN, then the main job (bigru) trained on the GPU.
#
# That machine has CUDA builds of JAX and PyTorch but no keras and no
# tensorflow; keras and its two pure dependencies travel as wheels in .whl/:
#
#   echo /.whl/ >> .git/info/exclude
#   mkdir -p .whl && cp ../shared/gpu/wheels/*.whl .whl/
#
# and the device call names .whl in carry and runs `bash benchmarks/gpu_run.sh`.
# Everything it measures lands in $OUT (bench JSON and log, the fit's summary),
# written as it goes, so a run cut short still returns every finished row.
#
#   GPU_BENCH_ARCHS   architectures to bench (default below)
#   GPU_BENCH_BACKENDS  Keras backends of the bench (default torch,jax)
#   GPU_REFERENCES    reference rows (default all four)
#   GPU_JIT_COMPILE   the bench's --jit-compile: auto (Keras' default), on, off
#   GPU_BATCHES       batches per repeat (default: the bench's)
#   GPU_ROW_TIMEOUT   seconds per bench row (default 120)
#   GPU_TESTS         pytest arguments to run first on the GPU (default none;
#                     needs the pytest wheels in .whl/ too), e.g.
#                     "tests/test_fused_rnn.py" with KERAS_BACKEND=torch
#   GPU_FIT_SECONDS   training budget of the bigru run; 0 skips it (default 60)
#   GPU_DEADLINE      seconds after which the fit is not started (default 420)
set -u
start=$SECONDS
OUT=${OUT:-/tmp/kerasrnn-gpu}
mkdir -p "$OUT"
site=$(mktemp -d) && python3 -m pip install -q --no-index --no-deps --target "$site" .whl/*.whl \
  && export PYTHONPATH="$site:$PWD" || exit
# No tensorflow there: Keras must not start on its default backend (the bench
# parent imports keras too; each row sets its own KERAS_BACKEND).
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 KERAS_BACKEND=${KERAS_BACKEND:-jax}

archs=${GPU_BENCH_ARCHS:-lstm,gru-cudnn,peephole-lstm,layernorm-lstm,mut1,mut2,mut3,gru,bigru,bilstm}
backends=${GPU_BENCH_BACKENDS:-torch,jax}
references=${GPU_REFERENCES:-torch.nn.LSTM,torch.nn.GRU,keras.layers.LSTM,keras.layers.GRU}
batches=${GPU_BATCHES:+--batches $GPU_BATCHES}
fit_seconds=${GPU_FIT_SECONDS:-0}
deadline=${GPU_DEADLINE:-420}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  python3 - <<'EOF'
import jax, keras, torch
print("jax", jax.__version__, jax.devices())
print("torch", torch.__version__, torch.cuda.get_device_name(), "cudnn", torch.backends.cudnn.version())
print("keras", keras.__version__)
EOF
} 2>&1 | tee "$OUT/machine.txt"

if [ -n "${GPU_TESTS:-}" ]; then
  # shellcheck disable=SC2086  # GPU_TESTS is a list of pytest arguments
  python3 -m pytest -q -p no:cacheprovider $GPU_TESTS 2>&1 | tail -30 | tee "$OUT/tests-gpu.log"
  echo "tests done at $((SECONDS - start)) s"
fi

# torch first by default: its rows need no compilation (unless --jit-compile
# on), so they finish even if JAX is slow.
# shellcheck disable=SC2086  # $batches is an option and its value, or nothing
python3 -m cli.main bench --backends "$backends" --archs "$archs" --references "$references" \
  --jit-compile "${GPU_JIT_COMPILE:-auto}" $batches \
  --timeout "${GPU_ROW_TIMEOUT:-120}" --out "$OUT/bench-gpu.json" 2>&1 | tee "$OUT/bench-gpu.log"
echo "bench done at $((SECONDS - start)) s"

if (( fit_seconds > 0 && SECONDS - start < deadline )); then
  # The main job as the README runs it, on the GPU: JAX backend, bundled MNIST.
  KERAS_BACKEND=jax python3 -m cli.main fit --arch bigru --time-budget "$fit_seconds" \
    --out /tmp/bigru-gpu-jax 2>&1 | tail -25 | tee "$OUT/fit-bigru-jax.log"
  for name in summary.json metrics.json; do
    [ -f "/tmp/bigru-gpu-jax/$name" ] && cp "/tmp/bigru-gpu-jax/$name" "$OUT/fit-bigru-jax-$name"
  done
  echo "fit done at $((SECONDS - start)) s"
else
  echo "fit skipped at $((SECONDS - start)) s (GPU_FIT_SECONDS=$fit_seconds, deadline $deadline s)"
fi
