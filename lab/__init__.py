"""The multi-host lab: booted Debian 12 hosts under systemd-nspawn on 198.18.0.0/24 (see lab/README.md)."""
