#!/usr/bin/env bash
# Scan terraform/ with checkov, offline. Exits non-zero when a check fails.
#
# checkov lives in its own virtualenv (.venv-checkov): its bc-python-hcl2 and the project's
# python-hcl2 both install the import name `hcl2`. The venv is made from requirements-checkov.txt
# when it is missing, or when that file changed since the venv was made.
#
#   scripts/checkov.sh                  # from anywhere in the repository
#   PYTHON=python3.11 scripts/checkov.sh
#   scripts/checkov.sh -o json         # extra arguments go to checkov (the unit test reads JSON)
#
# Every skipped check carries its reason inline (`# checkov:skip=CKV_X:why`); the unit tests
# check that no skip lacks one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-checkov"
REQUIREMENTS="$ROOT/requirements-checkov.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3.11}"

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/checkov" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
    echo "checkov.sh: making $VENV from requirements-checkov.txt" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$wanted" >"$STAMP"
fi

cd "$ROOT"
exec "$VENV/bin/checkov" --framework terraform --skip-download -d terraform --compact --quiet "$@"
