"""The package root: quick to import, and its layers registered with Keras in either import order."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("keras", "tensorflow", "jax", "torch")

pytestmark = pytest.mark.backend_independent


def _run(code: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_kerasrnn_imports_no_framework():
    report = _run(
        """
        import json, sys
        import kerasrnn, kerasrnn.registry
        print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
        """
    )
    assert not set(report) & set(HEAVY), report


@pytest.mark.parametrize("order", ["kerasrnn first", "keras first"])
def test_a_saved_model_loads_after_import_kerasrnn_in_either_order(tmp_path, order):
    pytest.importorskip("jax")
    path = tmp_path / "m.keras"
    imports = "import kerasrnn\nimport keras" if order == "kerasrnn first" else "import keras\nimport kerasrnn"
    report = _run(
        f"""
        import json
        {imports.splitlines()[0]}
        {imports.splitlines()[1]}
        inputs = keras.Input((5, 3))
        model = keras.Model(inputs, kerasrnn.layers.PeepholeLSTM(4)(inputs))
        model.save({str(path)!r})
        print(json.dumps({{"saved": True}}))
        """
    )
    assert report["saved"]
    loaded = _run(
        f"""
        import json
        {imports.splitlines()[0]}
        {imports.splitlines()[1]}
        model = keras.saving.load_model({str(path)!r})
        print(json.dumps([type(layer).__name__ for layer in model.layers]))
        """
    )
    assert "PeepholeLSTM" in loaded


def test_lazy_names_resolve():
    report = _run(
        """
        import json, kerasrnn
        print(json.dumps({"archs": "bigru" in kerasrnn.ARCHITECTURES, "build": callable(kerasrnn.build_model),
                          "layers": hasattr(kerasrnn.layers, "MUT1"), "dir": "layers" in dir(kerasrnn)}))
        """
    )
    assert all(report.values()), report
