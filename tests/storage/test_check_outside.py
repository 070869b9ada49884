"""check_outside: an output never is, lies inside, or holds what the job reads."""

import pytest

from kerasrnn.storage.destinations import DestinationError, Problem, check_outside

pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    "output, relation",
    [("run", "is"), ("run/model.keras", "is inside"), ("run/sub/x.csv", "is inside"), (".", "holds"), ("in.csv", "is")],
)
def test_refused_outputs_name_the_relation(tmp_path, output, relation):
    (tmp_path / "run").mkdir()
    (tmp_path / "in.csv").write_text("1,2\n")
    protected = {"the run directory": tmp_path / "run", "the input file": tmp_path / "in.csv"}
    with pytest.raises(DestinationError, match=f" {relation} the ") as caught:
        check_outside(tmp_path / output, "--output", protected)
    assert caught.value.problem is Problem.INSIDE_INPUT


def test_through_a_symbolic_link_too(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "run")
    with pytest.raises(DestinationError, match="is inside the run directory"):
        check_outside(tmp_path / "alias" / "out.csv", "--output", {"the run directory": tmp_path / "run"})


def test_elsewhere_is_accepted(tmp_path):
    (tmp_path / "run").mkdir()
    assert check_outside(tmp_path / "runs2" / "out.csv", "--output", {"the run directory": tmp_path / "run"}).name == (
        "out.csv"
    )
