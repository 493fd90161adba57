#!/bin/sh
# Regenerates the expected trees and outputs of the render data cases, on
# purpose: review `git diff tests/data/render` before committing.
TOP=$(cd "$(dirname "$0")/../../.." && pwd)
KF_REGEN=1 exec sh "$TOP/tests/suites/40-render.sh"
