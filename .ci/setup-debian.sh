#!/usr/bin/env bash
# Installs the Debian packages MoA Lens needs beyond Node.js 20.19+: Chromium (browser tests),
# OpenMPI (data-parallel training and its tests), iproute2 (`ip netns`: the two-host MPI tests, test/mpi/hosts.ts), oneDNN (the trainer's native CPU engine), hwloc (socket/NUMA discovery), a C++ toolchain.
set -euo pipefail
packages=(chromium openmpi-bin libopenmpi-dev hwloc g++ make python3 libdnnl-dev iproute2)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "setup-debian: all packages present"; exit 0; fi
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
