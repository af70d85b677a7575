/* hostile_expect.h - what test_hostile.c expects of each misdeed of examples/hostile: one
 * table per arch (hostile_<arch>.c), since the faults and their messages are the CPU's. */
#ifndef HP_KVMTEST_HOSTILE_EXPECT_H
#define HP_KVMTEST_HOSTILE_EXPECT_H

#include <stddef.h>

struct misdeed {
	const char *fn;
	int rc, status;
	const char *message;
};

extern const struct misdeed hostile_misdeeds[];
extern const size_t hostile_nmisdeeds;
/* Functions that must end normally (nil) although they look like misdeeds; NULL-terminated. */
extern const char *const hostile_benign[];

#endif
