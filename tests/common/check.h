/* check.h - minimal assertions for the test programs: each failed check prints where and why,
 * the program keeps going and exits 1 at the end (CHECK_DONE), so one run shows every failure.
 * Exit code 77 means "skipped" to meson. */
#ifndef HP_TEST_CHECK_H
#define HP_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures __attribute__((unused));
static int check_count __attribute__((unused));

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		check_count++;                                                                 \
		if (!(cond)) {                                                                 \
			check_failures++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
		}                                                                              \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                   \
	do {                                                                                   \
		check_count++;                                                                 \
		if (!(cond)) {                                                                 \
			check_failures++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
		}                                                                              \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                     \
	do {                                                                                   \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                   \
		CHECK_MSG(check_a_ == check_b_, "%s = 0x%" PRIx64 ", expected 0x%" PRIx64, #a, \
			  check_a_, check_b_);                                                 \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                        \
	do {                                                                                   \
		const char *check_h_ = (hay), *check_n_ = (needle);                            \
		CHECK_MSG(check_h_ && strstr(check_h_, check_n_), "\"%s\" does not contain \"%s\"", \
			  check_h_ ? check_h_ : "(null)", check_n_);                           \
	} while (0)

#define CHECK_DONE()                                                                           \
	do {                                                                                   \
		fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);        \
		return check_failures ? 1 : 0;                                                 \
	} while (0)

#endif
