"""Every host: admin access, SSH hardening, firewall baseline, kernel settings, time."""

testinfra_hosts = ["ansible://all"]


def test_sshd_refuses_passwords_and_password_root_logins(host):
    effective = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line)
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitemptypasswords"] == "no"
    assert effective["permitrootlogin"] in ("no", "without-password", "prohibit-password")
    assert effective["x11forwarding"] == "no"


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


def test_root_can_sudo(host):
    """The release connects as root and runs `sudo systemctl restart ...`."""
    assert host.run("sudo -n true").rc == 0


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
