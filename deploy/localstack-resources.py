"""Deploys the non-Lambda resources of a packaged template to LocalStack and checks them.

LocalStack's core runs here without Docker but cannot run (or create) Lambda functions, so a whole
`serverless deploy --stage localstack` cannot go through on this machine. This takes the packaged
`--stage localstack` template, keeps what LocalStack core serves (Kinesis streams, SQS queues, S3
buckets, the REST API with its resources, methods and deployment, their parameters and
conditions), creates them as one CloudFormation stack at AWS_ENDPOINT_URL, checks them (streams
ACTIVE with their shard counts, the queue, the buckets, the API's paths, methods, proxy
integrations and stage), then deletes the stack. The methods' integrations name the api function,
which cannot exist here: they are given its ARN as a string instead (API Gateway does not look it
up), and the Lambda permission is left out.
Usage: AWS_ENDPOINT_URL=http://127.0.0.1:4566 python localstack-resources.py TEMPLATE
"""

import json
import os
import sys
import urllib.error
import urllib.request

import boto3

KEPT = {"AWS::Kinesis::Stream", "AWS::SQS::Queue", "AWS::S3::Bucket"}
REST_API = {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method", "AWS::ApiGateway::Deployment"}
# What the integrations' Fn::GetAtt of the function would give on LocalStack.
API_FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:driftline-localstack-api"


def without_function(value):
    """`value` with every reference to a Lambda function replaced by API_FUNCTION_ARN."""
    if isinstance(value, dict):
        if list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][0].endswith("LambdaFunction"):
            return API_FUNCTION_ARN
        return {k: without_function(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_function(v) for v in value]
    return value


def subset(template: dict) -> dict:
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] in KEPT | REST_API}
    for resource in resources.values():
        resource["Properties"] = without_function(resource["Properties"])
        if "DependsOn" in resource:  # the Lambda permission is left out
            resource["DependsOn"] = [d for d in resource["DependsOn"] if d in resources]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Transport": template["Parameters"]["Transport"]},
        "Conditions": {"UsesKinesis": template["Conditions"]["UsesKinesis"]},
        "Resources": resources,
        # The REST API's URL as `serverless deploy` reports it (and the dashboard's config.json is given).
        "Outputs": {k: v for k, v in template.get("Outputs", {}).items() if k == "ServiceEndpoint"},
    }


def check_rest_api(cfn, apigateway, stack: str, logical_id: str, template: dict) -> bool:
    """The API's paths, each method's proxy integration, and the deployment's stage, as the template says."""
    api_id = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    resources = apigateway.get_resources(restApiId=api_id)["items"]
    found = {
        (r["path"], method): r["resourceMethods"][method] for r in resources for method in r.get("resourceMethods", {})
    }
    wanted = {
        ("/api/v1/{proxy+}", m["Properties"]["HttpMethod"])
        for m in template["Resources"].values()
        if m["Type"] == "AWS::ApiGateway::Method"
    }
    stages = [stage["stageName"] for stage in apigateway.get_stages(restApiId=api_id)["item"]]
    deployed = {
        d["Properties"]["StageName"] for d in template["Resources"].values() if d["Type"] == "AWS::ApiGateway::Deployment"
    }
    integrations = {
        key: apigateway.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod=key[1])
        for r in resources
        for key in [(r["path"], m) for m in r.get("resourceMethods", {})]
    }
    proxies = all(i["type"] == "AWS_PROXY" and API_FUNCTION_ARN in i["uri"] for i in integrations.values())
    print(
        f"{logical_id}: REST API {api_id}, paths {sorted(r['path'] for r in resources)}, "
        f"methods {sorted(found)}, integrations {'AWS_PROXY to the api function' if proxies else integrations}, "
        f"stages {stages}"
    )
    probe_rest_api(api_id, stages)
    return set(found) == wanted and proxies and deployed <= set(stages)


def probe_rest_api(api_id: str, stages: list) -> None:
    """Not a check: what a GET through the API answers here (LocalStack core cannot run the function)."""
    for stage in stages:
        url = f"{os.environ['AWS_ENDPOINT_URL']}/_aws/execute-api/{api_id}/{stage}/api/v1/analyses"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        print(f"GET {url}: {status} {body[:160].decode(errors='replace')}")


def main(path: str) -> int:
    with open(path) as file:
        template = subset(json.load(file))
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    cfn, kinesis, sqs, s3 = (session.client(name) for name in ("cloudformation", "kinesis", "sqs", "s3"))
    name = "driftline-localstack-resources"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    failures = []
    outputs = cfn.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        print(f"output {output['OutputKey']}: {output['OutputValue']}")
    try:
        for logical_id, resource in template["Resources"].items():
            props = resource["Properties"]
            if resource["Type"] == "AWS::Kinesis::Stream":
                summary = kinesis.describe_stream_summary(StreamName=props["Name"])["StreamDescriptionSummary"]
                ok = summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == props["ShardCount"]
                print(f"{logical_id}: stream {props['Name']} {summary['StreamStatus']}, {summary['OpenShardCount']} shard(s)")
            elif resource["Type"] in REST_API:
                if resource["Type"] != "AWS::ApiGateway::RestApi":
                    continue  # checked with the API below
                ok = check_rest_api(cfn, session.client("apigateway"), name, logical_id, template)
            elif resource["Type"] == "AWS::SQS::Queue":
                url = sqs.get_queue_url(QueueName=props["QueueName"])["QueueUrl"]
                ok = url.endswith(props["QueueName"])
                print(f"{logical_id}: queue {url}")
            else:
                # The deployment bucket has no name in the template: ask the stack for it.
                bucket = cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
                physical = bucket["StackResourceDetail"]["PhysicalResourceId"]
                s3.head_bucket(Bucket=physical)
                ok = physical == props.get("BucketName", physical)
                print(f"{logical_id}: bucket {physical}")
            if not ok:
                failures.append(logical_id)
    finally:
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    print("all created as the template says" if not failures else f"not as the template says: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
