#!/usr/bin/env bash
# The one place for system (apt) packages the project needs on a fresh machine.
# Idempotent: skips what is already installed. Later backends add their packages here
# (chromium for browser tests, a software Vulkan driver for WebGPU).
set -euo pipefail

need_apt=()
# (no system packages are needed yet beyond Node 20 + npm)

if ((${#need_apt[@]})); then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

node -e 'const [maj] = process.versions.node.split("."); if (+maj < 20) { console.error(`descent needs Node >= 20, found ${process.version}`); process.exit(1); }'
