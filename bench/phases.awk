# awk [-v stride=S -v pick=P -v label=L] -f phases.awk RAW TRACE: the phase breakdown of
# traced runs, as markdown table rows.
#   RAW:   vnbench --raw lines "label run wall_ns maxrss_kb", one per command and run
#   TRACE: nfttrace.so lines (spawn, load, nft START END BYTES JSON WORDS..., nl START END
#          BYTES, exit), the processes one after another, each starting with "spawn"
# When vnbench ran S commands per run, stride=S pick=P label=L keep the P-th command (1-based)
# of every run, whose raw lines carry label L.
# Prints "| phase | median ms | share of the median total |" rows (with -v tsv=1:
# "phase<TAB>ms"); the phases of run 1 name the rows (every run of one command has the same
# phases).
function median(values, n,    i, j, t, sorted) {
  for (i = 1; i <= n; i++) sorted[i] = values[i]
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) {
      t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t
    }
  return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
}
function add(name, ns) {
  k++
  if (run == 1) names[k] = name
  value[k, run] = ns / 1e6
}
function nftname(words, json) {
  if (words ~ /^list /) return json ? "libnftables lists the table as JSON" : "libnftables lists"
  if (words ~ /^table inet [A-Za-z0-9_]+ delete table/) return "libnftables: whole-table transaction (parse the text, commit)"
  if (words ~ /^(add|delete) element/) return "libnftables: element transaction (parse the text, commit)"
  return "libnftables: " words
}
function close_run() {
  if (run < 1 || !keep) return
  add(transactions[run] ? "virtnat's own code after the last transaction, until exit()" : "virtnat's own code, until exit()", exit_ns - last)
  add("exit(): static destructors, unmapping", wall[run] * 1 - (exit_ns - spawn))
  if (k > nphases) nphases = k
}
BEGIN { if (stride < 1) stride = 1; if (pick < 1) pick = 1 }
FNR == NR { if (label == "" || $1 == label) wall[++walls] = $3; next }
$1 == "spawn" {
  close_run()
  process++
  keep = (process - 1) % stride == pick - 1
  if (keep) { run++; k = 0; spawn = $2; last = $2 }
  next
}
!keep { next }
$1 == "load" {
  add("process start: exec, loading and relocating the shared libraries", $2 - spawn)
  last = $2; next
}
$1 == "nft" {
  words = ""
  for (i = 6; i <= NF; i++) words = words (i > 6 ? " " : "") $i
  add(transactions[run]++ ? "virtnat's own code between transactions" : "virtnat's own code before the first transaction", $2 - last)
  add(sprintf("transaction %d: %s", transactions[run], nftname(words, $5)), $3 - $2)
  last = $3; next
}
$1 == "nl" {
  add(transactions[run]++ ? "virtnat's own code between transactions" : "virtnat's own code before the first transaction", $2 - last)
  add(sprintf("transaction %d: the kernel applies the netlink batch (%s KiB), inside sendmsg", transactions[run], $4 < 10240 ? sprintf("%.1f", $4 / 1024) : sprintf("%.0f", $4 / 1024)), $3 - $2)
  last = $3; next
}
$1 == "exit" { exit_ns = $2; next }
END {
  close_run()
  total = median(wall, run) / 1e6
  for (p = 1; p <= nphases; p++) {
    for (r = 1; r <= run; r++) column[r] = value[p, r]
    m = median(column, run)
    if (tsv) printf "%s\t%.1f\n", names[p], m
    else printf "| %s | %.1f | %.0f%% |\n", names[p], m, (total > 0 ? 100 * m / total : 0)
  }
  if (tsv) printf "**total (median wall time)**\t%.1f\n", total
  else printf "| **total (median wall time of the traced runs)** | **%.1f** | |\n", total
}
