#!/bin/sh
# The PXE lab's own smoke test (tests/lab/pxe-smoke.sh): BIOS pxelinux, UEFI
# GRUB and iPXE machines boot hand-written configs in a network namespace.
# It isolates lab problems from kickfleet's in the end-to-end suite.
exec sh "$(dirname "$0")/../lab/pxe-smoke.sh"
