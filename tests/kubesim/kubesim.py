#!/usr/bin/env python3
"""kubesim: a strict Kubernetes API server simulator for tests and benchmarks.

Standard library only.  See README.md next to this file."""

import argparse
import base64
import csv
import json
import os
import random
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kapi  # noqa: E402
import kselect  # noqa: E402
import ktable  # noqa: E402
from kapi import ApiError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION_INFO = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


# ---------------------------------------------------------------------- faults & stats

class Faults(object):
    """Injected faults.  Config keys (all optional):
      throttle_rate, throttle_count, retry_after   -> 429 TooManyRequests + Retry-After
      error_rate, error_count                      -> 500 InternalError
      drop_rate, drop_count                        -> close the connection without answering
      latency_ms, latency_rate                     -> added latency before answering
      verbs: [..], resources: [..]                 -> restrict to these verbs / resources
    Counts are consumed as faults are injected; rates are probabilities in [0,1]."""

    KEYS = ("throttle_rate", "throttle_count", "retry_after", "error_rate", "error_count",
            "drop_rate", "drop_count", "latency_ms", "latency_rate", "verbs", "resources",
            "seed")

    def __init__(self):
        self.lock = threading.Lock()
        self.cfg = {}
        self.injected = {"throttle": 0, "error": 0, "drop": 0, "latency": 0}
        self.rng = random.Random()

    def set(self, cfg, replace=True):
        bad = [k for k in cfg if k not in self.KEYS]
        if bad:
            raise ValueError("unknown fault keys: %s (known: %s)" % (", ".join(bad),
                                                                      ", ".join(self.KEYS)))
        with self.lock:
            if replace:
                self.cfg = {}
            self.cfg.update(cfg)
            if "seed" in cfg:
                self.rng.seed(cfg["seed"])

    def get(self):
        with self.lock:
            return {"config": dict(self.cfg), "injected": dict(self.injected)}

    def decide(self, verb, resource):
        """Returns (action, latency_seconds); action in None/'throttle'/'error'/'drop'."""
        with self.lock:
            c = self.cfg
            if not c:
                return None, 0.0
            if c.get("verbs") and verb not in c["verbs"]:
                return None, 0.0
            if c.get("resources") and resource not in c["resources"]:
                return None, 0.0
            lat = 0.0
            if c.get("latency_ms") and self.rng.random() < c.get("latency_rate", 1.0):
                lat = c["latency_ms"] / 1000.0
                self.injected["latency"] += 1
            for kind in ("drop", "throttle", "error"):
                cnt = c.get(kind + "_count", 0)
                if cnt and cnt > 0:
                    c[kind + "_count"] = cnt - 1
                    self.injected[kind] += 1
                    return kind, lat
                rate = c.get(kind + "_rate", 0)
                if rate and self.rng.random() < rate:
                    self.injected[kind] += 1
                    return kind, lat
            return None, lat


class Stats(object):
    def __init__(self, api):
        self.lock = threading.Lock()
        self.api = api
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.requests = {}
            self.by_resource = {}
            self.codes = {}
            self.writes = 0
            self.total = 0
            self.started = time.time()
            t = os.times()
            self.cpu0 = (t.user, t.system)
            self.writes0 = self.api.write_count

    def count(self, verb, res, code):
        with self.lock:
            self.total += 1
            self.requests[verb] = self.requests.get(verb, 0) + 1
            if res:
                k = verb + " " + res
                self.by_resource[k] = self.by_resource.get(k, 0) + 1
            self.codes[str(code)] = self.codes.get(str(code), 0) + 1
            if verb in WRITE_VERBS and code < 400:
                self.writes += 1

    def snapshot(self, api, faults):
        t = os.times()
        with self.lock:
            return {"requests": dict(self.requests), "writes": self.writes,
                    "total": self.total, "by_resource": dict(self.by_resource),
                    "codes": dict(self.codes),
                    "storage_writes": api.write_count - self.writes0,
                    "resourceVersion": str(api.rv),
                    "faults": faults.get()["injected"],
                    "cpu": {"user": t.user, "system": t.system,
                            "user_since_reset": t.user - self.cpu0[0],
                            "system_since_reset": t.system - self.cpu0[1]},
                    "threads": threading.active_count(),
                    "uptime": time.time() - self.started, "pid": os.getpid()}


# ---------------------------------------------------------------------- HTTP

class Request(object):
    __slots__ = ("method", "path", "query", "headers", "body", "user", "groups")


def _q(query):
    out = {}
    for k, v in parse_qs(query, keep_blank_values=True).items():
        out[k] = v[-1]
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim/1.32"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.sim.log:
            sys.stderr.write("kubesim: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_OPTIONS(self):
        self.dispatch("OPTIONS")

    # -------------------------------------------------------------- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        tl = self.rfile.readline(65537)
                        if tl in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
                total += size
                if total > kapi.MAX_BODY + 1:
                    break
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > kapi.MAX_BODY + 1024 * 1024:
            # read and discard so keep-alive stays in sync, but not unboundedly
            self.rfile.read(n)
            return b"x" * (kapi.MAX_BODY + 1)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, ctype="application/json", extra=None):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_bytes(code, data, ctype, extra)

    def send_bytes(self, code, data, ctype, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", self.audit_id)
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        # headers and body in one write (one TLS record, no Nagle/delayed-ACK stall)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []
        self.code = code

    def send_error_status(self, err):
        self.send_json(err.code, err.status(), extra=err.headers)

    def authenticate(self):
        sim = self.server.sim
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            u = sim.tokens.get(tok)
            if u:
                return u
            return None
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            cert = None
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return (cn, orgs + ["system:authenticated"])
        return None

    def dispatch(self, method):
        sim = self.server.sim
        self.audit_id = "%032x" % random.getrandbits(128)
        self.code = 0
        try:
            url = urlsplit(self.path)
            path = unquote(url.path)
            q = _q(url.query)
            body = self.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            control = self.server.is_control
            if control or path.startswith("/kubesim/"):
                if not control:
                    user = self.authenticate()
                    if user is None:
                        return self.send_error_status(ApiError(401, "Unauthorized",
                                                               "Unauthorized"))
                return self.control(method, path, q, body)
            user = self.authenticate()
            verb, resname = sim.classify(method, path, q)
            if user is None:
                sim.stats.count(verb, resname, 401)
                return self.send_error_status(ApiError(401, "Unauthorized", "Unauthorized"))
            action, lat = sim.faults.decide(verb, resname)
            if lat:
                time.sleep(lat)
            if action == "drop":
                sim.stats.count(verb, resname, 0)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action == "throttle":
                ra = int(sim.faults.cfg.get("retry_after", 1))
                err = ApiError(429, "TooManyRequests",
                               "Too many requests, please try again later.",
                               {"retryAfterSeconds": ra}, {"Retry-After": ra})
                sim.stats.count(verb, resname, 429)
                return self.send_error_status(err)
            if action == "error":
                err = kapi.internal("kubesim injected fault")
                sim.stats.count(verb, resname, 500)
                return self.send_error_status(err)
            try:
                sim.serve(self, method, path, q, body, user, verb)
            except ApiError as e:
                self.send_error_status(e)
            sim.stats.count(verb, resname, self.code)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc()
            try:
                self.send_error_status(kapi.internal("kubesim bug: %s" % e))
            except Exception:
                self.close_connection = True

    # -------------------------------------------------------------- control endpoints
    def control(self, method, path, q, body):
        sim = self.server.sim
        p = path.rstrip("/")
        try:
            if p == "/kubesim/stats" and method == "GET":
                return self.send_json(200, sim.stats.snapshot(sim.api, sim.faults))
            if p == "/kubesim/stats/reset" and method == "POST":
                sim.stats.reset()
                return self.send_json(200, {"ok": True})
            if p == "/kubesim/faults":
                if method == "GET":
                    return self.send_json(200, sim.faults.get())
                if method in ("POST", "PUT", "PATCH"):
                    cfg = json.loads(body.decode() or "{}")
                    sim.faults.set(cfg, replace=(method != "PATCH"))
                    return self.send_json(200, sim.faults.get())
                if method == "DELETE":
                    sim.faults.set({})
                    return self.send_json(200, sim.faults.get())
            if p == "/kubesim/config" and method in ("GET", "POST"):
                if method == "POST":
                    cfg = json.loads(body.decode() or "{}")
                    for k in ("crd_delay", "deploy_delay", "ns_delete_delay"):
                        if k in cfg:
                            setattr(sim.api.opts, k, float(cfg[k]))
                o = sim.api.opts
                return self.send_json(200, {"crd_delay": o.crd_delay,
                                            "deploy_delay": o.deploy_delay,
                                            "ns_delete_delay": o.ns_delete_delay})
            if p == "/kubesim/compact" and method == "POST":
                cfg = json.loads(body.decode() or "{}")
                rv = sim.api.compact(close_watches=bool(cfg.get("closeWatches", True)))
                return self.send_json(200, {"compacted": str(rv)})
            if p == "/kubesim/healthz":
                return self.send_bytes(200, b"ok", "text/plain")
        except ValueError as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(404, {"error": "no such control endpoint: %s %s" % (method, path)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, addr, sim, ctx, is_control=False):
        self.sim = sim
        self.ctx = ctx
        self.is_control = is_control
        ThreadingHTTPServer.__init__(self, addr, Handler)

    def finish_request(self, request, client_address):
        # TLS handshake here, in the worker thread, not in accept().
        conn = request
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ctx is not None:
            try:
                request.settimeout(10)
                conn = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
        try:
            conn.settimeout(self.sim.idle_timeout)
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


# ---------------------------------------------------------------------- the simulator

class Sim(object):
    def __init__(self, args):
        self.args = args
        self.log = args.log
        self.idle_timeout = args.idle_timeout
        opts = kapi.Options()
        opts.crd_delay = args.crd_delay
        opts.deploy_delay = args.deploy_delay
        opts.ns_delete_delay = args.ns_delete_delay
        self.api = kapi.Api(opts)
        self.stats = Stats(self.api)
        self.faults = Faults()
        self.tokens = {}
        if args.token_file:
            self.load_tokens(args.token_file)
        if args.token:
            self.tokens[args.token] = ("kubesim-token-admin",
                                       ["system:masters", "system:authenticated"])
        if args.faults:
            self.faults.set(json.loads(args.faults))
        self._disc_cache = {}
        self._json_cache = {}

    def load_tokens(self, path):
        with open(path) as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#") or len(row) < 2:
                    continue
                groups = [g for g in (row[3].split(",") if len(row) > 3 else []) if g]
                self.tokens[row[0].strip()] = (row[1].strip(),
                                               groups + ["system:authenticated"])

    # -------------------------------------------------------------- routing
    def parse(self, path):
        """-> (kind, data).  kind: 'root', 'version', 'health', 'openapi', 'api', 'apis',
        'group', 'gv', 'res', None"""
        parts = [p for p in path.split("/") if p]
        if not parts:
            return ("root", None)
        head = parts[0]
        if head == "version" and len(parts) == 1:
            return ("version", None)
        if head in ("healthz", "livez", "readyz"):
            return ("health", None)
        if head == "openapi":
            return ("openapi", parts[1:])
        if head == "api":
            if len(parts) == 1:
                return ("api", None)
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                return ("apis", None)
            if len(parts) == 2:
                return ("group", parts[1])
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return (None, None)
        if not rest:
            return ("gv", (group, version))
        ns = None
        if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize"):
            ns = rest[1]
            rest = rest[2:]
        if len(rest) > 3:
            return (None, None)
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        return ("res", (group, version, ns, resource, name, sub))

    def classify(self, method, path, q):
        kind, data = self.parse(path)
        if kind != "res":
            return ("discovery" if kind in ("api", "apis", "group", "gv", "openapi", "version",
                                            "root") else "other"), ""
        group, version, ns, resource, name, sub = data
        res = resource + ("." + group if group else "")
        if method == "GET":
            if name:
                return "get", res
            return ("watch" if q.get("watch") in ("1", "true", "True") else "list"), res
        if method == "POST":
            return "create", res
        if method == "PUT":
            return "update", res
        if method == "PATCH":
            return "patch", res
        if method == "DELETE":
            return ("delete" if name else "deletecollection"), res
        return method.lower(), res

    def serve(self, h, method, path, q, body, user, verb):
        kind, data = self.parse(path)
        accept = h.headers.get("Accept") or ""
        api = self.api
        reg = api.reg
        if kind == "root":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version",
                     "/openapi/v2", "/openapi/v3"]
            with api.lock:
                for g in reg.groups():
                    paths.append("/apis/" + g)
                    for v in reg.group_versions(g):
                        paths.append("/apis/%s/%s" % (g, v))
            return h.send_json(200, {"paths": sorted(paths)})
        if kind == "version":
            return h.send_json(200, VERSION_INFO)
        if kind == "health":
            return h.send_bytes(200, b"ok", "text/plain; charset=utf-8")
        if kind == "openapi":
            return self.serve_openapi(h, data)
        if method != "GET" and kind in ("api", "apis", "group", "gv"):
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource",
                           {})
        if kind in ("api", "apis"):
            legacy = kind == "api"
            if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(
                    "v=v2,", "v=v2;") + ";":
                with api.lock:
                    key = ("agg", legacy, reg.generation)
                    d = self._disc_cache.get(key)
                    if d is None:
                        d = json.dumps(reg.aggregated(legacy), separators=(",", ":")).encode()
                        self._disc_cache = {key: d}
                return h.send_bytes(200, d, "application/json;g=apidiscovery.k8s.io;v=v2;"
                                            "as=APIGroupDiscoveryList",
                                    {"Vary": "Accept"})
            with api.lock:
                if legacy:
                    return h.send_json(200, reg.api_versions(self.server_addr))
                return h.send_json(200, reg.api_group_list())
        if kind == "group":
            with api.lock:
                d = reg.api_group(data)
            if d is None:
                return _page_not_found(h)
            return h.send_json(200, d)
        if kind == "gv":
            with api.lock:
                d = reg.api_resource_list(*data)
            if d is None:
                return _page_not_found(h)
            return h.send_json(200, d)
        if kind != "res":
            raise kapi.no_resource()
        group, version, ns, resource, name, sub = data
        with api.lock:
            rdef = reg.lookup(group, version, resource)
            builtin_gv = rdef is not None or not group or \
                any(d.builtin for d in reg.resources_in(group, version) or [])
        if rdef is None and not builtin_gv:
            # A group/version nobody serves, or served by CRDs of which none
            # (Established) has this resource: the real server's
            # apiextensions handler falls through to the mux's plain 404.
            return _page_not_found(h)
        if rdef is None:
            raise kapi.no_resource()
        if ns is not None and not rdef.namespaced:
            raise kapi.no_resource()
        if rdef.namespaced and ns is None and (name or method not in ("GET",)):
            raise kapi.no_resource()
        if sub and sub not in ("status", "scale", "finalize") or \
                (sub == "status" and not rdef.status_sub) or \
                (sub == "scale" and not rdef.scale_sub):
            raise kapi.no_resource()
        if not sub:
            want = {"GET": "get" if name else ("watch" if q.get("watch") in
                                                ("1", "true", "True") else "list"),
                    "POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if name else "deletecollection"}.get(method)
            if want is None or want not in rdef.verbs:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested "
                               "resource", {})
        dry = q.get("dryRun")
        if dry not in (None, "", "All") and method != "GET":
            opts = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions",
                    "DELETE": "DeleteOptions"}.get(method, "CreateOptions")
            msg = 'Unsupported value: []string{"%s"}: supported values: "All"' % dry
            raise ApiError(422, "Invalid", '%s.meta.k8s.io "" is invalid: dryRun: %s' % (opts, msg),
                           {"group": "meta.k8s.io", "kind": opts,
                            "causes": [{"reason": "FieldValueNotSupported", "message": msg, "field": "dryRun"}]})
        dry_run = dry == "All"
        fv = q.get("fieldValidation")
        if fv not in (None, "", "Ignore", "Warn", "Strict"):
            raise kapi.bad_request('fieldValidation: Unsupported value: "%s": supported values:'
                                   ' "Ignore", "Strict", "Warn"' % fv)
        manager = q.get("fieldManager") or _ua_manager(h.headers.get("User-Agent"))
        if len(manager) > 128:
            raise kapi.bad_request("fieldManager: Too long: must have at most 128 bytes")
        nsv = ns or ""
        if method == "GET":
            if name:
                obj = api.get(rdef, nsv, name)
                if sub == "scale":
                    return h.send_json(200, _scale(rdef, obj))
                return self.send_obj(h, 200, rdef, obj, accept, q)
            if q.get("watch") in ("1", "true", "True"):
                return self.serve_watch(h, rdef, nsv, q)
            if q.get("resourceVersionMatch") == "Exact" and (q.get("resourceVersion") or "").isdigit() \
                    and int(q["resourceVersion"]) < api.oldest_rv - 1:
                raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.", {})
            items, meta = api.list(rdef, nsv, q.get("labelSelector"), q.get("fieldSelector"),
                                   int(q.get("limit") or 0), q.get("continue"))
            return self.send_list(h, rdef, items, meta, accept, q)
        if method == "POST":
            if name:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested "
                               "resource", {})
            obj = api.decode_body(body, h.headers.get("Content-Type"))
            out = api.create(rdef, nsv, body, obj, q, user, manager, dry_run)
            return self.send_obj(h, 201, rdef, out, accept, q)
        if method == "PUT":
            if not name:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested "
                               "resource", {})
            obj = api.decode_body(body, h.headers.get("Content-Type"))
            if sub == "scale":
                return self.put_scale(h, rdef, nsv, name, obj, q, user, manager, dry_run)
            out = api.update(rdef, nsv, name, body, obj, q, user, manager, dry_run,
                             sub if sub == "status" else "")
            return self.send_obj(h, 200, rdef, out, accept, q)
        if method == "PATCH":
            if not name:
                raise ApiError(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested "
                               "resource", {})
            ctype = h.headers.get("Content-Type") or ""
            if ctype.split(";")[0].strip() == "application/apply-patch+yaml":
                out, created = api.apply(rdef, nsv, name, body, q, dry_run,
                                         sub if sub == "status" else "")
                return self.send_obj(h, 201 if created else 200, rdef, out, accept, q)
            if sub == "scale":
                return self.patch_scale(h, rdef, nsv, name, body, ctype, q, user, manager,
                                        dry_run)
            out = api.patch(rdef, nsv, name, body, ctype, q, user, manager, dry_run,
                            sub if sub == "status" else "")
            return self.send_obj(h, 200, rdef, out, accept, q)
        if method == "DELETE":
            opts = {}
            if body.strip():
                try:
                    opts = json.loads(body.decode())
                except ValueError:
                    raise kapi.bad_request("invalid DeleteOptions body")
                if not isinstance(opts, dict):
                    raise kapi.bad_request("invalid DeleteOptions body")
                pp = opts.get("propagationPolicy")
                if pp not in (None, "Orphan", "Background", "Foreground"):
                    raise kapi.bad_request('propagationPolicy: Unsupported value: "%s": '
                                           'supported values: "Foreground", "Background", '
                                           '"Orphan", "nil"' % pp)
                if (opts.get("dryRun") or []) == ["All"]:
                    dry_run = True
            pp = q.get("propagationPolicy")
            if pp not in (None, "Orphan", "Background", "Foreground"):
                raise kapi.bad_request('propagationPolicy: Unsupported value: "%s": supported '
                                       'values: "Foreground", "Background", "Orphan", "nil"'
                                       % pp)
            if not name:
                # like the real server: the answer is the list of deleted objects
                items, meta = api.delete_collection(rdef, nsv, q.get("labelSelector"),
                                                    q.get("fieldSelector"), dry_run)
                return self.send_list(h, rdef, items, meta, "", q)
            obj = api.delete(rdef, nsv, name, opts, dry_run)
            if obj is not None:
                return self.send_obj(h, 200, rdef, obj, accept, q)
            det = {"name": name, "kind": rdef.resource}
            if rdef.group:
                det["group"] = rdef.group
            return h.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                     "status": "Success", "details": det})
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", {})

    # -------------------------------------------------------------- responses
    def send_obj(self, h, code, rdef, obj, accept, q):
        obj = self.api.render(obj, rdef)
        if "as=Table" in accept:
            return h.send_json(code, self._table(rdef, [obj], q,
                                                 {"resourceVersion":
                                                  obj["metadata"].get("resourceVersion", "")}))
        if "as=PartialObjectMetadata" in accept and "as=PartialObjectMetadataList" not in accept:
            return h.send_json(code, {"kind": "PartialObjectMetadata",
                                      "apiVersion": "meta.k8s.io/v1",
                                      "metadata": obj["metadata"]})
        h.send_json(code, obj)

    def _table(self, rdef, objs, q, meta):
        crd = None
        if rdef.crd:
            e = self.api._get(("apiextensions.k8s.io", "customresourcedefinitions"), "",
                              rdef.crd)
            crd = e.obj if e else None
        return ktable.table(rdef, objs, crd, q.get("includeObject", "Metadata"), meta)

    def send_list(self, h, rdef, items, meta, accept, q):
        if "as=Table" in accept:
            return h.send_json(200, self._table(rdef, [self.api.render(o, rdef) for o in items],
                                                q, meta))
        if "as=PartialObjectMetadataList" in accept:
            return h.send_json(200, {"kind": "PartialObjectMetadataList",
                                     "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                     "items": [{"kind": "PartialObjectMetadata",
                                                "apiVersion": "meta.k8s.io/v1",
                                                "metadata": o["metadata"]} for o in items]})
        # Serialize item by item (cached per stored object version).
        parts = []
        strip = rdef.builtin
        for o in items:
            parts.append(self._item_json(o, rdef, strip))
        head = json.dumps({"kind": rdef.list_kind, "apiVersion": rdef.api_version,
                           "metadata": meta}, separators=(",", ":"))
        data = (head[:-1] + ',"items":[' + ",".join(parts) + "]}").encode()
        h.send_bytes(200, data, "application/json")

    def _item_json(self, o, rdef, strip):
        # resourceVersions are unique per stored object version: cache serializations
        key = (o["metadata"].get("resourceVersion"), rdef.api_version, strip)
        s = self._json_cache.get(key)
        if s is not None:
            return s
        if strip:
            o = {k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
        else:
            o = self.api.render(o, rdef)
        s = json.dumps(o, separators=(",", ":"))
        if len(self._json_cache) > 20000:
            self._json_cache.clear()
        self._json_cache[key] = s
        return s

    def serve_watch(self, h, rdef, ns, q):
        try:
            lreqs = kselect.parse_label_selector(q.get("labelSelector"))
            freqs = kselect.parse_field_selector(q.get("fieldSelector"), kapi._extra_fields(rdef))
        except kselect.SelectorError as e:
            raise kapi.bad_request(str(e))
        timeout = float(q.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        conn = h.connection

        def alive():
            try:
                r, _, _ = select.select([conn], [], [], 0)
                return not r
            except (OSError, ValueError):
                return False

        truthy = ("1", "true", "True")
        gen = self.api.watch_events(rdef, ns, q.get("resourceVersion"), lreqs, freqs, deadline,
                                    alive, bookmarks=q.get("allowWatchBookmarks") in truthy,
                                    send_initial=q.get("sendInitialEvents") in truthy,
                                    bookmark_every=self.args.bookmark_interval)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Audit-Id", h.audit_id)
        h.end_headers()
        h.code = 200
        h.wfile.flush()
        as_table = "as=Table" in (h.headers.get("Accept") or "")
        first = True
        try:
            for etype, obj in gen:
                if etype not in ("ERROR", "BOOKMARK"):
                    obj = self.api.render(obj, rdef)
                    if as_table:
                        # like the real server: each event carries a one-row Table; column
                        # definitions only in the first one
                        with self.api.lock:
                            t = self._table(rdef, [obj], q, {"resourceVersion": obj[
                                "metadata"].get("resourceVersion", "")})
                        if not first:
                            t["columnDefinitions"] = []
                        first = False
                        obj = t
                line = json.dumps({"type": etype, "object": obj},
                                  separators=(",", ":")).encode() + b"\n"
                h.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            h.close_connection = True

    def put_scale(self, h, rdef, ns, name, obj, q, user, manager, dry_run):
        cur = self.api.get(rdef, ns, name)
        import copy as _c
        new = _c.deepcopy(self.api.render(cur, rdef))
        new.setdefault("spec", {})["replicas"] = (obj.get("spec") or {}).get("replicas", 0)
        out = self.api.update(rdef, ns, name, b"", new, q, user, manager, dry_run)
        return h.send_json(200, _scale(rdef, out))

    def patch_scale(self, h, rdef, ns, name, body, ctype, q, user, manager, dry_run):
        import kssa
        cur = self.api.get(rdef, ns, name)
        scale = _scale(rdef, cur)
        patch = self.api.decode_body(body, ctype)
        ct = (ctype or "").split(";")[0].strip()
        try:
            if ct == "application/json-patch+json":
                new = kssa.json_patch(scale, patch)
            elif isinstance(patch, dict):
                new = kssa.merge_patch(scale, patch)
            else:
                raise kapi.bad_request("invalid patch")
        except kssa.JSONPatchError as e:
            raise ApiError(422, "Invalid", str(e), {})
        return self.put_scale(h, rdef, ns, name, new, q, user, manager, dry_run)

    def serve_openapi(self, h, parts):
        api = self.api
        if parts == ["v3"]:
            with api.lock:
                return h.send_json(200, api.reg.openapi_root())
        if parts and parts[0] == "v3":
            rest = parts[1:]
            if rest and rest[0] == "api" and len(rest) == 2:
                g, v = "", rest[1]
            elif rest and rest[0] == "apis" and len(rest) == 3:
                g, v = rest[1], rest[2]
            else:
                raise kapi.no_resource()
            with api.lock:
                d = api.reg.openapi_gv(g, v)
            if d is None:
                raise kapi.no_resource()
            return h.send_json(200, d)
        if parts == ["v2"]:
            # kubectl asks for the v2 document (protobuf) only for kinds it cannot find in
            # v3 (custom resources whose CRD is not there yet), to validate them client-side.
            # An empty protobuf message is a valid, empty openapi_v2.Document: kubectl then
            # skips client-side validation for such kinds and reports the missing mapping
            # ("ensure CRDs are installed first"), as against a real server.
            return h.send_bytes(200, b"", "application/com.github.proto-openapi.spec.v2."
                                          "v1.0+protobuf")
        raise kapi.no_resource()


def _scale(rdef, obj):
    spec = obj.get("spec") or {}
    st = obj.get("status") or {}
    sel = spec.get("selector") or {}
    sel_s = ",".join("%s=%s" % kv for kv in sorted((sel.get("matchLabels") or {}).items()))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": obj["metadata"]["name"],
                         "namespace": obj["metadata"].get("namespace"),
                         "uid": obj["metadata"].get("uid"),
                         "resourceVersion": obj["metadata"].get("resourceVersion"),
                         "creationTimestamp": obj["metadata"].get("creationTimestamp")},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": st.get("replicas", 0), "selector": sel_s}}


def _page_not_found(h):
    """What the real server's mux answers for a path no API group serves."""
    return h.send_bytes(404, b"404 page not found\n", "text/plain; charset=utf-8")


def _ua_manager(ua):
    if not ua:
        return "unknown"
    return ua.split("/")[0][:128] or "unknown"


# ---------------------------------------------------------------------- kubeconfig

def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, server, ca, cert=None, key=None, token=None, name="kubesim"):
    user = {}
    if token:
        user["token"] = token
    else:
        user["client-certificate-data"] = b64file(cert)
        user["client-key-data"] = b64file(key)
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: %s" % name,
        "  cluster:",
        "    server: %s" % server,
        "    certificate-authority-data: %s" % b64file(ca),
        "users:",
        "- name: %s-admin" % name,
        "  user:",
    ]
    for k, v in user.items():
        lines.append("    %s: %s" % (k, v))
    lines += [
        "contexts:",
        "- name: %s" % name,
        "  context:",
        "    cluster: %s" % name,
        "    user: %s-admin" % name,
        "current-context: %s" % name,
        "",
    ]
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines))
    os.rename(tmp, path)


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


# ---------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="kubesim: strict Kubernetes API server simulator")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port here")
    ap.add_argument("--pid-file", help="write the server pid here")
    ap.add_argument("--certs", help="directory with ca.crt/ca.key/server.crt/server.key/"
                                    "client.crt/client.key; created with mkcerts.sh if missing")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca")
    ap.add_argument("--token-file", help="static token CSV: token,user,uid,\"group1,group2\"")
    ap.add_argument("--token", help="accept this bearer token as an admin user")
    ap.add_argument("--kubeconfig-out", help="write a client-certificate kubeconfig here")
    ap.add_argument("--token-kubeconfig-out", help="write a token kubeconfig here "
                                                   "(needs --token)")
    ap.add_argument("--server-name", default="127.0.0.1",
                    help="host used in written kubeconfigs (127.0.0.1 or localhost)")
    ap.add_argument("--crd-delay", type=float, default=0.5)
    ap.add_argument("--deploy-delay", type=float, default=0.5)
    ap.add_argument("--ns-delete-delay", type=float, default=0.2)
    ap.add_argument("--control-port", type=int, default=None,
                    help="also serve /kubesim/* unauthenticated over plain HTTP on "
                         "127.0.0.1:PORT (0 = pick; see --control-port-file)")
    ap.add_argument("--control-port-file")
    ap.add_argument("--faults", help="initial fault config as JSON (see README)")
    ap.add_argument("--idle-timeout", type=float, default=300.0,
                    help="close idle keep-alive connections after this many seconds")
    ap.add_argument("--bookmark-interval", type=float, default=10.0,
                    help="seconds between BOOKMARK events on idle watches that allow them")
    ap.add_argument("--log", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    certs = args.certs
    if certs and not (args.tls_cert and args.tls_key and args.client_ca):
        if not os.path.exists(os.path.join(certs, "server.crt")):
            subprocess.check_call(["bash", os.path.join(HERE, "mkcerts.sh"), certs])
        args.tls_cert = args.tls_cert or os.path.join(certs, "server.crt")
        args.tls_key = args.tls_key or os.path.join(certs, "server.key")
        args.client_ca = args.client_ca or os.path.join(certs, "ca.crt")
    if not (args.tls_cert and args.tls_key and args.client_ca):
        ap.error("need --certs DIR or --tls-cert/--tls-key/--client-ca (HTTPS only)")

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    ctx.load_verify_locations(args.client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    sim = Sim(args)
    srv = Server((args.bind, args.port), sim, ctx)
    port = srv.server_address[1]
    sim.server_addr = "%s:%d" % (args.bind, port)
    sim.api.opts.server_addr = sim.server_addr
    server_url = "https://%s:%d" % (args.server_name, port)

    ctl = None
    if args.control_port is not None:
        ctl = Server(("127.0.0.1", args.control_port), sim, None, is_control=True)
        threading.Thread(target=ctl.serve_forever, daemon=True).start()
        if args.control_port_file:
            write_file(args.control_port_file, "%d\n" % ctl.server_address[1])

    if args.kubeconfig_out:
        if not certs:
            ap.error("--kubeconfig-out needs --certs (for the client certificate)")
        write_kubeconfig(args.kubeconfig_out, server_url, args.client_ca,
                         os.path.join(certs, "client.crt"), os.path.join(certs, "client.key"))
    if args.token_kubeconfig_out:
        if not args.token:
            ap.error("--token-kubeconfig-out needs --token")
        write_kubeconfig(args.token_kubeconfig_out, server_url, args.client_ca,
                         token=args.token)
    if args.pid_file:
        write_file(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_file(args.port_file, "%d\n" % port)
    sys.stdout.write("kubesim listening on %s (pid %d)\n" % (server_url, os.getpid()))
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
