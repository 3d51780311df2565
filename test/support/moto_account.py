"""The AWS account of the deploy test, in the moto emulator (boto3 comes with moto[server]).

  moto_account.py ENDPOINT prepare   what a person has before `serverless deploy`: the cluster's
                                     VPC (two subnets, a security group, a route table) and the
                                     dataset bucket; prints their IDs as JSON
  moto_account.py ENDPOINT inspect   what exists now, as JSON, for the test's assertions
"""

import ast
import json
import sys

import boto3

REGION = "eu-west-1"


def clients(endpoint):
    options = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return {name: boto3.client(name, **options) for name in ("ec2", "s3", "lambda", "iam", "dynamodb", "cloudformation")}


def prepare(aws):
    ec2 = aws["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        for index, zone in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="msk-cluster", Description="the cluster's", VpcId=vpc)["GroupId"]
    route_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    aws["s3"].create_bucket(Bucket="driftline-datasets-dev", CreateBucketConfiguration={"LocationConstraint": REGION})
    return {"vpcId": vpc, "subnetIds": subnets, "securityGroupId": group, "routeTableId": route_table}


def inspect(aws):
    functions = {}
    for fn in aws["lambda"].list_functions()["Functions"]:
        functions[fn["FunctionName"]] = {
            "handler": fn["Handler"],
            "runtime": fn["Runtime"],
            "memory": fn["MemorySize"],
            "timeout": fn["Timeout"],
            "role": fn["Role"],
            "environment": (fn.get("Environment") or {}).get("Variables", {}),
            "vpc": {key: fn["VpcConfig"][key] for key in ("SubnetIds", "SecurityGroupIds")} if fn.get("VpcConfig") else None,
        }
    roles = {}
    for role in aws["iam"].list_roles()["Roles"]:
        name = role["RoleName"]
        policies = {}
        for policy in aws["iam"].list_role_policies(RoleName=name)["PolicyNames"]:
            document = aws["iam"].get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            # moto 5.2.5 keeps a policy that CloudFormation created as the repr of a dict.
            policies[policy] = ast.literal_eval(document) if isinstance(document, str) else document
        roles[role["Arn"]] = {"name": name, "policies": policies}
    tables = {}
    for table in aws["dynamodb"].list_tables()["TableNames"]:
        described = aws["dynamodb"].describe_table(TableName=table)["Table"]
        tables[table] = {
            "keySchema": described["KeySchema"],
            "billing": described.get("BillingModeSummary", {}).get("BillingMode"),
        }
    buckets = {}
    for bucket in aws["s3"].list_buckets()["Buckets"]:
        name = bucket["Name"]
        objects = {}
        for entry in aws["s3"].list_objects_v2(Bucket=name).get("Contents", []):
            head = aws["s3"].head_object(Bucket=name, Key=entry["Key"])
            objects[entry["Key"]] = {"contentType": head.get("ContentType"), "cacheControl": head.get("CacheControl")}
        buckets[name] = objects
    endpoints = [
        {
            "service": endpoint["ServiceName"],
            "type": endpoint["VpcEndpointType"],
            "vpcId": endpoint["VpcId"],
            "routeTableIds": endpoint.get("RouteTableIds", []),
            "subnetIds": endpoint.get("SubnetIds", []),
        }
        for endpoint in aws["ec2"].describe_vpc_endpoints()["VpcEndpoints"]
        if endpoint.get("State", "available") != "deleted"
    ]
    stacks = {
        stack["StackName"]: stack["StackStatus"]
        for stack in aws["cloudformation"].list_stacks()["StackSummaries"]
    }
    config = None
    if "driftline-dashboard-dev" in buckets and "config.json" in buckets["driftline-dashboard-dev"]:
        body = aws["s3"].get_object(Bucket="driftline-dashboard-dev", Key="config.json")["Body"].read()
        config = json.loads(body)
    return {
        "functions": functions,
        "roles": roles,
        "tables": tables,
        "buckets": buckets,
        "endpoints": endpoints,
        "eventSourceMappings": aws["lambda"].list_event_source_mappings()["EventSourceMappings"],
        "stacks": stacks,
        "dashboardConfig": config,
    }


if __name__ == "__main__":
    endpoint, command = sys.argv[1], sys.argv[2]
    aws = clients(endpoint)
    print(json.dumps(prepare(aws) if command == "prepare" else inspect(aws), default=str))
