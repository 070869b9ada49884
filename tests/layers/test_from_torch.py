"""``Recurrent.from_torch``: torch.nn.RNN / LSTM / GRU with their weights, against torch's own outputs and states."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasrnn.errors import ConfigError
from kerasrnn.layers import Recurrent
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref

torch = pytest.importorskip("torch")

# torch.nn.LSTM itself says so when it runs a projected LSTM on CPU.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

INPUT, HIDDEN = 5, 4
TOLERANCE = 1e-5

CASES = {
    "rnn tanh": (lambda: torch.nn.RNN(INPUT, HIDDEN, batch_first=True), "rnn_tanh"),
    "rnn relu 2 layers no bias time-major": (
        lambda: torch.nn.RNN(INPUT, HIDDEN, nonlinearity="relu", num_layers=2, bias=False),
        "rnn_relu",
    ),
    "lstm no bias time-major": (lambda: torch.nn.LSTM(INPUT, HIDDEN, bias=False), "lstm"),
    "lstm proj_size 2 layers bidirectional": (
        lambda: torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, proj_size=2, batch_first=True),
        "lstm",
    ),
    "gru bidirectional": (lambda: torch.nn.GRU(INPUT, HIDDEN, bidirectional=True, batch_first=True), "gru_cudnn"),
    "gru no bias time-major": (lambda: torch.nn.GRU(INPUT, HIDDEN, bias=False), "gru_cudnn"),
}


def _run(layer, x):
    """The layer's outputs as NumPy; on JAX through one compiled predict (cheaper than a compile per scan)."""
    if keras.backend.backend() != "jax":
        return cells.numpy(layer(x))
    inputs = keras.Input(x.shape[1:])
    return cells.numpy(keras.Model(inputs, layer(inputs)).predict(x, verbose=0))


def _randomize(module):
    """Nonzero, distinct biases and weights (torch's init leaves nothing to tell b_ih from b_hh by)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator) - 0.5)


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_and_final_states_equal_torch(case):
    make, cell = CASES[case]
    module = _randomize_and_return(make())
    x = np.random.default_rng(0).normal(size=(3, 6, INPUT)).astype("float32")
    time_major = not module.batch_first
    with torch.no_grad():
        inputs = torch.from_numpy(x)
        output, states = module(inputs.transpose(0, 1) if time_major else inputs)
    output = (output.transpose(0, 1) if time_major else output).numpy()
    states = [s.numpy() for s in (states if isinstance(states, tuple) else (states,))]  # h_n (, c_n)

    layer = Recurrent.from_torch(module, return_state=True)
    assert layer.cell == cell and layer.return_sequences
    got_output, *got_states = _run(layer, x)
    err = ref.record_error(f"from_torch {case}", ref.relative_error(got_output, output))
    assert err < TOLERANCE, f"{case}: output relative error {err:.2e}"
    # Keras: flat [h, (c,)] per layer and direction; torch: h_n, c_n of (layers * directions, batch, width).
    assert len(got_states) == len(states) * states[0].shape[0]
    for k in range(states[0].shape[0]):
        for j, torch_state in enumerate(states):
            got = got_states[k * len(states) + j]
            err = ref.record_error(f"from_torch {case}", ref.relative_error(got, torch_state[k]))
            assert err < TOLERANCE, f"{case}: state {j} of layer/direction {k}: relative error {err:.2e}"


def _randomize_and_return(module):
    _randomize(module)
    return module


def test_dropout_and_options_carry_over():
    module = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, dropout=0.25, proj_size=2)
    layer = Recurrent.from_torch(module, return_sequences=False, name="from_torch")
    config = layer.get_config()
    assert (config["dropout"], config["num_layers"], config["proj_size"], config["return_sequences"]) == (
        0.25,
        2,
        2,
        False,
    )
    assert layer.name == "from_torch"
    assert Recurrent.from_config(config).get_config() == config


@pytest.mark.backend_independent
def test_refuses_what_it_cannot_convert():
    with pytest.raises(ConfigError, match="torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU"):
        Recurrent.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(ConfigError, match="come from the torch module"):
        Recurrent.from_torch(torch.nn.GRU(3, 4), num_layers=2)


@pytest.mark.backend_independent
def test_torch_is_imported_only_when_called():
    """No layer module imports torch (or torch_weights) at its top level; torch_weights is imported inside from_torch."""
    layers_dir = Path(__file__).resolve().parents[2] / "kerasrnn" / "layers"
    for path in layers_dir.glob("*.py"):
        if path.name == "torch_weights.py":
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "torch" or name.endswith("torch_weights") for name in names), path
    source = (layers_dir / "recurrent.py").read_text()
    assert "from kerasrnn.layers.torch_weights import recurrent_from_torch" in source
