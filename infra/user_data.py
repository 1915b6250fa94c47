"""First-boot script of an app server (cloud-init runs it once): only what must exist before anyone can
reach the host. Everything else is Ansible's (playbooks/, roles/)."""

from __future__ import annotations

# Debian's images carry no SSM agent; AWS publishes the .deb in a bucket per region.
SSM_AGENT_URL = "https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/debian_{arch}/amazon-ssm-agent.deb"
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def render(hostname: str, *, region: str, architecture: str, install_ssm_agent: bool) -> str:
    lines = [
        "#!/bin/sh",
        "# golive app server, first boot (cloud-init)",
        "set -eu",
        f"hostnamectl set-hostname {hostname}",
    ]
    if install_ssm_agent:
        url = SSM_AGENT_URL.format(region=region, arch=DEBIAN_ARCH[architecture])
        lines += [
            f"curl -fsSL --retry 5 -o /tmp/amazon-ssm-agent.deb {url}",
            "dpkg -i /tmp/amazon-ssm-agent.deb",
            "rm -f /tmp/amazon-ssm-agent.deb",
            "systemctl enable --now amazon-ssm-agent",
        ]
    return "\n".join(lines) + "\n"
