/* bench_peer_helper KIND - the process the fork+exec and posix_spawn peers of bench_peers start
 * once per call: reads the msgpack argument array of KIND (add, sha256 or enrich: peer_work.h)
 * from stdin until EOF, writes the msgpack answer to stdout, exits 0 (1 on bad input, 2 on a
 * bad command line). Linked statically, so its start is exec + a static binary's start,
 * without the dynamic loader: the cheapest process per call. */
#include <unistd.h>

#include "peer_work.h"

int main(int argc, char **argv)
{
	int kind = argc == 2 ? peer_kind_parse(argv[1]) : -1;
	if (kind < 0) {
		fprintf(stderr, "usage: bench_peer_helper add|sha256|enrich\n");
		return 2;
	}
	static uint8_t in[PEER_MAX_BYTES], out[PEER_MAX_BYTES];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(0, in + len, sizeof(in) - len);
		if (r < 0)
			return 1;
		if (r == 0 || (len += (size_t)r) == sizeof(in))
			break;
	}
	size_t n = peer_work((enum peer_kind)kind, in, len, out, sizeof(out));
	for (size_t done = 0; done < n;) {
		ssize_t w = write(1, out + done, n - done);
		if (w <= 0)
			return 1;
		done += (size_t)w;
	}
	return n ? 0 : 1;
}
