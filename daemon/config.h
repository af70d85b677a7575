/* config.h - hyperpoold's configuration: an INI file (parsed by inih) plus every *.conf of its
 * drop-in directory, in name order. docs/configuration.md and units/hyperpoold.conf.example
 * list every key. Bad input is refused as a whole with "FILE:LINE: reason". */
#ifndef HPD_CONFIG_H
#define HPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hpvmm.h"

#define HPD_MAX_MODULES 256
#define HPD_MAX_ALLOW 64
#define HPD_MAX_PROCS 64 /* worker processes of one module */
#define HPD_HOST_CLIENT 0x100u /* host_functions = client: other names go to the calling client */

struct hpd_module_cfg {
	char *name;
	char *path;                  /* the module ELF */
	struct hp_module_config vm;  /* sizes, default deadline, limits, restore strategy */
	unsigned pool_min, pool_max; /* VMs kept ready / existing at most */
	unsigned queue;              /* calls waiting for a VM at most, beyond: busy */
	unsigned max_sessions;       /* sessions holding its VMs at once (0: pool_max) */
	uint64_t session_idle_ms;    /* a session unused this long is closed */
	uid_t allow_uids[HPD_MAX_ALLOW];
	gid_t allow_gids[HPD_MAX_ALLOW];
	unsigned n_uids, n_gids;     /* both 0: anyone who can open the socket may call */
	unsigned host_functions;     /* HP_HOST_* built-ins the module may call, and HPD_HOST_CLIENT */
	bool isolate;                /* isolation = process: its VMs live in worker processes */
	unsigned procs;              /* workers = N: how many worker processes (isolate only) */
	char *where;                 /* "FILE:LINE" of its section, for messages */
};

struct hpd_config {
	char *socket_path;
	mode_t socket_mode;
	bool socket_group_set;
	gid_t socket_group;
	unsigned workers;            /* 0: online CPUs */
	unsigned max_connections;
	unsigned max_inflight;       /* requests in flight per connection */
	uint64_t max_frame;          /* 0: the largest module input + HP_RPC_FRAME_OVERHEAD */
	uint64_t max_output;         /* bytes buffered for one slow reader before it is dropped */
	uint64_t shutdown_timeout_ms;
	int log_level;               /* enum hpd_log_level */
	char *conf_dir;              /* the drop-in directory that was read (or NULL) */
	struct hpd_module_cfg *modules;
	unsigned nmodules;
};

/* Reads `path` and then every *.conf of `conf_dir` (NULL: "<path>.d"; a missing directory is
 * fine). On failure returns -1 with a one-line message in err. */
int hpd_config_load(const char *path, const char *conf_dir, struct hpd_config **out, char *err,
		    size_t errlen);
void hpd_config_free(struct hpd_config *cfg);
/* --check-config's extra step: every module's ELF can be read. */
int hpd_config_check_files(const struct hpd_config *cfg, char *err, size_t errlen);

/* The same from text in memory (the admin `load` method builds one [module] section); `what`
 * names it in messages. */
int hpd_config_parse_text(const char *what, const char *text, struct hpd_config **out, char *err,
			  size_t errlen);

/* A module's configuration owned on its own (a loaded module outlives the config it came
 * from), and whether two are the same. */
int hpd_module_cfg_copy(struct hpd_module_cfg *dst, const struct hpd_module_cfg *src);
void hpd_module_cfg_clear(struct hpd_module_cfg *m);
bool hpd_module_cfg_equal(const struct hpd_module_cfg *a, const struct hpd_module_cfg *b);

const struct hpd_module_cfg *hpd_config_module(const struct hpd_config *cfg, const char *name);

/* May a peer with this uid and these groups (primary and supplementary) call the module? */
bool hpd_module_allows(const struct hpd_module_cfg *m, uid_t uid, const gid_t *gids,
		       unsigned ngids);

#endif
