#!/bin/sh
# Git keeps no file modes but the executable bit: sets those the inventory
# and enlist cases depend on.  BMC password files are the owner's only,
# except in the cases that prove a readable one is refused.
D=$(cd "$(dirname "$0")" && pwd)
chmod 600 "$D"/inventory/*/*/bmc/* "$D"/enlist/*/bmc/*
chmod 644 "$D"/inventory/bad/power-password-file-readable/bmc/shared.pass
chmod 644 "$D"/enlist/bad-bmc-password-file-readable/bmc/kvm09.pass
