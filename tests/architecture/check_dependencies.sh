#!/usr/bin/env bash
# Dependencies point one way (STYLE.md "Layout"): fails, naming the file and include, when a
# component includes a header of a component it may not depend on.
#   ipc      -> nothing of ours
#   config   -> nothing of ours
#   core     -> ipc            (core/app, the engine executable, wires feeds + core + config)
#   feeds    -> core, ipc      (feeds/app, qf-venue, may also use config)
#   gateway  -> ipc, config    (never core or feeds: the state layout in ipc is the contract)
#   monitor  -> ipc, config
# Usage: check_dependencies.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
status=0

check() { # check DIR "allowed components" [exclude-subdir]
  local dir=$1 allowed=$2 exclude=${3:-}
  [[ -d "$root/$dir" ]] || return 0
  while IFS= read -r hit; do
    local file=${hit%%:*} comp
    [[ -n "$exclude" && "$file" == "$root/$dir/$exclude/"* ]] && continue
    comp=$(sed -E 's/.*[<"]qf\/([a-z_]+)\/.*/\1/' <<<"$hit")
    if [[ " $dir $allowed " != *" $comp "* ]]; then
      echo "dependency violation: ${file#$root/} includes qf/$comp/ (allowed for $dir: ${allowed:-none})"
      status=1
    fi
  done < <(grep -rHn -E '#[[:space:]]*include[[:space:]]*[<"]qf/[a-z_]+/' "$root/$dir" --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null)
}

check ipc ""
check config ""
check core "ipc" app
check feeds "core ipc" app
check gateway "ipc config"
check monitor "ipc config"

[[ $status -eq 0 ]] && echo "dependencies point one way"
exit $status
