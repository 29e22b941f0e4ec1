#!/usr/bin/env bash
# Installs the Debian packages given as arguments that are not installed yet.
# Runs apt-get only when something is missing, so a warm machine pays nothing.
set -euo pipefail

missing=()
for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

# python3-venv matters only when the python3 on PATH cannot make a venv by itself.
if [[ " ${missing[*]:-} " == *" python3-venv "* ]] && python3 -c 'import ensurepip, venv' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
fi
read -r -a missing <<< "${missing[*]:-}"
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
