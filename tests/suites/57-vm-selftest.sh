#!/bin/sh
# The QEMU test runner's self-test (tests/vm/selftest.sh): a Debian kernel
# with two NUMA nodes, hugepages, KSM, THP, bond/VLAN/bridge/macvtap, the
# 9p share.  The VM suites after this one build on it.
exec sh "$(dirname "$0")/../vm/selftest.sh"
