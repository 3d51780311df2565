#!/usr/bin/env bash
# Installs the deploy checks' Python tools (deploy/requirements.txt: cfn-lint, parliament, moto)
# into a venv outside the repository, reused while the requirements stay the same:
#   ${DRIFTLINE_DEPLOY_TOOLS_VENV:-${DRIFTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/driftline}/deploy-tools}
# The tests look for it there (test/support/deploy-tools.ts; DRIFTLINE_DEPLOY_TOOLS=…/bin overrides).
# Needs python3 (3.9 or later) with its venv module.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${DRIFTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/driftline}"
venv="${DRIFTLINE_DEPLOY_TOOLS_VENV:-$cache/deploy-tools}"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s deploy/requirements.txt "$stamp"; then
  echo "deploy tools up to date in $venv"
  exit 0
fi
python="${DRIFTLINE_PYTHON:-python3}"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r deploy/requirements.txt
cp deploy/requirements.txt "$stamp"
"$venv/bin/cfn-lint" --version
echo "deploy tools installed in $venv"
