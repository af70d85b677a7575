/* interrupt.c - stopping a vCPU from outside: deadlines and cancel.
 *
 * A call's thread is kicked out of KVM_RUN by a signal (HP_VCPU_SIGNAL); the handler also sets
 * kvm_run->immediate_exit of the call the thread is running, so a signal that lands just before
 * KVM_RUN is not lost: KVM_RUN then returns EINTR at once. The run loop clears immediate_exit
 * and only then checks the cancel flag and the clock, so every interleaving of signal and loop
 * ends the call (see run_until in vm.c). The deadline timer re-fires every few milliseconds
 * after it expires, as a belt to those braces, until the call is over.
 *
 * The signal handler and the per-thread timer are process-wide by nature; they hold no state
 * but a thread-local pointer to the kvm_run of the thread's current call. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vm_internal.h"

#define REFIRE_NS (5 * 1000 * 1000)

static _Thread_local struct kvm_run *current_run;
static _Thread_local timer_t thread_timer;
static _Thread_local bool thread_timer_ok;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_errno;

int hp_vcpu_signal(void)
{
	return SIGRTMIN + 1;
}

static void on_vcpu_signal(int sig)
{
	(void)sig;
	struct kvm_run *run = current_run;
	if (run)
		run->immediate_exit = 1;
}

static void install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_vcpu_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(hp_vcpu_signal(), &sa, NULL) < 0)
		handler_errno = errno;
}

static int thread_setup(struct hp_error *err)
{
	pthread_once(&handler_once, install_handler);
	if (handler_errno) {
		errno = handler_errno;
		return hp_fail_errno(err, HP_E_SYSTEM, "installing the vCPU signal handler");
	}
	if (thread_timer_ok)
		return 0;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, hp_vcpu_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = hp_vcpu_signal();
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &thread_timer) < 0)
		return hp_fail_errno(err, HP_E_SYSTEM, "timer_create for call deadlines");
	thread_timer_ok = true;
	return 0;
}

uint64_t hp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hp_call_begin(struct hp_vm *vm, uint64_t timeout_ns, struct hp_error *err)
{
	if (thread_setup(err))
		return -1;
	pthread_mutex_lock(&vm->cancel_lock);
	vm->thread = pthread_self();
	vm->in_call = true;
	atomic_store(&vm->cancel, false);
	pthread_mutex_unlock(&vm->cancel_lock);
	vm->timeout_ns = timeout_ns;
	vm->deadline_ns = hp_now_ns() + timeout_ns;
	vm->run->immediate_exit = 0;
	current_run = vm->run;
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(timeout_ns / 1000000000ull),
			      .tv_nsec = (long)(timeout_ns % 1000000000ull) },
		.it_interval = { .tv_sec = 0, .tv_nsec = REFIRE_NS },
	};
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timer_settime(thread_timer, 0, &its, NULL) < 0) {
		hp_call_end(vm);
		return hp_fail_errno(err, HP_E_SYSTEM, "arming the call deadline");
	}
	return 0;
}

void hp_call_end(struct hp_vm *vm)
{
	static const struct itimerspec off;
	timer_settime(thread_timer, 0, &off, NULL);
	current_run = NULL;
	vm->run->immediate_exit = 0;
	pthread_mutex_lock(&vm->cancel_lock);
	vm->in_call = false;
	pthread_mutex_unlock(&vm->cancel_lock);
}

/* Called by the run loop when KVM_RUN returned EINTR or before entering it again: 0 to go on,
 * or -1 with the reason the call must stop. */
int hp_call_check(struct hp_vm *vm, struct hp_error *err)
{
	vm->run->immediate_exit = 0;
	if (atomic_load(&vm->cancel))
		return hp_fail(err, HP_E_CANCELLED, "the call was cancelled");
	uint64_t now = hp_now_ns();
	if (now >= vm->deadline_ns)
		return hp_fail(err, HP_E_TIMEOUT, "the call ran past its deadline of %llu ms",
			       (unsigned long long)(vm->timeout_ns / 1000000));
	return 0;
}

void hp_vm_cancel(struct hp_vm *vm)
{
	pthread_mutex_lock(&vm->cancel_lock);
	if (vm->in_call) {
		atomic_store(&vm->cancel, true);
		pthread_kill(vm->thread, hp_vcpu_signal());
	}
	pthread_mutex_unlock(&vm->cancel_lock);
}
