"""IAM lint of a packaged template: every role's inline policies through parliament.

Usage: lint-iam.py TEMPLATE.json [TEMPLATE.json …]   (exit 1 on any finding not accepted below)

parliament reads concrete policies, so the template's intrinsics are resolved first, the way
CloudFormation would with this stage's parameter defaults: Ref/GetAtt/Sub/Join/Split/Select, with
account 123456789012 and the template's own resource names. Run by test/integration/deploy-lint.test.ts
(and so by `npm test` and .ci/run) on the template of every stage.

Beyond parliament, one check of our own: a statement with Resource "*" is allowed only when all of
its actions have no resource-level permissions at all (parliament's RESOURCE_STAR says the same for
actions that do; we also refuse "*" mixed into a list, and wildcards in an account or region field).
"""

import json
import re
import sys
import warnings

# parliament imports pkg_resources, which warns on every run; not ours to fix.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

from parliament import analyze_policy_string

ACCOUNT = "123456789012"

# Findings accepted, each with its reason: (role logical id, statement Sid or None for any, issue).
# Empty today: every role, osls's own S3-trigger helper role included, lints clean.
ACCEPTED: dict[tuple[str, str | None, str], str] = {}


def pseudo(name, region):
    return {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": "driftline",
        "AWS::NoValue": None,
    }.get(name)


class Resolver:
    def __init__(self, template, region):
        self.template = template
        self.region = region
        self.parameters = {}
        for name, slot in template.get("Parameters", {}).items():
            value = slot.get("Default")
            if isinstance(value, str) and (slot["Type"] == "CommaDelimitedList" or slot["Type"].startswith("List<")):
                value = value.split(",")
            self.parameters[name] = value

    def ref(self, name):
        if name.startswith("AWS::"):
            return pseudo(name, self.region)
        if name in self.parameters:
            return self.parameters[name]
        resource = self.template["Resources"][name]
        props = resource.get("Properties", {})
        return props.get("BucketName") or props.get("TableName") or props.get("FunctionName") or name

    def get_att(self, name, attribute):
        resource = self.template["Resources"][name]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if attribute == "Arn":
            if kind == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{self.resolve(props['BucketName'])}"
            if kind == "AWS::DynamoDB::Table":
                return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{self.resolve(props['TableName'])}"
            if kind == "AWS::IAM::Role":
                return f"arn:aws:iam::{ACCOUNT}:role/{name}"
            if kind == "AWS::Lambda::Function":
                return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.resolve(props['FunctionName'])}"
        return f"{name}.{attribute}"

    def sub(self, text, variables):
        def replace(match):
            key = match.group(1)
            if key in variables:
                return str(self.resolve(variables[key]))
            if "." in key:
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, node):
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                name, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                return self.sub(text, variables)
            if key == "Fn::Join":
                separator, items = value
                resolved = self.resolve(items)
                return separator.join(str(item) for item in resolved)
            if key == "Fn::Split":
                separator, text = value
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(index)]
        return {key: self.resolve(value) for key, value in node.items()}


def own_checks(statement):
    """Our wildcard rule, on top of parliament's."""
    problems = []
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    if "*" in resources and len(resources) > 1:
        problems.append('"*" listed beside scoped resources')
    for arn in resources:
        parts = arn.split(":")
        if arn != "*" and len(parts) >= 5 and ("*" in parts[3] or "*" in parts[4]):
            problems.append(f"wildcard region or account in {arn}")
    return problems


def lint(path):
    template = json.load(open(path))
    region = next(
        (m.group(1) for m in re.finditer(r"com\.amazonaws\.([a-z0-9-]+)\.", json.dumps(template))), "eu-west-1"
    )
    resolver = Resolver(template, region)
    failures, accepted = [], []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            document = resolver.resolve(policy["PolicyDocument"])
            # One statement at a time, so that each finding names its statement.
            for statement in document["Statement"]:
                sid = statement.get("Sid")
                single = {"Version": document["Version"], "Statement": [statement]}
                for finding in analyze_policy_string(json.dumps(single)).findings:
                    line = f"{logical_id} {sid or '(no Sid)'}: {finding.issue} {finding.detail}"
                    if (logical_id, sid, finding.issue) in ACCEPTED or (logical_id, None, finding.issue) in ACCEPTED:
                        accepted.append(line)
                    else:
                        failures.append(line)
                for problem in own_checks(statement):
                    failures.append(f"{logical_id} {sid or '(no Sid)'}: WILDCARD {problem}")
    return failures, accepted


def main(paths):
    status = 0
    for path in paths:
        failures, accepted = lint(path)
        print(f"{path}: {len(failures)} finding(s), {len(accepted)} accepted")
        for line in accepted:
            print(f"  accepted: {line}")
        for line in failures:
            print(f"  FINDING: {line}")
        if failures:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
