"""Load balancers: HTTPS listeners use a TLS 1.2+/1.3 policy; plain HTTP only redirects to HTTPS."""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

LISTENER = "aws:lb/listener:Listener"
# AWS's TLS 1.3 policy families: TLS 1.2 and 1.3 (…TLS13-1-2-…) or 1.3 only (…TLS13-1-3-…), FIPS variants too.
MODERN_TLS = re.compile(r"^ELBSecurityPolicy-TLS13-1-[23]-")


def validate_modern_tls(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LISTENER or args.props.get("protocol") not in ("HTTPS", "TLS"):
        return
    policy = args.props.get("sslPolicy")
    if not policy or not MODERN_TLS.match(policy):
        report_violation(
            f"TLS policy {policy or '(the default, which allows TLS 1.0)'} is not modern: "
            "use ELBSecurityPolicy-TLS13-1-2-2021-06 or another TLS13-1-2/1-3 policy",
            None,
        )


def validate_http_redirects(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LISTENER or args.props.get("protocol") != "HTTP":
        return
    for action in args.props.get("defaultActions") or []:
        redirect = action.get("redirect") or {}
        if action.get("type") != "redirect" or redirect.get("protocol") != "HTTPS":
            report_violation("a plain HTTP listener may only redirect to HTTPS", None)


POLICIES = [
    ResourceValidationPolicy(
        name="alb-modern-tls", description="HTTPS listeners use a TLS 1.2+/1.3 policy.", validate=validate_modern_tls
    ),
    ResourceValidationPolicy(
        name="alb-http-redirects-to-https",
        description="HTTP listeners only redirect to HTTPS.",
        validate=validate_http_redirects,
    ),
]
