/* log.h - the daemon's log: one line per event on stderr. Under systemd (JOURNAL_STREAM set)
 * each line starts with sd-daemon's "<N>" priority prefix, so the journal keeps the level;
 * on a terminal it starts with "hyperpoold: <level>: ". Thread-safe (one write per line). */
#ifndef HPD_LOG_H
#define HPD_LOG_H

#include <stdbool.h>

enum hpd_log_level { /* syslog priorities */
	HPD_LOG_ERR = 3,
	HPD_LOG_WARNING = 4,
	HPD_LOG_NOTICE = 5,
	HPD_LOG_INFO = 6,
	HPD_LOG_DEBUG = 7,
};

/* Lines above `max` are not written; `journal` chooses the prefix style. Call once at start,
 * before any thread exists. */
void hpd_log_setup(int max, bool journal);
int hpd_log_level_parse(const char *name); /* "err".."debug", -1 if unknown */

void hpd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool hpd_log_enabled(int level);
int hpd_log_level(void); /* the level set up (a worker process is given it) */

#endif
