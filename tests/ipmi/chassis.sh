#!/bin/sh
# The chassis_control program of a test BMC (ipmi_sim hands it chassis
# requests): chassis.sh DIR get NAME... | set NAME VALUE...
# Power on runs DIR/machine with the boot choice ("n": network, "c": disk)
# in the background, its PID in DIR/machine.pid; power off stops it; a
# one-time PXE boot device ("set boot pxe") makes the next start "n".
# Every start is appended to DIR/boots.
d=$1
shift
op=$1
shift

# A machine that exited may stay a zombie until init reaps it: running
# means a process in any state but Z.
running() {
	[ -s "$d/machine.pid" ] || return 1
	st=$(sed 's/.*) //' "/proc/$(cat "$d/machine.pid")/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

start() {
	running && return 0
	boot=c
	if [ "$(cat "$d/bootdev" 2>/dev/null)" = pxe ]; then
		boot=n
		echo none >"$d/bootdev"
	fi
	echo "$boot" >>"$d/boots"
	setsid "$d/machine" "$boot" </dev/null >>"$d/machine.log" 2>&1 &
	echo $! >"$d/machine.pid"
}

stop() {
	running || return 0
	pid=$(cat "$d/machine.pid")
	kill "$pid" 2>/dev/null
	i=0
	while running && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
	running && kill -9 "$pid" 2>/dev/null
	rm -f "$d/machine.pid"
}

case $op in
get)
	for k; do
		case $k in
		power) if running; then echo power:1; else echo power:0; fi ;;
		boot) echo "boot:$(cat "$d/bootdev" 2>/dev/null || echo none)" ;;
		esac
	done
	;;
set)
	while [ $# -ge 2 ]; do
		case $1 in
		power) if [ "$2" = 1 ]; then start; else stop; fi ;;
		reset) stop; start ;;
		boot) echo "$2" >"$d/bootdev" ;;
		esac
		shift 2
	done
	;;
esac
exit 0
