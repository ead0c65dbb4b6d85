#!/bin/sh
# Stage 2 sysinit (run by busybox init after switch_root): kernel filesystems, loopback, a marker line.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname mvm-guest
ip link set lo up
echo "mvm-init: root is $(awk '$2 == "/" { print $3 " (" $4 ")" }' /proc/mounts | tail -1); lower is $(awk '$2 == "/run/overlay/lower" { print $4 }' /proc/mounts | cut -d, -f1)" >/dev/console
echo "mvm-init: stage 2 up" >/dev/console
