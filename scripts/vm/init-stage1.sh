#!/bin/busybox sh
# Stage 1 (initramfs /init): modules, a read-only lower + tmpfs upper under an overlay, switch_root.
/bin/busybox --install -s /bin
export PATH=/bin
log() { echo "mvm-init: $*" >/dev/console; }
fail() {
  log "FAILED: $*"
  poweroff -f
}
mkdir -p /proc /sys /dev
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in @MODULES@; do modprobe "$m" || fail "modprobe $m"; done
mkdir -p /run/overlay
mount -t tmpfs -o mode=0755 overlay-rw /run/overlay || fail "tmpfs for the upper dir"
mkdir -p /run/overlay/upper /run/overlay/work /run/overlay/lower
mount -t tmpfs -o mode=0755 lower /run/overlay/lower || fail "tmpfs for the lower dir"
# mv copies across filesystems file by file, so memory never holds two copies of the root.
cd /rootfs || fail "no /rootfs in the initramfs"
for f in * .[!.]*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  mv "$f" /run/overlay/lower/ || fail "moving $f to the lower dir"
done
cd /
mount -o remount,ro /run/overlay/lower || fail "remount the lower read-only"
mkdir -p /newroot
mount -t overlay overlay -o lowerdir=/run/overlay/lower,upperdir=/run/overlay/upper,workdir=/run/overlay/work /newroot || fail "mount the overlay"
mount --move /run/overlay /newroot/run/overlay || fail "move /run/overlay into the new root"
mount --move /dev /newroot/dev || fail "move /dev"
umount /sys
umount /proc
log "overlay root ready (lower read-only); switch_root"
exec switch_root /newroot /sbin/init
