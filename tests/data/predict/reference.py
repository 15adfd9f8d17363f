"""Independent reference for kfboot-predict: evaluates a kfboot.io/mlp-v1
model with numpy (not the server's code) on rows given as JSON.

usage: /usr/bin/python3 reference.py MODEL.json ROWS.json  -> JSON list of probabilities
"""
import json
import sys

import numpy as np

ACT = {
    "identity": lambda v: v,
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
}


def predict(model, rows):
    a = np.asarray(rows, dtype=np.float64).reshape(-1, model["inputs"])
    for layer in model["layers"]:
        w = np.asarray(layer["weights"], dtype=np.float64)  # units x ins
        b = np.asarray(layer["bias"], dtype=np.float64)
        a = ACT[layer["activation"]](a @ w.T + b)
    return a[:, 0].tolist()


if __name__ == "__main__":
    model = json.load(open(sys.argv[1]))
    rows = json.load(open(sys.argv[2]))
    json.dump(predict(model, rows), sys.stdout)
