"""The whole program (infra/__main__.py, run by path as the CLI runs it) under mocks for each committed
stack: every policy passes, the outputs are what the release reads and agree with the resources."""

from __future__ import annotations

import ipaddress
import json

from infra.offline.policy_check import check
from infra.offline.runner import StackRun
from infra.offline.stackfiles import raw_config
from infra.outputs import SCHEMA_VERSION
from infra.snapshot import outputs_path

OUTPUT_KEYS = {
    "schema_version",
    "environment",
    "region",
    "hosts",
    "access",
    "service_port",
    "health_check_path",
    "drain_seconds",
    "domain",
    "url",
    "database",
    "load_balancer",
    "backup_bucket",
    "alarm_topic_arn",
    "monitoring",
}


def test_every_policy_passes(each_stack: StackRun):
    assert [str(v) for v in check(each_stack.resources)] == []


def test_the_outputs_have_exactly_the_release_shape(each_stack: StackRun):
    out = each_stack.outputs
    assert set(out) == OUTPUT_KEYS and out["schema_version"] == SCHEMA_VERSION
    assert out["environment"] == each_stack.stack
    assert set(out["database"]) == {"host", "port", "name", "user", "engine_major", "sslmode"}
    assert set(out["load_balancer"]) == {"dns_name", "arn", "target_group_arn"}
    assert set(out["access"]) == {"method", "user", "deploy_user", "ssh_proxy_command"}
    for host in out["hosts"]["web"]:
        assert set(host) == {"name", "instance_id", "private_ip", "availability_zone"}
    assert set(out["monitoring"]) == {"name", "instance_id", "private_ip", "availability_zone", "prometheus_url"}


def test_the_monitoring_host_is_private_behind_its_own_group_and_its_prometheus_exported(each_stack: StackRun):
    monitoring = each_stack.outputs["monitoring"]
    instance = each_stack.named("aws:ec2/instance:Instance", "monitoring")
    assert (monitoring["instance_id"], monitoring["private_ip"]) == (instance.id, instance.outputs["privateIp"])
    assert monitoring["prometheus_url"] == f"http://{monitoring['private_ip']}:9090"
    assert instance.inputs["associatePublicIpAddress"] is False
    group = each_stack.named("aws:ec2/securityGroup:SecurityGroup", "sg-monitoring")
    assert instance.inputs["vpcSecurityGroupIds"] == [group.id]
    private = {
        s.id: ipaddress.ip_network(s.inputs["cidrBlock"])
        for s in each_stack.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["Tier"] == "private"
    }
    assert ipaddress.ip_address(monitoring["private_ip"]) in private[instance.inputs["subnetId"]]
    web_ips = {h["private_ip"] for h in each_stack.outputs["hosts"]["web"]}
    assert monitoring["private_ip"] not in web_ips


def test_the_committed_example_is_what_pulumi_stack_output_json_prints(each_stack: StackRun):
    committed = json.loads(outputs_path(each_stack.stack).read_text())
    assert committed == json.loads(json.dumps(each_stack.outputs))


def test_hosts_are_the_instances_in_the_private_subnets(each_stack: StackRun):
    config = raw_config(each_stack.stack)
    instances = {i.name: i for i in each_stack.of_type("aws:ec2/instance:Instance")}
    hosts = each_stack.outputs["hosts"]["web"]
    assert [h["name"] for h in hosts] == [f"web-{n}" for n in range(1, config["golive:instanceCount"] + 1)]
    private = {
        s.inputs["availabilityZone"]: ipaddress.ip_network(s.inputs["cidrBlock"])
        for s in each_stack.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["Tier"] == "private"
    }
    for host in hosts:
        instance = instances[host["name"]]
        assert host["instance_id"] == instance.id and host["private_ip"] == instance.outputs["privateIp"]
        assert ipaddress.ip_address(host["private_ip"]) in private[host["availability_zone"]]
    assert len({h["availability_zone"] for h in hosts}) == min(len(hosts), config["golive:zoneCount"])


def test_the_release_drain_time_is_the_target_groups_deregistration_delay(each_stack: StackRun):
    group = each_stack.one("aws:lb/targetGroup:TargetGroup")
    out = each_stack.outputs
    assert (
        out["drain_seconds"]
        == group.inputs["deregistrationDelay"]
        == raw_config(each_stack.stack)["golive:drainSeconds"]
    )
    assert out["service_port"] == group.inputs["port"] == 8000
    assert out["health_check_path"] == group.inputs["healthCheck"]["path"] == "/api/health"
    assert out["load_balancer"]["target_group_arn"] == group.outputs["arn"]
    alb = each_stack.one("aws:lb/loadBalancer:LoadBalancer").outputs
    assert out["load_balancer"]["dns_name"] == alb["dnsName"] and out["load_balancer"]["arn"] == alb["arn"]


def test_the_database_endpoint_bucket_and_topic_are_the_real_ones(each_stack: StackRun):
    out = each_stack.outputs
    db = each_stack.one("aws:rds/instance:Instance")
    assert (out["database"]["host"], out["database"]["port"]) == (db.outputs["address"], 5432)
    assert out["database"]["engine_major"] == 15 == int(db.inputs["engineVersion"].split(".")[0])
    assert out["backup_bucket"] == each_stack.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert out["alarm_topic_arn"] == each_stack.one("aws:sns/topic:Topic").outputs["arn"]
    assert out["url"] == f"https://{out['domain']}"


def test_hosts_are_reached_through_ssm_without_port_22(each_stack: StackRun):
    access = each_stack.outputs["access"]
    assert access["method"] == "ssm" and "AWS-StartSSHSession" in access["ssh_proxy_command"]
    app = each_stack.named("aws:ec2/securityGroup:SecurityGroup", "sg-app").inputs
    assert all(int(rule["fromPort"]) != 22 for rule in app["ingress"])


def test_production_is_spread_and_protected_staging_is_cheaper(staging: StackRun, production: StackRun):
    nat = "aws:ec2/natGateway:NatGateway"
    assert (len(production.of_type(nat)), len(staging.of_type(nat))) == (3, 1)
    prod_db = production.one("aws:rds/instance:Instance").inputs
    assert prod_db["multiAz"] is True and prod_db["deletionProtection"] is True
    assert staging.one("aws:rds/instance:Instance").inputs["deletionProtection"] is False


def test_the_secret_never_leaves_as_plain_text(each_stack: StackRun):
    (secret,) = each_stack.secrets
    assert secret not in json.dumps(each_stack.outputs)
    for resource in each_stack.resources:
        masked_elsewhere = {k: v for k, v in resource.inputs.items() if k != "password"}
        assert secret not in json.dumps(masked_elsewhere), resource.urn


def test_children_are_named_after_their_component(each_stack: StackRun):
    components = {r.urn: r.name for r in each_stack.resources if not r.custom}
    for resource in each_stack.custom_resources:
        owner = components[resource.parent]
        assert resource.name == owner or resource.name.startswith(f"{owner}-"), resource.urn


def test_every_resource_is_tagged_with_project_and_environment(each_stack: StackRun):
    taggable = [r for r in each_stack.custom_resources if "tags" in r.inputs]
    assert len(taggable) > 30
    for resource in taggable:
        assert resource.inputs["tags"]["Environment"] == each_stack.stack
        assert resource.inputs["tags"]["Project"] == "golive"


def test_the_monitoring_host_may_be_managed_by_ssm_and_nothing_more(each_stack: StackRun):
    component = next(r.urn for r in each_stack.resources if r.type == "golive:infra:Monitoring")
    children = [r for r in each_stack.custom_resources if r.parent == component]
    (attachment,) = [r for r in children if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"]
    assert attachment.inputs["policyArn"].endswith("/AmazonSSMManagedInstanceCore")
    assert not [r for r in children if r.type == "aws:iam/rolePolicy:RolePolicy"]  # no backup writes, no S3
    instance = each_stack.named("aws:ec2/instance:Instance", "monitoring").inputs
    assert instance["metadataOptions"]["httpTokens"] == "required" and instance["rootBlockDevice"]["encrypted"]
    assert instance["tags"]["Role"] == "monitoring" and instance["tags"]["Architecture"] == "x86_64"
    assert "amazon-ssm-agent" in instance["userData"] and "hostnamectl set-hostname monitoring" in instance["userData"]
