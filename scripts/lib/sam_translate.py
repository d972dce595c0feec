#!/usr/bin/env python3
"""Runs the AWS SAM transform on infra/template.yaml, offline, the way
CloudFormation would at deploy time, and writes the resulting plain
CloudFormation template (JSON) for cfn-lint to check.

    sam_translate.py TEMPLATE OUTPUT [--param NAME=VALUE ...]

cfn-lint alone validates SAM resources against SAM's schema but does not
run the transform, so mistakes that only show in the generated resources
(the HTTP API's OpenAPI body, the function's role, permissions, stages) go
unseen; this closes that gap. Local CodeUri/ContentUri paths are replaced
by placeholder S3 locations (as `sam package` would upload them), and
CommaDelimitedList parameters are passed as lists, as CloudFormation does.
A parameter whose value the transform writes into what it generates (an
HttpApi's CORS origins) is named, and cfn-lint's W2001 ("not used") is
switched off in the output's Metadata, since the output no longer refers to
it; cfn-lint on the template itself still reports a parameter never used.

Needs aws-sam-translator and cfn-lint (for its YAML loader that
understands !Ref, !Sub and the other short forms).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

LOCAL_ARTIFACT_PROPERTIES = ("CodeUri", "ContentUri")


class NoManagedPolicies:
    """The template names no managed policy by name; nothing to look up."""

    def load(self) -> dict[str, str]:
        return {}


def parameter_values(template: dict, overrides: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            continue
        if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
            values[name] = [item.strip() for item in raw.split(",")]
        else:
            values[name] = raw
    return values


def referenced(template: dict, name: str) -> bool:
    """Whether the template's resources, outputs, conditions or rules name a
    parameter (a Ref, or ${name} in a Sub)."""
    pattern = re.compile(r"\$\{" + re.escape(name) + r"\}")

    def walk(node) -> bool:
        if isinstance(node, dict):
            if node.get("Ref") == name:
                return True
            sub = node.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) and sub else sub
            if isinstance(text, str) and pattern.search(text):
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return any(walk(template.get(section)) for section in ("Resources", "Outputs", "Conditions", "Rules"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--param", action="append", default=[], help="NAME=VALUE, overrides a parameter's default")
    args = parser.parse_args()

    # The transform asks boto3 for a region (pseudo parameters); any will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    template = json.loads(json.dumps(cfn_yaml.load(str(args.template))))
    for name, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        for key in LOCAL_ARTIFACT_PROPERTIES:
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://sam-artifacts-placeholder/{name}.zip"

    overrides = dict(p.split("=", 1) for p in args.param)
    # Before the transform, which changes the template it is given.
    used = {name for name in template.get("Parameters") or {} if referenced(template, name)}
    try:
        output = transform(template, parameter_values(template, overrides), NoManagedPolicies())
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"SAM transform: {cause.message}", file=sys.stderr)
        return 1

    # The transform writes some parameters' values into what it generates
    # (an HttpApi's CorsConfiguration becomes part of the OpenAPI body), as
    # CloudFormation's own run of it does at deploy time; such a parameter is
    # then referenced nowhere in the output, and cfn-lint's W2001 ("not
    # used") would fire on the output alone. A parameter the template does
    # not use at all is reported by cfn-lint on the template itself, so
    # W2001 is switched off for the output when this happened, and the
    # parameters are named.
    inlined = sorted(name for name in used if not referenced(output, name))
    if inlined:
        lint = output.setdefault("Metadata", {}).setdefault("cfn-lint", {}).setdefault("config", {})
        lint.setdefault("ignore_checks", []).append("W2001")
        print(f"SAM transform: values written into the generated resources: {', '.join(inlined)} "
              "(W2001 is off for the output; the template itself is linted with it)")

    args.output.write_text(json.dumps(output, indent=1) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for resource in output.get("Resources", {}).values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
    print(f"SAM transform: {len(output.get('Resources', {}))} resources ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
