#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe 25.x from bookworm-backports) when it is missing.
# Bun reaches WebGPU through the `webgpu` package (Dawn), which needs a Vulkan driver; Debian
# bookworm's stock Mesa 22.x lavapipe is too old for Dawn. Deno's built-in WebGPU does not need this.
# Only acts when running as root on Debian with apt; otherwise it says why and exits 0 (GPU tests
# are then reported as skipped unless HARMONY_REQUIRE_GPU=1).
set -euo pipefail

have_lavapipe() {
  local icd
  for icd in /usr/share/vulkan/icd.d/lvp_icd*.json; do
    [ -e "$icd" ] || continue
    # Version of the installed mesa-vulkan-drivers package must be 25 or newer.
    local v
    v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
    case "$v" in
      2[5-9].*|[3-9][0-9].*) return 0 ;;
    esac
  done
  return 1
}

if have_lavapipe; then
  echo "ensure-vulkan: lavapipe $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-vulkan: not root or no apt-get; skipping the Vulkan driver install" >&2
  exit 0
fi

# The backports suite on the same mirror as apt's existing Debian source.
uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
if [ -z "$uri" ]; then
  uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
fi
uri=${uri:-http://deb.debian.org/debian}
list=/etc/apt/sources.list.d/bookworm-backports.list
if ! grep -qs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/* ; then
  echo "deb $uri bookworm-backports main" > "$list"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
echo "ensure-vulkan: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
