//! The reader on whole logs in the documented forms of each command (debugger
//! docs examples and public logs), beyond the seeds and fixtures that the
//! integration tests read.

use std::path::Path;

use crate::model::{ThreadOrigin, ThreadState};
use crate::DumpLoad;

fn read(text: &str) -> DumpLoad {
    crate::read_bytes(Path::new("t.log"), text.as_bytes()).expect("a log")
}

fn wait_reason(s: &ThreadState) -> Option<&str> {
    s.wait_reason()
}

#[test]
fn stacks_rows_join_their_thread_blocks() {
    let load = read(
        "0: kd> !stacks
Proc.Thread  .Thread  Ticks   ThreadState Blocker
                            [89d6d8e8 ServiceA.exe]
1454.0014b0  89d36b60 0000163 Blocked    DriverA!Check+0x177
1454.001630  89ce9580 000a2f1 Blocked    nt!KiSwapContext+0x26
                            [8b57f7a8 System]
   4.000070  8b579db0 ffffff42 Blocked    +0x1
   4.000014  827cf030 0000010 Blocked    Stack paged out
0: kd> !thread 89d36b60
THREAD 89d36b60  Cid 1454.14b0  Teb: 00000000 Win32Thread: 00000000 WAIT: (Unknown) KernelMode Alertable
    8a8d7438  NotificationEvent
Owning Process            89d6d8e8       Image:         ServiceA.exe
Wait Start TickCount      11760358       Ticks: 355 (0:00:00:05.546)
ChildEBP RetAddr
f3e7acd8 8083d5b1 nt!KiSwapContext+0x26
f3e7ad04 8083df9e nt!KiSwapThread+0x2e5
f3e7ad4c f762cf8d nt!KeWaitForSingleObject+0x346
0: kd> !stacks 0
Proc.Thread  .Thread  ThreadState  Blocker
                                     [smss.exe]
  9c.000098  82738310  Blocked    ntoskrnl!KiSwapThread+0xc5
                                  ntoskrnl!KeWaitForMultipleObjects+0x2b4
                                  ntoskrnl!MmZeroPageThread+0x66
 9c.0000a0  826a5190  READY      ntoskrnl!KiSwapThread+0xc5
",
    );
    let s = &load.snapshot;
    // Six rows and one THREAD block of a thread already in a row: six threads.
    assert_eq!(s.threads.len(), 6, "{:#?}", s.threads);
    assert_eq!(load.report.records, 7);
    let t = s.threads.iter().find(|t| t.address == 0x89d36b60).unwrap();
    assert_eq!(t.origin, ThreadOrigin::ThreadBlock);
    assert_eq!(wait_reason(&t.state), Some("Unknown"));
    assert_eq!(
        t.ticks,
        Some(355),
        "the block's Ticks; the row's 0x163 is the same"
    );
    assert_eq!(t.stack.len(), 3);
    let row = s.threads.iter().find(|t| t.address == 0x89ce9580).unwrap();
    assert_eq!(row.origin, ThreadOrigin::Stacks);
    assert_eq!(row.ticks, Some(0xa2f1));
    assert_eq!(row.image.as_deref(), Some("ServiceA.exe"));
    assert_eq!(&*row.stack[0].symbol, "nt!KiSwapContext+0x26");
    let live_kd = s.threads.iter().find(|t| t.address == 0x8b579db0).unwrap();
    assert_eq!(
        live_kd.ticks, None,
        "a negative tick difference is not a wait"
    );
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("negative Ticks") && n.contains("0004.0070")));
    assert!(
        !s.threads
            .iter()
            .find(|t| t.address == 0x827cf030)
            .unwrap()
            .kernel_stack_resident
    );
    // `!stacks 2` continues a row with one frame per line; no Ticks column.
    let smss = s.threads.iter().find(|t| t.address == 0x82738310).unwrap();
    assert_eq!(smss.stack.len(), 3);
    assert_eq!(smss.ticks, None);
    assert_eq!(
        s.threads
            .iter()
            .find(|t| t.address == 0x826a5190)
            .unwrap()
            .state,
        ThreadState::Ready
    );
}

#[test]
fn running_rows_and_stacks() {
    // Debugger docs (`!running`): Itanium addresses, and `-it` with stacks.
    let load = read(
        "0: kd> !running

System Processors 3 (affinity mask)
 Idle Processors 0

     Prcb              Current           Next
  0  e0000000818f8000  e0000000818f9e50  e0000000866f12f0  ................
 1  e000000086f16010  e00000008620ebe0  e000000086eddbc0  .O..............
0: kd> !running -it

System Processors f (affinity mask)
  Idle Processors f
All processors idle.

     Prcb      Current   Next
  0  ffdff120  805495a0            ................

ChildEBP RetAddr
8053e3f0 805329c2 nt!RtlpBreakWithStatusInstruction
8053e3f0 80533464 nt!_KeUpdateSystemTime+0x126
ffdff980 ffdff980 nt!KiIdleLoop+0x14

 1  f87e0120  f87e2e60            ................

ChildEBP RetAddr
f87e0980 f87e0980 nt!KiIdleLoop+0x14
",
    );
    let p = &load.snapshot.processors;
    assert_eq!(p.len(), 4);
    assert_eq!(p[1].current, 0xe00000008620ebe0);
    assert_eq!(p[1].next, Some(0xe000000086eddbc0));
    assert_eq!(p[2].next, None);
    assert_eq!(p[2].stack.len(), 3);
    assert_eq!(p[3].stack.len(), 1);
}

/// The public CSLock/mutexLock deadlock walkthrough (x64 `~*kv`, `!cs -l`,
/// `!handle X f`), put in one session.
const USER_X64: &str = "0:007> |
.  0\tid: 1914\texamine\tname: C:\\test\\CSLock.exe
0:007> .time
Debug session time: Thu Jun  5 14:55:44.000 2008 (UTC - 7:00)
System Uptime: 0 days 18:28:33.984
Process Uptime: 0 days 0:04:16.000
  Kernel time: 0 days 0:00:00.046
  User time: 0 days 0:00:00.031
0:007> ~*kv

   3  Id: 1914.278 Suspend: 1 Teb: 000000dd`ea989000 Unfrozen
 # Child-SP          RetAddr           : Args to Child                                                           : Call Site
00 000000dd`eafff9d8 00007ffe`c14657ff : 00000003`00000003 00000206`7470e940 00000000`00000000 00000000`58baa08f : ntdll!NtWaitForAlertByThreadId+0x14
01 000000dd`eafffa80 00007ffe`c1424bf4 : 00000000`00000000 00007ff6`5e8411dd 00000000`000007d0 00000000`00000004 : ntdll!RtlpWaitOnCriticalSection+0xdb
02 000000dd`eafffb80 00007ff6`5e841041 : 00007ff6`5e842270 00000000`00000000 000000dd`eafff9c8 000000dd`eafffba8 : ntdll!RtlEnterCriticalSection+0x40

   4  Id: 1914.174 Suspend: 1 Teb: 000000dd`ea98b000 Unfrozen \"worker\"
 # Child-SP          RetAddr           : Args to Child                                                           : Call Site
00 00000087`6e5ffb48 00007ffe`bdcc3eef : 00007ffe`bda344b8 00007ffe`bda344b8 00000087`6e5ffbc0 00000087`6e5ffba0 : ntdll!NtWaitForSingleObject+0x14
01 00000087`6e5ffb50 00007ff7`0e9510c7 : 00000000`00000000 00000000`00000000 00000087`00000000 00000000`000001b0 : KERNELBASE!WaitForSingleObjectEx+0x8f
0:007> !cs -l
-----------------------------------------
DebugInfo          = 0x00007ffec1550e10
Critical section   = 0x00007ff65e843650 (CSLock!cs1+0x0)
LOCKED
LockCount          = 0x1
WaiterWoken        = No
OwningThread       = 0x0000000000000278
RecursionCount     = 0x1
LockSemaphore      = 0xFFFFFFFF
SpinCount          = 0x00000000020007d0
0:007> !handle 1b0 f
Handle 1b0
  Type         \tMutant
  Attributes   \t0
  GrantedAccess\t0x1f0001:
         Delete,ReadControl,WriteDac,WriteOwner,Synch
         QueryState
  HandleCount  \t2
  PointerCount \t65537
  Name         \t\\Sessions\\1\\BaseNamedObjects\\MYMUTEX1
  Object Specific Information
    Mutex is Owned
    Mutant Owner 1914.278
0:007> !handle
Handle 4
  Type          Section
Handle 8
  Type          Event
Handle 1b0
  Type          Mutant
3 Handles
Type            Count
Event           1
Section         1
Mutant          1
0:007> !runaway 7

 User Mode Time
  Thread       Time
   3:278       0 days 0:00:01.015
   4:174       0 days 0:00:00.000
 Kernel Mode Time
  Thread       Time
   3:278       0 days 0:00:00.031
 Elapsed Time
  Thread       Time
   3:278       0 days 0:04:15.884
   9:999       0 days 0:04:15.884
0:007> lmv m CSLock
start             end                 module name
00007ff6`5e840000 00007ff6`5e847000   CSLock   (private pdb symbols)  C:\\test\\CSLock.pdb
    Loaded symbol image file: C:\\test\\CSLock.exe
    Image path: C:\\test\\CSLock.exe
    Image name: CSLock.exe
    Timestamp:        5BD8A0B1 (This is a reproducible build file hash, not a timestamp)
    CheckSum:         00000000
    ImageSize:        00007000
    File version:     1.0.0.1
    Product version:  1.0.0.0
    CompanyName:      Contoso
    FileDescription:  Lock demo
";

#[test]
fn user_mode_session_x64() {
    let load = read(USER_X64);
    let s = &load.snapshot;
    assert_eq!(s.processes.len(), 1);
    assert_eq!(
        (s.processes[0].pid, s.processes[0].image.as_str()),
        (0x1914, "CSLock.exe")
    );
    assert_eq!(s.process_uptime_ms, Some(256_000));
    assert_eq!(s.threads.len(), 2);
    let t3 = s.threads.iter().find(|t| t.tid == 0x278).unwrap();
    assert_eq!(t3.origin, ThreadOrigin::UserList);
    assert_eq!(t3.teb, Some(0xdd_ea98_9000));
    assert_eq!(t3.stack.len(), 3);
    // The state comes from the wait service on top of the stack.
    assert_eq!(wait_reason(&t3.state), Some("WrAlertByThreadId"));
    assert_eq!(t3.user_time.as_deref(), Some("0 days 0:00:01.015"));
    assert_eq!(t3.kernel_time.as_deref(), Some("0 days 0:00:00.031"));
    assert_eq!(t3.elapsed_time.as_deref(), Some("0 days 0:04:15.884"));
    let t4 = s.threads.iter().find(|t| t.tid == 0x174).unwrap();
    assert_eq!(wait_reason(&t4.state), Some("UserRequest"));
    assert!(s.notes.iter().any(|n| n.contains("1 !runaway row(s)")));
    let name = s
        .thread_details
        .iter()
        .find(|d| d.tid == 0x174)
        .and_then(|d| d.name.clone());
    assert_eq!(name.as_deref(), Some("worker"));
    // The critical section belongs to the session's process.
    let cs = &s.critical_sections[0];
    assert_eq!(
        (cs.address, cs.pid, cs.owning_tid),
        (0x7ff65e843650, Some(0x1914), Some(0x278))
    );
    // `!handle 1b0 f` then `!handle`: the mutant's owner; the summary by type.
    let m = s
        .handles
        .iter()
        .find(|h| h.handle == 0x1b0 && h.mutant.is_some())
        .unwrap();
    let mutant = m.mutant.as_ref().unwrap();
    assert_eq!(
        (mutant.owner_pid, mutant.owner_tid),
        (Some(0x1914), Some(0x278))
    );
    assert_eq!(m.type_name.as_deref(), Some("Mutant"));
    assert_eq!(
        m.object_name.as_deref(),
        Some("\\Sessions\\1\\BaseNamedObjects\\MYMUTEX1")
    );
    assert_eq!(m.pid, Some(0x1914));
    // `!handle 1b0 f` and `!handle` list 1b0 twice: one handle.
    assert_eq!(s.handles.len(), 3);
    let table = &s.handle_tables[0];
    assert_eq!(table.entries, Some(3));
    assert_eq!(table.by_type.len(), 3);
    let module = &s.modules[0];
    assert_eq!(module.short_name.as_deref(), Some("CSLock"));
    assert_eq!(module.name, "C:\\test\\CSLock.exe");
    assert_eq!(module.time_stamp, 0x5BD8A0B1);
    assert_eq!(module.size, 0x7000);
    assert_eq!(module.version.as_deref(), Some("1.0.0.1"));
    assert_eq!(module.company.as_deref(), Some("Contoso"));
    assert_eq!(module.pid, Some(0x1914));
    assert_eq!(load.report.skipped, 0, "{:?}", load.report.first_skips);
}

#[test]
fn user_mode_locks_and_wow64_stacks() {
    let load = read(
        "0:000> ~*k

.  0  Id: 1c3c.1c40 Suspend: 1 Teb: 00000000`7efdb000 Unfrozen
Child-SP          RetAddr           Call Site
00000000`0008e8b8 00000000`74f62bcd wow64cpu!CpupSyscallStub+0x9
00000000`0008e8c0 00000000`74fdd07e wow64cpu!WaitForMultipleObjects32+0x1d
0:000> .effmach x86
Effective machine: x86 compatible (x86)
0:000:x86> ~*kv

.  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7efdb000 Unfrozen
ChildEBP RetAddr  Args to Child
0012fe8c 7c90df3c 7c8025db 00000784 00000000 ntdll_77a50000!KiFastSystemCallRet
0012fe90 7c8025db 00000784 00000001 0012fec0 ntdll_77a50000!ZwWaitForSingleObject+0xc
0012fef4 7c802542 00000784 ffffffff 00000000 kernel32!WaitForSingleObjectEx+0xa8
0:000:x86> !locks

CritSec ntdll!LdrpLoaderLock+0 at 7c8877a0
WaiterWoken        No
LockCount          1
RecursionCount     1
OwningThread       1c40
EntryCount         0
ContentionCount    1
*** Locked

CritSec +24e750 at 24e750
LockCount          NOT LOCKED
RecursionCount     0
OwningThread       0
EntryCount         0
ContentionCount    0

Scanned 45 critical sections
",
    );
    let s = &load.snapshot;
    assert_eq!(s.threads.len(), 1);
    let t = &s.threads[0];
    assert_eq!(t.stack.len(), 2);
    assert_eq!(t.wow64_stack.len(), 3);
    // The 64-bit stack tops in wow64cpu; the 32-bit one says why it waits.
    assert_eq!(
        t.state,
        ThreadState::Wait {
            reason: "UserRequest".into(),
            mode: "UserMode".into(),
            alertable: true
        }
    );
    assert_eq!(s.critical_sections.len(), 2);
    let loader = &s.critical_sections[0];
    assert_eq!(loader.symbol.as_deref(), Some("ntdll!LdrpLoaderLock+0"));
    assert!(loader.locked);
    assert_eq!(
        (loader.lock_count, loader.owning_tid, loader.pid),
        (Some(1), Some(0x1c40), Some(0x1c3c))
    );
    let free = &s.critical_sections[1];
    assert_eq!(
        (free.symbol.as_deref(), free.locked, free.lock_count),
        (None, false, Some(-1))
    );
}

#[test]
fn wow64_stack_after_thread_w() {
    // The `!for_each_thread` form has no prompts (seed: "Complete Stack Traces
    // from x64 System"); this is the same with prompts.
    let load = read(
        "0: kd> !thread fffffa801f3a3bb0 1f
THREAD fffffa801f3a3bb0  Cid 4b4c.5fec  Teb: 000000007efaa000 Win32Thread: fffff900c1efad50 WAIT: (UserRequest) UserMode Non-Alertable
Child-SP          RetAddr           Call Site
fffffa60`190e5980 fffff800`01cba0fa nt!KiSwapContext+0x7f
00000000`069ef118 00000000`75183b06 wow64cpu!CpupSyscallStub+0x9
0: kd> .thread /w fffffa801f3a3bb0
Implicit thread is now fffffa80`1f3a3bb0
x86 context set
0: kd:x86> kb
ChildEBP RetAddr  Args to Child
06aefc68 76921270 00000404 00000000 00000000 ntdll_772b0000!ZwWaitForSingleObject+0x15
06aefcd8 7328c639 00000404 ffffffff 00000000 kernel32!WaitForSingleObjectEx+0xbe
0: kd:x86> .effmach AMD64
Effective machine: x64 (AMD64)
0: kd> k
Child-SP          RetAddr           Call Site
fffffa60`190e5980 fffff800`01cba0fa nt!KiSwapContext+0x7f
",
    );
    let t = &load.snapshot.threads[0];
    assert_eq!(t.stack.len(), 2);
    assert_eq!(t.wow64_stack.len(), 2);
    assert!(t.wow64_stack[0].function_is("ntdll!ZwWaitForSingleObject"));
    assert_eq!(t.wow64_stack[0].module(), Some("ntdll"));
    assert_eq!(t.stack[0].module(), Some("nt"));
    assert_eq!(t.wow64_stack[1].args, vec![0x404, 0xffffffff, 0]);
}

#[test]
fn analyze_newer_form_and_vm_x64() {
    let load = read(
        "0: kd> !analyze -v
*******************************************************************************
*                        Bugcheck Analysis                                    *
*******************************************************************************

MANUALLY_INITIATED_CRASH (e2)
The user manually initiated this crash dump.
Arguments:
Arg1: 0000000000000000
Arg2: 0000000000000000
Arg3: 0000000000000000
Arg4: 0000000000000000

Debugging Details:
------------------
BUGCHECK_CODE:  e2
BUGCHECK_P1: 0
PROCESS_NAME:  System
STACK_TEXT:
fffff880`0a0b1c28 fffff800`02e8bd29 : 00000000`000000e2 00000000`00000000 00000000`00000000 00000000`00000000 : nt!KeBugCheckEx
fffff880`0a0b1c30 fffff800`02e8c04b : 00000000`00000000 00000000`00000000 00000000`00000000 00000000`00000000 : kbdhid!KbdHidProcessCrashDump+0x1f1

SYMBOL_NAME:  kbdhid!KbdHidProcessCrashDump+1f1
IMAGE_NAME:  kbdhid.sys
FAILURE_BUCKET_ID:  X64_MANUALLY_INITIATED_CRASH_kbdhid!KbdHidProcessCrashDump+1f1
0: kd> !vm
Page File: \\??\\C:\\pagefile.sys
  Current:   1572864 Kb  Free Space:   1572856 Kb
  Minimum:   1572864 Kb  Maximum:   3145728 Kb
Physical Memory:          1048446 (    4193784 Kb)
NonPagedPool Usage:         66019 (     264076 Kb)
NonPagedPool Max:        4294967296 (17179869184 Kb)
********** Excessive NonPaged Pool Usage *****
Committed pages:           1159581 (   4638324 Kb)
",
    );
    let s = &load.snapshot;
    let b = &s.bugchecks[0];
    assert_eq!(
        (b.name.as_deref(), b.code),
        (Some("MANUALLY_INITIATED_CRASH"), Some(0xe2))
    );
    assert_eq!(b.args, vec![0, 0, 0, 0]);
    assert_eq!(b.stack.len(), 2);
    assert_eq!(b.image_name.as_deref(), Some("kbdhid.sys"));
    assert_eq!(b.process_name.as_deref(), Some("System"));
    let vm = &s.memory[0];
    assert_eq!(vm.page_files[0].maximum_kb, Some(3145728));
    assert_eq!(
        vm.counter("NonPagedPool Usage").and_then(|c| c.kb),
        Some(264076)
    );
    assert_eq!(
        vm.counter("NonPagedPool Max").and_then(|c| c.pages),
        Some(4294967296)
    );
    assert_eq!(vm.warnings, vec!["Excessive NonPaged Pool Usage"]);
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("Excessive NonPaged Pool Usage")));
}

#[test]
fn kernel_handles_docs_forms() {
    let load = read(
        "kd> !handle 0 4
processor number 0
PROCESS 80559800  SessionId: 0  Cid: 0000    Peb: 00000000  ParentCid: 0000
    DirBase: 00039000  ObjectTable: e1000d60  TableSize: 380.
    Image: Idle

New version of handle table at e1002000 with 380 Entries in use

0000: free handle, Entry address e1002000, Next Entry fffffffe
0004: Object: 80ed5238  GrantedAccess: 001f0fff
0168: Object: ffb6c748  GrantedAccess: 00000003 (Protected)
kd> !handle 0 3 0 Section
PROCESS fffffa8004f48940
    SessionId: none  Cid: 0138    Peb: 7f6639bf000  ParentCid: 0004
    DirBase: 10cb74000  ObjectTable: fffff8a00066f700  HandleCount:  39.
    Image: smss.exe

Handle table at fffff8a00066f700 with 39 entries in use

0040: Object: fffff8a000633f00  GrantedAccess: 00000006 (Inherit) Entry: fffff8a000670100
Object: fffff8a000633f00  Type: (fffffa80035fef20) Section
    ObjectHeader: fffff8a000633ed0 (new version)
        HandleCount: 1  PointerCount: 262144
",
    );
    let s = &load.snapshot;
    assert_eq!(s.handles.len(), 3);
    assert_eq!(s.handles[0].pid, Some(0));
    let sec = &s.handles[2];
    assert_eq!(
        (sec.pid, sec.handle, sec.object),
        (Some(0x138), 0x40, Some(0xfffff8a000633f00))
    );
    assert_eq!(sec.type_name.as_deref(), Some("Section"));
    assert_eq!((sec.handle_count, sec.pointer_count), (1, 262144));
    assert_eq!(s.handle_tables.len(), 2);
    assert_eq!(s.handle_tables[1].entries, Some(39));
    assert_eq!(s.handle_tables[1].pid, Some(0x138));
    assert_eq!(s.processes.len(), 2);
}

#[test]
fn rows_not_understood_are_reported_with_their_line() {
    let load = read(
        "0: kd> !stacks
Proc.Thread  .Thread  Ticks   ThreadState Blocker
 4bc.0004c4  zzzzzzzz 0000cc4 Blocked    nt!KeBugCheckEx+0x1b
 4bc.0004d0  8bf53650 000055d Blocked    nt!KeBugCheckEx+0x1b
0: kd> !irpfind
Irp    [ Thread ] irpStack: (Mj,Mn)   DevObj  [Driver]         MDL Process
8a3d3008 [8b56cb10] irpStack: garbage
0: kd> !poolused 2
 Tag    Allocs     Used    Allocs     Used
 Thre        12
0: kd> !running
     Prcb      Current   Next
  0  nothex  86300b40            ................
0:000> !runaway
 User Mode Time
  Thread       Time
   x:1c40      0:00:00.0093
",
    );
    let r = &load.report;
    let lines: Vec<(u64, &str)> = r
        .first_skips
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (3, "!stacks row not understood"),
            (7, "!irpfind row not understood"),
            (
                10,
                "!poolused row has fewer numbers than its header has columns"
            ),
            (13, "!running row not understood"),
            (17, "!runaway row not understood"),
        ]
    );
    assert_eq!(load.snapshot.threads.len(), 1);
}

/// Cut, flipped and garbled logs: no panic, whatever the damage.
#[test]
fn no_panic_on_damaged_logs() {
    let mut base = String::from(USER_X64);
    base.push_str(
        "0: kd> !stacks\nProc.Thread  .Thread  Ticks   ThreadState Blocker\n[89d6d8e8 ServiceA.exe]\n1454.0014b0  89d36b60 0000163 Blocked    DriverA!Check+0x177\n\
         0: kd> !vm\n*** Virtual Memory Usage ***\n Physical Memory: 1 ( 4 Kb)\n Page File: x\n Current: 1 Kb Free Space: 2 Kb\n Session ID 1 @ af925000:\n *** 3 Pool Allocation Failures ***\n57f4 rundll32.exe 586 ( 2344 Kb)\n\
         0: kd> !poolused 4\n NonPaged Paged\n Tag Allocs Used Allocs Used\n LSmi 0 0 -1 4294967240 BlockTypeMisc\n\
         0: kd> !analyze -v\nMANUALLY_INITIATED_CRASH (e2)\nArg1: 00000000\nSTACK_TEXT:\nf46f5b44 808b73a4 e1a36008 00000004 00000018 nt!Hv+0xd7\n\
         0: kd> !handle\nHandle table at e50ed000 with 8717 Entries in use\n0004: Object: 88f39978 GrantedAccess: 00000410 Entry: e102a008\nHandleCount: 8459 PointerCount: 8507\n\
         0: kd> !running\n     Prcb      Current   Next\n  0  ffdff120  86300b40            ................\nChildEBP RetAddr\n8053e3f0 805329c2 nt!Rtl\n",
    );
    let bytes = base.as_bytes();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..400 {
        let mut b = bytes.to_vec();
        match next() % 3 {
            0 => b.truncate((next() % bytes.len() as u64) as usize),
            1 => {
                for _ in 0..20 {
                    let i = (next() % b.len() as u64) as usize;
                    b[i] = next() as u8;
                }
            }
            _ => {
                let i = (next() % b.len() as u64) as usize;
                let junk: Vec<u8> = (0..64).map(|_| next() as u8).collect();
                b.splice(i..i, junk);
            }
        }
        let _ = crate::read_bytes(Path::new("damaged.log"), &b);
    }
}

#[test]
fn user_mode_current_thread_stack() {
    // `~1s` makes thread 1 current; the prompt says so (`0:001>`).
    let load = read(
        "0:000> ~
.  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7ffdf000 Unfrozen
   1  Id: 1c3c.1c44 Suspend: 1 Teb: 7ffde000 Unfrozen
0:000> ~1s
eax=00000000 ebx=00000000 ecx=00000000 edx=00000000 esi=00000000 edi=00000000
ntdll!KiFastSystemCallRet:
7c90e514 c3              ret
0:001> kv
ChildEBP RetAddr  Args to Child
0012fe8c 7c90df3c 7c8025db 00000784 00000000 ntdll!KiFastSystemCallRet
0012fe90 7c8025db 00000784 00000000 00000000 ntdll!ZwDelayExecution+0xc
",
    );
    let s = &load.snapshot;
    let t1 = s.threads.iter().find(|t| t.tid == 0x1c44).unwrap();
    assert_eq!(t1.stack.len(), 2);
    assert_eq!(t1.state.wait_reason(), Some("DelayExecution"));
    let t0 = s.threads.iter().find(|t| t.tid == 0x1c40).unwrap();
    assert!(t0.stack.is_empty());
    assert_eq!(t0.state.name(), "UNKNOWN");
}

/// The logs the reader is tested on: the fixture cases, then all of them in one log (a
/// user-mode session, prompts, `!cs`, `!locks`, `.process` between `PROCESS` blocks,
/// and processes listed twice), and the seeds when ../shared is there.
fn logs_to_cut() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut logs = Vec::new();
    let cases = std::fs::read_dir(root.join("fixtures/cases")).expect("fixtures");
    let mut cases: Vec<_> = cases
        .flatten()
        .map(|e| e.path().join("memory.log"))
        .collect();
    cases.sort();
    for p in cases.iter().filter(|p| p.exists()) {
        logs.push((p.display().to_string(), std::fs::read(p).expect("fixture")));
    }
    let all = logs.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    logs.push(("all fixtures".into(), all));
    if let Ok(dir) = std::fs::read_dir(root.join("../shared/seeds")) {
        for e in dir.flatten() {
            if let Ok(b) = std::fs::read(e.path()) {
                logs.push((e.path().display().to_string(), b));
            }
        }
    }
    logs
}

/// Reads `bytes` cut at `cuts`; the snapshot and report as JSON, and the parts joined.
fn read_cut(bytes: &[u8], cuts: &[usize]) -> (String, usize) {
    let (snap, report, joined) = super::read_parts("t.log", bytes, cuts, &|_, _| {});
    let json = serde_json::to_string(&(snap, report)).expect("json");
    (json, joined)
}

#[test]
fn parts_read_as_one() {
    let mut joined = 0;
    let mut cut = 0;
    for (name, bytes) in logs_to_cut() {
        let (whole, none) = read_cut(&bytes, &[]);
        assert_eq!(none, 0);
        let starts: Vec<usize> = memchr::memmem::find_iter(&bytes, b"\nPROCESS ")
            .map(|i| i + 1)
            .collect();
        // One cut at each of some `PROCESS` lines, then many at once.
        let step = (starts.len() / 12).max(1);
        for &at in starts.iter().step_by(step) {
            let (parts, j) = read_cut(&bytes, &[at]);
            assert!(parts == whole, "{name}: cut at byte {at} reads differently");
            joined += j;
            cut += 1;
        }
        let many: Vec<usize> = starts.iter().copied().step_by(3).collect();
        let (parts, j) = read_cut(&bytes, &many);
        assert!(
            parts == whole,
            "{name}: {} cuts read differently",
            many.len()
        );
        joined += j;
        cut += many.len();
    }
    // Most parts start inside a `!process 0 ff` listing and are joined, not read again.
    assert!(joined * 2 > cut, "{joined} of {cut} parts joined");
}

#[test]
fn parts_join_only_when_they_read_alike() {
    // b.exe's block is cut off from a.exe's; a context line follows inside the block.
    let log = |implicit: &str, tail: &str| {
        format!(
            "0: kd> !process 0 ff\n\
PROCESS 89c3e020  SessionId: 0  Cid: 0abc    Peb: 7ffd4000  ParentCid: 0204\n\
    Image: a.exe\n\
\n\
PROCESS 89c3f020  SessionId: 0  Cid: 0def    Peb: 7ffd4000  ParentCid: 0204\n\
    Image: b.exe\n\
Implicit process is now {implicit}\n\
    HandleCount: 99.\n\
\n\
0: kd> !cs -l -o -s\n\
-----------------------------------------\n\
Critical section   = 0x7c97e178 (ntdll!LdrpLoaderLock+0x0)\n\
LOCKED\n\
LockCount          = 0x2\n\
OwningThread       = 0x00000a50\n\
RecursionCount     = 0x1\n\
{tail}"
        )
    };
    let check = |log: &str, cut: &str, want_joined: usize| {
        let at = log.rfind(cut).expect("cut");
        let (whole, _) = read_cut(log.as_bytes(), &[]);
        let (parts, joined) = read_cut(log.as_bytes(), &[at]);
        assert!(parts == whole, "cut at {cut} reads differently");
        assert_eq!(joined, want_joined, "cut at {cut}");
        read(log).snapshot
    };
    let b = "PROCESS 89c3f020";
    // The part selects its own process: joined; its `!cs` and the block's last line
    // belong to b.exe.
    let snap = check(&log("89c3f020", ""), b, 1);
    assert_eq!(snap.critical_sections[0].pid, Some(0xdef));
    let counts: Vec<_> = snap.processes.iter().map(|p| p.handle_count).collect();
    assert_eq!(counts, [None, Some(99)]);
    // It selects a process listed before it: read again (the `!cs` is a.exe's).
    let snap = check(&log("89c3e020", ""), b, 0);
    assert_eq!(snap.critical_sections[0].pid, Some(0xabc));
    // A process listed again after the cut: read again.
    let again = "PROCESS 89c3e020  SessionId: 0  Cid: 0abc    Peb: 7ffd4000  ParentCid: 0204\n";
    let twice = log("89c3f020", &format!("\n0: kd> !process 0 ff\n{again}"));
    check(&twice, "PROCESS 89c3e020", 0);
    // A user-mode session in the part: the part stops there, what it read is joined.
    let threads = "0:000> ~*k\n\n.  0  Id: 1c3c.1c40 Suspend: 1 Teb: 7ffdf000 Unfrozen\n";
    assert_eq!(check(&log("89c3f020", threads), b, 1).processes.len(), 2);
    let stack = "0:000> kv\nChildEBP RetAddr\n0012f8d4 7c90e9ab ntdll!KiFastSystemCallRet\n0:000> vertarget\n";
    assert_eq!(check(&log("89c3f020", stack), b, 1).processes.len(), 2);
}

#[test]
fn shuffled_logs_cut_anywhere_read_as_one() {
    // Logs stitched from random runs of the fixtures' lines (a cut then lands inside
    // `!cs` output, user-mode sessions, `.process` contexts, THREAD blocks and stacks),
    // some with CRLF line ends and a BOM, cut at random `PROCESS` lines.
    let all = logs_to_cut()
        .into_iter()
        .find(|(name, _)| name == "all fixtures")
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .expect("fixtures");
    let lines: Vec<&str> = all.lines().collect();
    let mut rng = crate::synth::XorShift::new(0x5eed);
    for round in 0..48 {
        let mut log = String::new();
        if round % 4 == 3 {
            log.push('\u{feff}');
        }
        let end = if round % 2 == 1 { "\r\n" } else { "\n" };
        while log.len() < 200_000 {
            let from = rng.below(lines.len() as u64) as usize;
            let n = 1 + rng.below(300) as usize;
            for l in lines.iter().skip(from).take(n) {
                log.push_str(l);
                log.push_str(end);
            }
        }
        let bytes = log.as_bytes();
        let starts: Vec<usize> = memchr::memmem::find_iter(bytes, b"\nPROCESS ")
            .map(|i| i + 1)
            .collect();
        let mut cuts: Vec<usize> = (0..1 + rng.below(4))
            .filter_map(|_| starts.get(rng.below(starts.len() as u64) as usize).copied())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let (whole, _) = read_cut(bytes, &[]);
        let (parts, _) = read_cut(bytes, &cuts);
        assert!(
            parts == whole,
            "round {round}: cuts {cuts:?} read differently"
        );
    }
}

/// The text of `fixtures/readers/NAME` (small logs in documented output shapes).
fn reader_fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/readers")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The lines of a log after the prompt line that ends with `command`, up to the next prompt.
fn command_output<'a>(text: &'a str, command: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with("0:") && l.ends_with(&format!("> {command}")))
        .unwrap_or_else(|| panic!("no prompt for {command}"));
    lines.take_while(|l| !l.starts_with("0:")).collect()
}

#[test]
fn stack_command_with_thread_prefix_attaches_stack() {
    let text = reader_fixture("cs-deadlock-thread-prefix.log");
    let load = read(&text);
    let s = &load.snapshot;
    // `~0kb` (no space), `~1 kb`, `~~[1b14] kv`: each stack goes to the thread
    // the command names, frame for frame.
    for (command, tid) in [("~0kb", 0x1a44), ("~1 kb", 0x1b10), ("~~[1b14] kv", 0x1b14)] {
        let out = command_output(&text, command);
        let frames = out.iter().filter(|l| l.contains('!')).count();
        let t = s.threads.iter().find(|t| t.tid == tid).unwrap();
        assert_eq!(t.stack.len(), frames, "{command}");
        let last = out
            .last()
            .and_then(|l| l.split_whitespace().nth(5))
            .unwrap();
        assert_eq!(t.stack.last().map(|f| f.function()), last.split('+').next());
        assert!(matches!(t.state, ThreadState::Wait { .. }), "{command}");
    }
    // A picked thread's stack does not go to the current thread (`.  0`).
    assert_eq!(s.threads.len(), 3);
}

#[test]
fn handle_blocks_say_which_context_they_were_read_in() {
    let load = read(&reader_fixture("handle-mutant-other-process.log"));
    let s = &load.snapshot;
    assert_eq!(s.handles.len(), 2);
    for h in &s.handles {
        assert_eq!(h.pid, Some(0x1c3c), "{h:?}");
        assert_eq!(
            h.context.as_deref(),
            Some("user-mode process 0 (pid 0x1c3c)")
        );
    }
    // worker.exe's threads keep their own pid.
    assert_eq!(s.threads.iter().filter(|t| t.pid == 0x2210).count(), 2);
}

#[test]
fn kernel_locks_thread_lists_read_as_documented() {
    let text = reader_fixture("kernel-locks-lists.log");
    let load = read(&text);
    let s = &load.snapshot;
    // One record per distinct `Resource @` address (0x80d8b0b0 is listed twice).
    let mut listed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Resource @ "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(s.resources.len(), listed.len(), "{:#?}", s.resources);
    let res = |a: u64| s.resources.iter().find(|r| r.address == a).unwrap();
    // Every `<*>` entry of the wrapped list of 10 is an owner.
    let shared = text.split("Resource @ 0x80e97620").nth(1).unwrap();
    let shared = shared.split("KD: Scanning").next().unwrap();
    assert_eq!(res(0x80e97620).owners.len(), shared.matches("<*>").count());
    assert_eq!(res(0x80e97620).owners.len(), 10);
    // `89ab1da0-01` without `<*>` waits (and is listed again under "Threads
    // Waiting On"); the list ends at `2263 total locks`, which is no waiter.
    let ex = res(0x8a3e1b20);
    assert_eq!(ex.owners, vec![0x89d6f020]);
    assert_eq!(ex.exclusive_waiters, vec![0x89ab1da0, 0x89c02b30]);
    assert_eq!(
        ex.exclusive_waiters.len() as u32,
        ex.exclusive_waiters_count.unwrap()
    );
    assert!(s
        .resources
        .iter()
        .all(|r| !r.exclusive_waiters.contains(&0x2263)));
    // `80ed0023` is thread 80ed0020 with flag bits: one owner, the thread read.
    assert_eq!(res(0x80d8b0b0).owners, vec![0x80ed0020]);
    assert!(s.threads.iter().any(|t| t.address == 0x80ed0020));
}

/// `dt ntdll!_RTL_CRITICAL_SECTION` as WinDbg 10 prints it: `LONG` fields in `0n`
/// decimal, `OwningThread` a thread id. A section known only from `dt` is locked when
/// it has an owner, and its encoded `LockCount` (-6: locked, one waiter) counts one
/// waiter; the older bare-decimal form reads as before.
#[test]
fn dt_critical_section_zero_n_form() {
    let load = read(
        "0:000> ~
.  0  Id: 2f3c.2f40 Suspend: 0 Teb: 000000d2`7b3e1000 Unfrozen
0:000> dt ntdll!_RTL_CRITICAL_SECTION 00007ff7`4c2b60b0
   +0x000 DebugInfo        : 0x000001e2`c4a02f80 _RTL_CRITICAL_SECTION_DEBUG
   +0x008 LockCount        : 0n-6
   +0x00c RecursionCount   : 0n1
   +0x010 OwningThread     : 0x00000000`00002b44 Void
   +0x018 LockSemaphore    : (null) 
   +0x020 SpinCount        : 0x20007d0
0:000> dt ntdll!_RTL_CRITICAL_SECTION 00007ff7`4c2b60e0
   +0x000 DebugInfo        : 0x000001e2`c4a02fd0 _RTL_CRITICAL_SECTION_DEBUG
   +0x008 LockCount        : 0n-1
   +0x00c RecursionCount   : 0n0
   +0x010 OwningThread     : (null) 
0:000> q
",
    );
    let cs = &load.snapshot.critical_sections;
    assert_eq!(cs.len(), 2, "{cs:?}");
    let owned = cs
        .iter()
        .find(|c| c.address == 0x7ff7_4c2b_60b0)
        .expect("the owned section");
    assert!(owned.locked);
    assert_eq!(owned.lock_count, Some(-6));
    assert_eq!(owned.waiters(), 1);
    assert_eq!(owned.recursion_count, Some(1));
    assert_eq!(owned.owning_tid, Some(0x2b44));
    assert_eq!(owned.pid, Some(0x2f3c));
    let free = cs
        .iter()
        .find(|c| c.address == 0x7ff7_4c2b_60e0)
        .expect("the free section");
    assert!(!free.locked);
    assert_eq!(free.waiters(), 0);
}

/// MEX tables as its walkthroughs print them: kernel `!mex.lt` rows are threads with
/// MEX's wait time; `!mex.t`'s Info column names the lock the thread waits for and
/// its owner; `!mex.eresource` lists owners and waiters; `!mex.mut` gives the owner
/// of a KMUTANT a `WaitBlockList` row waits on; kernel `!mex.us` groups name threads
/// by address; user-mode `!mex.t -t TID` gives debugger thread 1 its stack.
#[test]
fn mex_tables_read_threads_locks_and_owners() {
    let load = read(
        "0: kd> !mex.lt ffffdf8215882040 -wr WrResource
Process PID Thread             Id State     Time Reason
======= === ================ ==== ======= ====== ==========
System    4 ffffdf821f4b8040 3304 Waiting 3s.218 WrResource
System    4 ffffdf8217a30040 19d8 Waiting 13m:47.640 WrResource

Thread Count: 2
0: kd> !mex.t ffffdf821f4b8040
Process                   Thread                       CID       UserTime KernelTime ContextSwitches Wait Reason   Time State
System (ffffdf8215882040) ffffdf821f4b8040 (E|K|W|R|V) 4.3304           0          0              18 WrResource  3s.218 Waiting

WaitBlockList:
    Object           Type                 Other Waiters
    ffffdc8b3e30f230 Mutant                           0

Priority:
    Current Base Decrement ForegroundBoost IO Page
    10      8    0         32              0  5

Thread at address 0000000000060001 is invalid. Not adding to waiter list.
# Child-SP         Return           Call Site                               Info                                                                             Source
0 ffffdc8b3e30edd0 fffff80280a0c800 nt!KiSwapContext+0x76
5 ffffdc8b3e30f1d0 fffff8027d7013c4 nt!ExAcquireResourceExclusiveLite+0x1fe Thread: ffffdf8217a30040 (System) exclusive owner of EResource: ffffdf821ce68448 
6 ffffdc8b3e30f260 fffff80280b55855 TestDriver!FileMoveThread+0x34                                                                                           C:\\src\\Driver.c @ 53
0: kd> !mex.eresource ffffdf821ce683e0
nt!_ERESOURCE @ ffffdf821ce683e0 [verbose]
Contention count: 2

Exclusive owner:
Thread at address 0000000000060001 is invalid. Not adding to waiter list.
    Process Thread             Time Wait Function
    ======= ================ ====== ==============================
    System  ffffdf821f4b8040 3s.218 TestDriver!FileMoveThread+0x34

Exclusive Waiters: 1
    Process Thread                 Time
    ======= ================ ==========
    System  ffffdf8217a30040 13m:47.640
Shared Waiters: 0
0: kd> !mex.mut ffffdc8b3e30f230

dt nt!_KMUTANT ffffdc8b3e30f230 () Recursive: [ -r1 -r2 -r ] Verbose Normal dt
==================================================================================
   +0x028 OwnerThread          : 0xffffdf82`17a30040 _KTHREAD (System)

Number of waiters: 1
Owning Thread: ffffdf8217a30040
0: kd> !mex.us
2 threads: ffffdf821f4b8040 ffffdf8217a30040
    fffff80280a0c800 nt!KiSwapContext+0x76
    fffff80280a0bd2f nt!KiSwapThread+0x500
0: kd> q
",
    );
    let s = &load.snapshot;
    assert_eq!(load.report.skipped, 0, "{:?}", load.report);
    assert_eq!(s.threads.len(), 2, "{:?}", s.threads);
    let t = s
        .threads
        .iter()
        .find(|t| t.address == 0xffff_df82_1f4b_8040)
        .expect("thread 3304");
    assert_eq!((t.pid, t.tid), (4, 0x3304));
    assert_eq!(t.origin, ThreadOrigin::Mex);
    assert_eq!(wait_reason(&t.state), Some("WrResource"));
    assert_eq!(t.ticks, Some(206));
    assert_eq!(t.image.as_deref(), Some("System"));
    assert_eq!(t.process_address, Some(0xffff_df82_1588_2040));
    assert_eq!(t.priority, Some(10));
    // `!mex.t`'s three frames are richer than `!mex.us`'s two.
    assert_eq!(t.stack.len(), 3);
    assert_eq!(t.wait_objects.len(), 1);
    assert_eq!(t.wait_objects[0].owner_thread, Some(0xffff_df82_17a3_0040));
    let other = s
        .threads
        .iter()
        .find(|t| t.tid == 0x19d8)
        .expect("thread 19d8");
    assert_eq!(other.ticks, Some(52_969));
    assert_eq!(other.stack.len(), 2, "the !mex.us stack");
    let lock = |a: u64| s.resources.iter().find(|r| r.address == a);
    let waited = lock(0xffff_df82_1ce6_8448).expect("the Info column's lock");
    assert_eq!(waited.owners, vec![0xffff_df82_17a3_0040]);
    assert_eq!(waited.exclusive_waiters, vec![0xffff_df82_1f4b_8040]);
    let listed = lock(0xffff_df82_1ce6_83e0).expect("the !mex.eresource lock");
    assert!(listed.exclusive);
    assert_eq!(listed.contention_count, Some(2));
    assert_eq!(listed.owners, vec![0xffff_df82_1f4b_8040]);
    assert_eq!(listed.exclusive_waiters, vec![0xffff_df82_17a3_0040]);
    assert_eq!(listed.exclusive_waiters_count, Some(1));

    let user = read(
        "0:000> |
.  0\tid: 1f2c\texamine\tname: C:\\Test.exe
0:000> !mex.lt
 # DbgID ThdID Wait Function              User Kernel Info     TEB              Create Time
== ===== ===== ========================== ==== ====== ======== ================ ==========================
->     0  25dc Test!main+0x17a               0      0 Event... 000000859f17f000 08/11/2023 08:04:20.141 PM
       1  3324 Test!DeleteMovedFiles+0x1c    0      0          000000859f185000 08/11/2023 08:04:20.146 PM
0:000> !mex.t -t 0x3324
DbgID ThreadID       User Kernel Create Time (UTC)
1     3324 (0n13092)    0      0 08/11/2023 08:04:20.146 PM

# Child-SP         Return           Call Site                             Source
0 000000859f5ffb38 00007ff8beaf3f8e ntdll!NtWaitForSingleObject+0x14      
1 000000859f5ffb40 00007ff6dd0930cc KERNELBASE!WaitForSingleObjectEx+0x8e 
2 000000859f5ffbe0 00007ff8bf9626ad Test!DeleteMovedFiles+0x1c            C:\\Test.cpp @ 88
0:000> q
",
    );
    let s = &user.snapshot;
    assert_eq!(user.report.skipped, 0, "{:?}", user.report);
    let tids: Vec<(u32, u32)> = s.threads.iter().map(|t| (t.pid, t.tid)).collect();
    assert_eq!(tids, vec![(0x1f2c, 0x25dc), (0x1f2c, 0x3324)]);
    assert_eq!(s.threads[0].teb, Some(0x85_9f17_f000));
    let t = &s.threads[1];
    assert_eq!(t.stack.len(), 3);
    assert_eq!(wait_reason(&t.state), Some("UserRequest"));
}

/// `!handle 0 0` prints only the per-type summary (`1226 Handles`, `Type\tCount`,
/// a padded name, a tab and the count): every row is read, the Thread row among
/// them, credited to the `|` process.
#[test]
fn handle_summary_reads_every_type_row() {
    let text = reader_fixture("handle-summary-thread-leak.log");
    let rows: Vec<(String, u64)> = command_output(&text, "!handle 0 0")
        .iter()
        .skip(2)
        .filter_map(|l| l.rsplit_once('\t'))
        .map(|(k, n)| (k.trim().to_string(), n.parse().unwrap()))
        .collect();
    let total: u64 = command_output(&text, "!handle 0 0")[0]
        .strip_suffix(" Handles")
        .unwrap()
        .parse()
        .unwrap();
    let load = read(&text);
    let s = &load.snapshot;
    assert_eq!(s.handle_tables.len(), 1, "{:#?}", s.handle_tables);
    let t = &s.handle_tables[0];
    assert_eq!(t.pid, Some(0x1f40));
    assert_eq!(t.entries, Some(total));
    assert_eq!(t.by_type, rows);
    assert!(t.by_type.contains(&("Thread".into(), 1129)));
    assert!(t.by_type.contains(&("WaitCompletionPacket".into(), 4)));
    assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), total);
    assert!(t.source.ends_with(&format!(":{}", t.line)), "{}", t.source);
    assert_eq!(load.report.skipped, 0, "{:?}", load.report.first_skips);
}
