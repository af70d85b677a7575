/* vm.c - one micro-VM: guest memory, the vCPU, the run loop that serves hypercalls, calls.
 *
 * Everything the guest leaves in the call block is read once into a local and validated
 * before use: the guest is hostile, and with one vCPU stopped in KVM_RUN's exit it cannot
 * change the bytes while we look at them, but it can lie about every one of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_layout.h"
#include "guest_output.h"
#include "hp_mpscan.h"
#include "arch/arch.h"
#include "vm_internal.h"

/* Guest memory of a fresh VM: its own memfd (the template of a snapshot), mapped shared. */
static int create_memory(struct hp_vm *vm, int memfd, struct hp_error *err)
{
	vm->mem_fd = memfd;
	if (ftruncate(vm->mem_fd, (off_t)vm->mem_size) < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "ftruncate guest memory to %llu bytes",
				     (unsigned long long)vm->mem_size);
	void *p = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->mem_fd, 0);
	if (p == MAP_FAILED)
		return hp_fail_errno(err, HP_E_SYSTEM, "mmap guest memory");
	vm->mem = p;
	vm->cb = (volatile struct hp_call_block *)(void *)(vm->mem + HP_GPA_CONTROL);
	return 0;
}

/* Guest memory of a clone: a private mapping of the sealed snapshot. Pages the VM only reads
 * stay the page cache's, shared by every VM of the module; a write copies that one page. */
static int clone_memory(struct hp_vm *vm, const struct hp_snapshot *snap, struct hp_error *err)
{
	void *p = mmap(NULL, snap->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, snap->memfd, 0);
	if (p == MAP_FAILED)
		return hp_fail_errno(err, HP_E_SYSTEM, "mmap the snapshot");
	vm->mem = p;
	vm->cb = (volatile struct hp_call_block *)(void *)(vm->mem + HP_GPA_CONTROL);
	return 0;
}

static int create_kvm_vm(struct hp_vm *vm, bool log_dirty, struct hp_error *err)
{
	vm->vm_fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_CREATE_VM");
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_SET_USER_MEMORY_REGION");
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return hp_fail_errno(err, HP_E_KVM, "KVM_CREATE_VCPU");
	void *run = mmap(NULL, vm->kvm->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vm->vcpu_fd, 0);
	if (run == MAP_FAILED)
		return hp_fail_errno(err, HP_E_KVM, "mmap kvm_run");
	vm->run = run;
	return 0;
}

static int load_images(struct hp_vm *vm, struct hp_error *err)
{
	const struct hp_module *mod = vm->mod;
	const struct hp_layout *l = &mod->layout;
	const uint8_t *core;
	size_t core_size;
	hp_arch_core_image(&core, &core_size);
	memcpy(vm->mem + HP_GPA_CORE_TEXT, core, core_size);
	if (hp_elf_load(&mod->img, mod->file, mod->file_size, vm->mem, vm->mem_size, err))
		return -1;
	volatile struct hp_call_block *cb = vm->cb;
	cb->magic = HP_CALL_BLOCK_MAGIC;
	cb->abi_version = HP_ABI_VERSION;
	cb->input_addr = HP_GPA_INPUT;
	cb->input_size = l->input_size;
	cb->output_addr = HP_GPA_OUTPUT;
	cb->output_size = l->output_size;
	cb->heap_start = l->heap_start;
	cb->heap_size = l->heap_size;
	cb->stack_top = l->stack_top;
	cb->log_addr = HP_GPA_LOG;
	cb->log_size = HP_LOG_BUF_SIZE;
	cb->cpu_flags = hp_arch_cpu_flags(vm->kvm);
	return 0;
}

/* Guest output up to the module's per-call limit; the rest is counted and dropped. */
static int serve_log(struct hp_vm *vm, struct hp_error *err)
{
	uint32_t len;
	int stream;
	if (hp_guest_log(vm->cb, &len, &stream, err))
		return -1;
	uint64_t max = vm->mod->max_log_bytes;
	uint64_t room = vm->log_bytes < max ? max - vm->log_bytes : 0;
	uint64_t keep = len < room ? len : room;
	if (vm->log && keep)
		vm->log(vm->log_ctx, stream, (const char *)vm->mem + HP_GPA_LOG, keep);
	vm->log_bytes += keep;
	vm->log_dropped += len - keep;
	return 0;
}

static void report_dropped_log(struct hp_vm *vm)
{
	if (!vm->log_dropped || !vm->log)
		return;
	char note[160];
	int n = snprintf(note, sizeof(note),
			 "\n[hyperpool: %llu bytes of guest output dropped, over the limit of %llu bytes per call]\n",
			 (unsigned long long)vm->log_dropped, (unsigned long long)vm->mod->max_log_bytes);
	vm->log(vm->log_ctx, HP_LOG_STDERR, note, (size_t)n);
}

static int serve_abort(struct hp_vm *vm, struct hp_error *err)
{
	/* cut by hp_guest_abort_message, at a character boundary, to fit err->message */
	char msg[HP_ERROR_MSG_MAX - sizeof("guest aborted: ") + 1];
	hp_guest_abort_message(vm->cb, msg, sizeof(msg));
	return hp_fail(err, HP_E_GUEST_ABORT, "guest aborted: %s", msg);
}

/* --- host calls ------------------------------------------------------------------------------ */

/* Where a host call's answer goes: the input buffer after the call's own name and arguments
 * (the guest can read it, only the host writes it), 8-byte aligned. */
static uint64_t reply_offset(const struct hp_vm *vm)
{
	return (vm->cb->name_len + (uint64_t)vm->cb->args_len + 7) & ~7ull;
}

static void answer_host_call(struct hp_vm *vm, int status, const void *bytes, size_t len)
{
	uint64_t off = reply_offset(vm);
	memcpy(vm->mem + HP_GPA_INPUT + off, bytes, len);
	if (off + len > vm->host_input_len)
		vm->host_input_len = off + len; /* restore puts these pages back too */
	vm->cb->host_status = (uint32_t)status;
	vm->cb->host_resp_addr = HP_GPA_INPUT + off;
	vm->cb->host_resp_len = (uint32_t)len;
}

/* Answers with an error message (made valid UTF-8, cut to what fits). */
static void answer_host_error(struct hp_vm *vm, int status, const char *msg, size_t len)
{
	char clean[HP_GUEST_MSG_BUF_SIZE];
	uint64_t room = vm->mod->layout.input_size - reply_offset(vm);
	size_t n = hp_utf8_sanitize((const uint8_t *)msg, len, clean,
				    room < sizeof(clean) ? (size_t)room : sizeof(clean));
	answer_host_call(vm, status ? status : HP_E_GUEST_ERROR, clean, n);
}

/* HP_HC_HOST_CALL: the request is read from guest memory (checked to lie in one region module
 * code may read), validated, handed to the embedder's function, and its answer, validated in
 * turn, is written into the input buffer. A malformed request or one over the limits ends the
 * call; an unknown function or an embedder's error is answered to the guest, which goes on. */
static int serve_host_call(struct hp_vm *vm, struct hp_error *err)
{
	const struct hp_module *mod = vm->mod;
	uint64_t addr = vm->cb->host_req_addr, len = vm->cb->host_req_len; /* read once */
	if (++vm->host_calls > mod->max_host_calls)
		return hp_fail(err, HP_E_LIMIT, "guest made more than %llu host calls in one call",
			       (unsigned long long)mod->max_host_calls);
	if (len == 0 || len > mod->max_host_call_bytes)
		return hp_fail(err, HP_E_LIMIT, "host call request of %llu bytes (limit %llu)",
			       (unsigned long long)len, (unsigned long long)mod->max_host_call_bytes);
	if (!hp_regions_user_readable(mod->regions, mod->nregions, addr, len))
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "host call request at %#llx (%llu bytes) is not in the module's memory",
			       (unsigned long long)addr, (unsigned long long)len);
	struct hp_host_request req;
	if (hp_guest_host_request(vm->mem + addr, len, &req, err))
		return -1;
	if (!vm->host_fn) {
		static const char msg[] = "no host functions are offered to this module";
		answer_host_error(vm, HP_E_NO_SUCH_FUNCTION, msg, sizeof(msg) - 1);
		return 0;
	}
	struct hp_host_reply *reply = malloc(sizeof(*reply));
	if (!reply)
		return hp_fail(err, HP_E_NO_MEMORY, "out of memory");
	reply->status = HP_E_SYSTEM;
	reply->bytes = NULL;
	reply->len = 0;
	vm->in_host_call = true;
	vm->host_fn(vm->host_ctx, vm, req.name, req.name_len, req.args, req.args_len, reply);
	vm->in_host_call = false;
	uint64_t room = mod->layout.input_size - reply_offset(vm);
	struct hp_error rerr;
	if (reply->status != HP_OK)
		answer_host_error(vm, reply->status, reply->bytes, reply->bytes ? reply->len : 0);
	else if (hp_host_reply_check(reply->bytes, reply->len, room, &rerr))
		answer_host_error(vm, rerr.code, rerr.message, strlen(rerr.message));
	else
		answer_host_call(vm, HP_OK, reply->bytes, reply->len);
	free(reply);
	return 0;
}

void hp_vm_set_host(struct hp_vm *vm, hp_host_fn fn, void *ctx)
{
	vm->host_fn = fn;
	vm->host_ctx = ctx;
}

/* Runs the vCPU until the guest makes hypercall `done` (INIT_DONE or CALL_DONE). */
static int run_until(struct hp_vm *vm, uint32_t done, struct hp_error *err)
{
	for (;;) {
		/* Clears immediate_exit, then checks cancel and deadline: see interrupt.c. */
		if (hp_call_check(vm, err))
			return -1;
		int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		hp_arch_after_run(vm);
		if (rc < 0) {
			/* KVM finishes pending completions before it looks at signals and
			 * immediate_exit, so an interrupted KVM_RUN leaves none behind. */
			vm->exit_pending = false;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return hp_fail_errno(err, HP_E_KVM, "KVM_RUN");
		}
		vm->run->kvm_dirty_regs = 0;
		vm->exit_pending = !hp_arch_exit_completed(vm);
		struct hp_exit ex = { 0 };
		hp_arch_decode_exit(vm, &ex);
		switch (ex.kind) {
		case HP_EXIT_RETRY:
			continue;
		case HP_EXIT_FAULT:
		case HP_EXIT_ERROR:
			if (err)
				*err = ex.error;
			return -1;
		case HP_EXIT_HYPERCALL:
			break;
		}
		if (++vm->hypercalls > vm->mod->max_hypercalls)
			return hp_fail(err, HP_E_LIMIT, "guest made more than %llu hypercalls in one call",
				       (unsigned long long)vm->mod->max_hypercalls);
		if (ex.nr == done)
			return 0;
		switch (ex.nr) {
		case HP_HC_LOG:
			if (serve_log(vm, err))
				return -1;
			continue;
		case HP_HC_ABORT:
			return serve_abort(vm, err);
		case HP_HC_HOST_CALL:
			if (done == HP_HC_INIT_DONE)
				return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest made a host call during init");
			if (serve_host_call(vm, err))
				return -1;
			continue;
		case HP_HC_INIT_DONE:
		case HP_HC_CALL_DONE:
			return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest sent %s at the wrong time",
				       ex.nr == HP_HC_INIT_DONE ? "init-done" : "call-done");
		default:
			return hp_fail(err, HP_E_GUEST_PROTOCOL, "guest made unknown hypercall %u",
				       ex.nr);
		}
	}
}

/* KVM finishes the instruction behind some exits (an MMIO or port read, a read-modify-write or
 * string instruction on MMIO) only on the next KVM_RUN: it writes the register, advances rip or
 * continues the rep then, *after* that KVM_RUN has loaded the registers we pass in. Left
 * pending, the completion of a call's last exit would land on top of the next call's fresh
 * state (a hostile call could poison the next caller's). So no call ends with one pending: a
 * KVM_RUN with immediate_exit set completes it and returns EINTR without running guest code
 * (the KVM API's documented way). The completion of a rep string instruction continues the rep
 * and exits again at its next MMIO access: those exits are completed the same way. KVM's
 * emulator goes back to the guest after at most 1024 iterations (measured: `rep movsb` with
 * rcx = 2^32 on the hypercall page ends after 1024 completions, ~10 us each here), and the
 * hypercall page holds 4096 bytes, so MAX_COMPLETIONS is never reached by a guest; a VM that
 * still does not settle is marked broken (its pool destroys it instead of reusing it). */
#define MAX_COMPLETIONS 4096

static int complete_pending_exit(struct hp_vm *vm, struct hp_error *err)
{
	for (int i = 0; i < MAX_COMPLETIONS; i++) {
		vm->run->kvm_dirty_regs = 0;
		if (vm->run->exit_reason == KVM_EXIT_MMIO && !vm->run->mmio.is_write)
			memset(vm->run->mmio.data, 0, sizeof(vm->run->mmio.data)); /* reads see 0 */
		vm->run->immediate_exit = 1;
		int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
		vm->run->immediate_exit = 0;
		hp_arch_after_run(vm);
		if (rc < 0 && errno == EINTR) {
			vm->exit_pending = false;
			return 0;
		}
		if (rc < 0)
			return hp_fail_errno(err, HP_E_KVM, "KVM_RUN completing the last exit");
		if (hp_arch_exit_completed(vm)) {
			vm->exit_pending = false;
			return 0;
		}
	}
	return hp_fail(err, HP_E_KVM, "the vCPU still had an exit to complete after %d tries",
		       MAX_COMPLETIONS);
}

/* Runs the vCPU until `done` within `timeout_ns`, with the per-call limits reset. Returns
 * with nothing pending in the vCPU; a VM where that fails is marked broken. */
static int run_call(struct hp_vm *vm, uint32_t done, uint64_t timeout_ns, struct hp_error *err)
{
	vm->log_bytes = vm->log_dropped = vm->hypercalls = vm->host_calls = 0;
	if (hp_call_begin(vm, timeout_ns, err))
		return -1;
	int rc = run_until(vm, done, err);
	hp_call_end(vm);
	report_dropped_log(vm);
	struct hp_error cerr;
	if (vm->exit_pending && complete_pending_exit(vm, &cerr)) {
		vm->broken = true;
		if (rc == 0 && err)
			*err = cerr;
		return -1;
	}
	return rc;
}

static bool in_exec_segment(const struct hp_elf_image *img, uint64_t addr)
{
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hp_elf_segment *s = &img->seg[i];
		if ((s->flags & HP_SEG_X) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

/* The first init of a module records its function names in the module. */
static int read_function_list(struct hp_vm *vm, struct hp_error *err)
{
	uint32_t len = vm->cb->output_len, n;
	char **names;
	if (len > vm->mod->layout.output_size)
		return hp_fail(err, HP_E_GUEST_PROTOCOL, "init output length %u exceeds the buffer", len);
	if (hp_guest_function_list(vm->mem + HP_GPA_OUTPUT, len, &names, &n, err))
		return -1;
	struct hp_module *mod = (struct hp_module *)vm->mod;
	pthread_mutex_lock(&mod->lock);
	if (!mod->functions) {
		mod->functions = names;
		mod->nfunctions = n;
		names = NULL;
	}
	pthread_mutex_unlock(&mod->lock);
	hp_guest_function_list_free(names);
	return 0;
}

static int run_init(struct hp_vm *vm, struct hp_error *err)
{
	if (run_call(vm, HP_HC_INIT_DONE, vm->mod->timeout_ns, err))
		return -1;
	uint64_t entry = vm->cb->dispatch_entry;
	if (!in_exec_segment(&vm->mod->img, entry))
		return hp_fail(err, HP_E_GUEST_PROTOCOL,
			       "dispatch entry %#llx is not in the module's code",
			       (unsigned long long)entry);
	vm->dispatch_entry = entry;
	if (read_function_list(vm, err))
		return -1;
	return hp_arch_after_init(vm, err);
}

static struct hp_vm *vm_alloc(struct hp_module *mod, hp_log_fn log, void *log_ctx,
			      struct hp_error *err)
{
	struct hp_vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		hp_fail(err, HP_E_NO_MEMORY, "out of memory");
		return NULL;
	}
	vm->mod = mod;
	vm->kvm = mod->kvm;
	vm->vm_fd = vm->vcpu_fd = vm->mem_fd = -1;
	vm->mem_size = mod->layout.mem_size;
	vm->log = log;
	vm->log_ctx = log_ctx;
	pthread_mutex_init(&vm->cancel_lock, NULL);
	return vm;
}

int hp_vm_create_fresh(struct hp_module *mod, hp_log_fn log, void *log_ctx, int memfd,
		       struct hp_vm **out, struct hp_error *err)
{
	struct hp_vm *vm = vm_alloc(mod, log, log_ctx, err);
	if (!vm) {
		close(memfd);
		return -1;
	}
	if (create_memory(vm, memfd, err) || create_kvm_vm(vm, false, err) ||
	    load_images(vm, err) || hp_arch_vm_setup(vm, err) || run_init(vm, err)) {
		hp_vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

int hp_vm_create_cold(struct hp_module *mod, hp_log_fn log, void *log_ctx, struct hp_vm **out,
		      struct hp_error *err)
{
	int fd = memfd_create("hyperpool-guest", MFD_CLOEXEC);
	if (fd < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "memfd_create");
	return hp_vm_create_fresh(mod, log, log_ctx, fd, out, err);
}

static int alloc_dirty_bitmap(struct hp_vm *vm, struct hp_error *err)
{
	uint64_t pages = vm->mem_size / HP_PAGE_SIZE;
	vm->dirty_bitmap = calloc((pages + 63) / 64, sizeof(uint64_t));
	return vm->dirty_bitmap ? 0 : hp_fail(err, HP_E_NO_MEMORY, "out of memory");
}

int hp_vm_create_clone(struct hp_module *mod, int restore, hp_log_fn log, void *log_ctx,
		       struct hp_vm **out, struct hp_error *err)
{
	struct hp_vm *vm = vm_alloc(mod, log, log_ctx, err);
	if (!vm)
		return -1;
	const struct hp_snapshot *snap = mod->snap;
	bool dirty_log = hp_restore_uses_dirty_log(restore);
	vm->snap = snap;
	vm->restore = restore;
	vm->dispatch_entry = snap->dispatch_entry;
	if (clone_memory(vm, snap, err) || (dirty_log && alloc_dirty_bitmap(vm, err)) ||
	    create_kvm_vm(vm, dirty_log, err) || hp_arch_clone_setup(vm, snap->arch, err)) {
		hp_vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

void hp_vm_set_log(struct hp_vm *vm, hp_log_fn log, void *log_ctx)
{
	vm->log = log;
	vm->log_ctx = log_ctx;
}

void hp_vm_release_memory(struct hp_vm *vm)
{
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	vm->mem = NULL;
	vm->cb = NULL;
}

void hp_vm_destroy(struct hp_vm *vm)
{
	if (!vm)
		return;
	hp_arch_vm_fini(vm);
	if (vm->run)
		munmap(vm->run, vm->kvm->run_mmap_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	hp_vm_release_memory(vm);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	free(vm->dirty_bitmap);
	pthread_mutex_destroy(&vm->cancel_lock);
	free(vm);
}

int hp_vm_restore(struct hp_vm *vm, struct hp_error *err)
{
	if (vm->broken)
		return hp_fail(err, HP_E_SYSTEM, "this VM failed to restore and must be destroyed");
	if (!vm->snap)
		return hp_fail(err, HP_E_INVALID, "a cold VM has no snapshot to restore");
	if (!vm->needs_restore)
		return 0;
	if (hp_restore_pages(vm, err)) {
		vm->broken = true;
		return -1;
	}
	vm->needs_restore = false;
	vm->host_input_len = 0;
	return 0;
}

int hp_vm_memory(struct hp_vm *vm, struct hp_vm_memory *m, struct hp_error *err)
{
	(void)err;
	m->guest_bytes = vm->mem_size;
	m->private_bytes = hp_restore_private_pages(vm) * HP_PAGE_SIZE;
	m->last_restore_pages = vm->pages_restored;
	return 0;
}

uint32_t hp_vm_function_count(const struct hp_vm *vm)
{
	return vm->mod->nfunctions;
}

const char *hp_vm_function_name(const struct hp_vm *vm, uint32_t i)
{
	return i < vm->mod->nfunctions ? vm->mod->functions[i] : NULL;
}

int hp_vm_call(struct hp_vm *vm, const char *name, size_t name_len, const void *args,
	       size_t args_len, struct hp_call_result *res, struct hp_error *err)
{
	return hp_vm_call_opts(vm, name, name_len, args, args_len, NULL, res, err);
}

int hp_vm_call_opts(struct hp_vm *vm, const char *name, size_t name_len, const void *args,
		    size_t args_len, const struct hp_call_opts *opts, struct hp_call_result *res,
		    struct hp_error *err)
{
	if (opts && opts->timeout_ms > HP_MAX_TIMEOUT_MS)
		return hp_fail(err, HP_E_INVALID, "timeout of %llu ms exceeds %llu ms",
			       (unsigned long long)opts->timeout_ms,
			       (unsigned long long)HP_MAX_TIMEOUT_MS);
	const struct hp_layout *l = &vm->mod->layout;
	if (vm->in_host_call)
		return hp_fail(err, HP_E_INVALID, "a host function may not call into its own VM");
	if (vm->broken)
		return hp_fail(err, HP_E_SYSTEM, "this VM failed to restore and must be destroyed");
	if (vm->snap && !(opts && opts->keep_memory) && hp_vm_restore(vm, err))
		return -1;
	if (name_len == 0 || name_len >= HP_FUNCTION_NAME_MAX)
		return hp_fail(err, HP_E_INVALID, "function name must be 1 to %u bytes",
			       HP_FUNCTION_NAME_MAX - 1);
	if (args_len > l->input_size - name_len)
		return hp_fail(err, HP_E_LIMIT, "arguments of %zu bytes exceed the input buffer (%llu bytes)",
			       args_len, (unsigned long long)(l->input_size - name_len));
	vm->needs_restore = true;
	vm->calls++;
	/* the largest span the host wrote since the last restore (a session makes several calls) */
	if (name_len + args_len > vm->host_input_len)
		vm->host_input_len = name_len + args_len;
	memcpy(vm->mem + HP_GPA_INPUT, name, name_len);
	memcpy(vm->mem + HP_GPA_INPUT + name_len, args, args_len);
	vm->cb->name_len = (uint32_t)name_len;
	vm->cb->args_len = (uint32_t)args_len;
	vm->cb->status = UINT32_MAX;
	vm->cb->output_len = 0;
	if (hp_arch_prepare_call(vm, err))
		return -1;
	uint64_t timeout_ns = opts && opts->timeout_ms ? opts->timeout_ms * 1000000ull
						       : vm->mod->timeout_ns;
	if (run_call(vm, HP_HC_CALL_DONE, timeout_ns, err))
		return -1;
	struct hp_guest_reply reply;
	if (hp_guest_result(vm->cb, vm->mem + HP_GPA_OUTPUT, l->output_size, vm->errmsg,
			    sizeof(vm->errmsg), &reply, err))
		return -1;
	res->status = reply.status;
	res->output = reply.output;
	res->output_len = reply.output_len;
	return 0;
}
