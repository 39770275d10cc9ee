# gnuplot -e "apply_dat='A'; conn_dat='C'; has_apply=1; has_conn=1; out='plot.png'" bench/plot.gp
#   A: "N virtnat_ms nft_ms iptables_restore_ms iptables_per_rule_ms kernel_floor_ms rss_kb" per
#      line (iptables_per_rule_ms beyond N = 1,000 is extrapolated)
#   C: "virtnat|iptables N connections_per_s" per line, plus "plain 0 connections_per_s"
set terminal pngcairo size 1400,560 font "DejaVu Sans,11"
set output out
set multiplot layout 1,2 title "virtnat benchmarks (make bench)"

set title "Apply from scratch (fresh namespace)"
set xlabel "forwards (N)"
set ylabel "wall time, ms (median)"
set logscale xy
set xrange [70:140000]
set yrange [1:*]
set grid
set key top left
if (!has_apply) { set label 1 "not measured in this run" at graph 0.5, 0.5 center; plot [1:2] [1:2] NaN notitle; unset label 1 } else {
plot apply_dat using 1:2 with linespoints lw 3 pt 7 title "virtnat apply", \
     apply_dat using 1:6 with linespoints lw 2 pt 6 lc rgb "black" dt 2 title "kernel floor (the same batch, minimal sender)", \
     apply_dat using 1:3 with linespoints lw 2 pt 5 title "nft -f (same text)", \
     apply_dat using 1:4 with linespoints lw 2 pt 9 title "iptables-restore", \
     apply_dat using 1:($1 <= 1000 ? $5 : NaN) with linespoints lw 2 pt 13 lc 4 title "iptables, one process per rule", \
     apply_dat using 1:($1 >= 1000 ? $5 : NaN) with linespoints lw 2 pt 12 lc 4 dt 2 title "(beyond 1,000 extrapolated)"
}

set title "New TCP connections per second through a forward"
set xlabel "forwards installed (N)"
set ylabel "connections/s (median)"
unset logscale
set logscale x
set xrange [0.7:140000]
set yrange [0:*]
set key bottom left
if (!has_conn) { set label 1 "not measured in this run" at graph 0.5, 0.5 center; plot [1:2] [0:1] NaN notitle } else {
stats conn_dat using (strcol(1) eq "plain" ? $3 : NaN) nooutput
plain = STATS_max
plot conn_dat using ((strcol(1) eq "virtnat") ? $2 : NaN):3 with linespoints lw 3 pt 7 title "virtnat (nftables maps)", \
     conn_dat using ((strcol(1) eq "iptables") ? $2 : NaN):3 with linespoints lw 2 pt 9 title "iptables, linear rules", \
     plain with lines dt 3 lw 2 title "plain routing, no NAT"
}
unset multiplot
