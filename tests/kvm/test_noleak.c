/* test_noleak.c - no state of one call is visible to a later call, with every restore strategy,
 * on one VM and across the VMs of a pool. The canary module's functions report what they find
 * (static, heap, fresh heap, uninitialised stack, x87/SSE/AVX registers, segment selectors and
 * bases, a 16 MiB static buffer) and then leave a canary there; every call must find the
 * snapshot's state: exactly what the first call of a fresh VM finds, and never a canary.
 *
 *   test_noleak --canary canary.elf [...]
 *
 * For each strategy (the four explicit ones and auto, through hp_vm_create_with on one module):
 * ~2100 calls of a random mix of the cheap functions on one VM, 20 heap_late, 3 oom, a call
 * that scribbles and faults, and each privileged instruction (must #GP, the VM keeps serving);
 * then 900 calls through a pool of 3 VMs (a module configured with that strategy). dirty(1) and
 * dirty(16) 10000 times each with the cheapest strategy; dirty(256) and dirty(4096) 20 times
 * each with every strategy, with hp_vm_memory checked after the restore. A negative control
 * first: on a cold VM (never restored) the same checks must fail on the second call.
 *
 * Canaries carry the tag CANARY_TAG in their top 16 bits and are a bijection of a sequence
 * number, so a stray copy of any canary issued so far is recognised wherever it turns up (a word
 * of stack, an x87 mantissa, an xmm half). Exit 0: all checks passed; 1: some failed (the
 * first 40 are printed); 77: no /dev/kvm. */
#include <time.h>

#include "kvmtest.h"
#include "modules/canary.h"

#define CANARY_TAG 0xca9a000000000000ull
#define TAG_MASK 0xffff000000000000ull
#define CURRENT_MARK 0x43555252454e5421ull /* replaces the current call's canary in comparisons */

static uint64_t canary_seq;

#define CANARY_MUL 0x9e3779b97f4a7c15ull

/* A new canary each call: distinct for 2^48 calls (odd multiplier, bijective mod 2^48). */
static uint64_t next_canary(void)
{
	return CANARY_TAG | ((++canary_seq * CANARY_MUL) & ~TAG_MASK);
}

/* True if w is a canary handed out so far (inverting the multiplication). */
static bool is_issued_canary(uint64_t w)
{
	static uint64_t inv;
	if (!inv) {
		inv = CANARY_MUL; /* Newton: each step doubles the correct low bits */
		for (int i = 0; i < 6; i++)
			inv *= 2 - CANARY_MUL * inv;
	}
	if ((w & TAG_MASK) != CANARY_TAG)
		return false;
	uint64_t seq = ((w & ~TAG_MASK) * inv) & ~TAG_MASK;
	return seq >= 1 && seq <= canary_seq;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Only the first failures are printed. In control mode (a VM that is never restored, to show
 * that the checks can fail) a failed check is only counted in control_detected. */
static int failures_printed;
#define FAIL_PRINT_MAX 40
static bool control_mode;
static int control_detected;

#define EXPECT(cond, ...)                                                                      \
	do {                                                                                   \
		if (control_mode) {                                                            \
			control_detected += !(cond);                                           \
			break;                                                                 \
		}                                                                              \
		check_count++;                                                                 \
		if (!(cond)) {                                                                 \
			check_failures++;                                                      \
			if (failures_printed++ < FAIL_PRINT_MAX) {                             \
				fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
					#cond);                                                \
				fprintf(stderr, __VA_ARGS__);                                  \
				fputc('\n', stderr);                                           \
			}                                                                      \
		}                                                                              \
	} while (0)

/* --- words with a foreign canary -------------------------------------------------------- */

/* Number of 8-byte words (at every byte offset) equal to a canary handed out before `current`;
 * the first one goes to *first. */
static unsigned foreign_canaries(const void *p, size_t len, uint64_t current, uint64_t *first,
				 size_t *at)
{
	unsigned n = 0;
	for (size_t off = 0; off + 8 <= len; off++) {
		uint64_t w;
		memcpy(&w, (const uint8_t *)p + off, 8);
		if (w != current && is_issued_canary(w)) {
			if (n++ == 0) {
				*first = w;
				*at = off;
			}
		}
	}
	return n;
}

/* A copy of p with each aligned word equal to `current` replaced by CURRENT_MARK. */
static void normalise(uint8_t *dst, const void *p, size_t len, uint64_t current)
{
	memcpy(dst, p, len);
	for (size_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		memcpy(&w, dst + off, 8);
		if (w == current) {
			w = CURRENT_MARK;
			memcpy(dst + off, &w, 8);
		}
	}
}

/* --- result decoding --------------------------------------------------------------------- */

static bool arr_u64(const struct kt_call *c, uint32_t n, uint64_t *v)
{
	if (!kt_ok(c) || c->obj.type != MSGPACK_OBJECT_ARRAY || c->obj.via.array.size != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *o = &c->obj.via.array.ptr[i];
		if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			v[i] = o->via.u64;
		else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			v[i] = (uint64_t)o->via.i64;
		else
			return false;
	}
	return true;
}

static bool get_bin(const msgpack_object *o, const void **p, size_t len)
{
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != len)
		return false;
	*p = o->via.bin.ptr;
	return true;
}

static void call_u(struct hp_vm *vm, const char *name, uint64_t v, struct kt_call *c)
{
	struct kt_args a;
	msgpack_pack_uint64(kt_args_begin(&a, 1), v);
	kt_call(vm, name, &a, c);
}

static void call_uu(struct hp_vm *vm, const char *name, uint64_t x, uint64_t y, struct kt_call *c)
{
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 2);
	msgpack_pack_uint64(pk, x);
	msgpack_pack_uint64(pk, y);
	kt_call(vm, name, &a, c);
}

static void call_sel(struct hp_vm *vm, const uint64_t sel[4], struct kt_call *c)
{
	struct kt_args a;
	msgpack_packer *pk = kt_args_begin(&a, 4);
	for (int i = 0; i < 4; i++)
		msgpack_pack_uint64(pk, sel[i]);
	kt_call(vm, "fsgs_sel", &a, c);
}

/* --- the snapshot's state, as the first call of a fresh VM sees it ------------------------ */

static struct {
	uint64_t heap_addr;
	uint8_t heap[64];
	uint64_t late[2 + HEAP_LATE_PROBES];
	uint8_t stack[STACK_WORDS * 8];   /* normalised */
	struct fpu_dump fpu_sse, fpu_avx; /* normalised */
	uint64_t seg[8];                  /* fsgs_read */
	bool have_base;                   /* wrfsbase works in this guest */
	uint64_t base[2];                 /* fsgs_rdbase */
	uint64_t sel_ok[8];               /* selectors that load (read back as written) */
	unsigned nsel_ok;
	uint64_t oom[2];
	uint64_t dirty_sum;
} snap;

static const uint64_t sel_candidates[] = { 0x1b, 0x23, 0x2b, 0x33, 0 };

static struct hp_vm *new_vm(struct hp_module *mod, int strategy)
{
	struct hp_vm *vm;
	struct hp_error err;
	if (hp_vm_create_with(mod, strategy, NULL, NULL, &vm, &err) < 0) {
		fprintf(stderr, "FAIL: hp_vm_create_with(%s): %s\n", hp_restore_strategy_name(strategy),
			err.message);
		exit(1);
	}
	return vm;
}

/* One call on a fresh VM: what the snapshot holds, independent of any restore. The result
 * refers to the VM's memory: destroy the VM (returned) after kt_call_free. */
static struct hp_vm *fresh_call(struct hp_module *mod, void (*fn)(struct hp_vm *, struct kt_call *),
				struct kt_call *c)
{
	struct hp_vm *vm = new_vm(mod, HP_RESTORE_DIRTYLOG_MEMCPY);
	fn(vm, c);
	return vm;
}

static uint64_t base_canary;
static void b_heap(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "heap", base_canary, c); }
static void b_late(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "heap_late", base_canary, c); }
static void b_stack(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "stack", base_canary, c); }
static void b_sse(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "sse", base_canary, c); }
static void b_avx(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "avx", base_canary, c); }
static void b_seg(struct hp_vm *vm, struct kt_call *c) { kt_call0(vm, "fsgs_read", c); }
static void b_oom(struct hp_vm *vm, struct kt_call *c) { kt_call0(vm, "oom", c); }
static void b_dirty(struct hp_vm *vm, struct kt_call *c) { call_uu(vm, "dirty", 0, base_canary, c); }
static void b_global(struct hp_vm *vm, struct kt_call *c) { call_u(vm, "global", base_canary, c); }

static bool have_avx;

static void fpu_check_reset_values(const struct fpu_dump *d, const char *what)
{
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	memcpy(&fcw, d->fx, 2);
	memcpy(&fsw, d->fx + 2, 2);
	memcpy(&mxcsr, d->fx + 24, 4);
	CHECK_MSG(fcw == FCW_RESET && fsw == 0 && d->fx[4] == 0 && mxcsr == MXCSR_RESET,
		  "%s: FCW %#x FSW %#x FTW %#x MXCSR %#x at entry, expected the reset values", what,
		  fcw, fsw, d->fx[4], mxcsr);
	static const uint8_t zero[sizeof(d->ymmh)];
	if (d->have_avx)
		CHECK_MSG(memcmp(d->ymmh, zero, sizeof(zero)) == 0,
			  "%s: upper ymm halves are not zero at entry", what);
}

/* A fresh VM's call of fn, whose result is a bin of len bytes: normalised into dst. */
static void snap_bin(struct hp_module *mod, void (*fn)(struct hp_vm *, struct kt_call *),
		     void *dst, size_t len)
{
	struct kt_call c;
	const void *p;
	struct hp_vm *vm = fresh_call(mod, fn, &c);
	CHECK_CALL(&c, kt_ok(&c) && get_bin(&c.obj, &p, len));
	if (kt_ok(&c) && get_bin(&c.obj, &p, len))
		normalise(dst, p, len, base_canary);
	kt_call_free(&c);
	hp_vm_destroy(vm);
}

/* A fresh VM's call of fn, whose result is an array of n integers: into dst. */
static void snap_u64s(struct hp_module *mod, void (*fn)(struct hp_vm *, struct kt_call *),
		      uint32_t n, uint64_t *dst)
{
	struct kt_call c;
	struct hp_vm *vm = fresh_call(mod, fn, &c);
	CHECK_CALL(&c, arr_u64(&c, n, dst));
	kt_call_free(&c);
	hp_vm_destroy(vm);
}

/* The static, a heap block, fresh heap beyond anything init touched, uninitialised stack. */
static void snap_memory(struct hp_module *mod)
{
	struct kt_call c;
	struct hp_vm *vm;

	vm = fresh_call(mod, b_global, &c);
	CHECK_CALL(&c, kt_is_u64(&c, G_INIT));
	kt_call_free(&c);
	hp_vm_destroy(vm);

	vm = fresh_call(mod, b_heap, &c);
	const void *p;
	CHECK_CALL(&c, kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY && c.obj.via.array.size == 2 &&
			       get_bin(&c.obj.via.array.ptr[1], &p, 64));
	if (kt_ok(&c) && c.obj.via.array.size == 2 && get_bin(&c.obj.via.array.ptr[1], &p, 64)) {
		snap.heap_addr = c.obj.via.array.ptr[0].via.u64;
		memcpy(snap.heap, p, 64);
	}
	kt_call_free(&c);
	hp_vm_destroy(vm);
	static const uint8_t zero64[64];
	/* fresh heap memory beyond what init used is zero (the snapshot's bytes) */
	CHECK_MSG(memcmp(snap.heap, zero64, 64) == 0, "malloc(64) in a fresh VM is not zeroed");

	snap_u64s(mod, b_late, 2 + HEAP_LATE_PROBES, snap.late);
	for (int i = 1; i < 2 + HEAP_LATE_PROBES; i++)
		CHECK_MSG(snap.late[i] == 0, "heap_late item %d of a fresh VM is %#" PRIx64, i,
			  snap.late[i]);

	snap_bin(mod, b_stack, snap.stack, sizeof(snap.stack));
}

/* The x87/SSE/AVX state at a function's entry: the reset values. */
static void snap_fpu(struct hp_module *mod)
{
	snap_bin(mod, b_sse, &snap.fpu_sse, sizeof(struct fpu_dump));
	have_avx = snap.fpu_sse.have_avx;
	fpu_check_reset_values(&snap.fpu_sse, "sse, fresh VM");
	if (have_avx) {
		snap_bin(mod, b_avx, &snap.fpu_avx, sizeof(struct fpu_dump));
		fpu_check_reset_values(&snap.fpu_avx, "avx, fresh VM");
	}
}

/* dirty(0) finds every page of the buffer holding the init pattern. */
static void snap_dirty(struct hp_module *mod)
{
	struct kt_call c;
	static const unsigned words[3] = DIRTY_WORDS;
	for (uint64_t pg = 0; pg < DIRTY_PAGES; pg++)
		for (int i = 0; i < 3; i++)
			snap.dirty_sum += dirty_init(pg, words[i]);
	struct hp_vm *vm = fresh_call(mod, b_dirty, &c);
	uint64_t d[3];
	CHECK_CALL(&c, arr_u64(&c, 3, d) && d[0] == 0 && d[1] == UINT64_MAX && d[2] == snap.dirty_sum);
	kt_call_free(&c);
	hp_vm_destroy(vm);
}

/* Which selectors this hypervisor lets module code load: the test only counts a selector load
 * as a written canary when the selector reads back as written. */
static void snap_selectors(struct hp_module *mod)
{
	struct kt_call c;
	struct hp_vm *vm = new_vm(mod, HP_RESTORE_DIRTYLOG_MEMCPY);
	for (size_t k = 0; k < sizeof(sel_candidates) / sizeof(*sel_candidates); k++) {
		uint64_t s[4] = { sel_candidates[k], sel_candidates[k], sel_candidates[k],
				  sel_candidates[k] }, r[4] = { 0 };
		call_sel(vm, s, &c);
		bool ok = arr_u64(&c, 4, r);
		CHECK_CALL(&c, ok);
		printf("  loading selector %#" PRIx64 " into ds/es/fs/gs: %s; read back %#" PRIx64
		       " %#" PRIx64 " %#" PRIx64 " %#" PRIx64 "\n",
		       sel_candidates[k], ok ? "no fault" : kt_describe(&c), r[0], r[1], r[2], r[3]);
		if (ok && r[0] == s[0] && r[1] == s[1] && r[2] == s[2] && r[3] == s[3])
			snap.sel_ok[snap.nsel_ok++] = s[0];
		kt_call_free(&c);
	}
	hp_vm_destroy(vm);
	CHECK_MSG(snap.nsel_ok >= 2, "fewer than 2 selectors load as written: the selector checks "
		  "would prove nothing");
}

/* wrfsbase: #UD unless CR4.FSGSBASE; either is fine, a leak of the base is not */
static void snap_bases(struct hp_module *mod)
{
	struct kt_call c;
	struct hp_vm *vm = new_vm(mod, HP_RESTORE_DIRTYLOG_MEMCPY);
	uint64_t fb = 0x00007ca900001000ull, gb = 0x00007ca900002000ull, rb[2];
	call_uu(vm, "fsgs_wrbase", fb, gb, &c);
	if (c.rc < 0) {
		CHECK_CALL(&c, kt_is_status(&c, -1, HP_E_GUEST_FAULT, "invalid opcode"));
		printf("  wrfsbase in module code: faults (%s)\n", c.msg);
	} else {
		CHECK_CALL(&c, arr_u64(&c, 2, rb) && rb[0] == fb && rb[1] == gb);
		snap.have_base = true;
		printf("  wrfsbase/wrgsbase in module code: no fault, read back %s\n", kt_describe(&c));
	}
	kt_call_free(&c);
	hp_vm_destroy(vm);
	if (snap.have_base) {
		vm = new_vm(mod, HP_RESTORE_DIRTYLOG_MEMCPY);
		kt_call0(vm, "fsgs_rdbase", &c);
		CHECK_CALL(&c, arr_u64(&c, 2, snap.base));
		kt_call_free(&c);
		hp_vm_destroy(vm);
	}
}

static void capture_snapshot(struct hp_module *mod)
{
	base_canary = next_canary();
	snap_memory(mod);
	snap_fpu(mod);
	snap_u64s(mod, b_seg, 8, snap.seg);
	CHECK_MSG(snap.seg[6] == MARKER && snap.seg[7] == MARKER,
		  "fresh VM: %%fs:/%%gs: reads give %#" PRIx64 "/%#" PRIx64 ", not the marker (bases not 0)",
		  snap.seg[6], snap.seg[7]);
	snap_u64s(mod, b_oom, 2, snap.oom);
	CHECK_MSG(snap.oom[0] >= 8, "oom: a fresh VM got only %" PRIu64 " MiB of a 16 MiB heap",
		  snap.oom[0]);
	snap_dirty(mod);
	snap_selectors(mod);
	snap_bases(mod);
	printf("  snapshot: ds %#" PRIx64 " es %#" PRIx64 " fs %#" PRIx64 " gs %#" PRIx64 " ss %#" PRIx64
	       " cs %#" PRIx64 ", fs/gs base %#" PRIx64 "/%#" PRIx64 ", avx %d, oom %" PRIu64
	       " MiB + %" PRIu64 " x 4 KiB, heap block %#" PRIx64 "\n",
	       snap.seg[0], snap.seg[1], snap.seg[2], snap.seg[3], snap.seg[4], snap.seg[5],
	       snap.base[0], snap.base[1], have_avx, snap.oom[0], snap.oom[1], snap.heap_addr);
}

/* --- operations: each checks what it found against the snapshot ---------------------------- */

enum op {
	OP_GLOBAL, OP_HEAP, OP_STACK, OP_SSE, OP_AVX, OP_SEL, OP_BASE, OP_DIRTY1, OP_FAULT,
	OP_CHEAP, /* the ones above are cheap */
	OP_HEAP_LATE = OP_CHEAP, OP_OOM,
};
static const char *const op_names[] = { "global", "heap", "stack", "sse", "avx", "fsgs_sel",
					"fsgs_wrbase", "dirty(1)", "scribble+fault", "heap_late",
					"oom" };

struct where {
	const char *what; /* strategy / pool */
	long i;
};

#define AT "%s, call %ld (%s): "
#define AT_ARGS(w, op) (w)->what, (w)->i, op_names[op]

static void check_fpu(const struct where *w, int op, const struct kt_call *c, uint64_t canary)
{
	const void *p;
	if (!kt_ok(c) || !get_bin(&c->obj, &p, sizeof(struct fpu_dump))) {
		EXPECT(0, AT "%s", AT_ARGS(w, op), kt_describe(c));
		return;
	}
	uint64_t first = 0;
	size_t at = 0;
	unsigned n = foreign_canaries(p, sizeof(struct fpu_dump), canary, &first, &at);
	EXPECT(n == 0, AT "%u words of earlier canaries in the FPU state at entry, first %#" PRIx64
	       " at byte %zu of the dump (fxsave 0-511, ymm upper halves 512-767)",
	       AT_ARGS(w, op), n, first, at);
	struct fpu_dump d;
	normalise((uint8_t *)&d, p, sizeof(d), canary);
	const struct fpu_dump *ref = op == OP_AVX ? &snap.fpu_avx : &snap.fpu_sse;
	if (memcmp(&d, ref, sizeof(d)) != 0) {
		size_t off = 0;
		while (((const uint8_t *)&d)[off] == ((const uint8_t *)ref)[off])
			off++;
		EXPECT(0, AT "FPU state at entry differs from the snapshot's at byte %zu", AT_ARGS(w, op),
		       off);
	}
}

/* Each operation: one or more calls with the canary, checked against the snapshot. */
typedef void op_fn(struct hp_vm *vm, int op, const struct where *w, uint64_t canary);

static void op_global(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	call_u(vm, "global", canary, &c);
	EXPECT(kt_is_u64(&c, G_INIT), AT "%s, expected %#llx", AT_ARGS(w, op), kt_describe(&c),
	       G_INIT);
	kt_call_free(&c);
}

static void op_heap(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	const void *p;
	call_u(vm, "heap", canary, &c);
	EXPECT(kt_ok(&c) && c.obj.type == MSGPACK_OBJECT_ARRAY && c.obj.via.array.size == 2 &&
		       c.obj.via.array.ptr[0].via.u64 == snap.heap_addr &&
		       get_bin(&c.obj.via.array.ptr[1], &p, 64) && memcmp(p, snap.heap, 64) == 0,
	       AT "%s; expected the block at %#" PRIx64 " holding the snapshot's bytes",
	       AT_ARGS(w, op), kt_describe(&c), snap.heap_addr);
	kt_call_free(&c);
}

static void op_heap_late(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	uint64_t v[8];
	call_u(vm, "heap_late", canary, &c);
	EXPECT(arr_u64(&c, 2 + HEAP_LATE_PROBES, v) && memcmp(v, snap.late, sizeof(snap.late)) == 0,
	       AT "%s", AT_ARGS(w, op), kt_describe(&c));
	kt_call_free(&c);
}

static void op_stack(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	const void *p;
	uint64_t first = 0;
	size_t at = 0;
	call_u(vm, "stack", canary, &c);
	uint8_t norm[STACK_WORDS * 8];
	if (!kt_ok(&c) || !get_bin(&c.obj, &p, sizeof(norm))) {
		EXPECT(0, AT "%s", AT_ARGS(w, op), kt_describe(&c));
		kt_call_free(&c);
		return;
	}
	unsigned n = foreign_canaries(p, sizeof(norm), canary, &first, &at);
	EXPECT(n == 0, AT "%u words of earlier canaries in uninitialised stack, first %#" PRIx64
	       " at byte %zu", AT_ARGS(w, op), n, first, at);
	normalise(norm, p, sizeof(norm), canary);
	EXPECT(memcmp(norm, snap.stack, sizeof(norm)) == 0,
	       AT "uninitialised stack differs from the snapshot's", AT_ARGS(w, op));
	kt_call_free(&c);
}

/* OP_SSE and OP_AVX */
static void op_fpu(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	if (op == OP_AVX && !have_avx)
		return;
	struct kt_call c;
	call_u(vm, op == OP_SSE ? "sse" : "avx", canary, &c);
	check_fpu(w, op, &c, canary);
	kt_call_free(&c);
}

static void op_sel(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	if (snap.nsel_ok < 2)
		return; /* reported by capture_snapshot */
	struct kt_call c;
	uint64_t v[8];
	/* load selectors that differ from the snapshot's (they read back as written), then the
	 * next call must see the snapshot's again */
	uint64_t s[4], r[4];
	for (int i = 0; i < 4; i++) {
		unsigned k = (unsigned)((canary >> (8 * i)) % snap.nsel_ok);
		if (snap.sel_ok[k] == snap.seg[i])
			k = (k + 1) % snap.nsel_ok;
		s[i] = snap.sel_ok[k];
	}
	call_sel(vm, s, &c);
	EXPECT(arr_u64(&c, 4, r) && !memcmp(r, s, sizeof(s)),
	       AT "loading %#" PRIx64 " %#" PRIx64 " %#" PRIx64 " %#" PRIx64 ": %s", AT_ARGS(w, op),
	       s[0], s[1], s[2], s[3], kt_describe(&c));
	kt_call_free(&c);
	kt_call0(vm, "fsgs_read", &c);
	EXPECT(arr_u64(&c, 8, v) && !memcmp(v, snap.seg, sizeof(snap.seg)),
	       AT "after loading ds %#" PRIx64 " es %#" PRIx64 " fs %#" PRIx64 " gs %#" PRIx64
	       ", the next call finds [ds es fs gs ss cs %%fs:m %%gs:m] = %s; the snapshot has "
	       "%#" PRIx64 " %#" PRIx64 " %#" PRIx64 " %#" PRIx64 " %#" PRIx64 " %#" PRIx64,
	       AT_ARGS(w, op), s[0], s[1], s[2], s[3], kt_describe(&c), snap.seg[0], snap.seg[1],
	       snap.seg[2], snap.seg[3], snap.seg[4], snap.seg[5]);
	kt_call_free(&c);
}

static void op_base(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	if (!snap.have_base)
		return;
	struct kt_call c;
	uint64_t v[8];
	uint64_t fb = canary & 0x00007ffffffff000ull, gb = fb ^ 0x0000100000000000ull, r[2];
	call_uu(vm, "fsgs_wrbase", fb, gb, &c);
	EXPECT(arr_u64(&c, 2, r) && r[0] == fb && r[1] == gb, AT "wrfsbase %#" PRIx64 ": %s",
	       AT_ARGS(w, op), fb, kt_describe(&c));
	kt_call_free(&c);
	kt_call0(vm, "fsgs_rdbase", &c);
	EXPECT(arr_u64(&c, 2, r) && r[0] == snap.base[0] && r[1] == snap.base[1],
	       AT "after wrfsbase %#" PRIx64 " the next call reads the bases %s", AT_ARGS(w, op),
	       fb, kt_describe(&c));
	kt_call_free(&c);
	kt_call0(vm, "fsgs_read", &c);
	EXPECT(arr_u64(&c, 8, v) && v[6] == MARKER && v[7] == MARKER,
	       AT "after wrfsbase, %%fs:/%%gs: reads: %s", AT_ARGS(w, op), kt_describe(&c));
	kt_call_free(&c);
}

static void op_dirty1(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	uint64_t v[8];
	call_uu(vm, "dirty", 1, canary, &c);
	EXPECT(arr_u64(&c, 3, v) && v[0] == 0 && v[1] == UINT64_MAX && v[2] == snap.dirty_sum,
	       AT "%s (expected [0, -1, %" PRIu64 "])", AT_ARGS(w, op), kt_describe(&c),
	       snap.dirty_sum);
	kt_call_free(&c);
}

/* a call that leaves canaries and then faults: the VM still restores */
static void op_fault(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	struct kt_call c;
	call_u(vm, "scribble_fault", canary, &c);
	EXPECT(kt_is_status(&c, -1, HP_E_GUEST_FAULT, "general protection"), AT "%s",
	       AT_ARGS(w, op), kt_describe(&c));
	kt_call_free(&c);
}

static void op_oom(struct hp_vm *vm, int op, const struct where *w, uint64_t canary)
{
	(void)canary;
	struct kt_call c;
	uint64_t v[8];
	kt_call0(vm, "oom", &c);
	EXPECT(arr_u64(&c, 2, v) && v[0] == snap.oom[0] && v[1] == snap.oom[1],
	       AT "%s, expected [%" PRIu64 ", %" PRIu64 "]", AT_ARGS(w, op), kt_describe(&c),
	       snap.oom[0], snap.oom[1]);
	kt_call_free(&c);
}

static op_fn *const op_run[] = {
	[OP_GLOBAL] = op_global,
	[OP_HEAP] = op_heap,
	[OP_STACK] = op_stack,
	[OP_SSE] = op_fpu,
	[OP_AVX] = op_fpu,
	[OP_SEL] = op_sel,
	[OP_BASE] = op_base,
	[OP_DIRTY1] = op_dirty1,
	[OP_FAULT] = op_fault,
	[OP_HEAP_LATE] = op_heap_late,
	[OP_OOM] = op_oom,
};

/* Runs one operation with a fresh canary: one per run, also for an operation that does not
 * apply here (avx without AVX, selectors or bases that cannot be loaded) and returns at once. */
static void run_op(struct hp_vm *vm, int op, const struct where *w)
{
	op_run[op](vm, op, w, next_canary());
}

static uint64_t rng_state = 0x853c49e6748fea9bull;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

/* --- the privileged instructions ----------------------------------------------------------- */

static void privileged(struct hp_vm *vm, const char *what)
{
	static const char *const fns[] = { "msr_fsbase", "msr_efer", "cr3_write", "cr0_read", "lgdt",
					   "cli", "hlt", "port_out", "port_in" };
	struct where w = { what, 0 };
	for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++) {
		struct kt_call c;
		kt_call0(vm, fns[i], &c);
		/* CPL3 with IOPL 0 and no I/O bitmap: every one of them must #GP */
		EXPECT(kt_is_status(&c, -1, HP_E_GUEST_FAULT, "general protection"),
		       "%s: %s: %s", what, fns[i], kt_describe(&c));
		kt_call_free(&c);
		w.i = (long)i;
		run_op(vm, OP_GLOBAL, &w); /* the VM still serves, from the snapshot */
		run_op(vm, OP_SEL, &w);
	}
}

/* --- per strategy ---------------------------------------------------------------------------- */

#define CHEAP_CALLS 2000
#define POOL_ROUNDS 300 /* x 3 VMs */
#define LATE_CALLS 20

static const char *strategy_label(int s)
{
	return hp_restore_strategy_name(s);
}

static void one_vm(struct hp_module *mod, int strategy)
{
	char what[96];
	snprintf(what, sizeof(what), "%s, one VM", strategy_label(strategy));
	struct hp_vm *vm = new_vm(mod, strategy);
	struct where w = { what, 0 };
	/* every operation three times in a row first, then a random mix */
	for (int op = 0; op < OP_CHEAP; op++)
		for (int k = 0; k < 3; k++, w.i++)
			run_op(vm, op, &w);
	for (long i = 0; i < CHEAP_CALLS; i++, w.i++)
		run_op(vm, (int)rnd(OP_CHEAP), &w);
	for (int i = 0; i < LATE_CALLS; i++, w.i++) {
		run_op(vm, OP_HEAP_LATE, &w);
		run_op(vm, (int)rnd(OP_CHEAP), &w);
	}
	for (int i = 0; i < 3; i++, w.i++) {
		run_op(vm, OP_OOM, &w);
		run_op(vm, OP_GLOBAL, &w);
		run_op(vm, OP_HEAP, &w);
	}
	privileged(vm, what);
	hp_vm_destroy(vm);
}

static void pooled(struct hp_module *mod, int strategy)
{
	char what[96];
	snprintf(what, sizeof(what), "%s, pool of 3", strategy_label(strategy));
	struct hp_pool *pool;
	struct hp_error err;
	if (hp_pool_create(mod, 3, 3, NULL, NULL, &pool, &err) < 0) {
		EXPECT(0, "%s: hp_pool_create: %s", what, err.message);
		return;
	}
	CHECK_MSG(strategy == HP_RESTORE_AUTO || hp_module_restore_strategy(mod) == strategy,
		  "%s: the module uses %s", what, strategy_label(hp_module_restore_strategy(mod)));
	struct where w = { what, 0 };
	for (int r = 0; r < POOL_ROUNDS; r++) {
		struct hp_vm *vms[3];
		bool got = true;
		for (int k = 0; k < 3; k++)
			if (hp_pool_get(pool, &vms[k], &err) < 0) {
				EXPECT(0, "%s: hp_pool_get: %s", what, err.message);
				for (int j = 0; j < k; j++)
					hp_pool_put(pool, vms[j]);
				got = false;
				break;
			}
		if (!got)
			break;
		for (int k = 0; k < 3; k++, w.i++)
			run_op(vms[k], (int)rnd(OP_CHEAP), &w);
		/* back in a rotating order, so each VM follows each other one */
		for (int k = 0; k < 3; k++)
			hp_pool_put(pool, vms[(k + r) % 3]);
	}
	struct hp_pool_stats st;
	hp_pool_stats(pool, &st, &err);
	CHECK_MSG(st.idle == 3 && st.busy == 0 && st.created == 3 && st.destroyed == 0 &&
			  st.restore_failures == 0,
		  "%s: stats idle %u busy %u created %" PRIu64 " destroyed %" PRIu64
		  " restore failures %" PRIu64, what, st.idle, st.busy, st.created, st.destroyed,
		  st.restore_failures);
	hp_pool_destroy(pool);
}

/* dirty(n): every page still holds the init pattern, whatever earlier calls wrote. */
static void dirty_calls(struct hp_vm *vm, const char *what, uint64_t n, long calls,
			uint64_t *first, uint64_t *last)
{
	for (long i = 0; i < calls; i++) {
		struct kt_call c;
		uint64_t v[3];
		call_uu(vm, "dirty", n, next_canary(), &c);
		bool ok = arr_u64(&c, 3, v);
		EXPECT(ok && v[0] == 0 && v[1] == UINT64_MAX && v[2] == snap.dirty_sum,
		       "%s: dirty(%" PRIu64 ") call %ld: %s (expected [0, -1, %" PRIu64 "])", what, n,
		       i + 1, kt_describe(&c), snap.dirty_sum);
		if (ok && i == 0 && first)
			*first = v[2];
		if (ok && last)
			*last = v[2];
		kt_call_free(&c);
	}
}

static void check_memory(struct hp_vm *vm, int strategy, const char *what, uint64_t dirtied)
{
	struct hp_error err;
	struct hp_vm_memory m;
	CHECK_MSG(hp_vm_restore(vm, &err) == 0, "%s: hp_vm_restore: %s", what, err.message);
	CHECK_MSG(hp_vm_memory(vm, &m, &err) == 0, "%s: hp_vm_memory: %s", what, err.message);
	bool madvise = strategy == HP_RESTORE_DIRTYLOG_MADVISE || strategy == HP_RESTORE_PAGEMAP_MADVISE;
	printf("  %s: after dirty(%" PRIu64 ") + restore: private %" PRIu64 " KiB, last restore %" PRIu64
	       " pages\n", what, dirtied, m.private_bytes >> 10, m.last_restore_pages);
	if (madvise)
		/* the restore dropped every written page, host-written ones included */
		CHECK_MSG(m.private_bytes <= 16 * HP_PAGE_SIZE,
			  "%s: %" PRIu64 " private bytes after a madvise restore", what, m.private_bytes);
	else if (strategy == HP_RESTORE_DIRTYLOG_MEMCPY)
		/* copied back, the pages stay mapped (pagemap-memcpy drops them after a restore
		 * of over 1024 pages: restore.c's TRIM_PAGES) */
		CHECK_MSG(m.private_bytes >= dirtied * HP_PAGE_SIZE,
			  "%s: only %" PRIu64 " private bytes after dirtying %" PRIu64 " pages", what,
			  m.private_bytes, dirtied);
	CHECK_MSG(m.last_restore_pages >= dirtied, "%s: the restore after dirty(%" PRIu64
		  ") put back %" PRIu64 " pages", what, dirtied, m.last_restore_pages);
}

static void dirty_big(struct hp_module *mod, int strategy)
{
	char what[96];
	snprintf(what, sizeof(what), "%s, dirty", strategy_label(strategy));
	struct hp_vm *vm = new_vm(mod, strategy);
	dirty_calls(vm, what, 256, 20, NULL, NULL);
	check_memory(vm, strategy, what, 256);
	dirty_calls(vm, what, 4096, 20, NULL, NULL);
	check_memory(vm, strategy, what, 4096);
	/* after dirty(4096), dirty(1) still finds every page intact */
	dirty_calls(vm, what, 1, 3, NULL, NULL);
	dirty_calls(vm, what, 16, 3, NULL, NULL);
	hp_vm_destroy(vm);
}

/* The negative control: a cold VM is never restored, so the second call of each operation
 * must find the first one's canary, and the checks above must say so. */
static void control(struct hp_module *mod)
{
	static const int ops[] = { OP_GLOBAL, OP_HEAP, OP_STACK, OP_DIRTY1, OP_HEAP_LATE, OP_OOM };
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
		struct hp_vm *vm;
		struct hp_error err;
		if (hp_vm_create_cold(mod, NULL, NULL, &vm, &err) < 0) {
			CHECK_MSG(0, "hp_vm_create_cold: %s", err.message);
			return;
		}
		struct where w = { "control (cold VM, never restored)", 0 };
		control_mode = true;
		control_detected = 0;
		run_op(vm, ops[i], &w);
		int first = control_detected;
		w.i++;
		run_op(vm, ops[i], &w);
		control_mode = false;
		CHECK_MSG(first == 0 && control_detected > 0,
			  "control: %s on a VM that is never restored: the first call failed %d checks, "
			  "the second %d (expected 0, then > 0)", op_names[ops[i]], first,
			  control_detected - first);
		hp_vm_destroy(vm);
	}
}

int main(int argc, char **argv)
{
	kt_parse_args(argc, argv);
	struct hp_kvm *kvm = kt_open_kvm();
	struct hp_module *mod = kt_open_module(kvm, "canary", NULL);
	double t0 = now_s();
	capture_snapshot(mod);
	control(mod);
	int cheapest = hp_module_restore_strategy(mod);
	printf("snapshot state captured (%.2f s); auto picks %s\n", now_s() - t0,
	       strategy_label(cheapest));

	/* the strategies, on VMs of one module (one snapshot) */
	for (int s = HP_RESTORE_DIRTYLOG_MEMCPY; s < HP_RESTORE_STRATEGIES; s++) {
		double t = now_s();
		one_vm(mod, s);
		printf("%-18s one VM: %.2f s\n", strategy_label(s), now_s() - t);
	}
	{
		double t = now_s();
		one_vm(mod, HP_RESTORE_AUTO);
		printf("%-18s one VM: %.2f s\n", "auto", now_s() - t);
	}

	/* pools: a module per strategy (the pool's VMs use the module's strategy) */
	for (int s = 0; s < HP_RESTORE_STRATEGIES; s++) {
		struct hp_module_config cfg = { .restore = s };
		struct hp_module *m = kt_open_module(kvm, "canary", &cfg);
		double t = now_s();
		pooled(m, s);
		printf("%-18s pool: %.2f s\n", strategy_label(s), now_s() - t);
		hp_module_close(m);
	}

	/* dirty(1)/dirty(16): call 1 and call 10000 agree, with the cheapest strategy */
	{
		double t = now_s();
		struct hp_vm *vm = new_vm(mod, cheapest);
		uint64_t first1 = 0, last1 = 1, first16 = 0, last16 = 1;
		char what[96];
		snprintf(what, sizeof(what), "%s, dirty x 10000", strategy_label(cheapest));
		dirty_calls(vm, what, 1, 10000, &first1, &last1);
		dirty_calls(vm, what, 16, 10000, &first16, &last16);
		CHECK_MSG(first1 == last1 && first16 == last16 && first1 == snap.dirty_sum,
			  "dirty: call 1 and call 10000 differ");
		hp_vm_destroy(vm);
		printf("%-18s dirty(1), dirty(16) x 10000: %.2f s\n", strategy_label(cheapest),
		       now_s() - t);
	}
	for (int s = HP_RESTORE_DIRTYLOG_MEMCPY; s < HP_RESTORE_STRATEGIES; s++) {
		double t = now_s();
		dirty_big(mod, s);
		printf("%-18s dirty(256), dirty(4096) x 20: %.2f s\n", strategy_label(s), now_s() - t);
	}

	printf("%" PRIu64 " canaries, %.1f s in all\n", canary_seq, now_s() - t0);
	hp_module_close(mod);
	hp_kvm_close(kvm);
	CHECK_DONE();
}
