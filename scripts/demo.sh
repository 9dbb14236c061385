#!/bin/sh
# The main job: runs diffae on the compute device and says which device it used.
set -eu
cd "$(dirname "$0")/.."
DIFFAE_PROFILE=1 build/examples/device-demo "$@"
