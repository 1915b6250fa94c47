"""The lab's base image: Debian 12 from debootstrap, packages installed by chroot, cached on disk."""
