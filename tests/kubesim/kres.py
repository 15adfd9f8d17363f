"""Resource registry for kubesim: built-in resources, CRD-defined resources,
discovery documents (legacy and aggregated v2) and a minimal OpenAPI v3."""

import re

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
READ_VERBS = ["get", "list", "watch"]
SUB_VERBS = ["get", "patch", "update"]

# name validation styles
SUBDOMAIN = "subdomain"   # DNS-1123 subdomain (most kinds)
LABEL = "label"           # DNS-1123 label (namespaces)
DNS1035 = "dns1035"       # DNS-1035 label (services)
PATHSEG = "path"          # path segment name (RBAC, ...)


class ResDef(object):
    """One resource at one group/version."""

    __slots__ = ("group", "version", "resource", "kind", "namespaced", "short", "singular",
                 "verbs", "categories", "status_sub", "scale_sub", "generation", "naming",
                 "builtin", "crd", "list_kind", "schema", "storage_version", "extra_subs")

    def __init__(self, group, version, resource, kind, namespaced, short=(), verbs=None,
                 categories=(), status_sub=False, scale_sub=False, generation=True,
                 naming=SUBDOMAIN, builtin=True, crd=None, schema=None, storage_version=None,
                 extra_subs=()):
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.singular = kind.lower()
        self.verbs = list(verbs if verbs is not None else ALL_VERBS)
        self.categories = list(categories)
        self.status_sub = status_sub
        self.scale_sub = scale_sub
        self.generation = generation
        self.naming = naming
        self.builtin = builtin
        self.crd = crd
        self.list_kind = kind + "List"
        self.schema = schema
        self.storage_version = storage_version or version
        self.extra_subs = list(extra_subs)

    @property
    def gr(self):
        return (self.group, self.resource)

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    @property
    def gr_string(self):
        """'deployments.apps' or 'configmaps' as in error messages."""
        return self.resource + "." + self.group if self.group else self.resource


def _b(group, version, resource, kind, namespaced, **kw):
    return ResDef(group, version, resource, kind, namespaced, **kw)


NOGEN = dict(generation=False)

BUILTINS = [
    # core/v1
    _b("", "v1", "namespaces", "Namespace", False, short=["ns"], status_sub=True, naming=LABEL,
       generation=False, verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
       extra_subs=["finalize"]),
    _b("", "v1", "configmaps", "ConfigMap", True, short=["cm"], **NOGEN),
    _b("", "v1", "secrets", "Secret", True, **NOGEN),
    _b("", "v1", "services", "Service", True, short=["svc"], categories=["all"], status_sub=True,
       naming=DNS1035, generation=False,
       verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
    _b("", "v1", "serviceaccounts", "ServiceAccount", True, short=["sa"], **NOGEN),
    _b("", "v1", "pods", "Pod", True, short=["po"], categories=["all"], status_sub=True,
       generation=False),
    _b("", "v1", "nodes", "Node", False, short=["no"], status_sub=True, generation=False),
    _b("", "v1", "endpoints", "Endpoints", True, short=["ep"], **NOGEN),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, short=["pvc"],
       status_sub=True, generation=False),
    _b("", "v1", "persistentvolumes", "PersistentVolume", False, short=["pv"], status_sub=True,
       generation=False),
    _b("", "v1", "events", "Event", True, short=["ev"], **NOGEN),
    _b("", "v1", "limitranges", "LimitRange", True, short=["limits"], **NOGEN),
    _b("", "v1", "resourcequotas", "ResourceQuota", True, short=["quota"], status_sub=True,
       generation=False),
    _b("", "v1", "replicationcontrollers", "ReplicationController", True, short=["rc"],
       categories=["all"], status_sub=True, scale_sub=True),
    _b("", "v1", "podtemplates", "PodTemplate", True, **NOGEN),
    # apps/v1
    _b("apps", "v1", "deployments", "Deployment", True, short=["deploy"], categories=["all"],
       status_sub=True, scale_sub=True),
    _b("apps", "v1", "statefulsets", "StatefulSet", True, short=["sts"], categories=["all"],
       status_sub=True, scale_sub=True),
    _b("apps", "v1", "daemonsets", "DaemonSet", True, short=["ds"], categories=["all"],
       status_sub=True),
    _b("apps", "v1", "replicasets", "ReplicaSet", True, short=["rs"], categories=["all"],
       status_sub=True, scale_sub=True),
    _b("apps", "v1", "controllerrevisions", "ControllerRevision", True, **NOGEN),
    # batch/v1
    _b("batch", "v1", "jobs", "Job", True, categories=["all"], status_sub=True),
    _b("batch", "v1", "cronjobs", "CronJob", True, short=["cj"], categories=["all"],
       status_sub=True),
    # rbac
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role", True, naming=PATHSEG, **NOGEN),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, naming=PATHSEG,
       **NOGEN),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, naming=PATHSEG,
       **NOGEN),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
       naming=PATHSEG, **NOGEN),
    # apiextensions
    _b("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       False, short=["crd", "crds"], categories=["api-extensions"], status_sub=True),
    # admissionregistration
    _b("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False, categories=["api-extensions"]),
    _b("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False, categories=["api-extensions"]),
    _b("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
       "ValidatingAdmissionPolicy", False, categories=["api-extensions"], status_sub=True),
    _b("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
       "ValidatingAdmissionPolicyBinding", False, categories=["api-extensions"]),
    # networking
    _b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short=["netpol"]),
    _b("networking.k8s.io", "v1", "ingresses", "Ingress", True, short=["ing"], status_sub=True),
    _b("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    # policy
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, short=["pdb"],
       status_sub=True),
    # scheduling
    _b("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short=["pc"],
       **NOGEN),
    # coordination
    _b("coordination.k8s.io", "v1", "leases", "Lease", True, **NOGEN),
    # autoscaling
    _b("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
       short=["hpa"], categories=["all"], status_sub=True),
    _b("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
       short=["hpa"], categories=["all"], status_sub=True, storage_version="v2"),
    # apiregistration
    _b("apiregistration.k8s.io", "v1", "apiservices", "APIService", False,
       categories=["api-extensions"], status_sub=True),
    # storage
    _b("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short=["sc"], **NOGEN),
    _b("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    # discovery
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, **NOGEN),
    # events.k8s.io is served from the same storage as core events in the real
    # server; kubesim keeps it separate (rarely used by clients).
    _b("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, **NOGEN),
    _b("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
       False, short=["csr"], status_sub=True, extra_subs=["approval"]),
]

# Preferred version of built-in groups (first listed wins).
BUILTIN_GROUP_ORDER = [
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
    "policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
    "discovery.k8s.io",
]

_VER_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority_key(v):
    """Sort key giving Kubernetes version priority (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 >
    others alphabetically).  Smaller key sorts first = higher priority."""
    m = _VER_RE.match(v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)


class Registry(object):
    """Maps (group, version, resource) and (group, version, kind) to ResDef.

    Built-ins are fixed; CRD resources are added once the CRD is Established and removed
    when the CRD is deleted."""

    def __init__(self):
        self.by_gvr = {}
        self.by_gvk = {}
        self.crd_defs = {}      # crd name -> [ResDef]
        self.generation = 0     # bumps on every change (discovery cache key)
        for d in BUILTINS:
            self._add(d)

    def _add(self, d):
        self.by_gvr[(d.group, d.version, d.resource)] = d
        self.by_gvk[(d.group, d.version, d.kind)] = d

    def lookup(self, group, version, resource):
        return self.by_gvr.get((group, version, resource))

    def lookup_kind(self, group, version, kind):
        return self.by_gvk.get((group, version, kind))

    def group_versions(self, group):
        return sorted({d.version for d in self.by_gvr.values() if d.group == group},
                      key=version_priority_key)

    def groups(self):
        gs = {d.group for d in self.by_gvr.values() if d.group}
        order = {g: i for i, g in enumerate(BUILTIN_GROUP_ORDER)}
        return sorted(gs, key=lambda g: (0, order[g], g) if g in order else (1, 0, g))

    def resources_in(self, group, version):
        return sorted((d for d in self.by_gvr.values()
                       if d.group == group and d.version == version),
                      key=lambda d: d.resource)

    def set_crd(self, crd):
        """Register the served versions of an Established CRD."""
        self.remove_crd(crd["metadata"]["name"], bump=False)
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        group = spec.get("group", "")
        namespaced = spec.get("scope") == "Namespaced"
        defs = []
        storage = None
        for v in spec.get("versions", []) or []:
            if v.get("storage"):
                storage = v.get("name")
        for v in spec.get("versions", []) or []:
            if not v.get("served"):
                continue
            subs = v.get("subresources") or {}
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            d = ResDef(group, v["name"], names.get("plural", ""), names.get("kind", ""),
                       namespaced, short=names.get("shortNames") or [],
                       categories=names.get("categories") or [],
                       status_sub="status" in subs, scale_sub="scale" in subs,
                       builtin=False, crd=crd["metadata"]["name"], schema=schema,
                       storage_version=storage)
            if names.get("singular"):
                d.singular = names["singular"]
            if names.get("listKind"):
                d.list_kind = names["listKind"]
            defs.append(d)
            self._add(d)
        self.crd_defs[crd["metadata"]["name"]] = defs
        self.generation += 1

    def remove_crd(self, name, bump=True):
        for d in self.crd_defs.pop(name, []):
            self.by_gvr.pop((d.group, d.version, d.resource), None)
            self.by_gvk.pop((d.group, d.version, d.kind), None)
        if bump:
            self.generation += 1

    def is_builtin_group(self, group):
        return any(d.builtin and d.group == group for d in BUILTINS)

    # ------------------------------------------------------------------ discovery
    def api_versions(self, server_addr):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": server_addr}]}

    def _group_doc(self, g):
        vs = self.group_versions(g)
        return {"name": g,
                "versions": [{"groupVersion": g + "/" + v, "version": v} for v in vs],
                "preferredVersion": {"groupVersion": g + "/" + vs[0], "version": vs[0]}}

    def api_group_list(self):
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self._group_doc(g) for g in self.groups()]}

    def api_group(self, g):
        if g not in self.groups():
            return None
        d = self._group_doc(g)
        d["kind"] = "APIGroup"
        d["apiVersion"] = "v1"
        return d

    def _subresources(self, d):
        subs = []
        if d.status_sub:
            subs.append(("status", d.kind, SUB_VERBS))
        if d.scale_sub:
            subs.append(("scale", "Scale", SUB_VERBS))
        for s in d.extra_subs:
            subs.append((s, d.kind, ["update"] if s == "finalize" else SUB_VERBS))
        return subs

    def api_resource_list(self, group, version):
        ds = self.resources_in(group, version)
        if not ds:
            return None
        gv = group + "/" + version if group else version
        res = []
        for d in ds:
            e = {"name": d.resource, "singularName": d.singular, "namespaced": d.namespaced,
                 "kind": d.kind, "verbs": d.verbs}
            if d.short:
                e["shortNames"] = d.short
            if d.categories:
                e["categories"] = d.categories
            if d.storage_version and d.builtin:
                pass
            res.append(e)
            for sname, skind, sverbs in self._subresources(d):
                se = {"name": d.resource + "/" + sname, "singularName": "",
                      "namespaced": d.namespaced, "kind": skind, "verbs": sverbs}
                if sname == "scale":
                    se["group"] = "autoscaling"
                    se["version"] = "v1"
                res.append(se)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": res}

    def aggregated(self, legacy):
        """apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (legacy) or /apis."""
        groups = [""] if legacy else self.groups()
        items = []
        for g in groups:
            versions = []
            for v in self.group_versions(g):
                rs = []
                for d in self.resources_in(g, v):
                    e = {"resource": d.resource,
                         "responseKind": {"group": "", "version": "", "kind": d.kind},
                         "scope": "Namespaced" if d.namespaced else "Cluster",
                         "singularResource": d.singular, "verbs": d.verbs}
                    if d.short:
                        e["shortNames"] = d.short
                    if d.categories:
                        e["categories"] = d.categories
                    subs = []
                    for sname, skind, sverbs in self._subresources(d):
                        rk = {"group": "", "version": "", "kind": skind}
                        if sname == "scale":
                            rk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
                        subs.append({"subresource": sname, "responseKind": rk,
                                     "verbs": sverbs})
                    if subs:
                        e["subresources"] = subs
                    rs.append(e)
                versions.append({"version": v, "resources": rs, "freshness": "Current"})
            item = {"metadata": {"creationTimestamp": None}, "versions": versions}
            if g:
                item["metadata"]["name"] = g
            items.append(item)
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {}, "items": items}

    # ------------------------------------------------------------------ openapi v3
    def openapi_root(self):
        # Only built-in group/versions are listed: for a custom resource kubectl then finds
        # no document for its group/version and falls back to the Namespace document to
        # decide that the server validates fields (what it concludes against a real server
        # too).  Listing a CRD group would make kubectl fail for a kind of that group whose
        # CRD is not Established yet (it would then look for the OpenAPI v2 protobuf).
        paths = {}
        for g in [""] + self.groups():
            if not self.is_builtin_group(g) and g:
                continue
            for v in self.group_versions(g):
                p = "api/" + v if not g else "apis/" + g + "/" + v
                paths[p] = {"serverRelativeURL": "/openapi/v3/" + p + "?hash=KUBESIM%d"
                            % self.generation}
        return {"paths": paths}

    def openapi_gv(self, group, version):
        """A minimal OpenAPI v3 document: one PATCH operation per resource carrying the
        x-kubernetes-group-version-kind extension and the fieldValidation query parameter
        (kubectl looks for exactly that to decide that the server validates fields)."""
        ds = self.resources_in(group, version)
        if not ds:
            return None
        prefix = "/api/" + version if not group else "/apis/" + group + "/" + version
        paths = {}
        params = [{"name": n, "in": "query", "schema": {"type": "string"}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
        for d in ds:
            if d.namespaced:
                p = prefix + "/namespaces/{namespace}/" + d.resource + "/{name}"
            else:
                p = prefix + "/" + d.resource + "/{name}"
            gvk = {"group": group, "version": version, "kind": d.kind}
            op = {"operationId": "patch" + d.kind, "parameters": params,
                  "x-kubernetes-action": "patch",
                  "x-kubernetes-group-version-kind": gvk,
                  "responses": {"200": {"description": "OK"}}}
            paths[p] = {"patch": op,
                        "get": {"operationId": "read" + d.kind, "x-kubernetes-action": "get",
                                "x-kubernetes-group-version-kind": gvk,
                                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": "v1.32.0"},
                "paths": paths,
                "components": {"schemas": {}}}
