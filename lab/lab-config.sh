# shellcheck shell=bash
# The lab's virtnat configs from one definition. Source it (lab/demo.sh, tests/lab/lib.sh and
# tests/web/run.sh do) and print the tables a config needs:
#
#   {
#     lab_settings vm_lifecycle=libvirt           # [settings] of tests/data/lab-network.toml
#     lab_network provider=libvirt bridge=vnat0 mac_prefix=-   # its [[network]] nat_bridge
#     lab_hosts                                    # its hosts lxdev01 and lxdev02
#     lab_forward ssh                              # a common forward by name (see below)
#     lab_forward - host=lxdev02 port=2224 to_port=22
#   } >"$CONFIG"
#
# The standard network, its hosts and the settings come from tests/data/lab-network.toml, the
# same file the unit tests compile in and write_config starts from. KEY=VALUE overrides a key
# (in its place) or adds one (at the end); KEY=- drops it. A VALUE is written as it is when it
# is TOML already (a number, true, false, "a string", [an, array]), else quoted as a string:
# port=2222 is the integer, port='"2222"' the string. A VALUE may end in a comment, spaces
# included: 'public_address=198.51.100.1   # where forwards listen'.

LAB_NETWORK_TOML=${LAB_NETWORK_TOML:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/data" && pwd)/lab-network.toml}

# _lab_file_table HEADER [NAME]: the "key = value" lines of the first table HEADER (with
# name = "NAME", if given) in lab-network.toml.
_lab_file_table() {
  awk -v want="$1" -v host="${2:-}" '
    function flush() {
      if (hdr == want && (host == "" || name == host)) { printf "%s", buf; done = 1; exit }
    }
    /^\[/ { flush(); hdr = $0; buf = ""; name = ""; next }
    /^[A-Za-z0-9_]+ = / {
      buf = buf $0 "\n"
      if ($1 == "name") { v = $0; sub(/^[^=]*= *"/, "", v); sub(/".*/, "", v); name = v }
    }
    END { if (!done) flush() }
  ' "$LAB_NETWORK_TOML"
}

# _lab_table HEADER LINES [KEY=VALUE...]: HEADER and LINES ("key = value" lines) with the
# overrides applied.
_lab_table() {
  local header=$1 lines=$2 line arg key value comment i found
  shift 2
  local -a keys=() values=()
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    keys+=("${line%% = *}")
    values+=("${line#* = }")
  done <<<"$lines"
  for arg in "$@"; do
    if [[ $arg != *=* ]]; then
      echo "lab-config: $arg: KEY=VALUE expected" >&2
      return 2
    fi
    key=${arg%%=*}
    value=${arg#*=}
    comment=""
    if [[ $value == *" #"* ]]; then
      value=${value%% #*}
      value=${value%"${value##*[! ]}"}
      comment=${arg#*=}
      comment=${comment:${#value}}
    fi
    if [ "$value" != - ] && ! [[ $value =~ ^(-?[0-9]+|true|false|\".*\"|\[.*\])$ ]]; then
      value="\"$value\""
    fi
    value+=$comment
    found=0
    for i in "${!keys[@]}"; do
      if [ "${keys[$i]}" = "$key" ]; then
        values[i]=$value
        found=1
        break
      fi
    done
    [ "$found" = 1 ] || { keys+=("$key"); values+=("$value"); }
  done
  [ "$header" = "[settings]" ] || echo
  echo "$header"
  for i in "${!keys[@]}"; do
    [ "${values[$i]}" = - ] || [[ ${values[$i]} == "- "* ]] || echo "${keys[$i]} = ${values[$i]}"
  done
}

# lab_settings [KEY=VALUE...]: the lab's [settings].
# shellcheck disable=SC2120 # the overrides are optional
lab_settings() { _lab_table "[settings]" "$(_lab_file_table "[settings]")" "$@"; }

# lab_network [KEY=VALUE...]: the lab's network nat_bridge (its [[network]] table, no hosts).
# shellcheck disable=SC2120 # the overrides are optional
lab_network() { _lab_table "[[network]]" "$(_lab_file_table "[[network]]")" "$@"; }

# lab_host NAME [KEY=VALUE...]: the lab's host NAME (lxdev01 or lxdev02).
lab_host() {
  local name=$1 lines
  shift
  lines=$(_lab_file_table "[[network.host]]" "$name")
  if [ -z "$lines" ]; then
    echo "lab-config: no host $name in $LAB_NETWORK_TOML" >&2
    return 2
  fi
  _lab_table "[[network.host]]" "$lines" "$@"
}

# lab_hosts: the lab's hosts as they are: lxdev01 (with its MAC) and lxdev02.
lab_hosts() {
  lab_host lxdev01
  lab_host lxdev02
}

# lab_forward NAME [KEY=VALUE...]: a common forward of the lab, by NAME; "-" starts empty.
#   ssh      198.51.100.1:2222 -> lxdev01:22        web    :8080 -> lxdev01:80
#   dns      udp :5353 -> lxdev02:53                range  :8000-8002 -> lxdev01:9000-9002
#   ssh_c1   :2223 -> lxdev02:22, from c1 (198.51.100.10) only
# Ports are strings ("2222"); port=2222 to_port=22 makes them integers.
lab_forward() {
  local name=$1
  shift
  local -a base
  case "$name" in
    ssh) base=(host=lxdev01 port='"2222"' to_port='"22"' description="ssh to lxdev01") ;;
    web) base=(host=lxdev01 port='"8080"' to_port='"80"' description="web on lxdev01") ;;
    dns) base=(host=lxdev02 protocol=udp port='"5353"' to_port='"53"' description="dns on lxdev02") ;;
    range) base=(host=lxdev01 port='"8000-8002"' to_port='"9000-9002"' description="a range, port by port") ;;
    ssh_c1) base=(host=lxdev02 port='"2223"' to_port='"22"' source='["198.51.100.10/32"]'
      description="ssh to lxdev02, c1 only") ;;
    -) base=() ;;
    *)
      echo "lab-config: no forward named $name" >&2
      return 2
      ;;
  esac
  _lab_table "[[forward]]" "" "${base[@]}" "$@"
}
