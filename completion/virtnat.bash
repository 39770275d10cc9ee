# bash completion for virtnat(8)                                        -*- shell-script -*-
#
# Installed as share/bash-completion/completions/virtnat (bash-completion loads it on the
# first TAB after `virtnat`); or `source completion/virtnat.bash` by hand.
#
# Commands and options come from `virtnat [COMMAND...] --help` of the very binary being
# completed (cached per shell), so they always match that binary. Names come from the config
# named on the line (--config/-c FILE, else $VIRTNAT_CONFIG, else /etc/virtnat/virtnat.toml):
#   hosts     `virtnat host list`                 (host lookup, forward add HOST:PORT)
#   forwards  `virtnat forward list --json`       (forward remove HOST:PORT PUBLICPORT)
#   networks  [[network]] names of the config and conf.d/*.toml, and the networks of its
#             forwards                            (network xml|status|start|stop|undefine, leases)
# Needs bash 4.2+; does not need bash-completion's helpers.

# shellcheck disable=SC2088  # "~/" is matched literally on purpose, then replaced by $HOME
declare -gA _virtnat_help_cache 2>/dev/null || true

# _virtnat_load BINARY [COMMAND...]: parses that command's --help into
#   _virtnat_subcommands, _virtnat_options, _virtnat_valued (options taking a value),
#   _virtnat_positionals (names, in order; the last one may repeat: _virtnat_repeats=1)
_virtnat_load() {
  local binary=$1
  shift
  local key="$binary|$*" text
  if [[ -n ${_virtnat_help_cache[$key]+set} ]]; then
    text=${_virtnat_help_cache[$key]}
  else
    text=$(NO_COLOR=1 "$binary" "$@" --help 2>/dev/null)
    _virtnat_help_cache[$key]=$text
  fi
  _virtnat_subcommands=() _virtnat_options=() _virtnat_valued=() _virtnat_positionals=()
  _virtnat_repeats=0
  local line section="" name rest flag flags
  while IFS= read -r line; do
    case $line in
      Positionals:|Options:|Subcommands:) section=$line; continue ;;
      "   "*) continue ;;  # a description on its own line
      "  "[!\ ]*) ;;
      *) section=""; continue ;;
    esac
    [[ -n $section ]] || continue
    read -r name rest <<<"${line:0:30}"
    [[ ${#line} -gt 30 && ${line:29:1} != " " ]] && read -r name rest <<<"$line"
    case $section in
      Subcommands:) _virtnat_subcommands+=("$name") ;;
      Positionals:)
        _virtnat_positionals+=("$name")
        [[ " $rest " == *" ... "* ]] && _virtnat_repeats=1 || _virtnat_repeats=0
        ;;
      Options:)
        IFS=, read -ra flags <<<"$name"
        for flag in "${flags[@]}"; do
          _virtnat_options+=("$flag")
          # "--config TEXT": a second word is the value's type
          [[ -n $rest ]] && _virtnat_valued+=("$flag")
        done
        ;;
    esac
  done <<<"$text"
}

_virtnat_in() {  # _virtnat_in WORD LIST...
  local word=$1 item
  shift
  for item; do [[ $item == "$word" ]] && return 0; done
  return 1
}

# The config file the command line names; sets _virtnat_config_args for the binary.
_virtnat_config_files() {
  local config=${_virtnat_config:-${VIRTNAT_CONFIG:-/etc/virtnat/virtnat.toml}}
  [[ $config == "~/"* ]] && config=$HOME/${config#"~/"}
  local dir
  dir=$(dirname -- "$config")
  printf '%s\n' "$config"
  local file
  for file in "$dir"/conf.d/*.toml; do [[ -e $file ]] && printf '%s\n' "$file"; done
}

_virtnat_run() {  # the binary with the line's --config
  local config=$_virtnat_config
  [[ $config == "~/"* ]] && config=$HOME/${config#"~/"}
  if [[ -n $config ]]; then
    "$_virtnat_binary" --config "$config" "$@" 2>/dev/null
  else
    "$_virtnat_binary" "$@" 2>/dev/null
  fi
}

_virtnat_hosts() {
  _virtnat_run host list | cut -d, -f2 | cut -d. -f1
}

# One line per forward: FILE TAB HOST-OR-ADDRESS TAB TO_PORT TAB PORT TAB NETWORK
_virtnat_forwards() {
  _virtnat_run forward list --json | awk -F'"' '
    /^    "(file|host|network|port|target|to_port)": / { v[$2] = $4 }
    /^  }/ {
      print v["file"] "\t" (v["host"] != "" ? v["host"] : v["target"]) "\t" v["to_port"] \
            "\t" v["port"] "\t" v["network"]
      delete v
    }'
}

_virtnat_networks() {
  local files
  mapfile -t files < <(_virtnat_config_files)
  {
    awk '
      /^[ \t]*\[/ { in_network = ($0 ~ /^[ \t]*\[\[[ \t]*network[ \t]*\]\]/) }
      in_network && /^[ \t]*name[ \t]*=/ {
        value = $0
        sub(/^[^=]*=[ \t]*/, "", value)
        if (match(value, /^"[^"]*"/) || match(value, /^\047[^\047]*\047/))
          print substr(value, 2, RLENGTH - 2)
      }' "${files[@]}" 2>/dev/null
    _virtnat_forwards | cut -f5
  } | sort -u | grep -v '^$'
}

_virtnat_local_addresses() {
  command -v ip >/dev/null 2>&1 || return
  ip -o -4 address show 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }'
}

# Sets COMPREPLY to the words of $2.. (newline separated) that start with $1.
_virtnat_reply() {
  local cur=$1 word
  shift
  COMPREPLY=()
  while IFS= read -r word; do
    [[ -n $word && $word == "$cur"* ]] && COMPREPLY+=("$word")
  done <<<"$*"
}

_virtnat_option_value() {  # OPTION CUR
  local option=$1 cur=$2
  case $option in
    -c | --config)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    --state-dir | --hooks-dir)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
    --connect) _virtnat_reply "$cur" $'qemu:///system\nqemu:///session' ;;
    --protocol) _virtnat_reply "$cur" $'tcp\nudp\ntcp,udp' ;;
    --provider) _virtnat_reply "$cur" $'external\nlibvirt\nstandalone' ;;
    --listen) _virtnat_reply "$cur" "$(printf '*\n'; _virtnat_local_addresses)" ;;
    *) COMPREPLY=() ;;
  esac
}

_virtnat() {
  # Words up to the cursor, split on blanks only (COMP_WORDS splits at ':' and '=').
  local line=${COMP_LINE:0:COMP_POINT} words
  read -ra words <<<"$line"
  [[ $line =~ [[:space:]]$ || ${#words[@]} -eq 0 ]] && words+=("")
  local cword=$((${#words[@]} - 1))
  local cur=${words[cword]} prev=""
  ((cword > 0)) && prev=${words[cword - 1]}

  _virtnat_binary=${words[0]:-virtnat}
  [[ $_virtnat_binary == "~/"* ]] && _virtnat_binary=$HOME/${_virtnat_binary#"~/"}
  command -v -- "$_virtnat_binary" >/dev/null 2>&1 || return 0
  _virtnat_config=""

  # Walk the words before the cursor: commands, options and their values, positionals.
  local path=() valued=() globals=() i word positional=0 args=()
  _virtnat_load "$_virtnat_binary"
  globals=("${_virtnat_options[@]}")
  valued=("${_virtnat_valued[@]}")
  for ((i = 1; i < cword; i++)); do
    word=${words[i]}
    case $word in
      --) break ;;
      --config=*) _virtnat_config=${word#*=} ;;
      -*=*) ;;
      -*)
        if _virtnat_in "$word" "${valued[@]}"; then
          ((i + 1 < cword)) || { prev=$word; break; }
          [[ $word == -c || $word == --config ]] && _virtnat_config=${words[i + 1]}
          ((i++))
        fi
        ;;
      *)
        if ((positional == 0)) && _virtnat_in "$word" "${_virtnat_subcommands[@]}"; then
          path+=("$word")
          _virtnat_load "$_virtnat_binary" "${path[@]}"
          valued+=("${_virtnat_valued[@]}")
        else
          args+=("$word")
          ((positional++))
        fi
        ;;
    esac
  done
  _virtnat_load "$_virtnat_binary" "${path[@]}"

  local value=$cur option=""
  if [[ $cur == -*=* ]]; then
    option=${cur%%=*} value=${cur#*=}
  elif [[ $prev == -* ]] && _virtnat_in "$prev" "${valued[@]}"; then
    option=$prev
  fi

  if [[ -n $option ]]; then
    _virtnat_option_value "$option" "$value"
  elif [[ $cur == -* ]]; then
    local options=("${_virtnat_options[@]}" "${globals[@]}")
    _virtnat_reply "$cur" "$(printf '%s\n' "${options[@]}" | sort -u)"
  elif ((${#_virtnat_subcommands[@]} > 0 && positional == 0)); then
    _virtnat_reply "$cur" "$(printf '%s\n' "${_virtnat_subcommands[@]}")"
  else
    local count=${#_virtnat_positionals[@]} name=""
    if ((positional < count)); then
      name=${_virtnat_positionals[positional]}
    elif ((count > 0 && _virtnat_repeats)); then
      name=${_virtnat_positionals[count - 1]}
    fi
    case "${path[*]}|$name" in
      "network "*"|name" | *"|network") _virtnat_reply "$cur" "$(_virtnat_networks)" ;;
      "host lookup|name") _virtnat_reply "$cur" "$(_virtnat_hosts)" ;;
      "forward add|target")
        _virtnat_reply "$cur" "$(_virtnat_hosts | sed 's/$/:/')"
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
        ;;
      "forward remove|target")
        # Only forwards that `forward add` wrote can be removed with the CLI.
        _virtnat_reply "$cur" "$(_virtnat_forwards |
          awk -F'\t' '$1 ~ /(^|\/)50-cli\.toml$/ { print $2 ":" $3 }' | sort -u)"
        ;;
      "forward remove|public_port")
        local target=${args[0]}
        _virtnat_reply "$cur" "$(_virtnat_forwards |
          awk -F'\t' -v t="$target" '$1 ~ /(^|\/)50-cli\.toml$/ && $2 ":" $3 == t { print $4 }')"
        ;;
      "import "*"|file")
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
      *) COMPREPLY=() ;;
    esac
  fi

  # readline replaces only the part after the last ':' or '=' (COMP_WORDBREAKS).
  local head=${value%"${value##*[:=]}"}
  if [[ -n $head ]]; then
    local trimmed=() reply
    for reply in "${COMPREPLY[@]}"; do
      reply=${reply#"$head"}
      [[ -n $reply ]] && trimmed+=("$reply")
    done
    COMPREPLY=("${trimmed[@]}")
  fi
  return 0
} &&
  complete -F _virtnat virtnat
