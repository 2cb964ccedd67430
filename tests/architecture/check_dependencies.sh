#!/usr/bin/env bash
# Dependencies point one way (STYLE.md "Layout"): fails, naming the file and include, when a
# component includes a header of a component it may not depend on, or links a target it may not.
#   ipc      -> nothing of ours
#   config   -> nothing of ours
#   core     -> ipc            (core/app, the engine executable, wires feeds + core + config)
#   feeds    -> ipc and the core's event header only (qf/core/event.hpp, target qf::core_types:
#               Eigen and the order book stay out of the feed and venue builds); feeds/app
#               (qf-venue) may also use config
#   gateway  -> ipc, config    (never core or feeds: the state layout in ipc is the contract)
#   monitor  -> ipc, config
#   bridge   -> ipc, config    (like the gateway: a reader of the state layout only)
#   store    -> ipc, config    (like the gateway: the state segment read-only, never core or feeds)
# An allowed entry is a component (`ipc`) or one header of it (`core/event.hpp`).
# Usage: check_dependencies.sh [ROOT]
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
status=0

check() { # check DIR "allowed components or headers" [exclude-subdir]
  local dir=$1 allowed=$2 exclude=${3:-}
  [[ -d "$root/$dir" ]] || return 0
  while IFS= read -r hit; do
    local file=${hit%%:*} comp header
    [[ -n "$exclude" && "$file" == "$root/$dir/$exclude/"* ]] && continue
    header=$(sed -E 's/.*[<"]qf\/([a-z_]+\/[^">]+)[">].*/\1/' <<<"$hit")
    comp=${header%%/*}
    if [[ " $dir $allowed " != *" $comp "* && " $allowed " != *" $header "* ]]; then
      echo "dependency violation: ${file#$root/} includes qf/$header (allowed for $dir: ${allowed:-none})"
      status=1
    fi
  done < <(grep -rHn -E '#[[:space:]]*include[[:space:]]*[<"]qf/[a-z_]+/' "$root/$dir" --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null)
}

links() { # links CMAKELISTS "forbidden link item (ERE)" "what is allowed instead"
  local file=$1 forbidden=$2 instead=$3
  [[ -f "$root/$file" ]] || return 0
  while IFS= read -r hit; do
    echo "dependency violation: $file:${hit%%:*} links ${forbidden//\\/} ($instead)"
    status=1
  done < <(grep -n -E "(^|[[:space:]])$forbidden([[:space:])]|$)" "$root/$file" | grep -v -E '^[0-9]+:[[:space:]]*#')
}

check ipc ""
check config ""
check core "ipc" app
check feeds "ipc core/event.hpp" app
check feeds/app "feeds ipc config core/event.hpp"
check gateway "ipc config"
check monitor "ipc config"
check bridge "ipc config"
links feeds/CMakeLists.txt 'qf::core' "feeds link qf::core_types"
links feeds/app/CMakeLists.txt 'qf::core' "qf-venue links qf::feeds"
links bridge/CMakeLists.txt 'qf::(core|feeds)' "qf-bridge links qf::ipc and qf::config only"
check store "ipc config store"
links store/CMakeLists.txt 'qf::core' "qf-store reads the state layout through qf::ipc"
links store/CMakeLists.txt 'qf::feeds' "qf-store reads the state layout through qf::ipc"

[[ $status -eq 0 ]] && echo "dependencies point one way"
exit $status
