#!/bin/bash
# Crash safety and concurrency:
#  - kill -9 of `virtnat apply` at random moments while it switches a large config back and
#    forth: the table is always entirely the old or entirely the new one, and the next apply
#    succeeds;
#  - 50 hook invocations for 50 VMs at once, then 50 stops at once, repeated: exactly the right
#    forwards and a consistent running set.
#   bash tests/lab/test_reliability.sh BUILD_DIR [KILL_RUNS]
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
KILL_RUNS=${2:-200}
FORWARDS=500

lab_start

# forwards BASE: FORWARDS forwards to lxdev01, public ports BASE, BASE+1, ...
forwards() {
  local base=$1 i
  for ((i = 0; i < FORWARDS; i++)); do
    printf '[[forward]]\nhost = "lxdev01"\nport = "%d"\nto_port = "22"\n\n' $((base + i))
  done
}
write_config < <(forwards 10000)
cp "$CONFIG" "$WORK_DIR/old.toml"
write_config < <(forwards 20000)
cp "$CONFIG" "$WORK_DIR/new.toml"

# classify: "old", "new", "none" or "mixed:O:N" from the elements of fwd_dnat.
classify() {
  local listing old new
  listing=$(nft_host list map inet "$TABLE" fwd_dnat 2>/dev/null) || { echo none; return; }
  old=$(grep -o '198.51.100.1 . tcp . 1[0-9]\{4\} :' <<<"$listing" | wc -l)
  new=$(grep -o '198.51.100.1 . tcp . 2[0-9]\{4\} :' <<<"$listing" | wc -l)
  if [ "$old" -eq "$FORWARDS" ] && [ "$new" -eq 0 ]; then echo old
  elif [ "$new" -eq "$FORWARDS" ] && [ "$old" -eq 0 ]; then echo new
  else echo "mixed:$old:$new"; fi
}

cp "$WORK_DIR/old.toml" "$CONFIG"
check "apply the old config ($FORWARDS forwards)" virtnat apply
# How long one apply takes, to aim the kills inside it.
start_ns=$(date +%s%N)
cp "$WORK_DIR/new.toml" "$CONFIG"
virtnat apply >/dev/null 2>&1
apply_us=$((($(date +%s%N) - start_ns) / 1000))
note "one apply of $FORWARDS forwards takes about $((apply_us / 1000)) ms"

bad=0 killed=0 outcomes=""
for ((run = 1; run <= KILL_RUNS; run++)); do
  if ((run % 2)); then cp "$WORK_DIR/old.toml" "$CONFIG"; else cp "$WORK_DIR/new.toml" "$CONFIG"; fi
  # Alternate full replaces and element updates: forget the layout memo now and then.
  if ((run % 3 == 0)); then rm -f "$VIRTNAT_STATE_DIR"/applied-*.memo; fi
  ip netns exec "$HOST_NS" "$VIRTNAT" --config "$CONFIG" apply >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%06d' $((RANDOM * apply_us / 32768)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null
  state=$(classify)
  case $state in
    old | new) ;;
    *) bad=$((bad + 1)); outcomes+=" run $run: $state" ;;
  esac
done
if [ "$bad" -eq 0 ]; then
  pass "$KILL_RUNS applies killed at random moments ($killed killed before they finished): the table was always entirely old or entirely new"
else
  fail "after kill -9 the table is entirely old or new" "$bad bad:$outcomes"
fi
cp "$WORK_DIR/new.toml" "$CONFIG"
check "the next apply succeeds" virtnat apply
state=$(classify)
[ "$state" = new ] && pass "and installs the new config" || fail "the next apply installs the new config" "$state"
check "a second apply changes nothing" bash -c "ip netns exec '$HOST_NS' '$VIRTNAT' --config '$CONFIG' apply | grep -q 'no change'"

# ------------------------------------------------------------------ 50 hooks at once
{
  cat <<'EOF2'
[settings]
table = "virtnat"
public_address = "198.51.100.1"
vm_lifecycle = "libvirt"

[[network]]
name = "nat_bridge"
bridge = "nbr0"
address = "10.1.1.1/24"
mac_prefix = "02:FF:0A:0A:06"
EOF2
  for i in $(seq 1 50); do
    printf '\n[[network.host]]\nname = "vm%02d"\naddress = "10.1.1.%d"\n' "$i" $((i + 10))
  done
  for i in $(seq 1 50); do
    printf '\n[[forward]]\nhost = "vm%02d"\nport = "%d"\nto_port = "22"\n' "$i" $((30000 + i))
  done
} >"$CONFIG"
check "apply 50 VMs' forwards (none running)" virtnat apply --connect test:///default

domain_xml() { printf "<domain type='qemu'><name>%s</name><devices></devices></domain>" "$1"; }
hooks_at_once() {
  local operation=$1 sub=$2 pids=() i
  for i in $(seq 1 50); do
    # What libvirt runs: the hook binary named by the installed hook file's #! line.
    domain_xml "$(printf 'vm%02d' "$i")" |
      ip netns exec "$HOST_NS" "$BUILD_DIR/virtnat-hook" --hook-state-dir="$VIRTNAT_STATE_DIR" \
        /etc/libvirt/hooks/qemu.d/virtnat "$(printf 'vm%02d' "$i")" "$operation" "$sub" - &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}
dnat_count() { nft_host list map inet "$TABLE" fwd_dnat | grep -o ' : 10\.1\.1\.' | wc -l; }
running_count() { jq '.domains | length' "$VIRTNAT_STATE_DIR/running.json"; }
for round in 1 2 3; do
  hooks_at_once start begin
  n=$(dnat_count) r=$(running_count)
  if [ "$n" -eq 50 ] && [ "$r" -eq 50 ]; then
    pass "round $round: 50 starts at once: 50 forwards active, 50 VMs in the running set"
  else
    fail "round $round: 50 starts at once" "elements $n, running $r"
  fi
  hooks_at_once stopped end
  n=$(dnat_count) r=$(running_count)
  if [ "$n" -eq 0 ] && [ "$r" -eq 0 ]; then
    pass "round $round: 50 stops at once: no forward left, empty running set"
  else
    fail "round $round: 50 stops at once" "elements $n, running $r"
  fi
done

finish
