/* hostile - one function per misdeed a guest can commit. The host must answer each with a clear
 * error code and message, restore the VM, and serve the next call correctly. Used by the kvm
 * suite (tests/kvm/test_hostile.c) and by anyone who wants to see it happen:
 *
 *   hyperpool-run build/examples/hostile.elf null_deref
 *
 * Some misdeeds bypass the runtime on purpose (raw hypercalls, a forged call block): a module
 * is untrusted code, it does not have to use our runtime at all. The misdeeds that only exist
 * on one CPU (privileged instructions, string instructions on MMIO, ...) are in
 * hostile_<arch>.c; everything else is the same source on every arch. */
#include <hyperpool/guest.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "hp_status.h"

static int div_zero(const hp_args *args, hp_out *out)
{
	(void)args;
	volatile int64_t seven = 7, zero = 0; /* not 1 / x: gcc turns that into a compare */
	return hp_ret_i64(out, seven / zero);
}

/* The normal call every misdeed is followed by: proves the VM is back to its snapshot. */
static uint64_t state = 42;

static int ok(const hp_args *args, hp_out *out)
{
	(void)args;
	uint64_t seen = state;
	state = 0xbad;
	return hp_ret_u64(out, seen);
}

static int null_deref(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_i64(out, *(volatile int *)(uintptr_t)0);
}

static int write_text(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint8_t *)(uintptr_t)write_text = 0xc3;
	return hp_ret_nil(out);
}

static int exec_data(const hp_args *args, hp_out *out)
{
	(void)args;
	static uint8_t code[16] = { 0xc3 }; /* ret, in .data: NX */
	((void (*)(void))(uintptr_t)code)();
	return hp_ret_nil(out);
}

static int jump_garbage(const hp_args *args, hp_out *out)
{
	(void)args;
	((void (*)(void))(uintptr_t)0xdead0000)();
	return hp_ret_nil(out);
}

static int loop_forever(const hp_args *args, hp_out *out)
{
	(void)args;
	for (volatile uint64_t i = 0;; i++)
		;
	return hp_ret_nil(out);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static uint64_t deeper(volatile uint64_t n)
{
	volatile uint8_t frame[512];
	frame[0] = (uint8_t)n;
	return deeper(n + 1) + frame[0];
}
#pragma GCC diagnostic pop

static int recurse_forever(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, deeper(0));
}

static int huge_malloc(const hp_args *args, hp_out *out)
{
	(void)args;
	void *p = malloc((size_t)1 << 40);
	return hp_ret_bool(out, p != NULL);
}

static int abort_long(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	static char msg[8192];
	memset(msg, 'x', sizeof(msg) - 1);
	hp_panic("long message: %s", msg);
}

/* Claims an output far larger than the output buffer, then finishes the call itself. */
static int bad_output_len(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	CB->status = HP_OK;
	CB->output_len = 0xfffffff0u;
	raw_hypercall(HP_HC_CALL_DONE);
	return 0;
}

/* Claims a log record larger than the log buffer. */
static int bad_log_len(const hp_args *args, hp_out *out)
{
	(void)args;
	CB->log_len = 0x7fffffffu;
	CB->log_stream = HP_LOG_STDOUT;
	raw_hypercall(HP_HC_LOG);
	return hp_ret_nil(out);
}

/* Forges a status only the host may report. */
static int bad_status(const hp_args *args, hp_out *out)
{
	(void)args;
	(void)out;
	CB->status = HP_E_TIMEOUT;
	CB->output_len = 0;
	raw_hypercall(HP_HC_CALL_DONE);
	return 0;
}

static int log_flood(const hp_args *args, hp_out *out)
{
	uint64_t mib = 8;
	if (args->count == 1 && hp_arg_u64(args, 0, &mib) < 0)
		return hp_error(out, "log_flood: expects a size in MiB");
	static const char line[] = "flood flood flood flood flood flood flood flood flood flood!\n";
	for (uint64_t n = 0; n < (mib << 20); n += sizeof(line) - 1)
		fputs(line, stdout);
	return hp_ret_u64(out, mib);
}

static int unknown_hypercall(const hp_args *args, hp_out *out)
{
	(void)args;
	raw_hypercall(0x1234);
	return hp_ret_nil(out);
}

/* Forges the core's fault report from user mode. */
static int fake_fault(const hp_args *args, hp_out *out)
{
	(void)args;
	raw_hypercall(HP_HC_FAULT);
	return hp_ret_nil(out);
}

static int hypercall_storm(const hp_args *args, hp_out *out)
{
	(void)args;
	for (;;) {
		CB->log_len = 0;
		CB->log_stream = HP_LOG_STDOUT;
		raw_hypercall(HP_HC_LOG);
	}
	return hp_ret_nil(out);
}

static int touch_page_tables(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint64_t *)(uintptr_t)HP_GPA_PAGE_TABLES = 0;
	return hp_ret_nil(out);
}

static int touch_core(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, *(volatile uint64_t *)(uintptr_t)HP_GPA_CORE_TEXT);
}

static int write_input(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint8_t *)(uintptr_t)HP_GPA_INPUT = 0;
	return hp_ret_nil(out);
}

static int mmio_elsewhere(const hp_args *args, hp_out *out)
{
	(void)args;
	/* mapped nowhere in the page tables: a page fault, not an exit */
	*(volatile uint32_t *)(uintptr_t)(HP_GPA_HYPERCALL + 0x1000) = 1;
	return hp_ret_nil(out);
}

/* --- exits KVM completes on the next KVM_RUN ------------------------------------------------
 * An MMIO read (or a read-modify-write, or a string instruction) on the hypercall page exits to
 * the host in the middle of the instruction: KVM finishes it (writes the register, advances rip,
 * continues a rep) on the next KVM_RUN. Each of these must end the call without that completion
 * landing on the next call's fresh state. */

static int mmio_read(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, *(volatile uint32_t *)HC);
}

static int mmio_read8(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, *(volatile uint8_t *)HC);
}

static int mmio_read64(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, *(volatile uint64_t *)(HC + 8));
}

static int mmio_write_wide(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint64_t *)HC = HP_HC_CALL_DONE;
	return hp_ret_nil(out);
}

static int mmio_write_offset(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint32_t *)(HC + 8) = HP_HC_CALL_DONE;
	return hp_ret_nil(out);
}

/* An 8-byte store across the end of the hypercall page: half MMIO, half unmapped. */
static int mmio_split(const hp_args *args, hp_out *out)
{
	(void)args;
	*(volatile uint64_t *)(HC + 0xffc) = 0x0000000200000002ull;
	return hp_ret_nil(out);
}

/* An 8-byte load across the start of the hypercall page (the page below is unmapped). */
static int mmio_split_read(const hp_args *args, hp_out *out)
{
	(void)args;
	return hp_ret_u64(out, *(volatile uint64_t *)(HC - 4));
}

HP_MODULE_INIT()
{
	static const struct hostile_fn fns[] = {
		{ "ok", ok }, { "div_zero", div_zero }, { "null_deref", null_deref }, { "write_text", write_text },
		{ "exec_data", exec_data }, { "jump_garbage", jump_garbage },
		{ "loop_forever", loop_forever }, { "recurse_forever", recurse_forever },
		{ "huge_malloc", huge_malloc }, { "abort_long", abort_long },
		{ "bad_output_len", bad_output_len }, { "bad_log_len", bad_log_len },
		{ "bad_status", bad_status }, { "log_flood", log_flood },
		{ "unknown_hypercall", unknown_hypercall }, { "fake_fault", fake_fault },
		{ "hypercall_storm", hypercall_storm }, { "touch_page_tables", touch_page_tables },
		{ "touch_core", touch_core }, { "write_input", write_input },
		{ "mmio_elsewhere", mmio_elsewhere }, { "mmio_read", mmio_read }, { "mmio_read8", mmio_read8 },
		{ "mmio_read64", mmio_read64 }, { "mmio_write_wide", mmio_write_wide },
		{ "mmio_write_offset", mmio_write_offset },
		{ "mmio_split", mmio_split }, { "mmio_split_read", mmio_split_read },
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		hp_register(fns[i].name, fns[i].fn);
	for (size_t i = 0; i < hostile_arch_count; i++)
		hp_register(hostile_arch_fns[i].name, hostile_arch_fns[i].fn);
}
