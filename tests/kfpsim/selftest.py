#!/usr/bin/python3
"""selftest.py - check that kfpsim is as strict as the real KFP server where
kfboot depends on it: schema validation of paths, query and bodies, the
upload endpoints' error shape and 409, filters (with the server's double
unescape) and paging, the run clock, recurring runs, faults, the run log.

Usage: selftest.py API_SWAGGER_JSON  (exit 0 when every check passed)
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = b"""pipelineInfo:
  name: xor
root:
  dag:
    tasks: {}
schemaVersion: 2.1.0
sdkVersion: kfp-2.7.0
"""
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Sim:
    def __init__(self, api, tmp, extra=()):
        self.tmp = tmp
        pf = os.path.join(tmp, "port")
        self.log = os.path.join(tmp, "runs.jsonl")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "kfpsim.py"), "--api", api,
                                   "--port-file", pf, "--run-log", self.log,
                                   "--pending", "0.2", "--running", "0.3"] + list(extra),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        self.base = "http://127.0.0.1:%s" % open(pf).read().strip()

    def req(self, method, path, body=None, ctype="application/json", headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = ctype
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def upload(self, path, content=PKG, fname="pipeline.yaml", field="uploadfile"):
        b = "kfpsimboundary"
        raw = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
               "Content-Type: application/octet-stream\r\n\r\n" % (b, field, fname)).encode() \
            + content + ("\r\n--%s--\r\n" % b).encode()
        return self.req("POST", path, raw=raw, ctype="multipart/form-data; boundary=" + b)

    def stop(self):
        self.p.kill()
        self.p.wait()
        self.p.stderr.close()


def filt(key, val):
    return urllib.parse.quote(json.dumps({"predicates": [
        {"key": key, "operation": "EQUALS", "string_value": val}]}), safe="")


def main():
    api = sys.argv[1]
    A = "/apis/v2beta1"
    with tempfile.TemporaryDirectory() as tmp:
        s = Sim(api, tmp)
        try:
            st, b = s.req("GET", A + "/healthz")
            check(st == 200 and b.get("pipeline_store") == "database", "healthz")
            st, b = s.req("GET", A + "/nosuch")
            check(st == 404 and "code" in b and "message" in b, "unknown path -> 404 googlerpcStatus")
            st, b = s.req("GET", A + "/runs?bogus=1")
            check(st == 400 and "bogus" in b["message"], "undeclared query parameter refused")
            st, b = s.req("GET", A + "/runs?page_size=abc")
            check(st == 400, "non-integer page_size refused")
            st, b = s.req("POST", A + "/experiments", {"display_name": "e1", "namespace": "ml-dev",
                                                       "colour": "red"})
            check(st == 400 and "colour" in b["message"], "unknown body field refused")
            st, b = s.req("POST", A + "/experiments", {"display_name": 5})
            check(st == 400, "wrong body type refused")
            st, exp = s.req("POST", A + "/experiments", {"display_name": "e1", "namespace": "ml-dev"})
            check(st == 200 and exp["experiment_id"], "create experiment")
            st, b = s.req("POST", A + "/experiments", {"display_name": "e1", "namespace": "ml-dev"})
            check(st == 409, "duplicate experiment -> 409")
            st, b = s.upload(A + "/pipelines/upload?name=xor&namespace=ml-dev", field="file")
            check(st == 400 and "error_message" in b and "code" not in b,
                  "upload without uploadfile -> 400 in the upload shape")
            st, b = s.upload(A + "/pipelines/upload?name=xor&namespace=ml-dev", content=b"a: [")
            check(st == 400 and "error_message" in b, "upload of broken YAML refused")
            st, pipe = s.upload(A + "/pipelines/upload?name=xor&namespace=ml-dev")
            check(st == 200 and pipe["name"] == "xor", "upload pipeline")
            pid = pipe["pipeline_id"]
            st, b = s.upload(A + "/pipelines/upload?name=xor&namespace=ml-dev")
            check(st == 409 and "error_message" in b, "duplicate pipeline -> 409 upload shape")
            st, b = s.req("GET", A + "/pipelines/names/xor?namespace=ml-dev")
            check(st == 200 and b["pipeline_id"] == pid, "pipeline by name")
            for i in range(5):
                st, v = s.upload(A + "/pipelines/upload_version?pipelineid=%s&name=xor@%012d" % (pid, i))
                check(st == 200 and v["pipeline_version_id"], "upload version %d" % i)
            st, b = s.upload(A + "/pipelines/upload_version?pipelineid=%s&name=xor@%012d" % (pid, 3))
            check(st == 409 and "error_message" in b, "duplicate version name -> 409")
            st, b = s.req("GET", A + "/pipelines/%s/versions?filter=%s" % (pid, filt("name", "xor@000000000003")))
            check(st == 200 and len(b.get("pipeline_versions", [])) == 1, "version filter name EQUALS")
            st, b = s.req("GET", A + "/pipelines/%s/versions?filter=%s" % (pid, filt("nope", "x")))
            check(st == 400, "unsupported filter key refused")
            # paging: 6 versions (the first upload made one), pages of 4
            st, b1 = s.req("GET", A + "/pipelines/%s/versions?page_size=4" % pid)
            st, b2 = s.req("GET", A + "/pipelines/%s/versions?page_size=4&page_token=%s"
                           % (pid, b1.get("next_page_token", "")))
            check(len(b1["pipeline_versions"]) == 4 and len(b2["pipeline_versions"]) == 2
                  and "next_page_token" not in b2 and b1["total_size"] == 6, "paging")
            vid = v["pipeline_version_id"]
            run = {"display_name": "xor@abc", "experiment_id": exp["experiment_id"],
                   "pipeline_version_reference": {"pipeline_id": pid, "pipeline_version_id": vid},
                   "runtime_config": {"parameters": {"epochs": 10, "name": "a"}}}
            st, b = s.req("POST", A + "/runs", dict(run, runtime_config={"params": {}}))
            check(st == 400, "run with a misspelt runtime_config field refused")
            st, r = s.req("POST", A + "/runs", run)
            check(st == 200 and r["state"] == "PENDING", "create run (PENDING)")
            # a '+' in a filter value is turned into a space by the server's second unescape
            st, b = s.req("GET", A + "/runs?experiment_id=%s&filter=%s"
                          % (exp["experiment_id"], filt("display_name", "xor@abc")))
            check(st == 200 and len(b.get("runs", [])) == 1, "run filter display_name EQUALS")
            time.sleep(0.3)
            st, b = s.req("GET", A + "/runs/" + r["run_id"])
            check(b["state"] == "RUNNING", "run RUNNING after the pending time")
            time.sleep(0.4)
            st, b = s.req("GET", A + "/runs/" + r["run_id"])
            check(b["state"] == "SUCCEEDED" and b.get("finished_at"), "run SUCCEEDED")
            st, r2 = s.req("POST", A + "/runs", dict(run, display_name="xor@def"))
            st, b = s.req("POST", A + "/runs/%s:terminate" % r2["run_id"])
            st, b = s.req("GET", A + "/runs/" + r2["run_id"])
            check(b["state"] == "CANCELED", "terminate -> CANCELED")
            # faults
            s.req("POST", "/kfpsim/faults", [{"method": "POST", "path": "/runs$", "kind": "500-after", "count": 1},
                                             {"method": "GET", "path": "/healthz", "kind": "429", "count": 1}])
            st, b = s.req("POST", A + "/runs", dict(run, display_name="xor@ghi"))
            check(st == 500, "500 after create")
            st, b = s.req("GET", A + "/runs?experiment_id=%s&filter=%s"
                          % (exp["experiment_id"], filt("display_name", "xor@ghi")))
            check(len(b.get("runs", [])) == 1, "... and the run exists")
            st, b = s.req("GET", A + "/healthz")
            check(st == 429, "429 fault")
            # recurring runs
            rr = {"display_name": "xor-nightly", "experiment_id": exp["experiment_id"],
                  "pipeline_version_reference": {"pipeline_id": pid, "pipeline_version_id": vid},
                  "trigger": {"cron_schedule": {"cron": "0 0 2 * *"}}, "max_concurrency": "1",
                  "mode": "ENABLE", "no_catchup": True}
            st, b = s.req("POST", A + "/recurringruns", rr)
            check(st == 400 and "6 fields" in b["message"], "5-field cron refused")
            rr["trigger"] = {"cron_schedule": {"cron": "0 0 2 * * *"}}
            st, b = s.req("POST", A + "/recurringruns", dict(rr, max_concurrency=1))
            check(st == 400, "max_concurrency as a JSON number refused (int64 is a string)")
            st, x = s.req("POST", A + "/recurringruns", rr)
            check(st == 200 and x["no_catchup"] and x["status"] == "ENABLED", "create recurring run")
            st, b = s.req("PUT", A + "/recurringruns/" + x["recurring_run_id"], rr)
            check(st == 405, "no update endpoint for recurring runs")
            st, b = s.req("POST", A + "/recurringruns/%s:disable" % x["recurring_run_id"])
            st, b = s.req("GET", A + "/recurringruns/" + x["recurring_run_id"])
            check(b["status"] == "DISABLED", "disable")
            st, b = s.req("GET", A + "/recurringruns?experiment_id=" + exp["experiment_id"])
            check(len(b.get("recurringRuns", [])) == 1, "list recurring runs (camelCase key)")
            st, b = s.req("DELETE", A + "/recurringruns/" + x["recurring_run_id"])
            check(st == 200, "delete recurring run")
            with open(s.log) as f:
                lines = [json.loads(ln) for ln in f]
            check([ln["display_name"] for ln in lines] == ["xor@abc", "xor@def", "xor@ghi"], "run log")
            st, b = s.req("GET", "/kfpsim/stats")
            check(b["rejected"] >= 8, "rejections counted")
        finally:
            s.stop()
        # bearer token
        tf = os.path.join(tmp, "token")
        with open(tf, "w") as f:
            f.write("s3cr3t-token\n")
        os.remove(os.path.join(tmp, "port"))
        s = Sim(api, tmp, ["--token-file", tf, "--multi-user"])
        try:
            st, b = s.req("GET", A + "/healthz")
            check(st == 401, "no token -> 401")
            st, b = s.req("GET", A + "/healthz", headers={"Authorization": "Bearer s3cr3t-token"})
            check(st == 200 and b["multi_user"], "token accepted")
            st, b = s.req("GET", A + "/runs", headers={"Authorization": "Bearer s3cr3t-token"})
            check(st == 400 and "namespace" in b["message"], "multi-user list runs needs a namespace")
        finally:
            s.stop()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
