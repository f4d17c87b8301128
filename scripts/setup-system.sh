#!/usr/bin/env bash
# The one place for system (apt) packages the project needs on a fresh machine.
# Idempotent: skips what is already installed, and is safe to run twice. Run as root or with sudo.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

node -e 'const [maj] = process.versions.node.split("."); if (+maj < 20) { console.error(`descent needs Node >= 20, found ${process.version}`); process.exit(1); }'

# ---------------------------------------------------------------------------------------------
# apt packages
#   mesa-vulkan-drivers libvulkan1: the Vulkan loader and lavapipe's shared libraries, for WebGPU
#   in Node (the `webgpu` npm package = Dawn) on machines without a GPU (see below).
#   chromium: the headless browser that Playwright (playwright-core, executablePath /usr/bin/chromium)
#   drives for the browser tests and benchmarks (WebGPU there runs on SwiftShader).
need_apt=()
for pkg in mesa-vulkan-drivers libvulkan1 chromium; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    need_apt+=("$pkg")
  fi
done

if ((${#need_apt[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# ---------------------------------------------------------------------------------------------
# lavapipe from Mesa 25 (bookworm-backports), for WebGPU on machines without a GPU.
#
# Debian 12's own lavapipe (Mesa 22.3) is rejected by Dawn, so we take libvulkan_lvp.so out of the
# bookworm-backports mesa-vulkan-drivers package into .cache/lavapipe/ (git-ignored) and write an
# ICD json there. System packages stay untouched: apt runs with a private state dir and a one-line
# sources list built from the mirror URI already configured in /etc/apt/sources.list.d/debian.sources.
# packages/gpu-kernels/test/setup-env.ts points VK_ICD_FILENAMES at .cache/lavapipe/lvp_icd.json.
LVP_DIR="$REPO_ROOT/.cache/lavapipe"
LVP_SO="$LVP_DIR/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
LVP_ICD="$LVP_DIR/lvp_icd.json"

install_lavapipe() {
  local arch
  arch="$(dpkg --print-architecture)"
  if [ "$arch" != amd64 ]; then
    echo "setup-system: lavapipe extraction is set up for amd64 only (this is $arch); skipping" >&2
    return 0
  fi
  local sources=/etc/apt/sources.list.d/debian.sources mirror="" keyring=""
  if [ -f "$sources" ]; then
    # The first URIs line whose Suites include the main 'bookworm' suite (not -security).
    mirror="$(awk '/^URIs:/{u=$2} /^Suites:/{ for (i=2;i<=NF;i++) if ($i=="bookworm") { print u; exit } }' "$sources")"
    keyring="$(awk '/^Signed-By:/{print $2; exit}' "$sources")"
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror="$(awk '$1=="deb" && $0 ~ / bookworm / { for (i=2;i<=NF;i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  if [ -z "$mirror" ]; then
    echo "setup-system: no Debian bookworm mirror found in $sources; cannot fetch lavapipe" >&2
    return 1
  fi
  keyring="${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}"

  local state="$LVP_DIR/apt"
  mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/sources.list.d"
  echo "deb [signed-by=$keyring] $mirror bookworm-backports main" >"$state/sources.list"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$state/sources.list"
    -o "Dir::Etc::SourceParts=$state/sources.list.d"
    -o "Dir::State::Lists=$state/lists"
    -o "Dir::Cache::Archives=$state/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=$(id -un)"
    -o "Debug::NoLocking=1"
  )
  apt-get "${apt_opts[@]}" update -qq
  (
    cd "$state/archives"
    rm -f mesa-vulkan-drivers_*.deb
    apt-get "${apt_opts[@]}" download -qq "mesa-vulkan-drivers/bookworm-backports"
  )
  local deb
  deb="$(ls "$state"/archives/mesa-vulkan-drivers_*.deb | head -n1)"
  dpkg --fsys-tarfile "$deb" | tar -x -C "$LVP_DIR" ./usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
  local version
  version="$(dpkg-deb -f "$deb" Version)"
  rm -f "$deb"
  printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s","api_version":"1.4.305"}}\n' \
    "$LVP_SO" >"$LVP_ICD"
  echo "setup-system: lavapipe $version -> $LVP_ICD"
}

if [ -f "$LVP_SO" ] && [ -f "$LVP_ICD" ] && grep -q "\"$LVP_SO\"" "$LVP_ICD"; then
  : # already extracted (and the ICD points at this checkout)
else
  install_lavapipe
fi
