#!/usr/bin/python3
"""kfpsim - a strict Kubeflow Pipelines v2beta1 REST API simulator for tests.

The real KFP API server cannot run on the test machines, so kfboot's KFP
client, triggers and run journal are tested against this process. It is
strict: every request is checked against the real OpenAPI (Swagger 2.0) file
kept in the repository (kfp_api_single_file.swagger.json): the path and
method must exist, every query parameter must be declared with the right
type, and a JSON body must validate against the definition (turned into JSON
Schema; unknown fields are refused). What does not match gets a 400 with a
googlerpcStatus body and is counted in /kfpsim/stats "rejected", which the
tests assert to be zero.

Behaviour follows the KFP 2.16 server where a client can tell: multipart
uploads (field `uploadfile`) answer errors as {error_message, error_details};
a duplicate version name is 409; list filters are URL-encoded JSON
predicates (unescaped twice, as the server does); paging with page_token /
next_page_token; runs move PENDING -> RUNNING -> SUCCEEDED or FAILED on a
clock; recurring runs have no update endpoint. Faults (429, 500, 500 after
the run was created, dropped connection) are switched on with
POST /kfpsim/faults. Every created run is appended to a JSONL log. When a run
succeeds and --kube-server is given, its report ConfigMap
kfboot-run-<run id> is written into the Kubernetes simulator.

Run with /usr/bin/python3 (needs Debian's python3-jsonschema and python3-yaml).
"""
import argparse
import base64
import copy
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import yaml

PREFIX = "/apis/v2beta1"
MAX_UPLOAD = 32 << 20
TERMINAL = ("SUCCEEDED", "SKIPPED", "FAILED", "CANCELED")

# Filter keys each list accepts (KFP 2.16 model field maps).
FILTER_KEYS = {
    "experiments": {"experiment_id", "display_name", "created_at", "last_run_created_at",
                    "description", "namespace", "storage_state", "name"},
    "pipelines": {"pipeline_id", "display_name", "name", "created_at", "description",
                  "namespace"},
    "versions": {"pipeline_version_id", "display_name", "name", "created_at", "status",
                 "description", "pipeline_spec"},
    "runs": {"run_id", "display_name", "name", "created_at", "finished_at", "scheduled_at",
             "description", "storage_state", "status", "namespace", "experiment_id",
             "state", "state_history", "runtime_details", "recurring_run_id"},
    "recurringruns": {"recurring_run_id", "display_name", "name", "created_at",
                      "updated_at", "description"},
}


def now_iso(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ApiError(Exception):
    def __init__(self, status, msg, upload=False):
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.upload = upload


GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12}


# ---------------------------------------------------------------- OpenAPI
class Spec:
    """Paths, parameters and body schemas from the Swagger 2.0 file."""

    def __init__(self, path):
        with open(path) as f:
            doc = json.load(f)
        defs = copy.deepcopy(doc["definitions"])
        for d in defs.values():
            self._strict(d)
        self.defs = defs
        self.ops = []  # (regex, template, method, op)
        for tmpl, methods in doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[a-z_]+\\\}", r"([^/:]+)", re.escape(tmpl)) + "$"
            for m, op in methods.items():
                self.ops.append((re.compile(rx), tmpl, m.upper(), op))

    def _strict(self, s):
        # protobuf JSON: fields not in the message are refused
        if isinstance(s, dict):
            if s.get("type") == "object" and "properties" in s and "additionalProperties" not in s:
                s["additionalProperties"] = False
            for v in s.values():
                self._strict(v)
        elif isinstance(s, list):
            for v in s:
                self._strict(v)

    def match(self, method, path):
        known = False
        for rx, tmpl, m, op in self.ops:
            mo = rx.match(path)
            if mo:
                known = True
                if m == method:
                    return tmpl, op, mo.groups()
        if known:
            raise ApiError(405, "method %s not allowed on %s" % (method, path))
        raise ApiError(404, "no route %s %s in the OpenAPI document" % (method, path))

    def check_query(self, op, query):
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
        for k, vals in query.items():
            p = params.get(k)
            if not p:
                raise ApiError(400, "unknown query parameter %r" % k)
            if len(vals) != 1 and p.get("type") != "array":
                raise ApiError(400, "query parameter %r given %d times" % (k, len(vals)))
            if p.get("type") == "integer":
                try:
                    int(vals[0])
                except ValueError:
                    raise ApiError(400, "query parameter %r: %r is not an integer" % (k, vals[0]))
            if p.get("type") == "boolean" and vals[0] not in ("true", "false", "1", "0"):
                raise ApiError(400, "query parameter %r: %r is not a boolean" % (k, vals[0]))
            if "enum" in p and vals[0] not in p["enum"]:
                raise ApiError(400, "query parameter %r: %r not one of %s" % (k, vals[0], p["enum"]))
        for name, p in params.items():
            if p.get("required") and name not in query:
                raise ApiError(400, "query parameter %r is required" % name)

    def check_body(self, op, body):
        bp = [p for p in op.get("parameters", []) if p["in"] == "body"]
        if not bp:
            if body not in (None, {}, b"", ""):
                raise ApiError(400, "this endpoint takes no body")
            return
        if body is None:
            if bp[0].get("required"):
                raise ApiError(400, "a JSON body is required")
            return
        schema = dict(bp[0]["schema"])
        schema["definitions"] = self.defs
        v = jsonschema.Draft4Validator(schema)
        errs = sorted(v.iter_errors(body), key=lambda e: list(e.path))
        if errs:
            e = errs[0]
            where = "/".join(str(x) for x in e.path) or "(body)"
            raise ApiError(400, "invalid body at %s: %s" % (where, e.message))


# ---------------------------------------------------------------- filters and paging
def parse_filter(raw, kind):
    if raw is None:
        return []
    # the server unescapes the already-decoded value once more
    raw = urllib.parse.unquote_plus(raw)
    try:
        f = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, "filter is not JSON: %s" % e)
    if not isinstance(f, dict) or set(f) - {"predicates"}:
        raise ApiError(400, "filter must be {\"predicates\": [...]}")
    preds = f.get("predicates", [])
    out = []
    for p in preds:
        key, op = p.get("key"), p.get("operation")
        if key not in FILTER_KEYS[kind]:
            raise ApiError(400, "filter key %r is not supported for %s" % (key, kind))
        if op not in ("EQUALS", "NOT_EQUALS", "IS_SUBSTRING", "IN", "GREATER_THAN",
                      "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS"):
            raise ApiError(400, "filter operation %r is not valid" % op)
        vals = [k for k in p if k.endswith("_value") or k.endswith("_values")]
        if len(vals) != 1:
            raise ApiError(400, "filter predicate on %r needs exactly one value" % key)
        v = p[vals[0]]
        if isinstance(v, dict):
            v = next(iter(v.values()), [])
        out.append((key, op, v))
    return out


def pred_ok(obj, preds, alias):
    for key, op, v in preds:
        key = alias.get(key, key)
        have = obj.get(key)
        if op == "EQUALS" and str(have) != str(v):
            return False
        if op == "NOT_EQUALS" and str(have) == str(v):
            return False
        if op == "IS_SUBSTRING" and str(v) not in str(have or ""):
            return False
        if op == "IN" and str(have) not in [str(x) for x in v]:
            return False
        if op in ("GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS"):
            a, b = str(have or ""), str(v)
            if not {"GREATER_THAN": a > b, "GREATER_THAN_EQUALS": a >= b,
                    "LESS_THAN": a < b, "LESS_THAN_EQUALS": a <= b}[op]:
                return False
    return True


def page(items, q, key):
    size = int(q.get("page_size", ["20"])[0] or 20)
    if size <= 0:
        size = 20
    if size > 200:
        raise ApiError(400, "page_size %d is over the maximum of 200" % size)
    off = 0
    tok = q.get("page_token", [""])[0]
    if tok:
        try:
            off = int(base64.urlsafe_b64decode(tok.encode()).decode().split(":")[1])
        except Exception:
            raise ApiError(400, "invalid page_token")
    chunk = items[off:off + size]
    out = {key: chunk, "total_size": len(items)}
    if off + size < len(items):
        out["next_page_token"] = base64.urlsafe_b64encode(("o:%d" % (off + size)).encode()).decode()
    if not chunk:
        del out[key]
    return out


def sort_items(items, q):
    s = q.get("sort_by", [""])[0]
    if not s:
        return items
    parts = s.split()
    field = parts[0]
    rev = len(parts) > 1 and parts[1] == "desc"
    return sorted(items, key=lambda o: (str(o.get(field, "")), o.get("_seq", 0)), reverse=rev)


# ---------------------------------------------------------------- multipart
def parse_multipart(ctype, body):
    m = re.search(r'boundary="?([^";]+)"?', ctype or "")
    if not ctype or not ctype.startswith("multipart/form-data") or not m:
        raise ApiError(400, "Failed to read pipeline from file: request Content-Type isn't multipart/form-data", True)
    b = b"--" + m.group(1).encode()
    fields = {}
    for part in body.split(b)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, data = part.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        hd = head.decode("latin-1")
        nm = re.search(r'name="([^"]*)"', hd)
        fn = re.search(r'filename="([^"]*)"', hd)
        if nm:
            fields[nm.group(1)] = (fn.group(1) if fn else None, data)
    return fields


def read_package(fields):
    if "uploadfile" not in fields:
        raise ApiError(400, "Failed to create a pipeline version due to error reading pipeline spec: "
                       "http: no such file (form field 'uploadfile' missing)", True)
    fname, data = fields["uploadfile"]
    if not fname or not re.search(r"\.(ya?ml|json)$", fname):
        raise ApiError(400, "Failed to create a pipeline version due to error reading pipeline spec: "
                       "unexpected file name %r: only .yaml, .yml and .json" % fname, True)
    if len(data) > MAX_UPLOAD:
        raise ApiError(400, "file too large", True)
    try:
        spec = yaml.safe_load(data.decode())
    except Exception as e:
        raise ApiError(400, "Failed to create a pipeline version due to error parsing pipeline spec: %s" % e, True)
    if not isinstance(spec, dict) or not isinstance(spec.get("pipelineInfo"), dict) \
            or not spec["pipelineInfo"].get("name") or "root" not in spec:
        raise ApiError(400, "Failed to create a pipeline version due to error parsing pipeline spec: "
                       "invalid v2 pipeline spec: pipelineInfo.name and root are required", True)
    return fname, spec


# ---------------------------------------------------------------- the store
class Store:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.seq = 0
        self.experiments = {}
        self.pipelines = {}
        self.versions = {}
        self.runs = {}
        self.recurring = {}
        self.faults = []
        self.stats = {"requests": 0, "rejected": 0, "faults": 0, "by_op": {},
                      "rejections": []}
        self.pending_s = args.pending
        self.running_s = args.running
        self.fail_match = None  # runs whose display_name matches this regex fail
        self.reports = set()
        self.report_errors = []

    def nseq(self):
        self.seq += 1
        return self.seq

    # -- runs clock
    def run_view(self, r):
        if r["state"] not in TERMINAL and r.get("_frozen") is None:
            age = time.time() - r["_t0"]
            hist = [("PENDING", r["_t0"])]
            st = "PENDING"
            if age >= self.pending_s:
                st = "RUNNING"
                hist.append(("RUNNING", r["_t0"] + self.pending_s))
            if age >= self.pending_s + self.running_s:
                fail = self.fail_match and re.search(self.fail_match, r["display_name"])
                st = "FAILED" if fail else "SUCCEEDED"
                t = r["_t0"] + self.pending_s + self.running_s
                hist.append((st, t))
                r["finished_at"] = now_iso(t)
                if fail:
                    r["error"] = {"code": 13, "message": "simulated failure", "details": []}
            r["state"] = st
            r["state_history"] = [{"update_time": now_iso(t), "state": s} for s, t in hist]
            if st == "SUCCEEDED":
                self.write_report(r)
        return {k: v for k, v in r.items() if not k.startswith("_")}

    def write_report(self, r):
        if not self.args.kube_server or r["run_id"] in self.reports:
            return
        self.reports.add(r["run_id"])
        exp = self.experiments.get(r["experiment_id"], {})
        ns = exp.get("namespace") or "kubeflow"
        params = r.get("runtime_config", {}).get("parameters", {})
        h = sum(ord(c) for c in r["run_id"]) % 100
        metrics = {"test_accuracy": round(0.9 + h / 1000.0, 4), "loss": round(0.1 - h / 2000.0, 4)}
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kfboot-run-" + r["run_id"], "namespace": ns,
                           "labels": {"kfboot.io/run-id": r["run_id"]}},
              "data": {"metrics.json": json.dumps(metrics),
                       "model.json": json.dumps({"uri": "s3://models/%s/model.bin" % r["run_id"],
                                                 "format": "kfboot-mlp"}),
                       "parameters.json": json.dumps(params)}}
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.args.kube_certs, "ca.crt"))
            ctx.load_cert_chain(os.path.join(self.args.kube_certs, "client.crt"),
                                os.path.join(self.args.kube_certs, "client.key"))
            req = urllib.request.Request(
                "%s/api/v1/namespaces/%s/configmaps" % (self.args.kube_server, ns),
                data=json.dumps(cm).encode(), method="POST",
                headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, context=ctx, timeout=10).read()
        except Exception as e:  # reported through /kfpsim/stats
            self.report_errors.append("%s: %s" % (r["run_id"], e))

    def log_run(self, r):
        if not self.args.run_log:
            return
        rec = {"run_id": r["run_id"], "display_name": r["display_name"],
               "experiment_id": r["experiment_id"],
               "pipeline_version_id": r["pipeline_version_reference"].get("pipeline_version_id", ""),
               "parameters": r.get("runtime_config", {}).get("parameters", {}),
               "recurring_run_id": r.get("recurring_run_id", ""),
               # runs of the same pipeline in the experiment not finished
               # when this one was created (concurrency checks)
               "concurrent": sum(1 for o in self.runs.values()
                                 if o is not r and o["experiment_id"] == r["experiment_id"]
                                 and o["pipeline_version_reference"].get("pipeline_id")
                                 == r["pipeline_version_reference"].get("pipeline_id")
                                 and self.run_view(o)["state"] not in TERMINAL),
               "created_at": r["created_at"], "t": time.time()}
        with open(self.args.run_log, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())


# ---------------------------------------------------------------- handler
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kfpsim/2.16"

    def log_message(self, fmt, *a):
        if self.server.args.verbose:
            sys.stderr.write("kfpsim: " + fmt % a + "\n")

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        # headers and body in one write (no Nagle / delayed-ACK stall)
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(data)
        self.flush_headers()

    def send_err(self, e):
        if e.upload:
            body = {"error_message": e.msg, "error_details": e.msg}
        else:
            body = {"code": GRPC_CODES.get(e.status, 2), "message": e.msg, "details": []}
        extra = {"Retry-After": "1"} if e.status == 429 else None
        self.send_json(e.status, body, extra)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                ln = int(self.rfile.readline().strip().split(b";")[0], 16)
                if ln == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(ln)
                self.rfile.readline()
            return data
        if n > MAX_UPLOAD + (1 << 20):
            raise ApiError(413, "body too large")
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        st = self.server.store
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        try:
            raw = self.read_body()
        except ApiError as e:
            return self.send_err(e)
        if path.startswith("/kfpsim/"):
            return self.control(method, path, raw)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        upload = path.startswith(PREFIX + "/pipelines/upload")
        with st.lock:
            st.stats["requests"] += 1
        try:
            self.check_auth(upload)
            if not path.startswith(PREFIX + "/"):
                raise ApiError(404, "no route %s %s" % (method, path))
            tmpl, op, args = self.server.spec.match(method, path)
            opkey = "%s %s" % (method, tmpl[len(PREFIX):])
            self.server.spec.check_query(op, q)
            body = None
            if upload:
                if method != "POST":
                    raise ApiError(405, "method not allowed", True)
            elif raw:
                ct = self.headers.get("Content-Type", "")
                if not ct.startswith("application/json"):
                    raise ApiError(400, "Content-Type must be application/json, not %r" % ct)
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    raise ApiError(400, "body is not JSON: %s" % e)
            if not upload:
                self.server.spec.check_body(op, body)
        except ApiError as e:
            if e.status in (400, 404, 405) and e.status != 401:
                with st.lock:
                    st.stats["rejected"] += 1
                    st.stats["rejections"].append("%s %s: %s" % (method, self.path, e.msg))
            return self.send_err(e)
        with st.lock:
            st.stats["by_op"][opkey] = st.stats["by_op"].get(opkey, 0) + 1
        fault = self.take_fault(method, path)
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault in ("429", "500"):
            return self.send_err(ApiError(int(fault), "simulated fault %s" % fault, upload))
        try:
            with st.lock:
                status, out = self.route(method, tmpl[len(PREFIX):], args, q, body, raw)
        except ApiError as e:
            return self.send_err(e)
        if fault == "500-after":
            return self.send_err(ApiError(500, "simulated fault after the change was made", upload))
        if fault == "drop-after":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_json(status, out)

    def check_auth(self, upload):
        tf = self.server.args.token_file
        if not tf:
            return
        with open(tf) as f:
            want = f.read().strip()
        got = self.headers.get("Authorization", "")
        if got != "Bearer " + want:
            raise ApiError(401 if not upload else 400,
                           "Unauthenticated: bearer token missing or not accepted", upload)
        if self.headers.get("kubeflow-userid"):
            raise ApiError(403, "kubeflow-userid must not be sent with a bearer token", upload)

    def take_fault(self, method, path):
        st = self.server.store
        with st.lock:
            for f in st.faults:
                if f.get("count", 1) <= 0:
                    continue
                if f.get("method", method) != method:
                    continue
                if not re.search(f.get("path", "."), path):
                    continue
                f["count"] = f.get("count", 1) - 1
                st.stats["faults"] += 1
                return f["kind"]
        return None

    # -- control endpoints (not part of the API; never validated or faulted)
    def control(self, method, path, raw):
        st = self.server.store
        with st.lock:
            if path == "/kfpsim/stats":
                s = dict(st.stats)
                s["report_errors"] = list(st.report_errors)
                s["runs"] = len(st.runs)
                s["versions"] = len(st.versions)
                s["recurring_runs"] = len(st.recurring)
                return self.send_json(200, s)
            if path == "/kfpsim/faults" and method == "POST":
                st.faults = json.loads(raw or b"[]")
                return self.send_json(200, {"faults": st.faults})
            if path == "/kfpsim/faults" and method == "GET":
                return self.send_json(200, {"faults": st.faults})
            if path == "/kfpsim/config" and method == "POST":
                c = json.loads(raw or b"{}")
                st.pending_s = c.get("pending", st.pending_s)
                st.running_s = c.get("running", st.running_s)
                st.fail_match = c.get("fail_match", st.fail_match)
                if c.get("hold"):  # freeze every non-terminal run where it is
                    for r in st.runs.values():
                        r["_frozen"] = True
                if c.get("release"):
                    for r in st.runs.values():
                        r.pop("_frozen", None)
                return self.send_json(200, {"pending": st.pending_s, "running": st.running_s})
            if path == "/kfpsim/dump":
                return self.send_json(200, {
                    "experiments": list(st.experiments.values()),
                    "pipelines": list(st.pipelines.values()),
                    "versions": [{k: v for k, v in x.items() if k != "pipeline_spec"}
                                 for x in st.versions.values()],
                    "runs": [st.run_view(r) for r in st.runs.values()],
                    "recurring_runs": list(st.recurring.values())})
            if path == "/kfpsim/healthz":
                return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "no control route %s %s" % (method, path)})

    # -- the API
    def route(self, method, tmpl, args, q, body, raw):
        st = self.server.store
        ns = q.get("namespace", [""])[0]
        if tmpl == "/healthz":
            return 200, {"multi_user": self.server.args.multi_user, "pipeline_store": "database"}
        if tmpl == "/experiments" and method == "POST":
            name = body.get("display_name", "")
            if not name:
                raise ApiError(400, "Invalid input error: experiment display_name is required")
            for e in st.experiments.values():
                if e["display_name"] == name and e.get("namespace", "") == body.get("namespace", ""):
                    raise ApiError(409, "Already exist error: experiment %r already exists" % name)
            eid = str(uuid.uuid4())
            e = {"experiment_id": eid, "display_name": name,
                 "description": body.get("description", ""), "created_at": now_iso(),
                 "namespace": body.get("namespace", ""), "storage_state": "AVAILABLE",
                 "_seq": st.nseq()}
            st.experiments[eid] = e
            return 200, clean(e)
        if tmpl == "/experiments" and method == "GET":
            self.need_ns(ns)
            preds = parse_filter(q.get("filter", [None])[0], "experiments")
            items = [clean(e) for e in sort_items(list(st.experiments.values()), q)
                     if (not ns or e["namespace"] == ns)
                     and pred_ok(e, preds, {"name": "display_name"})]
            return 200, page(items, q, "experiments")
        if tmpl == "/experiments/{experiment_id}" and method == "GET":
            return 200, clean(self.get(st.experiments, args[0], "experiment"))
        if tmpl == "/pipelines/names/{name}":
            for p in st.pipelines.values():
                if p["name"] == args[0] and p.get("namespace", "") == ns:
                    return 200, clean(p)
            raise ApiError(404, "Not found: pipeline %r in namespace %r" % (args[0], ns))
        if tmpl == "/pipelines" and method == "GET":
            preds = parse_filter(q.get("filter", [None])[0], "pipelines")
            items = [clean(p) for p in sort_items(list(st.pipelines.values()), q)
                     if (not ns or p["namespace"] == ns) and pred_ok(p, preds, {})]
            return 200, page(items, q, "pipelines")
        if tmpl == "/pipelines/{pipeline_id}" and method == "GET":
            return 200, clean(self.get(st.pipelines, args[0], "pipeline"))
        if tmpl == "/pipelines/upload":
            fields = parse_multipart(self.headers.get("Content-Type"), raw)
            fname, spec = read_package(fields)
            name = q.get("name", [""])[0] or q.get("display_name", [""])[0] or fname
            for p in st.pipelines.values():
                if p["name"] == name and p["namespace"] == ns:
                    raise ApiError(409, "Failed to create a pipeline and a pipeline version: "
                                   "Already exist error: pipeline %r already exists" % name, True)
            pid = str(uuid.uuid4())
            p = {"pipeline_id": pid, "name": name,
                 "display_name": q.get("display_name", [""])[0] or name,
                 "description": q.get("description", [""])[0], "created_at": now_iso(),
                 "namespace": ns, "_seq": st.nseq()}
            st.pipelines[pid] = p
            self.new_version(pid, name, q.get("description", [""])[0], spec)
            return 200, clean(p)
        if tmpl == "/pipelines/upload_version":
            pid = q.get("pipelineid", [""])[0]
            if not pid:
                raise ApiError(400, "Failed to create a pipeline version: pipeline id is required", True)
            if pid not in st.pipelines:
                raise ApiError(404, "Failed to create a pipeline version: pipeline %s not found" % pid, True)
            fields = parse_multipart(self.headers.get("Content-Type"), raw)
            fname, spec = read_package(fields)
            name = q.get("name", [""])[0] or q.get("display_name", [""])[0] or fname
            if len(name) > 127:
                raise ApiError(400, "Failed to create a pipeline version: name longer than 127", True)
            for v in st.versions.values():
                if v["pipeline_id"] == pid and v["name"] == name:
                    raise ApiError(409, "Failed to create a pipeline version: Already exist error: "
                                   "pipeline version %r already exists" % name, True)
            return 200, clean(self.new_version(pid, name, q.get("description", [""])[0], spec,
                                               q.get("display_name", [""])[0]))
        if tmpl == "/pipelines/{pipeline_id}/versions" and method == "GET":
            self.get(st.pipelines, args[0], "pipeline")
            preds = parse_filter(q.get("filter", [None])[0], "versions")
            items = [clean(v) for v in sort_items(list(st.versions.values()), q)
                     if v["pipeline_id"] == args[0] and pred_ok(v, preds, {})]
            return 200, page(items, q, "pipeline_versions")
        if tmpl == "/pipelines/{pipeline_id}/versions/{pipeline_version_id}" and method == "GET":
            v = self.get(st.versions, args[1], "pipeline version")
            if v["pipeline_id"] != args[0]:
                raise ApiError(404, "Not found: pipeline version %s" % args[1])
            return 200, clean(v)
        if tmpl == "/runs" and method == "POST":
            return 200, self.create_run(body)
        if tmpl == "/runs" and method == "GET":
            exp = q.get("experiment_id", [""])[0]
            if not exp:
                self.need_ns(ns)
            preds = parse_filter(q.get("filter", [None])[0], "runs")
            items = []
            for r in sort_items(list(st.runs.values()), q):
                if exp and r["experiment_id"] != exp:
                    continue
                if ns and st.experiments.get(r["experiment_id"], {}).get("namespace") != ns:
                    continue
                v = st.run_view(r)
                if pred_ok(v, preds, {"name": "display_name"}):
                    items.append(v)
            return 200, page(items, q, "runs")
        if tmpl == "/runs/{run_id}" and method == "GET":
            return 200, st.run_view(self.get(st.runs, args[0], "run"))
        if tmpl == "/runs/{run_id}:terminate":
            r = self.get(st.runs, args[0], "run")
            st.run_view(r)
            if r["state"] not in TERMINAL:
                r["state"] = "CANCELED"
                r["finished_at"] = now_iso()
                r["state_history"] = r.get("state_history", []) + [
                    {"update_time": now_iso(), "state": "CANCELED"}]
            return 200, {}
        if tmpl == "/recurringruns" and method == "POST":
            return 200, self.create_recurring(body)
        if tmpl == "/recurringruns" and method == "GET":
            exp = q.get("experiment_id", [""])[0]
            preds = parse_filter(q.get("filter", [None])[0], "recurringruns")
            items = [clean(x) for x in sort_items(list(st.recurring.values()), q)
                     if (not exp or x["experiment_id"] == exp)
                     and (not ns or x.get("namespace") == ns)
                     and pred_ok(x, preds, {"name": "display_name"})]
            out = page(items, q, "recurringRuns")
            return 200, out
        if tmpl == "/recurringruns/{recurring_run_id}" and method == "GET":
            return 200, clean(self.get(st.recurring, args[0], "recurring run"))
        if tmpl == "/recurringruns/{recurring_run_id}" and method == "DELETE":
            self.get(st.recurring, args[0], "recurring run")
            del st.recurring[args[0]]
            return 200, {}
        if tmpl in ("/recurringruns/{recurring_run_id}:enable", "/recurringruns/{recurring_run_id}:disable"):
            x = self.get(st.recurring, args[0], "recurring run")
            x["mode"] = "ENABLE" if tmpl.endswith("enable") and not tmpl.endswith("disable") else "DISABLE"
            x["status"] = "ENABLED" if x["mode"] == "ENABLE" else "DISABLED"
            x["updated_at"] = now_iso()
            return 200, {}
        if tmpl == "/runs/{run_id}" and method == "DELETE":
            self.get(st.runs, args[0], "run")
            del st.runs[args[0]]
            return 200, {}
        raise ApiError(501, "kfpsim does not implement %s %s" % (method, tmpl))

    def need_ns(self, ns):
        if self.server.args.multi_user and not ns:
            raise ApiError(400, "Invalid input error: In multi-user mode, namespace is required")

    def get(self, table, key, what):
        x = table.get(key)
        if x is None:
            raise ApiError(404, "Not found: %s %s" % (what, key))
        return x

    def new_version(self, pid, name, desc, spec, display=""):
        st = self.server.store
        vid = str(uuid.uuid4())
        v = {"pipeline_id": pid, "pipeline_version_id": vid, "name": name,
             "display_name": display or name, "description": desc, "created_at": now_iso(),
             "pipeline_spec": spec, "status": "READY", "_seq": st.nseq()}
        st.versions[vid] = v
        return v

    def check_ref(self, body, what):
        st = self.server.store
        if not body.get("display_name"):
            raise ApiError(400, "Invalid input error: %s display_name is required" % what)
        ref = body.get("pipeline_version_reference") or {}
        if not ref.get("pipeline_id"):
            raise ApiError(400, "Invalid input error: pipeline_version_reference.pipeline_id is required")
        if ref["pipeline_id"] not in st.pipelines:
            raise ApiError(404, "Not found: pipeline %s" % ref["pipeline_id"])
        vid = ref.get("pipeline_version_id")
        if vid and (vid not in st.versions or st.versions[vid]["pipeline_id"] != ref["pipeline_id"]):
            raise ApiError(404, "Not found: pipeline version %s" % vid)
        exp = body.get("experiment_id", "")
        if not exp or exp not in st.experiments:
            if self.server.args.multi_user:
                raise ApiError(400, "Invalid input error: a namespace is required (via experiment_id)")
            if exp:
                raise ApiError(404, "Not found: experiment %s" % exp)
        params = (body.get("runtime_config") or {}).get("parameters") or {}
        for k, v in params.items():
            if isinstance(v, (dict,)) or v is None:
                raise ApiError(400, "Invalid input error: parameter %r has an unsupported value" % k)

    def create_run(self, body):
        st = self.server.store
        self.check_ref(body, "run")
        for k in ("run_id", "state", "created_at", "finished_at"):
            if body.get(k):
                raise ApiError(400, "Invalid input error: %s is an output field" % k)
        rid = str(uuid.uuid4())
        t = time.time()
        r = {"run_id": rid, "display_name": body["display_name"],
             "description": body.get("description", ""),
             "experiment_id": body.get("experiment_id", ""),
             "pipeline_version_reference": body["pipeline_version_reference"],
             "runtime_config": body.get("runtime_config", {}),
             "service_account": body.get("service_account", "") or "default-editor",
             "storage_state": "AVAILABLE", "created_at": now_iso(t), "scheduled_at": now_iso(t),
             "state": "PENDING", "_t0": t, "_seq": st.nseq()}
        if body.get("recurring_run_id"):
            r["recurring_run_id"] = body["recurring_run_id"]
        st.runs[rid] = r
        st.log_run(r)
        return st.run_view(r)

    def create_recurring(self, body):
        st = self.server.store
        self.check_ref(body, "recurring run")
        mc = body.get("max_concurrency")
        try:
            mci = int(mc)
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid input error: max_concurrency is required")
        if not 1 <= mci <= 10:
            raise ApiError(400, "Invalid input error: max concurrency of a recurring run must be in [1, 10]")
        tr = body.get("trigger") or {}
        if bool(tr.get("cron_schedule")) == bool(tr.get("periodic_schedule")):
            raise ApiError(400, "Invalid input error: exactly one of cron_schedule and periodic_schedule")
        if tr.get("cron_schedule"):
            cron = tr["cron_schedule"].get("cron", "")
            if len(cron.split()) != 6:
                raise ApiError(400, "Invalid input error: cron %r must have 6 fields (seconds first)" % cron)
        else:
            try:
                if int(tr["periodic_schedule"].get("interval_second", "0")) <= 0:
                    raise ValueError
            except ValueError:
                raise ApiError(400, "Invalid input error: interval_second must be positive")
        rid = str(uuid.uuid4())
        x = {"recurring_run_id": rid, "display_name": body["display_name"],
             "description": body.get("description", ""),
             "experiment_id": body.get("experiment_id", ""),
             "namespace": st.experiments.get(body.get("experiment_id", ""), {}).get("namespace", ""),
             "pipeline_version_reference": body["pipeline_version_reference"],
             "runtime_config": body.get("runtime_config", {}),
             "max_concurrency": str(mci), "trigger": tr,
             "mode": body.get("mode") or "ENABLE",
             "no_catchup": bool(body.get("no_catchup", False)),
             "created_at": now_iso(), "updated_at": now_iso(), "_seq": st.nseq()}
        x["status"] = "ENABLED" if x["mode"] == "ENABLE" else "DISABLED"
        st.recurring[rid] = x
        return clean(x)


def clean(o):
    return {k: v for k, v in o.items() if not k.startswith("_")}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Kubeflow Pipelines v2beta1 API simulator")
    ap.add_argument("--api", required=True, help="kfp_api_single_file.swagger.json")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--run-log", help="append every created run here (JSONL)")
    ap.add_argument("--pending", type=float, default=0.2, help="seconds a run stays PENDING")
    ap.add_argument("--running", type=float, default=0.5, help="seconds a run stays RUNNING")
    ap.add_argument("--token-file", help="require Authorization: Bearer <contents>")
    ap.add_argument("--multi-user", action="store_true")
    ap.add_argument("--kube-server", help="kubesim URL: write report ConfigMaps there")
    ap.add_argument("--kube-certs", help="kubesim certificate dir (ca.crt, client.crt, client.key)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.args = args
    srv.spec = Spec(args.api)
    srv.store = Store(args)
    port = srv.server_address[1]
    if args.pid_file:
        write_atomic(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    print("kfpsim listening on http://127.0.0.1:%d (pid %d)" % (port, os.getpid()), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
