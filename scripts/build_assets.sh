#!/usr/bin/env bash
# Front-end packages from npm (installed by `npm ci`) -> the app's git-ignored static folder
#   src/csp_platform/core/static/vendor/{govuk,leaflet}/
# and the GOV.UK Frontend styles compiled with Arial (see static_src/govuk.scss).
# Nothing here is committed; `make install` runs this after `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."
NM=node_modules
OUT=src/csp_platform/core/static/vendor
for pkg in govuk-frontend leaflet sass; do
  [ -d "$NM/$pkg" ] || { echo "$NM/$pkg is missing: run 'npm ci' first" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT/govuk/assets" "$OUT/leaflet"
cp -r "$NM/govuk-frontend/dist/govuk/assets/images" "$OUT/govuk/assets/"
cp "$NM/govuk-frontend/dist/govuk/govuk-frontend.min.js" "$OUT/govuk/"
cp "$NM/govuk-frontend/LICENSE.txt" "$OUT/govuk/" 2>/dev/null || true
"$NM/.bin/sass" --load-path="$NM" --style=compressed --no-source-map --quiet-deps \
  src/csp_platform/core/static_src/govuk.scss "$OUT/govuk/govuk-frontend.min.css"
cp "$NM/leaflet/dist/leaflet.js" "$NM/leaflet/dist/leaflet.css" "$NM/leaflet/LICENSE" "$OUT/leaflet/"
cp -r "$NM/leaflet/dist/images" "$OUT/leaflet/"
echo "front-end assets copied to $OUT"
