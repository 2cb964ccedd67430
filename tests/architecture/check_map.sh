#!/usr/bin/env bash
# HACKING.md is the map of the repository: fails, naming the folder, when a top-level or
# second-level folder that holds files has no row in HACKING.md's map (a table row whose first
# cell names it in backticks, like | `core/app/` |). A component's `include/` and `src/` follow the
# layout rule of STYLE.md and are covered by the component's own row. Build output, run folders,
# node_modules and hidden folders are not part of the map.
# Usage: check_map.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
map="$root/HACKING.md"
[[ -f "$map" ]] || { echo "no HACKING.md in $root"; exit 1; }

# The folders the map names: backticked `x/` or `x/y/` in the first cell of a table row.
rows=$(grep -E '^\|' "$map" | cut -d'|' -f2 | grep -oE '`[A-Za-z0-9_.-]+/([A-Za-z0-9_.-]+/)?`' | tr -d '`' | sort -u)

status=0
while IFS= read -r folder; do
  [[ -n "$folder" ]] || continue
  if ! grep -qxF "$folder" <<<"$rows"; then
    echo "HACKING.md has no map row for $folder"
    status=1
  fi
done < <(cd "$root" && find . -type f \
           -not -path './.*' -not -path './build/*' -not -path './build-*' -not -path './run/*' \
           -not -path '*/node_modules/*' -not -path '*/__pycache__/*' -not -name '.*' |
         sed 's|^\./||' | awk -F/ '
           NF >= 2 { print $1 "/" }
           NF >= 3 && $2 != "include" && $2 != "src" { print $1 "/" $2 "/" }' | sort -u)

[[ $status -eq 0 ]] && echo "every top-level and second-level folder has a row in HACKING.md"
exit $status
