#!/usr/bin/env python3
"""e2e_hostile.py - every misdeed of examples/hostile through the socket, each answered with
its error code and followed by a normal call that must see the snapshot state (42), on a
module with a single VM, so the same VM serves every call. The daemon must survive all."""
from hpdtest import Client, Daemon, args, check, done, is_error, ok, skip_without_kvm

skip_without_kvm()
binary, examples, _ = args()

MISDEEDS = [
    ("div_zero", "guest_fault", "divide error"),
    ("null_deref", "guest_fault", "page fault reading 0x0"),
    ("write_text", "guest_fault", "page fault writing"),
    ("exec_data", "guest_fault", "page fault executing"),
    ("jump_garbage", "guest_fault", "0xdead0000"),
    ("recurse_forever", "guest_fault", "stack overflow"),
    ("abort_long", "guest_abort", "long message"),
    ("bad_output_len", "guest_protocol", "output length"),
    ("bad_log_len", "guest_protocol", "log hypercall"),
    ("bad_status", "guest_protocol", "invalid status"),
    ("unknown_hypercall", "guest_protocol", "unknown hypercall"),
    ("fake_fault", "guest_protocol", "unknown hypercall 6"),
    ("hypercall_storm", "limit", "hypercalls"),
    ("touch_page_tables", "guest_fault", "page fault writing 0x100000"),
    ("touch_core", "guest_fault", "page fault reading 0x1000"),
    ("write_input", "guest_fault", "page fault writing 0x200000"),
    ("mmio_elsewhere", "guest_fault", "page fault writing 0x30001000"),
    ("ud2", "guest_fault", "invalid opcode"),
    ("int3", "guest_fault", "breakpoint"),
    ("hlt", "guest_fault", "general protection"),
    ("cli", "guest_fault", "general protection"),
    ("port_out", "guest_fault", "general protection"),
    ("port_in", "guest_fault", "general protection"),
    ("cr3_write", "guest_fault", "general protection"),
    ("wrmsr_efer", "guest_fault", "general protection"),
    ("lidt", "guest_fault", "general protection"),
    ("vmcall", "guest_fault", "general protection"),
    ("trap_flag", "guest_fault", "debug exception"),
    ("mmio_read", "guest_fault", "read from unbacked"),
    ("mmio_xchg", "guest_fault", "read from unbacked"),
    ("mmio_rep_movs", "guest_fault", "read from unbacked"),
    ("mmio_rep_movs_huge", "guest_fault", "read from unbacked"),
    ("mmio_rep_stos", "guest_protocol", "unknown hypercall 4660"),
    ("mmio_write_wide", "guest_fault", "wrote to unbacked"),
    ("mmio_avx", "vm_exit", "emulation failed"),
    ("loop_forever", "timeout", "deadline of 300 ms"),
]
TIMEOUT_MS = {"loop_forever": 300}

modules = {"hostile": {"pool_min": 1, "pool_max": 1, "queue": 8, "timeout_ms": 10000}}
with Daemon(binary, examples, modules=modules) as d:
    c = Client(d.socket)
    for fn, code, needle in MISDEEDS:
        opts = [{"timeout_ms": TIMEOUT_MS[fn]}] if fn in TIMEOUT_MS else []
        resp = c.call("call", "hostile", fn, [], *opts)
        check(is_error(resp, code, needle), f"{fn}: {resp}, want {code} '{needle}'")
        check(ok(c.call("call", "hostile", "ok", []), 42), f"the normal call after {fn}")
    resp = c.call("call", "hostile", "log_flood", [3])
    check(ok(resp, 3), f"log_flood: the call goes on past the log limit: {resp}")
    check(ok(c.call("call", "hostile", "ok", []), 42), "the normal call after log_flood")
    # A call that waited in the queue: its timeout message names the deadline it asked for and
    # how much of it went by in the queue (libhpvmm was given only what was left).
    first = c.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 300}])
    second = c.request("call", ["hostile", "loop_forever", [], {"timeout_ms": 1000}])
    check(is_error(c.wait(first), "timeout", "deadline of 300 ms ("), "the first loop")
    resp = c.wait(second)
    err = resp[0] or {}
    queued = err.get("message", "").split("(")[-1].split(" ms")[0]
    check(is_error(resp, "timeout", "deadline of 1000 ms (") and queued.isdigit() and 250 <= int(queued) < 1000,
          f"the second loop waited ~300 ms behind the first: {resp}")
    check(ok(c.call("call", "hostile", "ok", []), 42), "the normal call after the queued loops")
    err, st = c.call("stats")
    vms = (st or {}).get("modules", {}).get("hostile", {}).get("vms", {})
    check(vms.get("created") == 1 and vms.get("destroyed") == 0 and vms.get("restore_failures") == 0,
          f"one VM served every misdeed and was restored each time: {vms}")
    c.close()
done()
