/* canary_expect.h - the arch's answer to the canary module's faulting calls, for tests that
 * are otherwise the same on every arch (test_pool.c); one file per arch, canary_expect_<arch>.c. */
#ifndef HP_KVMTEST_CANARY_EXPECT_H
#define HP_KVMTEST_CANARY_EXPECT_H

/* A canary function that executes one privileged instruction (a fault at module privilege). */
extern const char canary_privileged_fn[];
/* What the fault of that function and of scribble_fault says. */
extern const char canary_fault_message[];

#endif
