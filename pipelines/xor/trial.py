#!/usr/bin/env python3
"""trial - one Katib trial: generate, train the hidden-layer model, evaluate.

Everything in one process (a Katib trial is one container). Prints
`accuracy=`, `loss=` (training) and `test_accuracy=` (the objective)
lines for Katib's StdOut metrics collector.
"""
import argparse
import sys

import evaluate
import train
import xorlib
from xorlib import np


def main(argv):
    ap = argparse.ArgumentParser(prog="trial", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-train", default="10000")
    ap.add_argument("--n-test", default="1000")
    ap.add_argument("--dims", default="2")
    ap.add_argument("--hidden", default="8")
    ap.add_argument("--epochs", default="1000")
    ap.add_argument("--learning-rate", default="1.0")
    ap.add_argument("--seed", default="1")
    a = ap.parse_args(argv)
    n_train = xorlib.parse_int("n-train", a.n_train, 1, 10_000_000)
    n_test = xorlib.parse_int("n-test", a.n_test, 1, 10_000_000)
    dims = xorlib.parse_int("dims", a.dims, 2, 64)
    hidden = xorlib.parse_int("hidden", a.hidden, 0, 4096)
    epochs = xorlib.parse_int("epochs", a.epochs, 1, 1_000_000)
    lr = xorlib.parse_float("learning-rate", a.learning_rate, 0.0, 1e3, lo_open=True)
    seed = xorlib.parse_int("seed", a.seed, 0)
    rng = np.random.default_rng(seed)
    x, xt = rng.random((n_train, dims)), rng.random((n_test, dims))
    y, yt = xorlib.xor_labels(x), xorlib.xor_labels(xt)
    model, _ = train.fit(x, y, "xor", hidden, epochs, lr, seed)
    s = evaluate.score(model, xt, yt)
    print("accuracy=%.6f" % model["meta"]["train_accuracy"])
    print("loss=%.6f" % model["meta"]["train_loss"])
    print("test_accuracy=%.6f" % s["test_accuracy"])
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("trial", main, sys.argv[1:]))
