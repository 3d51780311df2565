"""Deploys the non-Lambda resources of a packaged template to LocalStack and checks them.

LocalStack's core runs here without Docker but cannot run (or create) Lambda functions, so a whole
`serverless deploy --stage localstack` cannot go through on this machine. This takes the packaged
`--stage localstack` template, keeps what LocalStack core serves (Kinesis streams, SQS queues, S3
buckets, their parameters and conditions), creates them as one CloudFormation stack at
AWS_ENDPOINT_URL, checks them (streams ACTIVE with their shard counts, the queue, the buckets),
then deletes the stack. Usage: AWS_ENDPOINT_URL=http://127.0.0.1:4566 python localstack-resources.py TEMPLATE
"""

import json
import sys

import boto3

KEPT = {"AWS::Kinesis::Stream", "AWS::SQS::Queue", "AWS::S3::Bucket"}


def subset(template: dict) -> dict:
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] in KEPT}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Transport": template["Parameters"]["Transport"]},
        "Conditions": {"UsesKinesis": template["Conditions"]["UsesKinesis"]},
        "Resources": resources,
    }


def main(path: str) -> int:
    with open(path) as file:
        template = subset(json.load(file))
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    cfn, kinesis, sqs, s3 = (session.client(name) for name in ("cloudformation", "kinesis", "sqs", "s3"))
    name = "driftline-localstack-resources"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    failures = []
    try:
        for logical_id, resource in template["Resources"].items():
            props = resource["Properties"]
            if resource["Type"] == "AWS::Kinesis::Stream":
                summary = kinesis.describe_stream_summary(StreamName=props["Name"])["StreamDescriptionSummary"]
                ok = summary["StreamStatus"] == "ACTIVE" and summary["OpenShardCount"] == props["ShardCount"]
                print(f"{logical_id}: stream {props['Name']} {summary['StreamStatus']}, {summary['OpenShardCount']} shard(s)")
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
