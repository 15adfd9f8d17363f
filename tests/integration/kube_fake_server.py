#!/usr/bin/env python3
"""kube_fake_server.py - a tiny Kubernetes API server look-alike for the
client's fault and trust tests (tests/integration/test_kube_client.sh).

It answers just enough for `kfboot apply/diff --dry-run` of core objects
(classic discovery with /api/v1 only, empty LISTs, 404 for single GETs,
server-side apply echoed back) and records every request it saw, one JSON
line each in --log: time, method, path, whether an Authorization header or
a client certificate arrived, and the Impersonate-* headers. Behaviour is
chosen with --mode:

  normal            as above
  hang              accept, read the request, never answer
  invalid500        every PATCH answers 500 "failed to create typed patch
                    object ... field not declared in schema"
  retry-after-date  the first /api answers 503 with Retry-After as an HTTP
                    date 2 s ahead, then normal
  retry-after-big   every request answers 503 with Retry-After: 3600
  plain             plain HTTP on the port the client expects TLS on (a
                    TLS failure for the client)
  crd-conflict      also serves apiextensions.k8s.io/v1; every CRD applied
                    is listed with NamesAccepted=False (ListKindConflict)

With --accept-token T any request without "Authorization: Bearer T" gets
401. With --proxy it is instead an HTTP CONNECT proxy that records each CONNECT
target in --log and tunnels the bytes.
"""
import argparse
import email.utils
import json
import select
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def record(path, entry):
    if not path:
        return
    entry["t"] = time.time()
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


RESOURCES = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
    "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": True,
         "kind": "ConfigMap", "verbs": ["create", "delete", "get", "list", "patch", "update"]},
        {"name": "secrets", "singularName": "secret", "namespaced": True,
         "kind": "Secret", "verbs": ["create", "delete", "get", "list", "patch", "update"]},
        {"name": "namespaces", "singularName": "namespace", "namespaced": False,
         "kind": "Namespace", "verbs": ["create", "delete", "get", "list", "patch", "update"]},
    ],
}


def status(code, reason, msg):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": msg, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def _send(self, code, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        srv = self.server
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        cert = None
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            pass
        record(srv.log, {
            "method": self.command, "path": self.path,
            "auth": "Authorization" in self.headers,
            "client_cert": bool(cert),
            "impersonate": sorted("%s: %s" % (k, v) for k, v in self.headers.items()
                                  if k.lower().startswith("impersonate-")),
        })
        mode = srv.mode
        if srv.accept_token and self.headers.get("Authorization") != "Bearer " + srv.accept_token:
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "retry-after-big":
            self._send(503, status(503, "ServiceUnavailable", "busy"), {"Retry-After": "3600"})
            return
        if mode == "retry-after-date" and self.path.startswith("/api") and not srv.delayed:
            srv.delayed = True
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            self._send(503, status(503, "ServiceUnavailable", "starting"), {"Retry-After": when})
            return
        path = self.path.split("?", 1)[0]
        if self.command == "GET":
            if path == "/api":
                self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            elif path == "/apis":
                groups = []
                if mode == "crd-conflict":
                    gv = {"groupVersion": "apiextensions.k8s.io/v1", "version": "v1"}
                    groups = [{"name": "apiextensions.k8s.io", "versions": [gv], "preferredVersion": gv}]
                self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            elif path == "/apis/apiextensions.k8s.io/v1":
                self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                 "groupVersion": "apiextensions.k8s.io/v1",
                                 "resources": [{"name": "customresourcedefinitions", "namespaced": False,
                                                "kind": "CustomResourceDefinition",
                                                "verbs": ["create", "delete", "get", "list", "patch"]}]})
            elif path == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions":
                items = []
                for o in srv.crds.values():
                    o = json.loads(json.dumps(o))
                    lk = o.get("spec", {}).get("names", {}).get("listKind") or \
                        o.get("spec", {}).get("names", {}).get("kind", "X") + "List"
                    o["status"] = {"conditions": [
                        {"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict",
                         "message": '"%s" is already in use' % lk},
                        {"type": "Established", "status": "False", "reason": "NotAccepted",
                         "message": "not all names are accepted"}]}
                    items.append(o)
                self._send(200, {"kind": "CustomResourceDefinitionList", "apiVersion": "apiextensions.k8s.io/v1",
                                 "metadata": {"resourceVersion": "3"}, "items": items})
            elif path == "/api/v1":
                self._send(200, RESOURCES)
            else:
                segs = [s for s in path.split("/") if s][2:]
                if segs[:1] == ["namespaces"] and len(segs) >= 3:
                    segs = segs[2:]
                if len(segs) == 1:
                    self._send(200, {"kind": "List", "apiVersion": "v1",
                                     "metadata": {"resourceVersion": "1"}, "items": []})
                else:
                    self._send(404, status(404, "NotFound", "%s not found" % path))
            return
        if self.command == "PATCH":
            if mode == "invalid500":
                self._send(500, status(500, "InternalError",
                                       "failed to create typed patch object (default/x; /v1, Kind=ConfigMap): "
                                       ".data.bogus: field not declared in schema"))
                return
            try:
                obj = json.loads(body or b"{}")
            except ValueError:
                obj = {}
            obj.setdefault("metadata", {}).update({"resourceVersion": "2", "uid": "u-1"})
            if "/customresourcedefinitions/" in path:
                srv.crds[path] = obj
            self._send(200, obj)
            return
        if self.command in ("POST", "PUT"):
            try:
                obj = json.loads(body or b"{}")
            except ValueError:
                obj = {}
            obj.setdefault("metadata", {}).update({"resourceVersion": "2", "uid": "u-1"})
            self._send(201 if self.command == "POST" else 200, obj)
            return
        self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def tunnel(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    finally:
        a.close()
        b.close()


def proxy_conn(c, log):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            c.close()
            return
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    line = head.split(b"\r\n")[0].decode()
    parts = line.split()
    record(log, {"proxy": line, "auth": b"proxy-authorization:" in head.lower()})
    if len(parts) < 2 or parts[0] != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    host, port = parts[1].rsplit(":", 1)
    try:
        u = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    except OSError:
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    if rest:
        u.sendall(rest)
    tunnel(c, u)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--proxy", action="store_true")
    ap.add_argument("--accept-token", help="answer 401 to any other bearer token")
    a = ap.parse_args()
    if a.proxy:
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(ls.getsockname()[1]))
        import os
        os.rename(a.port_file + ".tmp", a.port_file)
        while True:
            c, _ = ls.accept()
            threading.Thread(target=proxy_conn, args=(c, a.log), daemon=True).start()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.mode = a.mode
    srv.log = a.log
    srv.delayed = False
    srv.crds = {}
    srv.accept_token = a.accept_token
    if a.mode != "plain":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(a.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    import os
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
