/* canary_expect_x86_64.c - see canary_expect.h: hlt at CPL3 and wrmsr are #GP. */
#include "canary_expect.h"

const char canary_privileged_fn[] = "hlt";
const char canary_fault_message[] = "general protection";
