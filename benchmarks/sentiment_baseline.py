"""A bag-of-words logistic regression on exactly the ``--dataset sentiment`` split, for comparison with RNNs.

Usage::

    python benchmarks/sentiment_baseline.py [--seeds 0 1 2] [--json OUT.json]

For each seed, the data is ``load_sentiment(seed=seed)`` (the split and the
training-split vocabulary ``kerasrnn fit --dataset sentiment --seed SEED``
uses). Features: the count of every vocabulary token in the sentence (the
same tokens the RNN reads; held-out words outside the vocabulary are dropped,
as ``<unk>`` carries nothing). scikit-learn's ``LogisticRegression`` (lbfgs, L2)
with ``C`` chosen on the validation split from 0.1, 0.3, 1, 3, 10, 30, 100, then test
accuracy. Prints one line per seed and the mean ± standard deviation
(sample, ddof=1) over the seeds.
"""

import argparse
import json
import time

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

from kerasrnn.data.sentiment import load_sentiment

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def bag_of_words(x: np.ndarray, size: int) -> csr_matrix:
    """Token counts of padded id rows (ids 0-3 reserved: pad, unk, bos, eos are dropped)."""
    rows, columns = np.nonzero(x >= 4)
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, x[rows, columns])), shape=(len(x), size))


def run(seed: int) -> dict:
    data = load_sentiment(seed=seed)
    size = data.info["vocabulary"]["size"]
    features = {split: bag_of_words(getattr(data, f"x_{split}"), size) for split in ("train", "val", "test")}
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000).fit(features["train"], data.y_train)
        val = float((model.predict(features["val"]) == data.y_val).mean())
        if best is None or val > best[0]:
            best = (val, c, model)
    val, c, model = best
    test = float((model.predict(features["test"]) == data.y_test).mean())
    return {"seed": seed, "C": c, "val_accuracy": val, "test_accuracy": test, "vocabulary": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    start = time.perf_counter()
    results = []
    for seed in args.seeds:
        result = run(seed)
        results.append(result)
        print(
            f"seed {seed}: test accuracy {result['test_accuracy']:.4f} (val {result['val_accuracy']:.4f}, "
            f"C {result['C']:g}, vocabulary {result['vocabulary']})"
        )
    accuracies = np.array([result["test_accuracy"] for result in results])
    spread = accuracies.std(ddof=1) if len(accuracies) > 1 else 0.0
    print(
        f"bag-of-words logistic regression, --dataset sentiment, seeds {' '.join(map(str, args.seeds))}: "
        f"test accuracy {accuracies.mean():.4f} ± {spread:.4f} ({time.perf_counter() - start:.1f} s)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"results": results, "mean": accuracies.mean(), "std": spread}, handle, indent=2)


if __name__ == "__main__":
    main()
