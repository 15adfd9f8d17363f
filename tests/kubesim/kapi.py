"""The API logic of kubesim: storage, verbs, validation, admission (namespace lifecycle,
webhooks), simulated controllers (CRD establishing, rollouts)."""

import base64
import copy
import heapq
import json
import random
import re
import string
import threading
import time
import uuid
from collections import deque

import kres
import kselect
import kssa

try:
    import kyaml
except ImportError:  # pragma: no cover
    kyaml = None

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
MAX_BODY = 3 * 1024 * 1024
# etcd refuses a value larger than its --max-request-bytes (1.5 MiB by
# default); validation caps a Secret's or ConfigMap's data at 1 MiB
MAX_STORED = 1536 * 1024
MAX_DATA = 1024 * 1024


def check_stored_size(kind, name, obj):
    """Refuse what a real apiserver + etcd refuse for size."""
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    total = 0
    if kind == "Secret":
        for v in data.values():
            total += len(v) * 3 // 4 if isinstance(v, str) else 0
    elif kind == "ConfigMap":
        for v in data.values():
            total += len(v.encode("utf-8")) if isinstance(v, str) else 0
        for v in (obj.get("binaryData") or {}).values():
            total += len(v) * 3 // 4 if isinstance(v, str) else 0
    if total > MAX_DATA:
        raise ApiError(422, "Invalid", "%s \"%s\" is invalid: data: Too long: must have at most %d bytes"
                       % (kind, name, MAX_DATA), {"name": name, "kind": kind.lower()})
    if len(json.dumps(obj, separators=(",", ":"))) > MAX_STORED:
        raise ApiError(500, "InternalError", "etcdserver: request is too large", {})

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')")

META_FIELDS = {"name", "generateName", "namespace", "labels", "annotations", "ownerReferences",
               "finalizers", "uid", "resourceVersion", "generation", "creationTimestamp",
               "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}


def now_ts():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------- errors

def _default_pod_template(spec):
    """The defaults the real server's decoder puts into a pod template
    (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go)."""
    pod = ((spec.get("template") or {}).get("spec")) if isinstance(spec.get("template"), dict) else None
    if not isinstance(pod, dict):
        return
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("securityContext", {})
    pod.setdefault("schedulerName", "default-scheduler")
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        img = c.get("image") or ""
        tag = img.rsplit("/", 1)[-1]
        c.setdefault("imagePullPolicy", "Always" if ("@" not in tag and (":" not in tag or tag.endswith(":latest")))
                     else "IfNotPresent")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        Exception.__init__(self, message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "code": self.code}
        if self.reason is not None:  # the real server leaves out an empty reason
            s["reason"] = self.reason
        if self.details is not None:
            s["details"] = self.details
        return s


def _details(rdef, name, kind=None):
    d = {"name": name}
    if rdef is not None and rdef.group:
        d["group"] = rdef.group
    d["kind"] = kind if kind is not None else (rdef.resource if rdef else "")
    return d


def not_found(rdef, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (rdef.gr_string, name),
                    _details(rdef, name))


def ns_not_found(ns):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                    {"name": ns, "kind": "namespaces"})


def no_resource():
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


def already_exists(rdef, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (rdef.gr_string, name),
                    _details(rdef, name))


def stale(rdef, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again'
                    % (rdef.gr_string, name), _details(rdef, name))


def bad_request(msg):
    return ApiError(400, "BadRequest", msg, {})


def forbidden(rdef, name, msg, causes=None):
    d = _details(rdef, name)
    if causes:
        d["causes"] = causes
    return ApiError(403, "Forbidden", '%s "%s" is forbidden: %s' % (rdef.gr_string, name, msg), d)


def invalid(rdef, name, errs):
    """errs: list of (field, reason, detail) where detail is 'Invalid value: ...' etc."""
    qkind = rdef.kind + "." + rdef.group if rdef.group else rdef.kind
    parts = ["%s: %s" % (f, d) for f, _, d in errs]
    if len(parts) == 1:
        msg = '%s "%s" is invalid: %s' % (qkind, name, parts[0])
    else:
        msg = '%s "%s" is invalid: [%s]' % (qkind, name, ", ".join(parts))
    d = _details(rdef, name, kind=rdef.kind)
    d["causes"] = [{"reason": r, "message": dt, "field": f} for f, r, dt in errs]
    return ApiError(422, "Invalid", msg, d)


def internal(msg, causes=None):
    d = {}
    if causes:
        d["causes"] = causes
    return ApiError(500, "InternalError", "Internal error occurred: " + msg, d)


def gostr(s):
    """Go's %q of a string (close enough: JSON escaping)."""
    return json.dumps(s)


def _invalid_value(v, msg):
    return "Invalid value: %s: %s" % (gostr(v) if isinstance(v, str) else json.dumps(v), msg)


# ---------------------------------------------------------------------- storage

class Entry(object):
    __slots__ = ("obj", "managed", "cache")

    def __init__(self, obj, managed):
        self.obj = obj
        self.managed = managed
        self.cache = None


class Scheduler(object):
    """Runs callbacks at a time, one background thread."""

    def __init__(self):
        self.heap = []
        self.cv = threading.Condition()
        self.seq = 0
        t = threading.Thread(target=self._run, name="kubesim-scheduler", daemon=True)
        t.start()

    def after(self, delay, fn):
        with self.cv:
            self.seq += 1
            heapq.heappush(self.heap, (time.monotonic() + max(0.0, delay), self.seq, fn))
            self.cv.notify()

    def _run(self):
        while True:
            with self.cv:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    timeout = self.heap[0][0] - time.monotonic() if self.heap else None
                    self.cv.wait(timeout)
                _, _, fn = heapq.heappop(self.heap)
            try:
                fn()
            except Exception:  # keep the scheduler alive
                import traceback
                traceback.print_exc()


class Options(object):
    crd_delay = 0.5
    deploy_delay = 0.5
    ns_delete_delay = 0.2
    event_history = 20000
    server_addr = "127.0.0.1:6443"


class Api(object):
    def __init__(self, opts=None):
        self.opts = opts or Options()
        self.lock = threading.RLock()
        self.cv = threading.Condition(self.lock)
        self.reg = kres.Registry()
        self.rv = 1
        self.data = {}          # (group, resource) -> {namespace or "": {name: Entry}}
        self.events = deque(maxlen=self.opts.event_history)
        self.oldest_rv = 1
        self.watch_epoch = 0    # compact(close_watches=True) ends every open watch
        self.sched = Scheduler()
        self.webhook_gen = 0
        self._webhooks = None
        self._webhooks_gen = -1
        self.next_ip = 2
        self.write_count = 0
        with self.lock:
            self._bootstrap()

    # ------------------------------------------------------------------ helpers
    def _bucket(self, gr, ns, create=False):
        b = self.data.get(gr)
        if b is None:
            if not create:
                return None
            b = self.data[gr] = {}
        n = b.get(ns)
        if n is None and create:
            n = b[ns] = {}
        return n

    def _get(self, gr, ns, name):
        b = self._bucket(gr, ns or "")
        return b.get(name) if b else None

    def _ns_entry(self, ns):
        return self._get(("", "namespaces"), "", ns)

    def _bump(self):
        self.rv += 1
        return self.rv

    def _emit(self, etype, rdef_gr, ns, obj, old=None):
        if len(self.events) == self.events.maxlen:
            self.oldest_rv = self.events[0][0] + 1
        self.events.append((int(obj["metadata"]["resourceVersion"]), rdef_gr, ns, etype, obj,
                            old))
        self.cv.notify_all()

    def _store(self, rdef, ns, name, obj, managed, etype, old=None):
        check_stored_size(obj.get("kind"), name, obj)
        rv = self._bump()
        obj["metadata"]["resourceVersion"] = str(rv)
        if managed is not None:
            if managed:
                obj["metadata"]["managedFields"] = kssa.render_managed(managed)
            else:
                obj["metadata"].pop("managedFields", None)
        b = self._bucket(rdef.gr, ns or "", create=True)
        e = Entry(obj, managed if managed is not None else {})
        b[name] = e
        self.write_count += 1
        self._emit(etype, rdef.gr, ns or "", obj, old)
        if rdef.gr in (("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
                       ("admissionregistration.k8s.io", "validatingwebhookconfigurations")):
            self.webhook_gen += 1
        return e

    def _remove(self, rdef_gr, ns, name):
        b = self._bucket(rdef_gr, ns or "")
        if not b or name not in b:
            return None
        e = b.pop(name)
        obj = copy.copy(e.obj)
        obj["metadata"] = dict(obj["metadata"])
        obj["metadata"]["resourceVersion"] = str(self._bump())
        self.write_count += 1
        self._emit("DELETED", rdef_gr, ns or "", obj, e.obj)
        if rdef_gr in (("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
                       ("admissionregistration.k8s.io", "validatingwebhookconfigurations")):
            self.webhook_gen += 1
        return obj

    def _storage_def(self, rdef):
        """The ResDef of the storage version (objects are stored with its apiVersion)."""
        if rdef.storage_version == rdef.version:
            return rdef
        return self.reg.lookup(rdef.group, rdef.storage_version, rdef.resource) or rdef

    def _bootstrap(self):
        ts = now_ts()
        nsdef = self.reg.lookup("", "v1", "namespaces")
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            obj = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "uid": str(uuid.uuid4()), "creationTimestamp": ts,
                                "labels": {"kubernetes.io/metadata.name": ns}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            self._store(nsdef, "", ns, obj, {}, "ADDED")
            self._default_sa(ns)
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "kubesim-node", "uid": str(uuid.uuid4()),
                             "creationTimestamp": ts,
                             "labels": {"kubernetes.io/hostname": "kubesim-node",
                                        "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64",
                                        "node-role.kubernetes.io/control-plane": ""}},
                "spec": {"podCIDR": "10.244.0.0/24"},
                "status": {"conditions": [{"type": "Ready", "status": "True",
                                           "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status",
                                           "lastHeartbeatTime": ts,
                                           "lastTransitionTime": ts}],
                           "nodeInfo": {"kubeletVersion": "v1.32.0",
                                        "architecture": "amd64", "operatingSystem": "linux"},
                           "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                           "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}
        self._store(self.reg.lookup("", "v1", "nodes"), "", "kubesim-node", node, {}, "ADDED")
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "uid": str(uuid.uuid4()), "creationTimestamp": ts,
                            "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                   "targetPort": 6443}],
                        "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                        "ipFamilyPolicy": "SingleStack"},
               "status": {"loadBalancer": {}}}
        self._store(self.reg.lookup("", "v1", "services"), "default", "kubernetes", svc, {},
                    "ADDED")
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": "standard", "uid": str(uuid.uuid4()), "creationTimestamp": ts,
                           "annotations": {
                               "storageclass.kubernetes.io/is-default-class": "true"}},
              "provisioner": "kubesim.io/fake", "reclaimPolicy": "Delete",
              "volumeBindingMode": "Immediate"}
        self._store(self.reg.lookup("storage.k8s.io", "v1", "storageclasses"), "", "standard", sc,
                    {}, "ADDED")

    def _default_sa(self, ns):
        sadef = self.reg.lookup("", "v1", "serviceaccounts")
        if self._get(sadef.gr, ns, "default"):
            return
        obj = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": ns, "uid": str(uuid.uuid4()),
                            "creationTimestamp": now_ts()}}
        self._store(sadef, ns, "default", obj, {}, "ADDED")

    # ------------------------------------------------------------------ output
    def render(self, obj, rdef):
        """Object as seen through rdef's version."""
        av = rdef.api_version
        if obj.get("apiVersion") == av:
            return obj
        o = dict(obj)
        o["apiVersion"] = av
        return o

    # ------------------------------------------------------------------ decoding
    def decode_body(self, body, ctype, allow_yaml=False):
        if (ctype or "").startswith("application/vnd.kubernetes.protobuf") or \
                body[:4] == b"k8s\x00":
            import kproto
            try:
                return kproto.decode(body)
            except (kproto.Unsupported, ValueError, UnicodeDecodeError) as e:
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json, application/yaml "
                               "(kubesim: %s)" % e, {})
        if len(body) > MAX_BODY:
            raise ApiError(413, "RequestEntityTooLarge",
                           "Request entity too large: limit is %d" % MAX_BODY, {})
        text = body.decode("utf-8", errors="replace")
        stripped = text.lstrip()
        if (ctype or "").split(";")[0].strip() in ("application/yaml", "application/x-yaml",
                                                   "text/yaml"):
            allow_yaml = True
        if allow_yaml and not stripped.startswith(("{", "[")):
            if kyaml is None:
                raise bad_request("YAML bodies are not supported by this kubesim build")
            try:
                return kyaml.load(text)
            except Exception as e:
                raise bad_request("error decoding YAML: %s" % e)
        try:
            return json.loads(text)
        except ValueError as e:
            if allow_yaml and kyaml is not None:
                try:
                    return kyaml.load(text)
                except Exception:
                    pass
            raise bad_request("couldn't get version/kind; json parse error: %s" % e)

    def _check_type(self, obj, rdef, body, verb="create"):
        if not isinstance(obj, dict):
            raise bad_request("json: cannot unmarshal %s into Go value of type "
                              "map[string]interface {}" % type(obj).__name__)
        snippet = body[:200].decode("utf-8", errors="replace") if isinstance(body, bytes) else ""
        if not obj.get("kind"):
            raise bad_request("Object 'Kind' is missing in '%s'" % snippet)
        if not obj.get("apiVersion"):
            raise bad_request("Object 'apiVersion' is missing in '%s'" % snippet)
        av = obj["apiVersion"]
        if av != rdef.api_version:
            # another served version of the same resource is acceptable (converted)
            g, _, v = av.rpartition("/")
            other = self.reg.lookup(g, v, rdef.resource)
            if other is None or g != rdef.group:
                raise bad_request("the API version in the data (%s) does not match the expected "
                                  "API version (%s)" % (av, rdef.api_version))
        if obj["kind"] != rdef.kind:
            raise bad_request("the kind in the data (%s) does not match the expected kind (%s)"
                              % (obj["kind"], rdef.kind)) if verb != "create" else \
                bad_request("%s in version \"%s\" cannot be handled as a %s: no kind \"%s\" is "
                            "registered for version \"%s\"" % (rdef.kind, rdef.version, rdef.kind,
                                                                obj["kind"], av))
        md = obj.get("metadata")
        if md is None:
            obj["metadata"] = {}
        elif not isinstance(md, dict):
            raise bad_request("%s in version \"%s\" cannot be handled as a %s: json: cannot "
                              "unmarshal into Go struct field .metadata of type "
                              "v1.ObjectMeta" % (rdef.kind, rdef.version, rdef.kind))

    # ------------------------------------------------------------------ validation
    def validate(self, rdef, obj, old, strict=False, ssa=False):
        md = obj["metadata"]
        name = md.get("name") or ""
        errs = []
        if not name:
            errs.append(("metadata.name", "FieldValueRequired",
                         "Required value: name or generateName is required"))
        else:
            if rdef.naming == kres.PATHSEG:
                if name in (".", ".."):
                    errs.append(("metadata.name", "FieldValueInvalid",
                                 _invalid_value(name, "may not be '%s'" % name)))
                for bad in ("/", "%"):
                    if bad in name:
                        errs.append(("metadata.name", "FieldValueInvalid",
                                     _invalid_value(name, "may not contain '%s'" % bad)))
            elif rdef.naming == kres.LABEL:
                if len(name) > 63 or not DNS1123_LABEL.match(name):
                    errs.append(("metadata.name", "FieldValueInvalid",
                                 _invalid_value(name, MSG_LABEL)))
            elif rdef.naming == kres.DNS1035:
                if len(name) > 63 or not DNS1035_LABEL.match(name):
                    errs.append(("metadata.name", "FieldValueInvalid",
                                 _invalid_value(name, MSG_1035)))
            else:
                if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
                    errs.append(("metadata.name", "FieldValueInvalid",
                                 _invalid_value(name, MSG_SUBDOMAIN)))
        labels = md.get("labels")
        if labels is not None:
            if not isinstance(labels, dict):
                raise bad_request("metadata.labels must be a map of strings")
            for k, v in labels.items():
                if not isinstance(v, str):
                    raise bad_request("%s in version \"%s\" cannot be handled as a %s: json: "
                                      "cannot unmarshal %s into Go struct field "
                                      "ObjectMeta.metadata.labels of type string"
                                      % (rdef.kind, rdef.version, rdef.kind,
                                         type(v).__name__))
                if not _valid_qualified_key(k):
                    errs.append(("metadata.labels", "FieldValueInvalid",
                                 _invalid_value(k, "name part must consist of alphanumeric "
                                                "characters, '-', '_' or '.', and must start "
                                                "and end with an alphanumeric character (e.g. "
                                                "'MyName',  or 'my.name',  or '123-abc', regex "
                                                "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]"
                                                "*)?[A-Za-z0-9]')")))
                if len(v) > 63 or not LABEL_VALUE.match(v):
                    errs.append(("metadata.labels", "FieldValueInvalid",
                                 _invalid_value(v, "a valid label must be an empty string or "
                                                "consist of alphanumeric characters, '-', '_' or "
                                                "'.', and must start and end with an alphanumeric "
                                                "character (e.g. 'MyValue',  or 'my_value',  or "
                                                "'12345', regex used for validation is "
                                                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")))
        ann = md.get("annotations")
        if ann is not None:
            if not isinstance(ann, dict):
                raise bad_request("metadata.annotations must be a map of strings")
            total = 0
            for k, v in ann.items():
                if not isinstance(v, str):
                    raise bad_request("%s in version \"%s\" cannot be handled as a %s: json: "
                                      "cannot unmarshal %s into Go struct field "
                                      "ObjectMeta.metadata.annotations of type string"
                                      % (rdef.kind, rdef.version, rdef.kind, type(v).__name__))
                total += len(k) + len(v)
            if total > 262144:
                errs.append(("metadata.annotations", "FieldValueTooLong",
                             "Too long: may not be more than 262144 bytes"))
        if rdef.builtin:
            unknown = ["metadata." + k for k in md if k not in META_FIELDS]
            allowed = TOP_FIELDS.get(rdef.gr, DEFAULT_TOP)
            unknown += [k for k in obj if k not in allowed and k not in COMMON_TOP]
            if unknown and (strict or ssa):  # apply: always, whatever fieldValidation says
                if ssa:
                    # The real server: HTTP 500, no reason, the namespace as
                    # the body gives it, the core group written as "/v1".
                    raise ApiError(500, None, "failed to create typed patch object (%s/%s; %s, Kind=%s): "
                                   ".%s: field not declared in schema"
                                   % (ssa[1] if isinstance(ssa, tuple) else md.get("namespace", ""), name,
                                      rdef.api_version if rdef.group else "/" + rdef.api_version,
                                      rdef.kind, unknown[0]), {})
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict '
                                  'decoding error: %s'
                                  % (rdef.kind, rdef.version, rdef.kind,
                                     ", ".join('unknown field "%s"' % u for u in unknown)))
            for u in unknown:  # the real decoder drops unknown fields
                if u.startswith("metadata."):
                    md.pop(u[9:], None)
                else:
                    obj.pop(u, None)
            self._check_string_maps(rdef, obj)
        if rdef.gr in (("", "configmaps"), ("", "secrets")):
            total = 0
            for f in ("data", "binaryData", "stringData"):
                d = obj.get(f)
                if isinstance(d, dict):
                    for k, v in d.items():
                        total += len(k) + (len(v) if isinstance(v, str) else 0)
                        if rdef.gr[1] == "secrets" and f == "data" and isinstance(v, str):
                            total -= len(v) - len(v) * 3 // 4
            if total > 1048576:
                errs.append(("[]", "FieldValueTooLong",
                             "Too long: may not be more than 1048576 bytes"))
        workload = rdef.gr[0] == "apps" and rdef.gr[1] in ("deployments", "statefulsets", "daemonsets",
                                                            "replicasets")
        if old is not None and not workload:
            errs += _immutable(rdef, obj, old)
        if rdef.gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
            errs += self._validate_crd(obj, old)
        elif rdef.gr == ("", "services"):
            errs += _validate_service(obj)
        elif workload:
            errs += _validate_workload(obj)
            if old is not None:  # after the spec checks, as the real ValidateXUpdate orders them
                errs += _immutable(rdef, obj, old)
        elif not rdef.builtin and rdef.schema is not None:
            import kschema
            errs += kschema.validate(obj, rdef.schema, strict)
            unknown = [d for f, r, d in errs if r == "UnknownField"]
            if unknown and ssa:
                md = obj.get("metadata") or {}
                field = [f for f, r, d in errs if r == "UnknownField"][0]
                raise bad_request("failed to create typed patch object (%s; %s, Kind=%s): .%s: "
                                  "field not declared in schema"
                                  % ((md.get("namespace", "") + "/" if rdef.namespaced else "/")
                                     + md.get("name", ""), rdef.api_version, rdef.kind, field))
            if unknown:
                raise bad_request('%s in version "%s" cannot be handled as a %s: strict '
                                  'decoding error: %s' % (rdef.kind, rdef.version, rdef.kind,
                                                          ", ".join(unknown)))
        if errs:
            raise invalid(rdef, name, errs)

    def _check_string_maps(self, rdef, obj):
        """Typed decoding errors of ConfigMap/Secret data (a YAML number in data, bad base64)."""
        def cant(field, v, typ="string"):
            raise bad_request('%s in version "%s" cannot be handled as a %s: json: cannot '
                              'unmarshal %s into Go struct field %s.%s of type %s'
                              % (rdef.kind, rdef.version, rdef.kind, _go_type(v), rdef.kind,
                                 field, typ))
        if rdef.gr == ("", "configmaps"):
            for f in ("data", "binaryData"):
                d = obj.get(f)
                if d is None:
                    continue
                if not isinstance(d, dict):
                    cant(f, d, "map[string]string" if f == "data" else "map[string][]uint8")
                for v in d.values():
                    if not isinstance(v, str):
                        cant(f, v, "string" if f == "data" else "[]uint8")
                    if f == "binaryData":
                        _b64(rdef, v)
        elif rdef.gr == ("", "secrets"):
            for f in ("data", "stringData"):
                d = obj.get(f)
                if d is None:
                    continue
                if not isinstance(d, dict):
                    cant(f, d, "map[string][]uint8" if f == "data" else "map[string]string")
                for v in d.values():
                    if not isinstance(v, str):
                        cant(f, v, "[]uint8" if f == "data" else "string")
                    if f == "data":
                        _b64(rdef, v)

    def _validate_crd(self, obj, old):
        errs = []
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group") or ""
        plural = names.get("plural") or ""
        if not group:
            errs.append(("spec.group", "FieldValueRequired", "Required value"))
        elif "." not in group:
            errs.append(("spec.group", "FieldValueInvalid",
                         _invalid_value(group, "should be a domain with at least one dot")))
        if not plural:
            errs.append(("spec.names.plural", "FieldValueRequired", "Required value"))
        if not names.get("kind"):
            errs.append(("spec.names.kind", "FieldValueRequired", "Required value"))
        if plural and group and obj["metadata"].get("name") != plural + "." + group:
            errs.append(("metadata.name", "FieldValueInvalid",
                         _invalid_value(obj["metadata"].get("name", ""),
                                        'must be spec.names.plural+"."+spec.group')))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errs.append(("spec.scope", "FieldValueNotSupported" if spec.get("scope") else
                         "FieldValueRequired",
                         'Unsupported value: %s: supported values: "Cluster", "Namespaced"'
                         % gostr(spec.get("scope", "")) if spec.get("scope") else
                         "Required value"))
        versions = spec.get("versions") or []
        if not versions:
            errs.append(("spec.versions", "FieldValueInvalid",
                         "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): "
                         "must have exactly one version marked as storage version"))
        else:
            storage = [v for v in versions if v.get("storage")]
            if len(storage) != 1:
                errs.append(("spec.versions", "FieldValueInvalid",
                             "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
                             "must have exactly one version marked as storage version"))
            if not any(v.get("served") for v in versions):
                errs.append(("spec.versions", "FieldValueInvalid",
                             "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
                             "must have at least one version marked as served"))
            for i, v in enumerate(versions):
                if not v.get("schema", {}).get("openAPIV3Schema"):
                    errs.append(("spec.versions[%d].schema.openAPIV3Schema" % i,
                                 "FieldValueRequired",
                                 "Required value: schemas are required"))
        if old is not None:
            oldspec = old.get("spec") or {}
            if oldspec.get("scope") != spec.get("scope"):
                errs.append(("spec.scope", "FieldValueInvalid",
                             _invalid_value(spec.get("scope", ""), "field is immutable")))
        return errs

    # ------------------------------------------------------------------ defaults
    def default(self, rdef, obj, old):
        gr = rdef.gr
        spec = obj.get("spec")
        if gr == ("", "namespaces"):
            obj["metadata"].setdefault("labels", {})
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            if old is not None and old.get("status"):
                obj["status"] = old["status"]
            else:
                obj["status"] = {"phase": "Active"}
        elif gr == ("", "services"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName":
                oldip = ((old or {}).get("spec") or {}).get("clusterIP")
                if not spec.get("clusterIP"):
                    spec["clusterIP"] = oldip or self._alloc_ip()
                if spec["clusterIP"] != "None" or not spec.get("clusterIPs"):
                    spec["clusterIPs"] = [spec["clusterIP"]]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("internalTrafficPolicy", "Cluster")
            spec.setdefault("sessionAffinity", "None")
            for p in spec.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
                    if "port" in p:
                        p.setdefault("targetPort", p["port"])
            obj.setdefault("status", {"loadBalancer": {}})
        elif gr in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")):
            if isinstance(spec, dict):
                spec.setdefault("replicas", 1)
                spec.setdefault("revisionHistoryLimit", 10)
                if gr[1] == "deployments":
                    spec.setdefault("progressDeadlineSeconds", 600)
                    spec.setdefault("strategy", {"type": "RollingUpdate",
                                                 "rollingUpdate": {"maxSurge": "25%",
                                                                   "maxUnavailable": "25%"}})
                _default_pod_template(spec)
                if old is None:
                    obj.setdefault("status", {})  # the real server stores an empty status
                if gr[1] == "statefulsets":
                    spec.setdefault("podManagementPolicy", "OrderedReady")
                    spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                                       "rollingUpdate": {"partition": 0}})
        elif gr == ("", "secrets"):
            obj.setdefault("type", "Opaque")
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict) and sd:
                data = obj.get("data")
                if not isinstance(data, dict):
                    data = obj["data"] = {}
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
        elif gr == ("", "persistentvolumeclaims"):
            if isinstance(spec, dict):
                spec.setdefault("volumeMode", "Filesystem")
                if "storageClassName" not in spec:
                    spec["storageClassName"] = "standard"
            if old is not None and old.get("status"):
                obj["status"] = old["status"]
            else:
                obj["status"] = {"phase": "Pending"}
        elif gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
            if isinstance(spec, dict):
                spec.setdefault("conversion", {"strategy": "None"})
                names = spec.get("names") or {}
                if isinstance(names, dict) and names.get("kind"):
                    names.setdefault("singular", names["kind"].lower())
                    names.setdefault("listKind", names["kind"] + "List")

    def _alloc_ip(self):
        n = self.next_ip
        self.next_ip += 1
        return "10.96.%d.%d" % (n // 254, n % 254 + 1) if n >= 254 else "10.96.0.%d" % n

    # ------------------------------------------------------------------ admission
    def _check_namespace(self, rdef, ns, name, verb):
        if not rdef.namespaced:
            return
        e = self._ns_entry(ns)
        if e is None:
            raise ns_not_found(ns)
        if verb == "create" and (e.obj.get("status") or {}).get("phase") == "Terminating":
            raise forbidden(rdef, name, "unable to create new content in namespace %s because "
                            "it is being terminated" % ns,
                            [{"reason": "NamespaceTerminating",
                              "message": "namespace %s is being terminated" % ns,
                              "field": "metadata.namespace"}])

    def _webhook_list(self):
        if self._webhooks_gen == self.webhook_gen:
            return self._webhooks
        hooks = []
        for res in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            b = self._bucket(("admissionregistration.k8s.io", res), "")
            for e in (b or {}).values():
                for wh in e.obj.get("webhooks") or []:
                    if isinstance(wh, dict):
                        hooks.append((res[:-len("webhookconfigurations")], wh))
        self._webhooks = hooks
        self._webhooks_gen = self.webhook_gen
        return hooks

    def _admit_webhooks(self, op, rdef, ns, obj, sub="", phase=None):
        """Refuse the request when a webhook with failurePolicy Fail matches it and the
        workload behind its service is not available."""
        if rdef.group == "admissionregistration.k8s.io":
            return
        hooks = self._webhook_list()
        if not hooks:
            return
        for hphase, wh in hooks:
            if phase is not None and hphase != phase:
                continue
            if wh.get("failurePolicy", "Fail") == "Ignore":
                continue
            if not _rules_match(wh.get("rules") or [], op, rdef, sub,
                                wh.get("matchPolicy", "Equivalent")):
                continue
            labels = (obj.get("metadata") or {}).get("labels") or {}
            try:
                if wh.get("objectSelector") and not kselect.labels_match(
                        kselect.label_selector_from_object(wh["objectSelector"]), labels):
                    continue
                nssel = wh.get("namespaceSelector")
                if nssel:
                    if rdef.gr == ("", "namespaces"):
                        nslabels = dict(labels)
                        nslabels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
                    elif rdef.namespaced:
                        ne = self._ns_entry(ns)
                        nslabels = ((ne.obj.get("metadata") or {}).get("labels") or {}) if ne \
                            else {}
                    else:
                        nslabels = None
                    if nslabels is not None and not kselect.labels_match(
                            kselect.label_selector_from_object(nssel), nslabels):
                        continue
            except kselect.SelectorError:
                continue
            err = self._webhook_down(wh)
            if err:
                msg = 'failed calling webhook "%s": %s' % (wh.get("name", ""), err)
                raise internal(msg, [{"message": msg}])

    def _webhook_down(self, wh):
        cc = wh.get("clientConfig") or {}
        svc = cc.get("service")
        if not svc:
            return None  # URL webhooks are assumed reachable
        sns, sname = svc.get("namespace", ""), svc.get("name", "")
        port = svc.get("port", 443)
        path = svc.get("path", "") or ""
        timeout = wh.get("timeoutSeconds", 10)
        url = "https://%s.%s.svc:%s%s?timeout=%ds" % (sname, sns, port, path, timeout)
        post = 'failed to call webhook: Post "%s": ' % url
        se = self._get(("", "services"), sns, sname)
        if se is None:
            return post + 'service "%s" not found' % sname
        sel = (se.obj.get("spec") or {}).get("selector") or {}
        ip = (se.obj.get("spec") or {}).get("clusterIP", "10.96.0.1")
        if sel and self._workload_available(sns, sel):
            return None
        if not sel:
            return None  # selector-less service: endpoints managed elsewhere, assume up
        return post + "dial tcp %s:%s: connect: connection refused" % (ip, port)

    def _workload_available(self, ns, selector):
        for res in ("deployments", "statefulsets", "daemonsets", "replicasets"):
            b = self._bucket(("apps", res), ns)
            for e in (b or {}).values():
                tl = ((((e.obj.get("spec") or {}).get("template") or {}).get("metadata") or {})
                      .get("labels") or {})
                if all(tl.get(k) == v for k, v in selector.items()):
                    st = e.obj.get("status") or {}
                    if res == "daemonsets":
                        if st.get("numberAvailable", 0) > 0:
                            return True
                    elif st.get("availableReplicas", 0) > 0 or st.get("readyReplicas", 0) > 0:
                        return True
        b = self._bucket(("", "pods"), ns)
        for e in (b or {}).values():
            pl = (e.obj.get("metadata") or {}).get("labels") or {}
            if all(pl.get(k) == v for k, v in selector.items()) and \
                    (e.obj.get("status") or {}).get("phase") == "Running":
                return True
        return False

    # ------------------------------------------------------------------ generation
    @staticmethod
    def _spec_part(obj):
        return {k: v for k, v in obj.items()
                if k not in ("metadata", "status", "apiVersion", "kind")}

    @staticmethod
    def _same(a, b):
        if a is None or b is None:
            return False
        ma = {k: v for k, v in a["metadata"].items() if k not in ("managedFields",
                                                                   "resourceVersion")}
        mb = {k: v for k, v in b["metadata"].items() if k not in ("managedFields",
                                                                   "resourceVersion")}
        if ma != mb:
            return False
        for k in set(a) | set(b):
            if k in ("metadata", "apiVersion"):
                continue
            if a.get(k) != b.get(k):
                return False
        return True

    def _finish(self, rdef, obj, old_entry):
        """Server-owned metadata for a write."""
        md = obj["metadata"]
        sd = self._storage_def(rdef)
        obj["apiVersion"] = sd.api_version
        obj["kind"] = rdef.kind
        if old_entry is None:
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_ts()
            if rdef.generation:
                md["generation"] = 1
            else:
                md.pop("generation", None)
            md.pop("deletionTimestamp", None)
            md.pop("resourceVersion", None)
        else:
            old = old_entry.obj
            om = old["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
                if k in om:
                    md[k] = om[k]
                else:
                    md.pop(k, None)
            if rdef.generation:
                g = om.get("generation", 1)
                if self._spec_part(obj) != self._spec_part(old):
                    g += 1
                md["generation"] = g
            else:
                md.pop("generation", None)
            if rdef.status_sub and "status" in old:
                obj["status"] = old["status"]
            elif rdef.status_sub:
                obj.pop("status", None)
        md.pop("selfLink", None)

    # ------------------------------------------------------------------ verbs
    def get(self, rdef, ns, name):
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            if e is None:
                raise not_found(rdef, name)
            return e.obj

    def list(self, rdef, ns, label_sel, field_sel, limit=0, cont=None):
        try:
            lreqs = kselect.parse_label_selector(label_sel)
            freqs = kselect.parse_field_selector(field_sel, _extra_fields(rdef))
        except kselect.SelectorError as e:
            raise bad_request(str(e))
        start = None
        if cont:
            try:
                c = json.loads(base64.urlsafe_b64decode(cont.encode() + b"==").decode())
                start = (c["ns"], c["name"])
                list_rv = c["rv"]
            except Exception:
                raise bad_request("invalid continue token: continue key is not valid: illegal base64 data")
        with self.lock:
            items = []
            b = self.data.get(rdef.gr) or {}
            spaces = [ns or ""] if ns else sorted(b.keys())
            for n in spaces:
                bucket = b.get(n) or {}
                for name in sorted(bucket):
                    if start is not None and (n, name) <= start:
                        continue
                    o = bucket[name].obj
                    if lreqs and not kselect.labels_match(lreqs, o["metadata"].get("labels")):
                        continue
                    if freqs and not kselect.fields_match(freqs, o):
                        continue
                    items.append(o)
            rv = self.rv if not cont else list_rv
        meta = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = base64.urlsafe_b64encode(json.dumps(
                {"ns": last.get("namespace", ""), "name": last["name"], "rv": rv}).encode()
            ).decode().rstrip("=")
            meta["continue"] = token
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return items, meta

    def create(self, rdef, ns, body, obj, q, user, manager, dry_run):
        self._check_type(obj, rdef, body)
        md = obj["metadata"]
        if rdef.namespaced:
            bns = md.get("namespace")
            if bns and bns != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(
                random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        name = md.get("name") or ""
        strict = q.get("fieldValidation", "") == "Strict"
        with self.lock:
            self._check_namespace(rdef, ns, name, "create")
            self._admit_webhooks("CREATE", rdef, ns, obj, phase="mutating")
            self.validate(rdef, obj, None, strict)
            if self._get(rdef.gr, ns, name) is not None:
                raise already_exists(rdef, name)
            if rdef.status_sub and rdef.gr != ("", "namespaces"):
                obj.pop("status", None)
            self.default(rdef, obj, None)
            self._finish(rdef, obj, None)
            managed = kssa.update_ownership(None, obj, {}, manager, rdef.api_version, now_ts(),
                                            kssa.root_ctx(rdef), strip_status=rdef.status_sub)
            self._admit_webhooks("CREATE", rdef, ns, obj, phase="validating")
            if dry_run:
                obj["metadata"]["managedFields"] = kssa.render_managed(managed)
                return obj
            e = self._store(rdef, ns, name, obj, managed, "ADDED")
            self._after_write(rdef, ns, name, e, None)
            return e.obj

    def update(self, rdef, ns, name, body, obj, q, user, manager, dry_run, sub=""):
        self._check_type(obj, rdef, body, "update")
        md = obj["metadata"]
        if md.get("name") and md["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (md["name"], name))
        md["name"] = name
        if rdef.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        strict = q.get("fieldValidation", "") == "Strict"
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            if e is None:
                raise not_found(rdef, name)
            if md.get("resourceVersion") and md["resourceVersion"] != \
                    e.obj["metadata"]["resourceVersion"]:
                raise stale(rdef, name)
            return self._update_common(rdef, ns, name, e, obj, manager, dry_run, sub, strict)

    def _update_common(self, rdef, ns, name, e, obj, manager, dry_run, sub, strict):
        old = e.obj
        if sub == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
        else:
            self._admit_webhooks("UPDATE", rdef, ns, obj, sub, phase="mutating")
            self.validate(rdef, obj, old, strict)
            self.default(rdef, obj, old)
        status_val = obj.get("status")
        self._finish(rdef, obj, e)
        if sub == "status":
            if status_val is None:
                obj.pop("status", None)
            else:
                obj["status"] = status_val
        incoming_mf = obj["metadata"].get("managedFields")
        if incoming_mf and sub != "status":
            managed = kssa.managed_from_object(obj)
        else:
            managed = kssa.update_ownership(old, obj, e.managed, manager, rdef.api_version,
                                            now_ts(), kssa.root_ctx(rdef), subresource=sub,
                                            strip_status=rdef.status_sub and sub != "status")
        self._admit_webhooks("UPDATE", rdef, ns, obj, sub,
                             phase="validating" if sub != "status" else None)
        if self._same(old, obj) and kssa.managed_equal(managed, e.managed):
            return old
        if dry_run:
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            obj["metadata"]["managedFields"] = kssa.render_managed(managed)
            return obj
        ne = self._store(rdef, ns, name, obj, managed, "MODIFIED", old)
        self._after_write(rdef, ns, name, ne, old)
        return ne.obj

    def patch(self, rdef, ns, name, body, ctype, q, user, manager, dry_run, sub=""):
        ctype = (ctype or "").split(";")[0].strip().lower()
        strict = q.get("fieldValidation", "") == "Strict"
        if ctype == "application/apply-patch+yaml":
            return self.apply(rdef, ns, name, body, q, dry_run, sub)
        if "force" in q:  # the real server refuses it, even force=false
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: '
                           "Forbidden: may not be specified for non-apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions",
                            "causes": [{"reason": "FieldValueForbidden",
                                        "message": "Forbidden: may not be specified for non-apply patch",
                                        "field": "force"}]})
        if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                         "application/json-patch+json"):
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        patch = self.decode_body(body, ctype)
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            if e is None:
                raise not_found(rdef, name)
            cur = self.render(e.obj, rdef)
            if ctype == "application/json-patch+json":
                try:
                    new = kssa.json_patch(cur, patch)
                except (kssa.JSONPatchError, KeyError, IndexError, ValueError, TypeError) as ex:
                    raise ApiError(422, "Invalid", str(ex), {})
            else:
                if not isinstance(patch, dict):
                    raise bad_request("json: cannot unmarshal array into Go value of type "
                                      "map[string]interface {}")
                if ctype == "application/strategic-merge-patch+json":
                    if not rdef.builtin:
                        raise ApiError(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - "
                                       "accepted media types include: "
                                       "application/json-patch+json, "
                                       "application/merge-patch+json, "
                                       "application/apply-patch+yaml", {})
                    new = kssa.strategic_merge_patch(copy.deepcopy(cur), patch)
                else:
                    new = kssa.merge_patch(copy.deepcopy(cur), patch)
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise bad_request("patch removed metadata")
            if new["metadata"].get("name") != name:
                raise bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (new["metadata"].get("name"), name))
            if rdef.namespaced and new["metadata"].get("namespace") != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            if new["metadata"].get("resourceVersion") != e.obj["metadata"]["resourceVersion"]:
                raise stale(rdef, name)
            if new.get("kind") != rdef.kind:
                raise bad_request("the kind of the patched object (%s) does not match (%s)"
                                  % (new.get("kind"), rdef.kind))
            new["metadata"].pop("managedFields", None)
            return self._update_common(rdef, ns, name, e, new, manager, dry_run, sub, strict)

    def apply(self, rdef, ns, name, body, q, dry_run, sub=""):
        manager = q.get("fieldManager", "")
        if not manager:
            raise ApiError(422, "Invalid",
                           'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value:'
                           ' is required for apply patch',
                           {"group": "meta.k8s.io", "kind": "PatchOptions",
                            "causes": [{"reason": "FieldValueRequired",
                                        "message": "Required value: is required for apply patch",
                                        "field": "fieldManager"}]})
        force = q.get("force", "") in ("true", "1", "True")
        strict = q.get("fieldValidation", "") == "Strict"
        cfg = self.decode_body(body, "application/apply-patch+yaml", allow_yaml=True)
        if not isinstance(cfg, dict):
            raise bad_request("error decoding YAML: json: cannot unmarshal into Go value of "
                              "type map[string]interface {}")
        self._check_type(cfg, rdef, body, "apply")
        md = cfg["metadata"]
        body_ns = md.get("namespace", "") if isinstance(md, dict) else ""  # for error messages
        if md.get("name") is not None and md.get("name") != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL "
                              "(%s)" % (md.get("name"), name))
        if rdef.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        elif md.get("namespace"):
            md = dict(md)
            md.pop("namespace")
            cfg["metadata"] = md
        if md.get("managedFields"):
            raise bad_request("metadata.managedFields must be nil")
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            self._check_namespace(rdef, ns, name, "create" if e is None else "update")
            if e is not None and md.get("resourceVersion") and \
                    md["resourceVersion"] != e.obj["metadata"]["resourceVersion"]:
                raise stale(rdef, name)
            live = self.render(e.obj, rdef) if e else None
            cfg_clean = dict(cfg)
            cfg_clean["metadata"] = {k: v for k, v in md.items()
                                     if k not in ("resourceVersion", "uid", "creationTimestamp",
                                                  "generation", "managedFields", "selfLink")}
            ctx = kssa.root_ctx(rdef)
            if sub == "status":
                cfg_clean = {"apiVersion": cfg["apiVersion"], "kind": cfg["kind"],
                             "metadata": {"name": name}, "status": cfg.get("status", {})}
            try:
                new, managed = kssa.apply(live, cfg_clean, e.managed if e else {}, manager,
                                          rdef.api_version, now_ts(), force, ctx,
                                          strip_status=rdef.status_sub and sub != "status")
            except kssa.ApplyConflict as ex:
                causes = [{"reason": "FieldManagerConflict",
                           "message": "conflict with %s" % m,
                           "field": kssa.path_string(p)} for m, p in ex.conflicts]
                raise ApiError(409, "Conflict", kssa.conflict_message(ex.conflicts),
                               {"causes": causes})
            new["metadata"]["name"] = name
            if rdef.namespaced:
                new["metadata"]["namespace"] = ns
            if e is None:
                self._admit_webhooks("CREATE", rdef, ns, new, phase="mutating")
                self.validate(rdef, new, None, strict, ssa=("apply", body_ns))
                if rdef.status_sub and rdef.gr != ("", "namespaces"):
                    new.pop("status", None)
                self.default(rdef, new, None)
                self._finish(rdef, new, None)
                self._admit_webhooks("CREATE", rdef, ns, new, phase="validating")
                if dry_run:
                    # The real server answers a dry-run apply that would
                    # create the object without managedFields.
                    new["metadata"].pop("managedFields", None)
                    return new, True
                ne = self._store(rdef, ns, name, new, managed, "ADDED")
                self._after_write(rdef, ns, name, ne, None)
                return ne.obj, True
            old = e.obj
            if sub != "status":
                self._admit_webhooks("UPDATE", rdef, ns, new, sub, phase="mutating")
                self.validate(rdef, new, old, strict, ssa=("apply", body_ns))
                self.default(rdef, new, old)
            status_val = new.get("status")
            self._finish(rdef, new, e)
            if sub == "status":
                if status_val is None:
                    new.pop("status", None)
                else:
                    new["status"] = status_val
            self._admit_webhooks("UPDATE", rdef, ns, new, sub,
                                 phase="validating" if sub != "status" else None)
            if self._same(old, new) and kssa.managed_equal(managed, e.managed):
                return old, False
            if dry_run:
                new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                new["metadata"]["managedFields"] = kssa.render_managed(managed)
                return new, False
            ne = self._store(rdef, ns, name, new, managed, "MODIFIED", old)
            self._after_write(rdef, ns, name, ne, old)
            return ne.obj, False

    def delete(self, rdef, ns, name, opts, dry_run):
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            if e is None:
                raise not_found(rdef, name)
            pre = (opts or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != e.obj["metadata"].get("uid"):
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": Precondition failed: '
                               'UID in precondition: %s, UID in object meta: %s'
                               % (rdef.gr_string, name, pre["uid"],
                                  e.obj["metadata"].get("uid")), _details(rdef, name))
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    e.obj["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": Precondition failed: '
                               'ResourceVersion in precondition: %s, ResourceVersion in object '
                               'meta: %s' % (rdef.gr_string, name, pre["resourceVersion"],
                                             e.obj["metadata"]["resourceVersion"]),
                               _details(rdef, name))
            self._admit_webhooks("DELETE", rdef, ns, e.obj)
            if rdef.gr == ("", "namespaces"):
                if name in PROTECTED_NAMESPACES:
                    raise forbidden(rdef, name, "this namespace may not be deleted")
                if dry_run:
                    return e.obj
                if (e.obj.get("status") or {}).get("phase") == "Terminating":
                    return e.obj
                new = copy.deepcopy(e.obj)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["status"] = {"phase": "Terminating"}
                ne = self._store(rdef, "", name, new, e.managed, "MODIFIED", e.obj)
                self.sched.after(self.opts.ns_delete_delay, lambda: self._finish_ns_delete(name))
                return ne.obj
            fins = e.obj["metadata"].get("finalizers") or []
            if dry_run:
                return e.obj if fins else None
            if fins:
                # like the real server: mark for deletion, keep it until finalizers are gone
                if e.obj["metadata"].get("deletionTimestamp"):
                    return e.obj
                new = copy.deepcopy(e.obj)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                ne = self._store(rdef, ns, name, new, e.managed, "MODIFIED", e.obj)
                return ne.obj
            self._remove(rdef.gr, ns, name)
            if rdef.gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._crd_deleted(e.obj)
            return None

    def delete_collection(self, rdef, ns, label_sel, field_sel, dry_run):
        items, meta = self.list(rdef, ns, label_sel, field_sel)
        done = []
        for o in items:
            try:
                self.delete(rdef, o["metadata"].get("namespace", ""), o["metadata"]["name"], {},
                            dry_run)
                done.append(o)
            except ApiError as e:
                if e.code != 404:
                    raise
        return done, meta

    def _finish_ns_delete(self, ns):
        with self.lock:
            for gr, b in list(self.data.items()):
                bucket = b.get(ns)
                if not bucket or gr == ("", "namespaces"):
                    continue
                for name in list(bucket):
                    self._remove(gr, ns, name)
            self._remove(("", "namespaces"), "", ns)

    # ------------------------------------------------------------------ controllers
    def _after_write(self, rdef, ns, name, entry, old):
        gr = rdef.gr
        obj = entry.obj
        md = obj["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers") and \
                gr != ("", "namespaces"):
            self._remove(gr, ns, name)
            if gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._crd_deleted(obj)
            return
        if gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._crd_written(obj, old)
        elif gr == ("", "namespaces") and old is None:
            self._default_sa(name)
        elif gr[0] in ("apps", "batch") and gr[1] in ("deployments", "statefulsets",
                                                       "daemonsets", "replicasets", "jobs"):
            if old is None or obj["metadata"].get("generation") != \
                    old["metadata"].get("generation"):
                gen = obj["metadata"].get("generation")
                self.sched.after(self.opts.deploy_delay,
                                 lambda: self._rollout(rdef, ns, name, gen))
        elif gr == ("", "persistentvolumeclaims") and old is None:
            self.sched.after(self.opts.deploy_delay, lambda: self._bind_pvc(ns, name))

    def _status_write(self, gr, ns, name, status, manager="kube-controller-manager"):
        e = self._get(gr, ns, name)
        if e is None:
            return
        if e.obj.get("status") == status:
            return
        new = copy.copy(e.obj)
        new["metadata"] = dict(e.obj["metadata"])
        new["status"] = status
        rdef = None
        for d in self.reg.by_gvr.values():
            if d.gr == gr:
                rdef = d
                break
        managed = dict(e.managed)
        key = (manager, "Update", "status")
        paths = set(kssa.flatten({"status": status}, kssa.Ctx(True, None)).keys())
        managed[key] = {"set": paths, "apiVersion": new.get("apiVersion", "v1"),
                        "time": now_ts()}
        self._store(rdef, ns, name, new, managed, "MODIFIED", e.obj)

    def _rollout(self, rdef, ns, name, gen):
        with self.lock:
            e = self._get(rdef.gr, ns, name)
            if e is None or e.obj["metadata"].get("generation") != gen:
                return
            spec = e.obj.get("spec") or {}
            ts = now_ts()
            res = rdef.resource
            if res == "jobs":
                comp = spec.get("completions", 1) or 1
                st = {"startTime": ts, "completionTime": ts, "succeeded": comp,
                      "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
                      "conditions": [
                          {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": ts,
                           "lastTransitionTime": ts, "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods"},
                          {"type": "Complete", "status": "True", "lastProbeTime": ts,
                           "lastTransitionTime": ts, "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods"}]}
            elif res == "daemonsets":
                st = {"currentNumberScheduled": 1, "desiredNumberScheduled": 1,
                      "numberAvailable": 1, "numberMisscheduled": 0, "numberReady": 1,
                      "observedGeneration": gen, "updatedNumberScheduled": 1}
            else:
                r = spec.get("replicas", 1)
                st = {"observedGeneration": gen, "replicas": r}
                if r:
                    st.update({"readyReplicas": r, "availableReplicas": r})
                if res == "deployments":
                    if r:
                        st["updatedReplicas"] = r
                    st["conditions"] = [
                        {"type": "Available", "status": "True", "lastUpdateTime": ts,
                         "lastTransitionTime": ts, "reason": "MinimumReplicasAvailable",
                         "message": "Deployment has minimum availability."},
                        {"type": "Progressing", "status": "True", "lastUpdateTime": ts,
                         "lastTransitionTime": ts, "reason": "NewReplicaSetAvailable",
                         "message": 'ReplicaSet "%s-6d4cf56db6" has successfully progressed.'
                                    % name}]
                elif res == "statefulsets":
                    rev = "%s-7b9c6d5f4" % name
                    st.update({"currentReplicas": r, "updatedReplicas": r,
                               "currentRevision": rev, "updateRevision": rev,
                               "collisionCount": 0})
                elif res == "replicasets":
                    st["fullyLabeledReplicas"] = r
            self._status_write(rdef.gr, ns, name, st)

    def _bind_pvc(self, ns, name):
        with self.lock:
            e = self._get(("", "persistentvolumeclaims"), ns, name)
            if e is None:
                return
            req = (((e.obj.get("spec") or {}).get("resources") or {}).get("requests") or {})
            st = {"phase": "Bound", "accessModes": (e.obj.get("spec") or {}).get(
                "accessModes", ["ReadWriteOnce"]), "capacity": {"storage": req.get("storage",
                                                                                   "1Gi")}}
            self._status_write(("", "persistentvolumeclaims"), ns, name, st,
                               "kube-controller-manager")

    def _crd_written(self, crd, old):
        name = crd["metadata"]["name"]
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        st = copy.deepcopy(crd.get("status") or {})
        conds = st.get("conditions") or []
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in conds)
        ts = now_ts()
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        stored = list(st.get("storedVersions") or [])
        for s in storage:
            if s not in stored:
                stored.append(s)
        if established:
            # names/versions may have changed: serve the new definition right away
            self.reg.set_crd(crd)
            newst = dict(st, acceptedNames=names, storedVersions=stored)
            self._status_write(("apiextensions.k8s.io", "customresourcedefinitions"), "", name,
                               newst, "kube-apiserver")
            return
        newst = {"acceptedNames": names, "storedVersions": stored, "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": ts,
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "False", "lastTransitionTime": ts,
             "reason": "Installing", "message": "the initial names have been accepted"}]}
        self._status_write(("apiextensions.k8s.io", "customresourcedefinitions"), "", name,
                           newst, "kube-apiserver")
        uid = crd["metadata"]["uid"]
        self.sched.after(self.opts.crd_delay, lambda: self._establish(name, uid))

    def _establish(self, name, uid):
        with self.lock:
            e = self._get(("apiextensions.k8s.io", "customresourcedefinitions"), "", name)
            if e is None or e.obj["metadata"]["uid"] != uid:
                return
            crd = e.obj
            ts = now_ts()
            st = copy.deepcopy(crd.get("status") or {})
            conds = [c for c in st.get("conditions") or [] if c.get("type") != "Established"]
            conds.append({"type": "Established", "status": "True", "lastTransitionTime": ts,
                          "reason": "InitialNamesAccepted",
                          "message": "the initial names have been accepted"})
            st["conditions"] = conds
            self.reg.set_crd(crd)
            self._status_write(("apiextensions.k8s.io", "customresourcedefinitions"), "", name,
                               st, "kube-apiserver")

    def _crd_deleted(self, crd):
        spec = crd.get("spec") or {}
        gr = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        b = self.data.get(gr) or {}
        for ns in list(b):
            for n in list(b[ns]):
                self._remove(gr, ns, n)
        self.data.pop(gr, None)
        self.reg.remove_crd(crd["metadata"]["name"])

    def compact(self, close_watches=True):
        """Forget the event history up to now, as etcd compaction does: a watch that
        resumes from a resourceVersion older than the current one is answered with an
        ERROR event, 410 Expired ("too old resource version"), as the real apiserver
        answers it, and its client must re-list. With close_watches every open watch
        also ends now (as when an apiserver restarts or a stream times out), so that a
        client resumes, from wherever it was, at once. Returns the compacted revision."""
        with self.lock:
            self.events.clear()
            self.oldest_rv = self.rv + 1
            if close_watches:
                self.watch_epoch += 1
            self.cv.notify_all()
            return self.rv

    # ------------------------------------------------------------------ watch
    def watch_events(self, rdef, ns, from_rv, lreqs, freqs, deadline, alive, bookmarks=False,
                     send_initial=False, bookmark_every=10.0):
        """Generator of (type, obj) events."""
        with self.lock:
            epoch = self.watch_epoch
            initial = []
            if send_initial or from_rv in (None, "", "0"):
                b = self.data.get(rdef.gr) or {}
                for n in ([ns] if ns else sorted(b)):
                    for name in sorted(b.get(n) or {}):
                        o = b[n][name].obj
                        if _sel_ok(o, lreqs, freqs):
                            initial.append(o)
                last = self.rv
            else:
                try:
                    last = int(from_rv)
                except ValueError:
                    raise bad_request("invalid resource version: %s" % from_rv)
                if last < self.oldest_rv - 1:
                    yield ("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                     "status": "Failure",
                                     "message": "too old resource version: %d (%d)"
                                                % (last, self.oldest_rv - 1),
                                     "reason": "Expired", "code": 410})
                    return
        for o in initial:
            yield ("ADDED", o)
        if send_initial:
            yield ("BOOKMARK", {"kind": rdef.kind, "apiVersion": rdef.api_version,
                                "metadata": {"resourceVersion": str(last), "annotations": {
                                    "k8s.io/initial-events-end": "true"}}})
        last_sent = time.monotonic()
        while True:
            batch = []
            with self.lock:
                while True:
                    if self.watch_epoch != epoch:
                        return  # compacted with close_watches: the stream ends
                    if self.events and self.events[-1][0] > last:
                        break
                    now = time.monotonic()
                    remaining = deadline - now
                    if remaining <= 0 or not alive():
                        return
                    if bookmarks and now - last_sent >= bookmark_every:
                        break
                    self.cv.wait(min(remaining, 2.0))
                for ev in reversed(self.events):
                    if ev[0] <= last:
                        break
                    batch.append(ev)
            if not batch:
                last_sent = time.monotonic()
                yield ("BOOKMARK", {"kind": rdef.kind, "apiVersion": rdef.api_version,
                                    "metadata": {"resourceVersion": str(last)}})
                continue
            batch.reverse()
            for rv, gr, ens, etype, obj, old in batch:
                last = rv
                if gr != rdef.gr or (ns and ens != ns):
                    continue
                ok = _sel_ok(obj, lreqs, freqs)
                if etype == "MODIFIED" and (lreqs or freqs):
                    was = old is not None and _sel_ok(old, lreqs, freqs)
                    if ok and not was:
                        last_sent = time.monotonic()
                        yield ("ADDED", obj)
                    elif was and not ok:
                        last_sent = time.monotonic()
                        yield ("DELETED", obj)
                    elif ok:
                        last_sent = time.monotonic()
                        yield ("MODIFIED", obj)
                    continue
                if ok:
                    last_sent = time.monotonic()
                    yield (etype, obj)


def _sel_ok(o, lreqs, freqs):
    if lreqs and not kselect.labels_match(lreqs, o["metadata"].get("labels")):
        return False
    if freqs and not kselect.fields_match(freqs, o):
        return False
    return True


def _extra_fields(rdef):
    if rdef.gr == ("", "pods"):
        return ("spec.nodeName", "status.phase", "spec.serviceAccountName")
    if rdef.gr == ("", "events"):
        return ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
                "involvedObject.uid", "reason", "type")
    if rdef.gr == ("", "secrets"):
        return ("type",)
    return ()


def _valid_qualified_key(k):
    if "/" in k:
        prefix, _, nm = k.partition("/")
        if not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix):
            return False
    else:
        nm = k
    return 0 < len(nm) <= 63 and bool(QUALIFIED_NAME.match(nm))


def _rules_match(rules, op, rdef, sub, match_policy):
    res = rdef.resource + ("/" + sub if sub else "")
    for r in rules:
        ops = r.get("operations") or []
        if "*" not in ops and op not in ops:
            continue
        groups = r.get("apiGroups") or []
        if "*" not in groups and rdef.group not in groups:
            continue
        vers = r.get("apiVersions") or []
        if match_policy == "Exact" and "*" not in vers and rdef.version not in vers:
            continue
        scope = r.get("scope", "*")
        if scope == "Cluster" and rdef.namespaced:
            continue
        if scope == "Namespaced" and not rdef.namespaced:
            continue
        ok = False
        for pat in r.get("resources") or []:
            if pat in ("*/*",) or pat == res:
                ok = True
            elif pat == "*" and not sub:
                ok = True
            elif pat.endswith("/*") and not sub and False:
                ok = True
            elif pat.startswith("*/") and sub and pat[2:] == sub:
                ok = True
            elif pat.endswith("/*") and sub and pat[:-2] == rdef.resource:
                ok = True
            if ok:
                break
        if ok:
            return True
    return False


COMMON_TOP = {"apiVersion", "kind", "metadata"}
DEFAULT_TOP = {"spec", "status"}
TOP_FIELDS = {
    ("", "configmaps"): {"data", "binaryData", "immutable"},
    ("", "secrets"): {"data", "stringData", "type", "immutable"},
    ("", "serviceaccounts"): {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    ("", "endpoints"): {"subsets"},
    ("", "events"): {"involvedObject", "reason", "message", "source", "firstTimestamp",
                     "lastTimestamp", "count", "type", "eventTime", "series", "action",
                     "related", "reportingComponent", "reportingInstance"},
    ("", "podtemplates"): {"template"},
    ("rbac.authorization.k8s.io", "roles"): {"rules"},
    ("rbac.authorization.k8s.io", "clusterroles"): {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "clusterrolebindings"): {"subjects", "roleRef"},
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): {"webhooks"},
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): {"webhooks"},
    ("scheduling.k8s.io", "priorityclasses"): {"value", "globalDefault", "description",
                                               "preemptionPolicy"},
    ("storage.k8s.io", "storageclasses"): {"provisioner", "parameters", "reclaimPolicy",
                                           "mountOptions", "allowVolumeExpansion",
                                           "volumeBindingMode", "allowedTopologies"},
    ("apps", "controllerrevisions"): {"data", "revision"},
    ("discovery.k8s.io", "endpointslices"): {"addressType", "endpoints", "ports"},
    ("node.k8s.io", "runtimeclasses"): {"handler", "overhead", "scheduling"},
}


def _go_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "string"


def _b64(rdef, v):
    try:
        base64.b64decode(v.encode(), validate=True)
    except Exception:
        raise bad_request('%s in version "%s" cannot be handled as a %s: illegal base64 data '
                          'at input byte %d' % (rdef.kind, rdef.version, rdef.kind,
                                                _b64_bad_at(v)))


def _b64_bad_at(v):
    ok = set(string.ascii_letters + string.digits + "+/=")
    for i, ch in enumerate(v):
        if ch not in ok:
            return i
    return len(v) - len(v) % 4


def _go_selector(sel):
    ml = sel.get("matchLabels") or {}
    me = sel.get("matchExpressions")
    inner = ", ".join('"%s":"%s"' % kv for kv in sorted(ml.items()))
    return ("v1.LabelSelector{MatchLabels:map[string]string{%s}, MatchExpressions:%s}"
            % (inner, "[]v1.LabelSelectorRequirement(nil)" if not me else
               "[]v1.LabelSelectorRequirement{...}"))


STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _immutable(rdef, obj, old):
    """Update rules of the real server that refuse changes (field is immutable, ...)."""
    errs = []
    gr = rdef.gr
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    ospec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    if gr in (("apps", "deployments"), ("apps", "replicasets"), ("apps", "daemonsets"),
              ("apps", "statefulsets")):
        if "selector" in ospec and spec.get("selector") != ospec.get("selector"):
            errs.append(("spec.selector", "FieldValueInvalid",
                         "Invalid value: %s: field is immutable"
                         % _go_selector(spec.get("selector") or {})))
        if gr == ("apps", "statefulsets") and not errs:
            a = {k: v for k, v in spec.items() if k not in STS_MUTABLE}
            b = {k: v for k, v in ospec.items() if k not in STS_MUTABLE}
            if a != b:
                errs.append(("spec", "FieldValueForbidden",
                             "Forbidden: updates to statefulset spec for fields other than "
                             "'replicas', 'ordinals', 'template', 'updateStrategy', "
                             "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                             "are forbidden"))
    elif gr == ("batch", "jobs"):
        if spec.get("template") != ospec.get("template"):
            errs.append(("spec.template", "FieldValueInvalid",
                         "Invalid value: core.PodTemplateSpec{...}: field is immutable"))
        if "selector" in ospec and spec.get("selector") not in (None, ospec.get("selector")):
            errs.append(("spec.selector", "FieldValueInvalid",
                         "Invalid value: %s: field is immutable"
                         % _go_selector(spec.get("selector") or {})))
    elif gr in (("rbac.authorization.k8s.io", "rolebindings"),
                ("rbac.authorization.k8s.io", "clusterrolebindings")):
        if obj.get("roleRef") != old.get("roleRef"):
            rr = obj.get("roleRef") or {}
            errs.append(("roleRef", "FieldValueInvalid",
                         'Invalid value: rbac.RoleRef{APIGroup:"%s", Kind:"%s", Name:"%s"}: '
                         'cannot change roleRef' % (rr.get("apiGroup", ""), rr.get("kind", ""),
                                                    rr.get("name", ""))))
    elif gr in (("", "configmaps"), ("", "secrets")):
        if old.get("immutable"):
            for f in ("data", "binaryData") if gr[1] == "configmaps" else ("data",):
                if obj.get(f) != old.get(f):
                    errs.append((f, "FieldValueForbidden",
                                 "Forbidden: field is immutable when `immutable` is set"))
            if not obj.get("immutable"):
                errs.append(("immutable", "FieldValueForbidden",
                             "Forbidden: field is immutable when `immutable` is set"))
        if gr[1] == "secrets" and old.get("type") and obj.get("type", "Opaque") != old["type"]:
            errs.append(("type", "FieldValueInvalid",
                         "Invalid value: %s: field is immutable" % gostr(obj.get("type",
                                                                                "Opaque"))))
    elif gr == ("", "services"):
        oip = ospec.get("clusterIP")
        nip = spec.get("clusterIP")
        if oip and nip and nip != oip:
            errs.append(("spec.clusterIPs[0]", "FieldValueInvalid",
                         'Invalid value: []string{"%s"}: may not change once set' % nip))
    elif gr == ("", "persistentvolumeclaims"):
        a = dict(spec)
        b = dict(ospec)
        for d in (a, b):
            d.pop("resources", None)
            d.pop("volumeAttributesClassName", None)
        if a != b:
            errs.append(("spec", "FieldValueForbidden",
                         "Forbidden: spec is immutable after creation except "
                         "resources.requests and volumeAttributesClassName for bound claims"))
    return errs


def _validate_service(obj):
    errs = []
    spec = obj.get("spec") or {}
    t = spec.get("type", "ClusterIP")
    if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        errs.append(("spec.type", "FieldValueNotSupported",
                     'Unsupported value: %s: supported values: "ClusterIP", "ExternalName", '
                     '"LoadBalancer", "NodePort"' % gostr(t)))
    ports = spec.get("ports") or []
    if t != "ExternalName" and not ports and spec.get("clusterIP") != "None":
        errs.append(("spec.ports", "FieldValueRequired", "Required value"))
    for i, p in enumerate(ports):
        if not isinstance(p, dict):
            continue
        port = p.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errs.append(("spec.ports[%d].port" % i, "FieldValueInvalid",
                         "Invalid value: %s: must be between 1 and 65535, inclusive"
                         % json.dumps(port)))
        if len(ports) > 1 and not p.get("name"):
            errs.append(("spec.ports[%d].name" % i, "FieldValueRequired", "Required value"))
    return errs


def _validate_workload(obj):
    errs = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [("spec.selector", "FieldValueRequired", "Required value")]
    sel = spec.get("selector")
    if not sel:
        errs.append(("spec.selector", "FieldValueRequired", "Required value"))
    tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if sel:
        try:
            reqs = kselect.label_selector_from_object(sel)
            if not kselect.labels_match(reqs, tl):
                errs.append(("spec.template.metadata.labels", "FieldValueInvalid",
                             "Invalid value: map[string]string{%s}: `selector` does not match "
                             "template `labels`" % ", ".join('"%s":"%s"' % kv for kv in
                                                              sorted(tl.items()))))
        except kselect.SelectorError:
            pass
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
    if not containers:
        errs.append(("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    return errs
