/* fuzz_config.c - libFuzzer target: hyperpoold's configuration parser (daemon/config.c, inih
 * underneath) on hostile text, as `hpd_config_parse_text` reads it (the path the admin `load`
 * method and every config file take). A refusal must come with a one-line "WHERE: reason"
 * message; an accepted config must hold what the parser promises: a socket path, every module
 * named and with a path, pool_min <= pool_max, no module twice, and each module's copy equal to
 * it. Build: see tests/fuzz/meson.build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_module(const struct hpd_config *c, const struct hpd_module_cfg *m)
{
	if (!m->name || !*m->name || !m->path || !*m->path || m->pool_min > m->pool_max ||
	    m->pool_max == 0 || hpd_config_module(c, m->name) != m)
		abort();
	struct hpd_module_cfg copy;
	if (hpd_module_cfg_copy(&copy, m))
		abort();
	if (!hpd_module_cfg_equal(&copy, m))
		abort();
	hpd_module_cfg_clear(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		hpd_log_setup(HPD_LOG_ERR - 1, false);
		quiet = true;
	}
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct hpd_config *c = NULL;
	char err[512] = "";
	if (hpd_config_parse_text("fuzz", text, &c, err, sizeof(err))) {
		if (c || !*err || strchr(err, '\n') || strncmp(err, "fuzz", 4))
			abort();
	} else {
		if (!c || !c->socket_path)
			abort();
		for (unsigned i = 0; i < c->nmodules; i++)
			check_module(c, &c->modules[i]);
		hpd_config_free(c);
	}
	free(text);
	return 0;
}
