#!/usr/bin/env python3
"""train - a linear model (--hidden 0) or a one-hidden-layer tanh network.

Full-batch gradient descent on the binary cross-entropy for --epochs
epochs. Writes the model (kfboot.io/mlp-v1 JSON, the file kfboot-predict
serves) and the per-epoch training loss and accuracy (JSON). Prints
`accuracy=...` and `loss=...` lines, which Katib's StdOut metrics
collector reads (the last value of each is the result).
"""
import argparse
import sys
import time

import xorlib


def history_doc(name, hidden, losses, accs):
    return {"name": name, "hidden": hidden, "epochs": len(losses),
            "loss": [round(float(v), 6) for v in losses],
            "accuracy": [round(float(v), 6) for v in accs]}


def fit(x, y, name, hidden, epochs, lr, seed, log_every=100, out=sys.stdout):
    """Train; returns (model dict, history dict)."""
    def on_epoch(e, loss, acc):
        if log_every and (e + 1) % log_every == 0 and e + 1 < epochs:
            print("epoch=%d loss=%.6f accuracy=%.4f" % (e + 1, loss, acc), file=out)

    layers, losses, accs = xorlib.train_mlp(x, y, hidden, epochs, lr, seed, on_epoch)
    model = {"format": xorlib.MODEL_FORMAT, "name": name, "inputs": int(x.shape[1]),
             "layers": layers, "classes": ["0", "1"], "threshold": 0.5, "meta": {}}
    p = xorlib.predict_proba(model, x)
    model["meta"] = {"dims": int(x.shape[1]), "hidden": hidden, "epochs": epochs,
                     "learning_rate": lr, "seed": seed,
                     "train_accuracy": round(xorlib.accuracy(p, y), 6),
                     "train_loss": round(xorlib.bce(p, y), 6)}
    return model, history_doc(name, hidden, losses, accs)


def main(argv):
    ap = argparse.ArgumentParser(prog="train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True, help="training set (CSV)")
    ap.add_argument("--name", default="xor")
    ap.add_argument("--hidden", default="8", help="hidden units; 0 = linear model")
    ap.add_argument("--epochs", default="1000")
    ap.add_argument("--learning-rate", default="1.0")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--model-out", required=True)
    ap.add_argument("--history-out", required=True)
    a = ap.parse_args(argv)
    hidden = xorlib.parse_int("hidden", a.hidden, 0, 4096)
    epochs = xorlib.parse_int("epochs", a.epochs, 1, 1_000_000)
    lr = xorlib.parse_float("learning-rate", a.learning_rate, 0.0, 1e3, lo_open=True)
    seed = xorlib.parse_int("seed", a.seed, 0)
    x, y = xorlib.load_dataset(a.train)
    if 0 < hidden < x.shape[1]:
        print("train: warning: %d hidden units for %d dimensions: parity needs at least %d"
              % (hidden, x.shape[1], x.shape[1]), file=sys.stderr)
    t0 = time.monotonic()
    model, hist = fit(x, y, a.name, hidden, epochs, lr, seed)
    xorlib.write_json(a.model_out, model)
    xorlib.write_json(a.history_out, hist)
    kind = "linear" if hidden == 0 else "%d tanh hidden units" % hidden
    print("train: %s, %s, %d epochs, learning rate %g, %.2fs"
          % (a.name, kind, epochs, lr, time.monotonic() - t0))
    print("accuracy=%.6f" % model["meta"]["train_accuracy"])
    print("loss=%.6f" % model["meta"]["train_loss"])
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("train", main, sys.argv[1:]))
