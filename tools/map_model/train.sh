#!/usr/bin/env bash
# Reproduces src/pictures/map_model_params.hpp (docs/PICTURES.md "Classifier"):
#   1. the descriptors of the shared WM-811K maps and of 1,500 generated maps, computed by the
#      built `wafermill run` (the features the job itself uses),
#   2. gradient-boosted trees trained on the training lots + the generated maps, scored on the
#      held-out lots, written to the header.
# usage: tools/map_model/train.sh [BUILD_DIR] [WM811K.h5]   (needs numpy and h5py; ~10 s)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
maps=${2:-$root/../shared/data/wm811k/wm811k_maps.h5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wm="$build/wafermill"
"$wm" run --input "$maps" --output "$work/real.h5" --baseline none --store none -q
"$wm" generate --output "$work/gen.h5" --maps 1500 --seed 101 > /dev/null
"$wm" run --input "$work/gen.h5" --output "$work/gen_out.h5" --baseline none --store none -q
/usr/bin/python3 "$root/tools/map_model/map_model.py" train --maps "$maps" \
  --features "$work/real.h5" --generated "$work/gen.h5" "$work/gen_out.h5" \
  --rounds 40 --depth 3 --rate 0.2 --holdout-percent 25 --generated-weight 0.5 --cv \
  --header "$root/src/pictures/map_model_params.hpp"
