"""TLS certificate: ACM, validated through a DNS record in the service's Route 53 zone."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class CertificateArgs:
    domain: str
    zone_id: pulumi.Input[str]
    tags: dict[str, str]


class Certificate(pulumi.ComponentResource):
    def __init__(self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("golive:infra:Certificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain,
            validation_method="DNS",
            tags=args.tags,
            opts=child,
        )
        option = self.certificate.domain_validation_options[0]
        self.validation_record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        self.validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[self.validation_record.fqdn],
            opts=child,
        )
        # Listeners take the ARN from the validation, so they wait until the certificate is issued.
        self.arn = self.validation.certificate_arn
        self.register_outputs({"arn": self.arn})
