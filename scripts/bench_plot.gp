# bench_plot.gp - scripts/bench's plot: latency vs pages dirtied (bench_restore's rows, via
# bench_report.py's pages.dat), log-log. Call: gnuplot -e "data='...'; out='...png'" bench_plot.gp
set terminal pngcairo size 800,500 noenhanced
set output out
set logscale xy
set xlabel "pages dirtied by the call (4 KiB)"
set ylabel "microseconds (median)"
set title "hyperpool: call + restore and restore vs pages dirtied, with the floors"
set key top left
set grid
plot data using 1:2 with linespoints title "call + restore (pagemap-memcpy)", \
     data using 1:3 with linespoints title "restore alone", \
     data using 1:4 with linespoints title "floor: memcpy of the pages", \
     data using 1:5 with linespoints title "floor: madvise DONTNEED of the pages"
