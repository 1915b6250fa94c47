"""Every host: admin access, the release's deploy account, SSH hardening, firewall baseline, kernel settings, time."""

import shlex
import subprocess

testinfra_hosts = ["ansible://all"]

DEPLOY_USER = "golive-deploy"  # playbooks/group_vars/all/main.yml: golive_deploy_user
# What the deploy user may run as whom on each group's hosts: exactly its roles' helpers (sudo -l's lines)
HELPERS = {
    "web": ["(root) NOPASSWD: /usr/local/sbin/golive-release"],
    "db": [
        "(postgres) NOPASSWD: /usr/local/sbin/golive-backup",
        "(root) NOPASSWD: /usr/local/sbin/golive-backup metric",
    ],
    "lb": ["(root) NOPASSWD: /usr/local/sbin/golive-upstream"],
}


def test_sshd_refuses_passwords_and_root_logins(host):
    effective = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line)
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitemptypasswords"] == "no"
    assert effective["permitrootlogin"] == "no"
    assert effective["x11forwarding"] == "no"


def _ssh_as(inventory, host, user: str) -> subprocess.CompletedProcess:
    """`ssh USER@host true` from the controller the way Ansible reaches the host (its key, options, proxy)."""
    known = inventory.get_variables(host.backend.host)
    command = [
        "ssh",
        *shlex.split(known.get("ansible_ssh_common_args", "")),
        "-i",
        known["ansible_ssh_private_key_file"],
        "-o",
        "BatchMode=yes",
        "-l",
        user,
        known["ansible_host"],
        "true",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_root_never_logs_in_though_the_key_that_admins_use_is_offered(host, inventory):
    assert _ssh_as(inventory, host, inventory.get_variables(host.backend.host)["ansible_user"]).returncode == 0
    refused = _ssh_as(inventory, host, "root")
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr


def test_the_deploy_user_may_run_only_its_roles_helpers_under_sudo(host, inventory):
    groups = inventory.get_variables(host.backend.host)["group_names"]
    expected = sorted(line for group in groups for line in HELPERS.get(group, []))
    listed = host.run(f"sudo -l -U {DEPLOY_USER}").stdout
    allowed = sorted(line.strip() for line in listed.split("may run the following commands", 1)[-1].splitlines()[1:])
    assert allowed == expected, listed
    # Anything else is refused, e.g. a shell
    assert host.run(f"runuser -u {DEPLOY_USER} -- sudo -n /bin/sh -c true").rc != 0
    assert host.check_output(f"getent shadow {DEPLOY_USER}").split(":")[1].startswith("!")


def test_ssh_is_running_and_enabled(host):
    ssh = host.service("ssh")
    assert ssh.is_running
    assert ssh.is_enabled


def test_admins_sudo_without_passwords_and_have_none(host):
    admins = host.group("golive-admins")
    assert admins.exists
    sudoers = host.file("/etc/sudoers.d/golive-admins")
    assert sudoers.user == "root" and sudoers.mode == 0o440
    assert "NOPASSWD" in sudoers.content_string
    user = host.user("golive-admin")
    assert user.exists and "golive-admins" in user.groups
    assert host.check_output("getent shadow golive-admin").split(":")[1].startswith("!")


def test_firewall_defaults_to_drop(host):
    assert host.service("nftables").is_enabled
    ruleset = host.check_output("nft list chain inet golive input")
    assert "policy drop" in ruleset
    assert "ct state established,related accept" in ruleset
    assert "tcp dport 22 ip saddr @ssh_sources accept" in ruleset


def test_network_sysctls(host):
    persisted = host.file("/etc/sysctl.d/60-golive.conf").content_string
    expected = ("net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.all.accept_redirects=0", "net.ipv4.tcp_syncookies=1")
    for setting in expected:
        assert setting in persisted
    if host.run("test -w /proc/sys/net/ipv4/tcp_syncookies").rc != 0:
        return  # a container whose /proc/sys is read-only: the values are the machine's business
    assert host.sysctl("net.ipv4.conf.all.rp_filter") == 1
    assert host.sysctl("net.ipv4.conf.all.accept_redirects") == 0
    assert host.sysctl("net.ipv4.tcp_syncookies") == 1


def test_time_synchronisation_is_enabled(host):
    assert host.service("systemd-timesyncd").is_enabled
