#!/bin/sh
# Git keeps no file modes but the executable bit: sets those the inventory
# cases depend on.  BMC password files are the owner's only, except in the
# case that proves a readable one is refused.
D=$(cd "$(dirname "$0")" && pwd)/inventory
chmod 600 "$D"/*/*/bmc/*
chmod 644 "$D"/bad/power-password-file-readable/bmc/shared.pass
