"""infra/load_balancer.py, infra/certificate.py and infra/service_dns.py under mocks."""

from __future__ import annotations

import pytest

from infra.certificate import Certificate, CertificateArgs
from infra.load_balancer import LoadBalancer, LoadBalancerArgs, internal_path_patterns
from infra.service_dns import ServiceDns, ServiceDnsArgs
from tests.infra.helpers import TAGS

LISTENER = "aws:lb/listener:Listener"
RECORD = "aws:route53/record:Record"


def load_balancer(drain_seconds: int = 30, instances: int = 2, certificate_arn: str = "arn:cert") -> LoadBalancer:
    return LoadBalancer(
        "lb",
        LoadBalancerArgs(
            vpc_id="vpc-1",
            subnet_ids=["subnet-public-a", "subnet-public-b"],
            security_group_id="sg-lb",
            certificate_arn=certificate_arn,
            tls_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            service_port=8000,
            health_check_path="/api/health",
            drain_seconds=drain_seconds,
            instance_ids=[f"i-{n}" for n in range(1, instances + 1)],
            deletion_protection=True,
            tags=TAGS,
        ),
    )


def test_public_alb_in_the_public_subnets_dropping_invalid_headers(run):
    alb = run(load_balancer).one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert alb["subnets"] == ["subnet-public-a", "subnet-public-b"] and alb["securityGroups"] == ["sg-lb"]
    assert alb["dropInvalidHeaderFields"] is True and alb["enableDeletionProtection"] is True


def test_target_group_checks_api_health_and_drains_for_the_release_drain_time(run):
    graph = run(lambda: load_balancer(drain_seconds=45))
    group = graph.one("aws:lb/targetGroup:TargetGroup").inputs
    assert (group["port"], group["protocol"], group["targetType"]) == (8000, "HTTP", "instance")
    assert group["deregistrationDelay"] == 45
    check = group["healthCheck"]
    assert (check["path"], check["matcher"], check["port"]) == ("/api/health", "200", "8000")


def test_every_app_server_is_registered_on_the_service_port(run):
    graph = run(lambda: load_balancer(instances=3))
    group_arn = graph.one("aws:lb/targetGroup:TargetGroup").outputs["arn"]
    attachments = graph.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")
    assert sorted((a.inputs["targetId"], a.inputs["port"]) for a in attachments) == [
        ("i-1", 8000),
        ("i-2", 8000),
        ("i-3", 8000),
    ]
    assert {a.inputs["targetGroupArn"] for a in attachments} == {group_arn}


def test_https_with_a_modern_policy_and_http_only_redirects(run):
    graph = run(load_balancer)
    https = graph.named(LISTENER, "lb-https").inputs
    assert (https["port"], https["protocol"], https["certificateArn"]) == (443, "HTTPS", "arn:cert")
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["defaultActions"][0]["type"] == "forward"
    http = graph.named(LISTENER, "lb-http").inputs
    assert http["port"] == 80 and http["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]


def test_the_certificate_is_validated_through_route53_and_the_listener_waits_for_it(run):
    def build():
        certificate = Certificate("tls", CertificateArgs("pay.example.com", "Z0ZONE", TAGS))
        load_balancer(certificate_arn=certificate.arn)

    graph = run(build)
    cert = graph.one("aws:acm/certificate:Certificate")
    assert cert.inputs == {"domainName": "pay.example.com", "validationMethod": "DNS", "tags": TAGS}
    (option,) = cert.outputs["domainValidationOptions"]
    record = graph.named(RECORD, "tls-validation").inputs
    assert (record["zoneId"], record["name"], record["type"]) == ("Z0ZONE", option["resourceRecordName"], "CNAME")
    assert record["records"] == [option["resourceRecordValue"]]
    validation = graph.one("aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["validationRecordFqdns"] == [option["resourceRecordName"].rstrip(".")]
    https = graph.named(LISTENER, "lb-https")
    assert https.inputs["certificateArn"] == cert.outputs["arn"]
    assert validation.urn in https.dependencies


def test_the_service_name_is_an_alias_of_the_load_balancer(run):
    def build():
        lb = load_balancer()
        ServiceDns("dns", ServiceDnsArgs("pay.example.com", "Z0ZONE", lb.dns_name, lb.zone_id))

    graph = run(build)
    alb = graph.one("aws:lb/loadBalancer:LoadBalancer").outputs
    record = graph.named(RECORD, "dns-service").inputs
    assert (record["name"], record["type"], record["zoneId"]) == ("pay.example.com", "A", "Z0ZONE")
    assert record["aliases"] == [{"name": alb["dnsName"], "zoneId": alb["zoneId"], "evaluateTargetHealth": True}]


def test_metrics_are_answered_404_at_the_edge_before_any_forward(run):
    graph = run(load_balancer)
    https = graph.named(LISTENER, "lb-https")
    (rule,) = graph.of_type("aws:lb/listenerRule:ListenerRule")
    assert rule.inputs["listenerArn"] == https.outputs["arn"]
    assert rule.inputs["priority"] == 1  # evaluated before every other rule and the default forward
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/metrics", "/metrics/*"]}}]
    (action,) = rule.inputs["actions"]
    assert action["type"] == "fixed-response" and action["fixedResponse"]["statusCode"] == "404"


def test_internal_paths_beyond_what_one_rule_takes_are_refused():
    with pytest.raises(ValueError, match="internal_paths: 1 to 2 paths"):
        internal_path_patterns(("/metrics", "/debug", "/admin/internal"))
    with pytest.raises(ValueError, match="internal_paths"):
        internal_path_patterns(())
    assert internal_path_patterns(("/debug/",)) == ["/debug/", "/debug/*"]
