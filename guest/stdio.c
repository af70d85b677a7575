/* stdio.c - picolibc's stdout/stderr, abort(), assert() and exit() on top of hypercalls.
 *
 * Output goes into the log buffer in the control region and reaches the host with HP_HC_LOG
 * when the buffer fills, when the stream changes (so stdout/stderr interleave in order) and
 * at the end of every call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

static size_t log_len;
static uint32_t log_stream = HP_LOG_STDOUT;

void hp_log_flush(void)
{
	if (log_len == 0)
		return;
	HP_CB->log_len = (uint32_t)log_len;
	HP_CB->log_stream = log_stream;
	hp_arch_hypercall(HP_HC_LOG);
	log_len = 0;
}

static void log_put(uint32_t stream, char c)
{
	if (stream != log_stream) {
		hp_log_flush();
		log_stream = stream;
	}
	if (log_len == HP_LOG_BUF_SIZE)
		hp_log_flush();
	((char *)(uintptr_t)HP_GPA_LOG)[log_len++] = c;
}

static int put_stdout(char c, FILE *f)
{
	(void)f;
	log_put(HP_LOG_STDOUT, c);
	return (unsigned char)c;
}

static int put_stderr(char c, FILE *f)
{
	(void)f;
	log_put(HP_LOG_STDERR, c);
	return (unsigned char)c;
}

static FILE out_stream = FDEV_SETUP_STREAM(put_stdout, NULL, NULL, _FDEV_SETUP_WRITE);
static FILE err_stream = FDEV_SETUP_STREAM(put_stderr, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = NULL;
FILE *const stdout = &out_stream;
FILE *const stderr = &err_stream;

static _Noreturn void vpanic(const char *fmt, va_list ap)
{
	hp_log_flush();
	char *msg = (char *)HP_CB->abort_msg;
	int n = vsnprintf(msg, HP_ABORT_MSG_MAX, fmt, ap);
	HP_CB->abort_len = n < 0 ? 0 : (uint32_t)n < HP_ABORT_MSG_MAX ? (uint32_t)n : HP_ABORT_MSG_MAX - 1;
	hp_arch_hypercall(HP_HC_ABORT);
	hp_arch_halt();
}

_Noreturn void hp_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpanic(fmt, ap);
}

static _Noreturn void panicf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpanic(fmt, ap);
}

_Noreturn void abort(void)
{
	panicf("abort() called");
}

_Noreturn void __assert_func(const char *file, int line, const char *func, const char *expr)
{
	panicf("assertion failed: %s (%s:%d%s%s)", expr, file, line, func ? ", " : "",
	       func ? func : "");
}

_Noreturn void _exit(int status)
{
	panicf("exit(%d) called: a module function must return its result instead", status);
}
