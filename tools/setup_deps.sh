#!/usr/bin/env bash
# Makes sure the Debian packages the project needs are installed.
#   tools/setup_deps.sh          build + test packages
#   tools/setup_deps.sh --torch  also python3-torch (for make parity / bench)
#   tools/setup_deps.sh --browser  also chromium (the HTML report's screenshot test)
#   tools/setup_deps.sh --fuzz   also clang with libFuzzer (for make fuzz)
# As root it installs what is missing; otherwise it prints the exact
# apt-get line and stops with status 1.
set -eu
pkgs="build-essential clang libomp-dev libopenblas-dev libpng-dev libjpeg-dev python3-numpy python3-opencv"
# OpenMPI: the MPI=1 build and its tests (tests/test_mpi.sh)
pkgs="$pkgs openmpi-bin libopenmpi-dev"
if [ "${1:-}" = "--torch" ]; then pkgs="$pkgs python3-torch python3-torchvision"; fi
if [ "${1:-}" = "--browser" ]; then pkgs="$pkgs chromium"; fi
if [ "${1:-}" = "--fuzz" ]; then pkgs="$pkgs clang libclang-rt-dev libomp-dev"; fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "anomaly: missing Debian packages:$missing" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends$missing
