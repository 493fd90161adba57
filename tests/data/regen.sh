#!/bin/sh
# Regenerates the expected outputs of the data cases, on purpose only:
#   tests/data/regen.sh        then review `git diff tests/data`
set -eu
D=$(cd "$(dirname "$0")" && pwd)
B=$D/../../build
sh "$D/modes.sh"
cd "$D/profile/bad"
for f in *.yaml; do "$B/kickfleet-agent" validate "$f" 2>"${f%.yaml}.err" >/dev/null && echo "unexpected success: $f" || true; done
cd "$D/profile/good"
for f in *.yaml; do "$B/kickfleet-agent" validate -v "$f" >"${f%.yaml}.out"; done
for d in "$D"/inventory/bad/*/; do
	(cd "$d" && "$B/kickfleet" check -f fleet.yaml 2>expected.err >/dev/null && echo "unexpected success: $d" || true)
done
for d in "$D"/inventory/good/*/; do
	(cd "$d" && "$B/kickfleet" check -v -f fleet.yaml >expected.out)
done
for d in "$D"/factcheck/*/; do
	(cd "$d" && "$B/kickfleet-agent" validate --facts facts.json profile.yaml 2>expected.err >/dev/null)
done
# enlist: the edited fleet.yaml (a dry run prints it) or the refusal
for d in "$D"/enlist/*/; do
	[ -f "$d/args" ] || continue
	rm -f "$d/expected.yaml" "$d/expected.err"
	# shellcheck disable=SC2046 # args holds the words of the command line
	(cd "$d" && "$B/kickfleet" enlist -n -f fleet.yaml -o out $(cat args) >expected.yaml 2>expected.err) &&
		rm "$d/expected.err" || rm "$d/expected.yaml"
	rm -rf "$d/out"
done
