#!/usr/bin/env python3
"""Checks Istio YAML documents against Istio's CRD schemas (python3 + yaml + jsonschema only).

    crd_check.py --crds customresourcedefinitions.gen.yaml [--schema-only] FILE...

Every document whose apiVersion is an Istio group (networking.istio.io, security.istio.io, ...)
is checked against the openAPIV3Schema of its CRD at that exact version, in two ways:

1. jsonschema (Draft 7, the nearest draft to OpenAPI v3's schema objects) validates types,
   enums, required fields and the oneOf/anyOf/not constraints. `x-kubernetes-*` keys are
   Kubernetes extensions jsonschema does not know and are dropped, except
   `x-kubernetes-int-or-string`, which becomes "integer or string". CEL rules
   (`x-kubernetes-validations`) are not evaluated.
2. A walker fails every field the schema does not declare. The CRD schemas do not forbid unknown
   fields (no `additionalProperties: false`; the API server prunes them), so without this a
   misspelt field would pass. An object with `properties` admits only those keys (plus those of
   its allOf/anyOf/oneOf branches); one with `additionalProperties` (a map) admits any key and
   walks each value with that schema; `x-kubernetes-preserve-unknown-fields: true` admits
   anything below it. metadata is checked against the ObjectMeta fields a manifest may carry.

Other documents (Services, Deployments, ...) are counted and skipped. Prints one line per
document and exits 0 when every Istio document passes, 1 otherwise, 2 on bad input.
--schema-only runs step 1 alone (the test uses it to show step 2 is needed).
"""
import argparse
import copy
import sys

import jsonschema
import yaml

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io")

# metadata of a manifest: the writable fields of Kubernetes' ObjectMeta.
OBJECT_META = {"name", "namespace", "labels", "annotations", "generateName", "finalizers", "ownerReferences",
               "uid", "resourceVersion", "generation", "creationTimestamp"}


def load_crds(path):
    """{(group, kind, version): openAPIV3Schema}"""
    out = {}
    with open(path) as f:
        for d in yaml.safe_load_all(f):
            if not d or d.get("kind") != "CustomResourceDefinition":
                continue
            spec = d["spec"]
            for v in spec["versions"]:
                out[(spec["group"], spec["names"]["kind"], v["name"])] = v["schema"]["openAPIV3Schema"]
    return out


def to_jsonschema(s):
    """An OpenAPI v3 structural schema as a Draft 7 schema (copy)."""
    if isinstance(s, list):
        return [to_jsonschema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k.startswith("x-kubernetes-"):
            continue
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: to_jsonschema(sub) for name, sub in v.items()}
        else:
            out[k] = to_jsonschema(v)
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if s.get("nullable"):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
    out.pop("nullable", None)
    return out


def declared(schema):
    """The property names an object schema declares, with those of its allOf/anyOf/oneOf branches."""
    props = dict(schema.get("properties") or {})
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            if isinstance(branch, dict):
                for name, sub in (branch.get("properties") or {}).items():
                    props.setdefault(name, sub)
    return props


def path_join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def walk(value, schema, path, errors):
    """Appends 'path: not in the schema' for every field the schema does not declare."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = declared(schema)
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            p = path_join(path, k)
            if k in props:
                walk(v, props[k], p, errors)
            elif isinstance(extra, dict):
                walk(v, extra, p, errors)
            elif extra is True:
                continue
            else:
                known = ", ".join(sorted(props)) or "none"
                errors.append("%s: field not in the schema (known here: %s)" % (p, known))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                walk(v, items, "%s[%d]" % (path, i), errors)


def check_doc(doc, crds, schema_only):
    """Returns (label, errors) for an Istio document, or None for any other document."""
    api = doc.get("apiVersion", "") if isinstance(doc, dict) else ""
    group, _, version = api.partition("/")
    if group not in ISTIO_GROUPS:
        return None
    kind = doc.get("kind", "?")
    meta = doc.get("metadata") or {}
    label = "%s %s/%s (%s)" % (kind, meta.get("namespace", "-"), meta.get("name", "?"), api)
    schema = crds.get((group, kind, version))
    if schema is None:
        return label, ["no CRD for %s %s" % (api, kind)]
    errors = []
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    v = jsonschema.Draft7Validator(to_jsonschema(schema))
    for e in sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = ".".join("[%d]" % p if isinstance(p, int) else str(p) for p in e.absolute_path).replace(".[", "[")
        errors.append("%s: %s" % (where or "(document)", e.message))
    if schema_only:
        return label, errors
    if not isinstance(meta, dict) or not meta.get("name"):
        errors.append("metadata.name: missing")
    elif isinstance(meta, dict):
        for k in meta:
            if k not in OBJECT_META:
                errors.append("metadata.%s: not an ObjectMeta field" % k)
    walk(body, schema, "", errors)
    return label, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crds", required=True)
    ap.add_argument("--schema-only", action="store_true", help="jsonschema only, no unknown-field walk")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    try:
        crds = load_crds(a.crds)
    except (OSError, yaml.YAMLError, KeyError) as e:
        print("crd_check: cannot read CRDs from %s: %s" % (a.crds, e), file=sys.stderr)
        return 2
    checked = skipped = bad = 0
    for path in a.files:
        try:
            with open(path) if path != "-" else sys.stdin as f:
                docs = [copy.deepcopy(d) for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as e:
            print("crd_check: %s: %s" % (path, e), file=sys.stderr)
            return 2
        for doc in docs:
            r = check_doc(doc, crds, a.schema_only)
            if r is None:
                skipped += 1
                continue
            label, errors = r
            checked += 1
            if errors:
                bad += 1
                print("FAIL %s" % label)
                for e in errors:
                    print("  %s" % e)
            else:
                print("ok   %s" % label)
    print("crd_check: %d Istio documents checked, %d failed; %d other documents skipped" % (checked, bad, skipped))
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
