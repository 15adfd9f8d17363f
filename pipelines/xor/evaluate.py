#!/usr/bin/env python3
"""evaluate - test accuracy (a fraction in [0, 1]) and loss of each model.

Writes a metrics JSON ({"<model name>": {"test_accuracy", "test_loss"}})
and, for the pipeline's later steps, the two accuracies as output
parameters (one number per file).
"""
import argparse
import sys

import xorlib


def score(model, x, y):
    if model["inputs"] != x.shape[1]:
        raise xorlib.UsageError("model %r takes %d inputs; the test set has %d dimensions"
                                % (model.get("name"), model["inputs"], x.shape[1]))
    p = xorlib.predict_proba(model, x)
    return {"test_accuracy": round(xorlib.accuracy(p, y, model.get("threshold", 0.5)), 6),
            "test_loss": round(xorlib.bce(p, y), 6)}


def main(argv):
    ap = argparse.ArgumentParser(prog="evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--test", required=True)
    ap.add_argument("--linear-model", required=True)
    ap.add_argument("--hidden-model", required=True)
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--linear-accuracy-out", required=True)
    ap.add_argument("--hidden-accuracy-out", required=True)
    a = ap.parse_args(argv)
    xt, yt = xorlib.load_dataset(a.test)
    res = {}
    for key, path, out in (("linear", a.linear_model, a.linear_accuracy_out),
                           ("hidden", a.hidden_model, a.hidden_accuracy_out)):
        m = xorlib.load_model(path)
        res[key] = dict(score(m, xt, yt), name=m.get("name"), meta=m.get("meta", {}))
        xorlib.write_text(out, "%.6f" % res[key]["test_accuracy"])
        print("evaluate: %s model: test_accuracy=%.4f test_loss=%.4f"
              % (key, res[key]["test_accuracy"], res[key]["test_loss"]))
    res["test_points"] = int(len(yt))
    xorlib.write_json(a.metrics_out, res)
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("evaluate", main, sys.argv[1:]))
