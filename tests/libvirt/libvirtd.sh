# A private libvirtd for tests: sourced by suites and benchmarks.
#
#   kf_libvirtd_start      starts virtlogd + libvirtd in their own mount and
#                          network namespace (KF_LV_NETNS=NAME: in the existing
#                          /run/netns/NAME instead); sets KF_LV_DIR (temp dir),
#                          KF_LV_URI (qemu:///system through a private socket),
#                          KF_LV_PID (libvirtd), KF_LV_LOGPID (virtlogd)
#   kf_libvirtd_stop       stops both by PID and removes KF_LV_DIR
#   kf_lv_nsexec CMD...    runs CMD in the daemon's network namespace
#
# Nothing of the host's libvirt is touched: /etc/libvirt, /run, /var are
# private to the daemons (qemu.conf says user = "root" so libvirtd does not
# re-probe QEMU on every call), the socket lives in KF_LV_DIR/run, and
# bridges the tests create live in the daemon's network namespace.
KF_LV_DIR=
KF_LV_PID=
KF_LV_LOGPID=
KF_LV_URI=

kf_libvirtd_start() {
	KF_LV_DIR=$(mktemp -d /tmp/kf-libvirt.XXXXXX) || return 1
	d=$KF_LV_DIR
	mkdir -p "$d/etc" "$d/run" "$d/lib/images" "$d/cache" "$d/log"
	cp -a /etc/libvirt/. "$d/etc/" 2>/dev/null
	cat >"$d/etc/qemu.conf" <<-EOT
	user = "root"
	group = "root"
	dynamic_ownership = 0
	security_driver = "none"
	remember_owner = 0
	EOT
	# libvirtd (without libvirt-daemon-system, which drags in systemd)
	# insists the compiled-in qemu user exists even when qemu.conf says root
	cp /etc/passwd "$d/passwd"; cp /etc/group "$d/group"
	grep -q '^libvirt-qemu:' "$d/passwd" ||
		echo 'libvirt-qemu:x:64055:64055:libvirt qemu:/var/lib/libvirt:/usr/sbin/nologin' >>"$d/passwd"
	grep -q '^libvirt-qemu:' "$d/group" || echo 'libvirt-qemu:x:64055:' >>"$d/group"
	grep -q '^kvm:' "$d/group" || echo 'kvm:x:64056:' >>"$d/group"
	cat >"$d/etc/libvirtd.conf" <<-EOT
	unix_sock_rw_perms = "0700"
	auth_unix_rw = "none"
	auth_unix_ro = "none"
	log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	EOT
	cat >"$d/etc/virtlogd.conf" <<-EOT
	log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
	EOT
	cat >"$d/inner.sh" <<-EOT
	set -e
	mount --make-rprivate /
	mount -t tmpfs kf-run /run
	mkdir -p /run/libvirt
	mount --bind "$d/run" /run/libvirt
	mount -t tmpfs kf-var /var
	mkdir -p /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /var/tmp
	ln -s /run /var/run
	mount --bind "$d/lib" /var/lib/libvirt
	mount --bind "$d/cache" /var/cache/libvirt
	mount --bind "$d/log" /var/log/libvirt
	mount --bind "$d/etc" /etc/libvirt
	mount --bind "$d/passwd" /etc/passwd
	mount --bind "$d/group" /etc/group
	ip link set lo up
	virtlogd -p "$d/virtlogd.pid" -f /etc/libvirt/virtlogd.conf >"$d/virtlogd.out" 2>&1 &
	exec libvirtd -p "$d/libvirtd.pid" -f /etc/libvirt/libvirtd.conf
	EOT
	# (e2e, issue 8) KF_LV_NETNS=NAME: run in that existing network
	# namespace (/run/netns/NAME, e.g. the PXE lab's, so guests can use its
	# bridge) instead of a new one; the mount namespace is private either way
	if [ -n "${KF_LV_NETNS:-}" ]; then
		nsenter --net="/run/netns/$KF_LV_NETNS" unshare -m sh "$d/inner.sh" >"$d/libvirtd.out" 2>&1 </dev/null &
	else
		unshare -m -n sh "$d/inner.sh" >"$d/libvirtd.out" 2>&1 </dev/null &
	fi
	KF_LV_PID=$!
	KF_LV_URI="qemu:///system?socket=$d/run/libvirt-sock"
	# first start probes QEMU (~13 s)
	i=0
	while [ $i -lt 600 ]; do
		if ! kill -0 "$KF_LV_PID" 2>/dev/null; then
			echo "libvirtd exited:" >&2
			cat "$d/libvirtd.out" "$d/log/libvirtd.log" >&2 2>/dev/null
			return 1
		fi
		[ -f "$d/virtlogd.pid" ] && KF_LV_LOGPID=$(cat "$d/virtlogd.pid")
		if [ -S "$d/run/libvirt-sock" ] &&
		   virsh -q -c "$KF_LV_URI" version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "libvirtd did not answer within 60 s" >&2
	return 1
}

# kf_lv_nsexec CMD...: run CMD in the daemons' network namespace
kf_lv_nsexec() {
	nsenter -t "$KF_LV_PID" -n -- "$@"
}

kf_libvirtd_stop() {
	[ -f "${KF_LV_DIR:-/nonexistent}/virtlogd.pid" ] && KF_LV_LOGPID=$(cat "$KF_LV_DIR/virtlogd.pid")
	for p in $KF_LV_PID $KF_LV_LOGPID; do
		kill "$p" 2>/dev/null
	done
	for p in $KF_LV_PID $KF_LV_LOGPID; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	# domains die with libvirtd's namespace only if we kill them: qemu
	# processes libvirtd started are its children in our namespace
	if [ -n "$KF_LV_DIR" ] && [ -d "$KF_LV_DIR" ]; then
		for f in "$KF_LV_DIR"/run/qemu/*.pid; do
			[ -f "$f" ] || continue
			q=$(cat "$f"); kill "$q" 2>/dev/null
		done
		rm -rf "$KF_LV_DIR"
	fi
	KF_LV_PID= KF_LV_LOGPID= KF_LV_DIR=
}
