/* log.c - see log.h. The level and the prefix style are set once before any thread starts and
 * only read afterwards. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int max_level = HPD_LOG_INFO;
static bool journal_prefix;

static const char *const level_names[] = {
	[HPD_LOG_ERR] = "err", [HPD_LOG_WARNING] = "warning", [HPD_LOG_NOTICE] = "notice",
	[HPD_LOG_INFO] = "info", [HPD_LOG_DEBUG] = "debug",
};

void hpd_log_setup(int max, bool journal)
{
	max_level = max;
	journal_prefix = journal;
}

int hpd_log_level_parse(const char *name)
{
	for (int i = HPD_LOG_ERR; i <= HPD_LOG_DEBUG; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

int hpd_log_level(void)
{
	return max_level;
}

bool hpd_log_enabled(int level)
{
	return level <= max_level;
}

void hpd_log(int level, const char *fmt, ...)
{
	if (!hpd_log_enabled(level))
		return;
	char line[1024];
	int n = journal_prefix ? snprintf(line, sizeof(line), "<%d>", level)
			       : snprintf(line, sizeof(line), "hyperpoold: %s: ", level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* One line per event: a message's own newlines would start false journal entries. Other
	 * control bytes (a guest's printf reaches this log at debug level) become '?': an escape
	 * sequence must not drive the terminal of whoever reads the log. */
	for (size_t i = (size_t)n; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\n' || ch == '\r')
			line[i] = ' ';
		else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
