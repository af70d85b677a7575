/* config.c - see config.h. inih splits the file into sections and key/value pairs; every value
 * is checked here, with the file and line it came from (counted by our own line reader, since
 * Debian's inih reports a line only for its own syntax errors). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hp_abi.h"
#include "hp_rpc.h"
#include "log.h"

#define MAX_CONF_FILES 256

struct parse {
	struct hpd_config *cfg;
	const char *file;
	FILE *fp;
	int line;
	char *err;          /* the first error, "FILE:LINE: reason" */
	size_t errlen;
	bool failed;
	char section_name[256];         /* the section inih is in */
	bool new_section;               /* a [header] line was read since the last key */
	struct hpd_module_cfg *section; /* the [module NAME] being read, or NULL */
	bool in_daemon;
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *p, const char *fmt, ...)
{
	if (p->failed)
		return 0;
	p->failed = true;
	int n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0; /* inih: stop treating this line as good */
}
#ifdef __clang_analyzer__
/* The analyzer does not follow variadic calls: tell it what fail() returns (as hp_error.h). */
#define fail(...) (fail(__VA_ARGS__), 0)
#endif

/* inih's line reader: fgets, counting lines so that the handler knows where it is. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *r = fgets(str, num, p->fp);
	if (r) {
		p->line++;
		const char *s = r + strspn(r, " \t");
		if (*s == '[')
			p->new_section = true; /* even one named like the last: a duplicate */
	}
	return r;
}

/* --- values ------------------------------------------------------------------------------- */

/* An unsigned integer with an optional K/M/G suffix (powers of 1024), within [min, max]. */
static bool parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long n = strtoull(v, &end, 10); /* decimal: "010" is ten, not eight */
	if (errno)
		return false;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || (shift && n > (UINT64_MAX >> shift)))
		return false;
	n <<= shift;
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

static int set_u64(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	if (!parse_u64(v, min, max, out))
		return fail(p, "%s = '%s': expected an integer from %llu to %llu (K, M, G suffixes allowed)",
			    key, v, (unsigned long long)min, (unsigned long long)max);
	return 1;
}

/* A guest memory size: a multiple of the page size. */
static int set_pages(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	if (!set_u64(p, key, v, min, max, out))
		return 0;
	if (*out % HP_PAGE_SIZE)
		return fail(p, "%s = '%s': expected a multiple of 4096 (the page size)", key, v);
	return 1;
}

static int set_uint(struct parse *p, const char *key, const char *v, unsigned min, unsigned max,
		    unsigned *out)
{
	uint64_t n;
	if (!set_u64(p, key, v, min, max, &n))
		return 0;
	*out = (unsigned)n;
	return 1;
}

static int set_str(struct parse *p, const char *key, const char *v, char **out)
{
	if (!*v)
		return fail(p, "%s is empty", key);
	char *copy = strdup(v);
	if (!copy)
		return fail(p, "out of memory");
	free(*out);
	*out = copy;
	return 1;
}

static bool lookup_uid(const char *name, uid_t *uid)
{
	uint64_t n;
	if (parse_u64(name, 0, UINT32_MAX - 1, &n)) {
		*uid = (uid_t)n;
		return true;
	}
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return false;
	*uid = pw->pw_uid;
	return true;
}

static bool lookup_gid(const char *name, gid_t *gid)
{
	uint64_t n;
	if (parse_u64(name, 0, UINT32_MAX - 1, &n)) {
		*gid = (gid_t)n;
		return true;
	}
	struct group *gr = getgrnam(name);
	if (!gr)
		return false;
	*gid = gr->gr_gid;
	return true;
}

/* A space- or comma-separated list of user or group names (or numbers). */
static int set_ids(struct parse *p, const char *key, const char *v, bool groups, unsigned *n,
		   uint32_t *ids)
{
	char buf[512];
	if (strlen(v) >= sizeof(buf))
		return fail(p, "%s: list too long", key);
	strcpy(buf, v);
	*n = 0;
	for (char *save, *tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (*n >= HPD_MAX_ALLOW)
			return fail(p, "%s: more than %d entries", key, HPD_MAX_ALLOW);
		bool ok = groups ? lookup_gid(tok, (gid_t *)&ids[*n]) : lookup_uid(tok, (uid_t *)&ids[*n]);
		if (!ok)
			return fail(p, "%s: no %s named '%s'", key, groups ? "group" : "user", tok);
		(*n)++;
	}
	return 1;
}

/* --- sections ----------------------------------------------------------------------------- */

static int daemon_key(struct parse *p, const char *key, const char *v)
{
	struct hpd_config *c = p->cfg;
	if (!strcmp(key, "socket")) {
		if (v[0] != '/' || strlen(v) >= 108)
			return fail(p, "socket = '%s': expected an absolute path of under 108 bytes", v);
		return set_str(p, key, v, &c->socket_path);
	}
	if (!strcmp(key, "socket_mode")) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(v, &end, 8);
		if (errno || *end || !*v || m > 0777)
			return fail(p, "socket_mode = '%s': expected an octal mode such as 0660", v);
		c->socket_mode = (mode_t)m;
		return 1;
	}
	if (!strcmp(key, "socket_group")) {
		if (!lookup_gid(v, &c->socket_group))
			return fail(p, "socket_group: no group named '%s'", v);
		c->socket_group_set = true;
		return 1;
	}
	if (!strcmp(key, "workers"))
		return set_uint(p, key, v, 0, 1024, &c->workers);
	if (!strcmp(key, "max_connections"))
		return set_uint(p, key, v, 1, 65536, &c->max_connections);
	if (!strcmp(key, "max_inflight"))
		return set_uint(p, key, v, 1, 65536, &c->max_inflight);
	if (!strcmp(key, "max_frame")) { /* 0: follow the largest module input */
		if (!set_u64(p, key, v, 0, 1ull << 30, &c->max_frame))
			return 0;
		return c->max_frame == 0 || c->max_frame >= 4096
			       ? 1 : fail(p, "max_frame = '%s': expected 0 (automatic) or 4096 to 1G", v);
	}
	if (!strcmp(key, "max_output"))
		return set_u64(p, key, v, 65536, 1ull << 32, &c->max_output);
	if (!strcmp(key, "shutdown_timeout_ms"))
		return set_u64(p, key, v, 0, 3600000, &c->shutdown_timeout_ms);
	if (!strcmp(key, "log_level")) {
		int l = hpd_log_level_parse(v);
		if (l < 0)
			return fail(p, "log_level = '%s': expected err, warning, notice, info or debug", v);
		c->log_level = l;
		return 1;
	}
	return fail(p, "unknown key '%s' in [daemon]", key);
}

static int module_key(struct parse *p, const char *key, const char *v)
{
	struct hpd_module_cfg *m = p->section;
	struct hp_module_config *vm = &m->vm;
	if (!strcmp(key, "path")) {
		if (v[0] != '/')
			return fail(p, "path = '%s': expected an absolute path", v);
		return set_str(p, key, v, &m->path);
	}
	if (!strcmp(key, "input_size"))
		return set_pages(p, key, v, HP_PAGE_SIZE, HP_INPUT_MAX, &vm->input_size);
	if (!strcmp(key, "output_size"))
		return set_pages(p, key, v, HP_PAGE_SIZE, HP_OUTPUT_MAX, &vm->output_size);
	if (!strcmp(key, "heap_size"))
		return set_pages(p, key, v, HP_MIN_HEAP_SIZE, HP_GUEST_MEM_MAX, &vm->heap_size);
	if (!strcmp(key, "stack_size"))
		return set_pages(p, key, v, HP_MIN_STACK_SIZE, HP_GUEST_MEM_MAX, &vm->stack_size);
	if (!strcmp(key, "timeout_ms"))
		return set_u64(p, key, v, 1, HP_MAX_TIMEOUT_MS, &vm->timeout_ms);
	if (!strcmp(key, "max_log_bytes"))
		return set_u64(p, key, v, 0, 1ull << 30, &vm->max_log_bytes);
	if (!strcmp(key, "max_hypercalls"))
		return set_u64(p, key, v, 1, 1ull << 32, &vm->max_hypercalls);
	if (!strcmp(key, "restore")) {
		int s = hp_restore_strategy_parse(v);
		if (s < 0)
			return fail(p, "restore = '%s': expected auto, dirtylog-memcpy, dirtylog-madvise, "
				    "pagemap-memcpy or pagemap-madvise", v);
		vm->restore = s;
		return 1;
	}
	if (!strcmp(key, "pool_min"))
		return set_uint(p, key, v, 0, 100000, &m->pool_min);
	if (!strcmp(key, "pool_max"))
		return set_uint(p, key, v, 1, 100000, &m->pool_max);
	if (!strcmp(key, "queue"))
		return set_uint(p, key, v, 0, 1000000, &m->queue);
	if (!strcmp(key, "max_sessions"))
		return set_uint(p, key, v, 0, 100000, &m->max_sessions);
	if (!strcmp(key, "session_idle_ms"))
		return set_u64(p, key, v, 100, 86400000, &m->session_idle_ms);
	if (!strcmp(key, "workers"))
		return set_uint(p, key, v, 1, HPD_MAX_PROCS, &m->procs);
	if (!strcmp(key, "isolation")) {
		if (strcmp(v, "thread") && strcmp(v, "process"))
			return fail(p, "isolation = '%s': expected thread or process", v);
		m->isolate = !strcmp(v, "process");
		return 1;
	}
	if (!strcmp(key, "host_functions")) {
		/* "client" is ours (the calling client answers); the rest are libhpvmm's built-ins */
		char rest[256];
		const char *bad;
		unsigned client = 0;
		size_t n = 0;
		for (const char *w = v; *w;) {
			w += strspn(w, " ,\t");
			size_t len = strcspn(w, " ,\t");
			if (len == 6 && !strncmp(w, "client", 6))
				client = HPD_HOST_CLIENT;
			else if (len && n + len + 1 < sizeof(rest))
				n += (size_t)snprintf(rest + n, sizeof(rest) - n, "%.*s ", (int)len, w);
			w += len;
		}
		rest[n] = '\0';
		if (hp_host_builtins_parse(rest, &m->host_functions, &bad))
			return fail(p, "host_functions: no host function '%s' (time, random, log, client)", bad);
		m->host_functions |= client;
		return 1;
	}
	if (!strcmp(key, "max_host_calls"))
		return set_u64(p, key, v, 1, 1000000, &vm->max_host_calls);
	if (!strcmp(key, "max_host_call_bytes"))
		return set_u64(p, key, v, 16, 1ull << 30, &vm->max_host_call_bytes);
	if (!strcmp(key, "allow_users"))
		return set_ids(p, key, v, false, &m->n_uids, (uint32_t *)m->allow_uids);
	if (!strcmp(key, "allow_groups"))
		return set_ids(p, key, v, true, &m->n_gids, (uint32_t *)m->allow_gids);
	return fail(p, "unknown key '%s' in [module %s]", key, m->name);
}

static bool valid_module_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= HP_RPC_MODULE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static int start_module(struct parse *p, const char *name)
{
	struct hpd_config *c = p->cfg;
	if (!valid_module_name(name))
		return fail(p, "[module %s]: a module name is 1 to %u of A-Z a-z 0-9 _ - .", name,
			    HP_RPC_MODULE_NAME_MAX - 1);
	if (hpd_config_module(c, name))
		return fail(p, "[module %s] is defined twice", name);
	if (c->nmodules >= HPD_MAX_MODULES)
		return fail(p, "more than %d modules", HPD_MAX_MODULES);
	struct hpd_module_cfg *m = &c->modules[c->nmodules];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	char where[PATH_MAX + 16];
	snprintf(where, sizeof(where), "%s:%d", p->file, p->line);
	m->where = strdup(where);
	if (!m->name || !m->where) {
		free(m->name);
		free(m->where);
		return fail(p, "out of memory");
	}
	m->pool_min = 1;
	m->pool_max = 8;
	m->queue = 64;
	m->session_idle_ms = 60000;
	m->procs = 1;
	c->nmodules++;
	p->section = m;
	return 1;
}

/* inih calls this for every key; a change of section name starts a new section. */
static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	if (p->failed)
		return 0;
	if (p->new_section || strcmp(p->section_name, section)) {
		p->new_section = false;
		snprintf(p->section_name, sizeof(p->section_name), "%s", section);
		p->section = NULL;
		p->in_daemon = !strcmp(section, "daemon");
		if (!*section)
			return fail(p, "'%s' is outside any section", key);
		if (!p->in_daemon && strncmp(section, "module ", 7))
			return fail(p, "unknown section [%s] (expected [daemon] or [module NAME])", section);
		if (!p->in_daemon && !start_module(p, section + 7))
			return 0;
	}
	if (!p->in_daemon && !p->section)
		return 0; /* a bad section header: already reported */
	return p->in_daemon ? daemon_key(p, key, value) : module_key(p, key, value);
}

/* Parses fp (named `file` in messages) into cfg; closes fp. */
static int parse_stream(struct hpd_config *cfg, const char *file, FILE *fp, char *err,
			size_t errlen)
{
	struct parse p = { .cfg = cfg, .file = file, .fp = fp, .err = err, .errlen = errlen };
	int rc = ini_parse_stream(read_line, &p, on_entry, &p);
	fclose(p.fp);
	if (p.failed)
		return -1;
	if (rc != 0) { /* inih's own complaint: a line that is no section, key or comment */
		snprintf(err, errlen, "%s:%d: not a [section], key = value or comment line", file,
			 rc > 0 ? rc : 0);
		return -1;
	}
	return 0;
}

static int parse_file(struct hpd_config *cfg, const char *file, char *err, size_t errlen)
{
	FILE *fp = fopen(file, "re");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	return parse_stream(cfg, file, fp, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.conf of dir, in name order; a missing directory has none. */
static int parse_dir(struct hpd_config *cfg, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char *names[MAX_CONF_FILES];
	unsigned n = 0;
	int rc = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		if (n == MAX_CONF_FILES) {
			snprintf(err, errlen, "%s: more than %d .conf files", dir, MAX_CONF_FILES);
			rc = -1;
			break;
		}
		if (!(names[n] = strdup(e->d_name))) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_str);
	for (unsigned i = 0; i < n; i++) {
		char path[PATH_MAX];
		if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path))
			rc = parse_file(cfg, path, err, errlen);
		free(names[i]);
	}
	return rc;
}

/* Checks that involve more than one key. */
static int validate(struct hpd_config *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->nmodules; i++) {
		struct hpd_module_cfg *m = &c->modules[i];
		if (!m->path) {
			snprintf(err, errlen, "%s: [module %s] has no path", m->where, m->name);
			return -1;
		}
		if (m->pool_min > m->pool_max) {
			snprintf(err, errlen, "%s: [module %s]: pool_min %u exceeds pool_max %u", m->where,
				 m->name, m->pool_min, m->pool_max);
			return -1;
		}
		if (m->isolate && m->procs > m->pool_max) {
			snprintf(err, errlen, "%s: [module %s]: workers %u exceeds pool_max %u (a worker "
				 "process holds at least one VM)", m->where, m->name, m->procs, m->pool_max);
			return -1;
		}
	}
	return 0;
}

static struct hpd_config *config_new(void)
{
	struct hpd_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->modules = calloc(HPD_MAX_MODULES, sizeof(*c->modules));
	c->socket_path = strdup(HP_RPC_DEFAULT_SOCKET);
	if (!c->modules || !c->socket_path) {
		hpd_config_free(c);
		return NULL;
	}
	c->socket_mode = 0660;
	c->max_connections = 1024;
	c->max_inflight = 256;
	c->max_output = 64ull << 20;
	c->shutdown_timeout_ms = 10000;
	c->log_level = HPD_LOG_INFO;
	return c;
}

int hpd_config_load(const char *path, const char *conf_dir, struct hpd_config **out, char *err,
		    size_t errlen)
{
	struct hpd_config *c = config_new();
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char dir[PATH_MAX];
	if (!conf_dir && snprintf(dir, sizeof(dir), "%s.d", path) < (int)sizeof(dir))
		conf_dir = dir;
	if (parse_file(c, path, err, errlen) || (conf_dir && parse_dir(c, conf_dir, err, errlen)) ||
	    validate(c, err, errlen)) {
		hpd_config_free(c);
		return -1;
	}
	if (conf_dir && !(c->conf_dir = strdup(conf_dir))) {
		snprintf(err, errlen, "out of memory");
		hpd_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void hpd_config_free(struct hpd_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->modules && i < c->nmodules; i++) {
		free(c->modules[i].name);
		free(c->modules[i].path);
		free(c->modules[i].where);
	}
	free(c->modules);
	free(c->socket_path);
	free(c->conf_dir);
	free(c);
}

const struct hpd_module_cfg *hpd_config_module(const struct hpd_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nmodules; i++)
		if (!strcmp(c->modules[i].name, name))
			return &c->modules[i];
	return NULL;
}

bool hpd_module_allows(const struct hpd_module_cfg *m, uid_t uid, const gid_t *gids,
		       unsigned ngids)
{
	if (!m->n_uids && !m->n_gids)
		return true;
	for (unsigned i = 0; i < m->n_uids; i++)
		if (m->allow_uids[i] == uid)
			return true;
	for (unsigned i = 0; i < m->n_gids; i++)
		for (unsigned j = 0; j < ngids; j++)
			if (m->allow_gids[i] == gids[j])
				return true;
	return false;
}

int hpd_config_parse_text(const char *what, const char *text, struct hpd_config **out, char *err,
			  size_t errlen)
{
	struct hpd_config *c = config_new();
	FILE *fp = c ? fmemopen((void *)text, strlen(text), "r") : NULL;
	if (!fp) {
		snprintf(err, errlen, "out of memory");
		hpd_config_free(c);
		return -1;
	}
	if (parse_stream(c, what, fp, err, errlen) || validate(c, err, errlen)) {
		hpd_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int hpd_module_cfg_copy(struct hpd_module_cfg *dst, const struct hpd_module_cfg *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->path = strdup(src->path);
	dst->where = strdup(src->where);
	if (!dst->name || !dst->path || !dst->where) {
		hpd_module_cfg_clear(dst);
		return -1;
	}
	return 0;
}

void hpd_module_cfg_clear(struct hpd_module_cfg *m)
{
	free(m->name);
	free(m->path);
	free(m->where);
	memset(m, 0, sizeof(*m));
}

static bool vm_cfg_equal(const struct hp_module_config *a, const struct hp_module_config *b)
{
	return a->input_size == b->input_size && a->output_size == b->output_size &&
	       a->heap_size == b->heap_size && a->stack_size == b->stack_size &&
	       a->restore == b->restore && a->timeout_ms == b->timeout_ms &&
	       a->max_log_bytes == b->max_log_bytes && a->max_hypercalls == b->max_hypercalls &&
	       a->max_host_calls == b->max_host_calls &&
	       a->max_host_call_bytes == b->max_host_call_bytes;
}

bool hpd_module_cfg_equal(const struct hpd_module_cfg *a, const struct hpd_module_cfg *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->path, b->path) &&
	       vm_cfg_equal(&a->vm, &b->vm) && a->pool_min == b->pool_min &&
	       a->pool_max == b->pool_max && a->queue == b->queue && a->n_uids == b->n_uids &&
	       a->host_functions == b->host_functions && a->max_sessions == b->max_sessions &&
	       a->session_idle_ms == b->session_idle_ms && a->isolate == b->isolate &&
	       a->procs == b->procs && a->n_gids == b->n_gids &&
	       !memcmp(a->allow_uids, b->allow_uids, a->n_uids * sizeof(uid_t)) &&
	       !memcmp(a->allow_gids, b->allow_gids, a->n_gids * sizeof(gid_t));
}

int hpd_config_check_files(const struct hpd_config *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->nmodules; i++)
		if (access(c->modules[i].path, R_OK) < 0) {
			snprintf(err, errlen, "%s: [module %s]: path %s: %s", c->modules[i].where,
				 c->modules[i].name, c->modules[i].path, strerror(errno));
			return -1;
		}
	return 0;
}
