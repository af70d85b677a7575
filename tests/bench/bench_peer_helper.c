/* bench_peer_helper - the process the fork+exec and posix_spawn peers of bench_peers start
 * once per call: reads the msgpack arguments of math.add from stdin (until EOF), writes the
 * msgpack answer to stdout, exits 0 (1 on bad input). Linked statically, so its start is
 * exec + a static binary's start, without the dynamic loader: the cheapest process per call. */
#include <unistd.h>

#include "peer_work.h"

int main(void)
{
	uint8_t in[256], out[64];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(0, in + len, sizeof(in) - len);
		if (r < 0)
			return 1;
		if (r == 0 || (len += (size_t)r) == sizeof(in))
			break;
	}
	size_t n = peer_add(in, len, out, sizeof(out));
	return n && write(1, out, n) == (ssize_t)n ? 0 : 1;
}
