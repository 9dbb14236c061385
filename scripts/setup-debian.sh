#!/bin/sh
# Installs everything diffae needs to build, test and run on Debian 12 (bookworm).
# Runs apt-get as root (through sudo when not root). Safe to run again.
set -eu
packages="
  build-essential meson ninja-build pkg-config
  glslang-tools spirv-tools libvulkan-dev vulkan-validationlayers vulkan-tools mesa-vulkan-drivers
  libglib2.0-dev libjson-glib-dev libpng-dev libopenblas-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  python3 python3-numpy python3-torch python3-pil
  valgrind
"
if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "setup-debian.sh: run as root (or install sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update
# shellcheck disable=SC2086
$as_root apt-get install -y --no-install-recommends $packages
