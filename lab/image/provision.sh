#!/bin/sh
# Runs inside the image's chroot while it is built (lab/image/build.py): installs the package list,
# then leaves every host-specific or role-owned thing in a clean state. Services never start here:
# /usr/sbin/policy-rc.d (exit 101) is in place until the last step.
#   usage: provision.sh PACKAGE_FILE MIRROR SECURITY_MIRROR SUITE
set -eu
packages=$1 mirror=$2 security=$3 suite=$4
export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8

echo "== apt sources"
cat > /etc/apt/sources.list <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
# Only what is asked for: roles install nothing (guests are offline), so recommends would be dead weight.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > /etc/apt/apt.conf.d/90golive-lab

echo "== packages"
apt-get update -q
apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade
# shellcheck disable=SC2046
apt-get install -y -q $(cat "$packages")

echo "== services the roles own: installed, disabled (a role enables what its host runs)"
for unit in nginx.service postgresql.service prometheus.service prometheus-alertmanager.service \
            prometheus-node-exporter.service prometheus-blackbox-exporter.service \
            systemd-journal-remote.socket systemd-journal-remote.service nftables.service; do
    if [ -e "/lib/systemd/system/$unit" ]; then systemctl disable "$unit"; fi
done
# nginx's welcome site would answer on :80 of every host until a role replaces it.
rm -f /etc/nginx/sites-enabled/default

echo "== host identity: written per host at boot time by the lab (lab/host_files.py)"
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
echo localhost > /etc/hostname
printf '# The lab has no DNS: every lab name is in /etc/hosts.\n' > /etc/resolv.conf
# Only the key the lab writes (ed25519); without this sshd logs the missing RSA/ECDSA keys at each start.
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\n' > /etc/ssh/sshd_config.d/golive-lab-hostkey.conf

echo "== cleanup"
apt-get clean
# The package lists stay: apt (and Ansible's apt module) can then tell what is installed and at which version.
rm -rf /var/log/apt/* /tmp/* /var/tmp/*
: > /var/log/dpkg.log
rm -f /usr/sbin/policy-rc.d
