#!/usr/bin/env python3
"""Unit tests of kubesim's pure parts (YAML reader, selectors, SSA, patches, protobuf).
Standard library only: python3 tests/kubesim/selftest.py"""

import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kapi  # noqa: E402
import kproto  # noqa: E402
import kres  # noqa: E402
import kselect  # noqa: E402
import kssa  # noqa: E402
import kyaml  # noqa: E402


class YAMLTest(unittest.TestCase):
    def test_scalars_and_collections(self):
        doc = kyaml.load(
            "# c\n"
            "a: 1\n"
            "b: \"two # no comment\"  # comment\n"
            "c: 'it''s'\n"
            "d: [1, 2, {x: z, w: [a, b]}, \"q,r\"]\n"
            "e: {k: v,\n  k2: [1,\n   2]}\n"
            "f: |\n  line1\n\n  line3\n"
            "g: >-\n  folded\n  text\n\n  para\n"
            "h: |+\n  keep\n\n"
            "i: yes\nj: off\nk: ~\nl: 0x1F\nm: 1.5\n"
            "nn: \"multi\n  line\"\n"
            "o: plain\n  continued\n"
            "p: &anc\n  q: 1\nr: *anc\n"
            "s:\n- a\n- - nested\n  - seq\n- k: v\n  k2: v2\n"
            "t: ''\nu: '0123'\nv: !!str 0777\n"
            "url: http://x.y/z#frag\n"
            "\"quoted key\": 1\n"
            "empty:\n")
        self.assertEqual(doc["a"], 1)
        self.assertEqual(doc["b"], "two # no comment")
        self.assertEqual(doc["c"], "it's")
        self.assertEqual(doc["d"], [1, 2, {"x": "z", "w": ["a", "b"]}, "q,r"])
        self.assertEqual(doc["e"], {"k": "v", "k2": [1, 2]})
        self.assertEqual(doc["f"], "line1\n\nline3\n")
        self.assertEqual(doc["g"], "folded text\npara")
        self.assertEqual(doc["h"], "keep\n\n")
        self.assertIs(doc["i"], True)
        self.assertIs(doc["j"], False)
        self.assertIsNone(doc["k"])
        self.assertEqual(doc["l"], 31)
        self.assertEqual(doc["m"], 1.5)
        self.assertEqual(doc["nn"], "multi line")
        self.assertEqual(doc["o"], "plain continued")
        self.assertEqual(doc["r"], {"q": 1})
        self.assertEqual(doc["s"], ["a", ["nested", "seq"], {"k": "v", "k2": "v2"}])
        self.assertEqual(doc["t"], "")
        self.assertEqual(doc["u"], "0123")
        self.assertEqual(doc["v"], "0777")
        self.assertEqual(doc["url"], "http://x.y/z#frag")
        self.assertEqual(doc["quoted key"], 1)
        self.assertIsNone(doc["empty"])

    def test_documents(self):
        docs = kyaml.load_all("a: 1\n---\nb: 2\n...\n---\n- x\n")
        self.assertEqual(docs, [{"a": 1}, {"b": 2}, ["x"]])
        with self.assertRaises(kyaml.YAMLError):
            kyaml.load("a: 1\n---\nb: 2\n")

    def test_block_scalar_in_sequence(self):
        doc = kyaml.load("cmd:\n- sh\n- -c\n- |\n  echo hi\n  exit 0\nnext: 1\n")
        self.assertEqual(doc, {"cmd": ["sh", "-c", "echo hi\nexit 0\n"], "next": 1})

    def test_errors(self):
        for bad in ("a: [1, 2\n", "a: \"open\n", "a:\n  b: 1\n c: 2\n"):
            with self.assertRaises(kyaml.YAMLError):
                kyaml.load(bad)


class SelectorTest(unittest.TestCase):
    def test_label_selectors(self):
        labels = {"env": "prod", "tier": "db"}
        ok = ["env=prod", "env==prod", "env!=dev", "env in (prod, qa)", "env notin (dev)",
              "tier", "!app", "env,tier=db", ""]
        for s in ok:
            self.assertTrue(kselect.labels_match(kselect.parse_label_selector(s), labels), s)
        no = ["env=dev", "env!=prod", "env in (dev)", "env notin (prod)", "app", "!env"]
        for s in no:
            self.assertFalse(kselect.labels_match(kselect.parse_label_selector(s), labels), s)
        with self.assertRaises(kselect.SelectorError):
            kselect.parse_label_selector("env=@@")

    def test_object_selector(self):
        reqs = kselect.label_selector_from_object(
            {"matchLabels": {"a": "b"},
             "matchExpressions": [{"key": "c", "operator": "NotIn", "values": ["d"]}]})
        self.assertTrue(kselect.labels_match(reqs, {"a": "b"}))
        self.assertFalse(kselect.labels_match(reqs, {"a": "b", "c": "d"}))


class SSATest(unittest.TestCase):
    ctx = kssa.Ctx(True, None)

    def cm(self, **data):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                "data": data}

    def test_conflict_and_force(self):
        obj, m = kssa.apply(None, self.cm(a="1", b="2"), {}, "alice", "v1", "t", False,
                            self.ctx, False)
        with self.assertRaises(kssa.ApplyConflict) as cm:
            kssa.apply(obj, self.cm(a="9"), m, "bob", "v1", "t", False, self.ctx, False)
        msg = kssa.conflict_message(cm.exception.conflicts)
        self.assertEqual(msg, 'Apply failed with 1 conflict: conflict with "alice": .data.a')
        # same value: shared ownership, no conflict
        obj2, m2 = kssa.apply(obj, self.cm(a="1"), m, "bob", "v1", "t", False, self.ctx, False)
        self.assertEqual(obj2["data"], {"a": "1", "b": "2"})
        # force takes over
        obj3, m3 = kssa.apply(obj, self.cm(a="9", b="8"), m, "bob", "v1", "t", True, self.ctx,
                              False)
        self.assertEqual(obj3["data"], {"a": "9", "b": "8"})
        self.assertNotIn(("alice", "Apply", ""), m3)

    def test_multi_conflict_message(self):
        c = [('"a"', ("f:data", "f:x")), ('"a"', ("f:data", "f:y")), ('"b"', ("f:spec", "f:z"))]
        self.assertEqual(kssa.conflict_message(c),
                         'Apply failed with 3 conflicts: conflicts with "a":\n- .data.x\n'
                         '- .data.y\nconflicts with "b":\n- .spec.z')

    def test_removal_of_unapplied_fields(self):
        obj, m = kssa.apply(None, self.cm(a="1", b="2"), {}, "alice", "v1", "t", False,
                            self.ctx, False)
        obj, m = kssa.apply(obj, self.cm(a="1"), m, "alice", "v1", "t", False, self.ctx, False)
        self.assertEqual(obj["data"], {"a": "1"})

    def test_keyed_lists(self):
        d1 = {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "1"}]}}}}
        d2 = {"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "2"}]}}}}
        obj, m = kssa.apply(None, d1, {}, "m1", "apps/v1", "t", False, self.ctx, False)
        obj, m = kssa.apply(obj, d2, m, "m2", "apps/v1", "t", False, self.ctx, False)
        names = [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(names, ["a", "b"])
        p = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"a"}', "f:image")
        self.assertEqual(kssa.path_string(p), '.spec.template.spec.containers[name="a"].image')

    def test_fields_v1_round_trip(self):
        flat = kssa.flatten({"metadata": {"name": "x", "labels": {"a": "b"}},
                             "spec": {"ports": [{"port": 80}]}}, self.ctx)
        tree = kssa.to_fields_v1(set(flat))
        self.assertEqual(kssa.from_fields_v1(tree), set(flat))

    def test_patches(self):
        self.assertEqual(kssa.merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None}, "d": 3}),
                         {"a": 1, "b": {}, "d": 3})
        self.assertEqual(kssa.json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2},
                                                      {"op": "replace", "path": "/a/0",
                                                       "value": 0}]), {"a": [0, 2]})
        smp = kssa.strategic_merge_patch(
            {"containers": [{"name": "a", "image": "1", "x": 1}, {"name": "b"}]},
            {"containers": [{"name": "a", "image": "2"}, {"name": "b", "$patch": "delete"}],
             "$setElementOrder/containers": [{"name": "a"}]})
        self.assertEqual(smp, {"containers": [{"name": "a", "image": "2", "x": 1}]})


class ProtoTest(unittest.TestCase):
    def test_configmap(self):
        def ld(fn, b):
            return bytes([fn << 3 | 2, len(b)]) + b
        meta = ld(1, b"cm") + ld(3, b"ns")
        entry = ld(1, b"k") + ld(2, b"v")
        raw = ld(1, meta) + ld(2, entry)
        tm = ld(1, b"v1") + ld(2, b"ConfigMap")
        body = b"k8s\x00" + ld(1, tm) + ld(2, raw)
        self.assertEqual(kproto.decode(body),
                         {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "cm", "namespace": "ns"}, "data": {"k": "v"}})


class ApiTest(unittest.TestCase):
    def setUp(self):
        opts = kapi.Options()
        opts.crd_delay = 0
        self.api = kapi.Api(opts)
        self.cmdef = self.api.reg.lookup("", "v1", "configmaps")

    def test_create_get_conflicts(self):
        body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}'
        obj = self.api.decode_body(body, "application/json")
        out = self.api.create(self.cmdef, "default", body, obj, {}, None, "t", False)
        self.assertEqual(out["metadata"]["resourceVersion"], str(self.api.rv))
        with self.assertRaises(kapi.ApiError) as e:
            obj = self.api.decode_body(body, "application/json")
            self.api.create(self.cmdef, "default", body, obj, {}, None, "t", False)
        self.assertEqual(e.exception.code, 409)
        self.assertEqual(e.exception.reason, "AlreadyExists")
        with self.assertRaises(kapi.ApiError) as e:
            obj = self.api.decode_body(body, "application/json")
            self.api.create(self.cmdef, "nope", body, obj, {}, None, "t", False)
        self.assertEqual(e.exception.status()["message"], 'namespaces "nope" not found')

    def test_noop_apply_keeps_rv(self):
        body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"x":"1"}}'
        q = {"fieldManager": "m"}
        o1, created = self.api.apply(self.cmdef, "default", "b", body, q, False)
        self.assertTrue(created)
        o2, created = self.api.apply(self.cmdef, "default", "b", body, q, False)
        self.assertFalse(created)
        self.assertEqual(o1["metadata"]["resourceVersion"], o2["metadata"]["resourceVersion"])

    def test_secret_string_data(self):
        sdef = self.api.reg.lookup("", "v1", "secrets")
        body = b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},' \
               b'"stringData":{"u":"p"}}'
        o, _ = self.api.apply(sdef, "default", "s", body, {"fieldManager": "m"}, False)
        self.assertEqual(o["data"], {"u": base64.b64encode(b"p").decode()})
        self.assertNotIn("stringData", o)

    def test_version_priority(self):
        vs = ["v1alpha1", "v1", "v2beta1", "v1beta1", "v2", "foo"]
        self.assertEqual(sorted(vs, key=kres.version_priority_key),
                         ["v2", "v1", "v2beta1", "v1beta1", "v1alpha1", "foo"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
