#!/bin/busybox sh
# /init of the VM stage's tiny initramfs (busybox): load the modules that reach the root disk and the shared
# folders, mount them, and hand over to scripts/vm-guest.sh from the shared checkout under tini.
# With tb.probe=1 on the kernel command line it only reports and powers off (used to time an accelerator).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /modules.order); do
    insmod "/lib/modules/$module" 2>/dev/null
done
for word in $(cat /proc/cmdline); do
    case "$word" in
        tb.repo=*) REPO=${word#tb.repo=} ;;
        tb.results=*) RESULTS=${word#tb.results=} ;;
        tb.probe=1) PROBE=1 ;;
    esac
done
if [ -n "$PROBE" ]; then
    echo "testbed-vm: probe boot reached userspace"
    poweroff -f
fi
for _ in $(seq 1 100); do
    [ -b /dev/vda ] && break
    sleep 0.1
done
mkdir -p /newroot
if ! mount -t ext4 /dev/vda /newroot; then
    echo "testbed-vm: cannot mount the root disk"
    poweroff -f
fi
mkdir -p "/newroot$REPO"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose repo "/newroot$REPO" \
    && mkdir -p "/newroot$RESULTS" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "/newroot$RESULTS" \
    || { echo "testbed-vm: cannot mount the shared folders"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /usr/bin/tini -s -- /bin/sh "$REPO/scripts/vm-guest.sh" "$REPO" "$RESULTS"
