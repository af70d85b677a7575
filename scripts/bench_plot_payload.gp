# bench_plot_payload.gp - scripts/bench's plot of latency vs payload size: echo.echo of a bin of
# N bytes, in process and end to end (bench_peers' rows, via bench_report.py's payload.dat),
# log-log. Call: gnuplot -e "data='...'; out='...png'" bench_plot_payload.gp
set terminal pngcairo size 800,500 noenhanced
set output out
set logscale xy
set xlabel "payload: bytes in, the same bytes out (echo.echo of a bin)"
set ylabel "microseconds (median)"
set title "hyperpool: call latency vs payload size"
set key top left
set grid
plot data using 1:2 with linespoints title "in process: the call alone (hp_vm_call)", \
     data using 1:3 with linespoints title "end to end: hpc_call through hyperpoold"
