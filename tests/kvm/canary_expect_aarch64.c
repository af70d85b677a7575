/* canary_expect_aarch64.c - see canary_expect.h: msr sctlr_el1 and udf at EL0 are undefined
 * instructions. */
#include "canary_expect.h"

const char canary_privileged_fn[] = "msr_sctlr";
const char canary_fault_message[] = "undefined instruction";
