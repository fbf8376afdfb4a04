//! Writes a kd session log of `!process 0 ff` output of a given size: the input
//! of `bench-windbg`.
//!
//! ```text
//! gen-windbg OUT SIZE [SEED]      SIZE like 200M or 1G; SEED default 1
//! ```
//!
//! The block mix is what a busy server's log has: sections from an x86 Server
//! 2003 dump (one-line `PROCESS` headers, `ChildEBP RetAddr` stacks, half of
//! them with `Args to Child`, LPC waits) and from an x64 Server 2008 dump
//! (`PROCESS` address alone, backtick addresses, `Child-SP RetAddr : Args to
//! Child : Call Site` on a third of the stacks, ALPC waits), alternating every
//! 64 MiB. Per thread: mostly waits with Ticks and their `(d:hh:mm:ss.fff)`,
//! some running and ready threads, 1-3 wait objects, mutants with owners, IRP
//! lists, impersonation, and 15% `Kernel stack not resident.`

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};

use dumptrace_bench::{parse_size, Rng};

/// Bytes of one machine's section before the log switches to the other.
const SECTION: u64 = 64 << 20;
const TICK_NS: u64 = 15_625_000;
const NOW_TICK: u64 = 11_760_713;

const REASONS: &[&str] = &[
    "UserRequest",
    "UserRequest",
    "UserRequest",
    "Executive",
    "WrQueue",
    "WrQueue",
    "DelayExecution",
    "WrLpcReceive",
    "WrUserRequest",
    "Unknown",
];
const OBJECTS: &[&str] = &[
    "SynchronizationEvent",
    "NotificationEvent",
    "NotificationTimer",
    "Semaphore Limit 0x1",
    "SynchronizationTimer",
    "QueueObject",
];
const IMAGES: &[&str] = &[
    "svchost.exe",
    "services.exe",
    "lsass.exe",
    "w3wp.exe",
    "sqlservr.exe",
    "explorer.exe",
    "csrss.exe",
    "spoolsv.exe",
    "ServiceA.exe",
    "AppServer.exe",
];
const KERNEL_X86: &[&str] = &[
    "nt!KiSwapContext+0x26",
    "nt!KiSwapThread+0x2e5",
    "nt!KeWaitForSingleObject+0x346",
    "nt!KeWaitForMultipleObjects+0x3f1",
    "nt!ObpWaitForMultipleObjects+0x202",
    "nt!NtWaitForMultipleObjects+0xc8",
    "nt!NtWaitForSingleObject+0x9a",
    "nt!KeRemoveQueue+0x1b1",
    "nt!IoRemoveIoCompletion+0x3e",
];
const USER_X86: &[&str] = &[
    "ntdll!KiFastSystemCallRet",
    "ntdll!ZwWaitForSingleObject+0xc",
    "kernel32!WaitForSingleObjectEx+0xac",
    "kernel32!WaitForSingleObject+0x12",
    "ntdll!RtlpWaitForCriticalSection+0x132",
    "ntdll!RtlEnterCriticalSection+0x46",
    "rpcrt4!LRPC_ADDRESS::ReceiveLotsaCalls+0x9f",
    "rpcrt4!RecvLotsaCallsWrapper+0xd",
    "rpcrt4!BaseCachedThreadRoutine+0x9d",
    "rpcrt4!ThreadStartRoutine+0x1b",
    "ws2_32!recv+0x93",
    "user32!NtUserGetMessage+0xc",
    "user32!GetMessageW+0x33",
    "ComponentA!WorkerThread+0x151",
    "ComponentA!CQueue::Wait+0x2e",
    "ComponentB!CConnection::Read+0x44",
    "msvcrt!_endthreadex+0x44",
    "kernel32!BaseThreadStart+0x34",
];
const KERNEL_X64: &[&str] = &[
    "nt!KiSwapContext+0x7a",
    "nt!KiCommitThreadWait+0x1d2",
    "nt!KeWaitForSingleObject+0x19f",
    "nt!KeWaitForMultipleObjects+0x271",
    "nt!ObpWaitForMultipleObjects+0x294",
    "nt!NtWaitForMultipleObjects+0xe5",
    "nt!KeRemoveQueueEx+0x323",
    "nt!IoRemoveIoCompletion+0x47",
    "nt!AlpcpSignalAndWait+0x8f",
];
const USER_X64: &[&str] = &[
    "ntdll!ZwWaitForSingleObject+0xa",
    "KERNELBASE!WaitForSingleObjectEx+0x79",
    "ntdll!ZwWaitForMultipleObjects+0xa",
    "KERNELBASE!WaitForMultipleObjectsEx+0xe8",
    "ntdll!NtWaitForWorkViaWorkerFactory+0xa",
    "ntdll!TppWorkerThread+0x2c9",
    "ntdll!ZwAlpcSendWaitReceivePort+0xa",
    "RPCRT4!LRPC_BASE_CCALL::SendReceive+0x156",
    "sqlservr!SOS_Scheduler::SwitchContext+0x173",
    "sqlservr!SOS_Task::Param::Execute+0x12a",
    "w3wp!WorkerThread+0x9c",
    "kernel32!BaseThreadInitThunk+0xd",
    "ntdll!RtlUserThreadStart+0x1d",
];

struct Gen {
    rng: Rng,
    out: String,
    addr: u64,
    pid: u32,
    tid: u32,
}

impl Gen {
    fn x86_addr(&mut self) -> u64 {
        0x8000_0000 + self.rng.range(0, 0x1000_0000) * 8
    }

    fn x64_addr(&mut self) -> u64 {
        0xffff_fa80_0000_0000 + self.rng.range(0, 0x1000_0000) * 16
    }

    fn ticks_line(&mut self) {
        let ticks = match self.rng.range(0, 10) {
            0..=5 => self.rng.range(1, 4_000),
            6..=8 => self.rng.range(4_000, 400_000),
            _ => self.rng.range(400_000, 2_000_000),
        };
        let ms = ticks * TICK_NS / 1_000_000;
        let (d, h, m, s, f) = (
            ms / 86_400_000,
            ms / 3_600_000 % 24,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
        );
        let _ = writeln!(
            self.out,
            "            Wait Start TickCount      {:<14} Ticks: {ticks} ({d}:{h:02}:{m:02}:{s:02}.{f:03})",
            NOW_TICK.saturating_sub(ticks)
        );
    }

    fn process(&mut self, x64: bool) {
        self.addr = if x64 {
            self.x64_addr()
        } else {
            self.x86_addr()
        };
        self.pid += 4 * self.rng.range(1, 60) as u32;
        let image = *self.rng.pick(IMAGES);
        let parent = self.rng.range(4, 0x800) * 4;
        if x64 {
            let _ = writeln!(
                self.out,
                "PROCESS {:x}\n    SessionId: 0  Cid: {:04x}    Peb: 7fffffdf000  ParentCid: {parent:04x}\n    DirBase: 1b7a4b000  ObjectTable: fffff8a001e3c520  HandleCount: {:>4}.",
                self.addr,
                self.pid,
                self.rng.range(50, 3000)
            );
        } else {
            let _ = writeln!(
                self.out,
                "PROCESS {:08x}  SessionId: 0  Cid: {:04x}    Peb: 7ffde000  ParentCid: {parent:04x}\n    DirBase: afa06000  ObjectTable: e5491278  HandleCount: {:>4}.",
                self.addr,
                self.pid,
                self.rng.range(50, 3000)
            );
        }
        let _ = writeln!(
            self.out,
            "    Image: {image}\n    VadRoot 89db18d8 Vads 213 Clone 0 Private 827. Modified 15. Locked 0.\n    DeviceMap e10028c8\n    Token                             e5556710\n    ElapsedTime                       2 Days 02:59:39.285\n    UserTime                          00:00:08.375\n    KernelTime                        00:00:20.046\n    QuotaPoolUsage[PagedPool]         50660\n    QuotaPoolUsage[NonPagedPool]      9704\n    Working Set Sizes (now,min,max)  (2523, 50, 345) (10092KB, 200KB, 1380KB)\n    PeakWorkingSetSize                2953\n    VirtualSize                       76 Mb\n    PeakVirtualSize                   78 Mb\n    PageFaultCount                    19259\n    MemoryPriority                    BACKGROUND\n    BasePriority                      8\n    CommitCharge                      1522\n"
        );
        let threads = self.rng.range(4, 60);
        let process = self.addr;
        for _ in 0..threads {
            self.thread(x64, process, image);
        }
    }

    fn thread(&mut self, x64: bool, process: u64, image: &str) {
        let address = if x64 {
            self.x64_addr()
        } else {
            self.x86_addr()
        };
        self.tid += 4 * self.rng.range(1, 8) as u32;
        let roll = self.rng.range(0, 100);
        let state = match roll {
            0 => "RUNNING on processor 1".to_string(),
            1..=2 => "READY".to_string(),
            _ => {
                let reason = if x64 && roll < 12 {
                    "WrLpcReply"
                } else {
                    *self.rng.pick(REASONS)
                };
                let alertable = if self.rng.range(0, 3) == 0 {
                    "Alertable"
                } else {
                    "Non-Alertable"
                };
                format!("WAIT: ({reason}) UserMode {alertable}")
            }
        };
        let waiting = state.starts_with("WAIT");
        if x64 {
            let _ = writeln!(
                self.out,
                "        THREAD {address:x}  Cid {:04x}.{:04x}  Teb: 000007fffff{:x}000 Win32Thread: 0000000000000000 {state}",
                self.pid,
                self.tid,
                self.rng.range(0x20, 0xdd)
            );
        } else {
            let _ = writeln!(
                self.out,
                "        THREAD {address:08x}  Cid {:04x}.{:04x}  Teb: 7ff{:02x}000 Win32Thread: 00000000 {state}",
                self.pid,
                self.tid,
                self.rng.range(0x20, 0xdf)
            );
        }
        if waiting {
            for _ in 0..self.rng.range(1, 4) {
                let obj = if x64 {
                    self.x64_addr()
                } else {
                    self.x86_addr()
                };
                if self.rng.range(0, 20) == 0 {
                    let owner = if x64 {
                        self.x64_addr()
                    } else {
                        self.x86_addr()
                    };
                    let _ = writeln!(
                        self.out,
                        "            {obj:x}  Mutant - owning thread {owner:x}"
                    );
                } else {
                    let kind = *self.rng.pick(OBJECTS);
                    let _ = writeln!(self.out, "            {obj:x}  {kind}");
                }
            }
        }
        match self.rng.range(0, 100) {
            0..=4 if !x64 => {
                let id = self.rng.range(0x10000, 0xffffff);
                let _ = writeln!(
                    self.out,
                    "            Waiting for reply to LPC MessageId {id:08x}:\n            Current LPC port e2cee338"
                );
            }
            5..=7 if !x64 => {
                let id = self.rng.range(0x10000, 0xffffff);
                let _ = writeln!(
                    self.out,
                    "            LPC Server thread working on message Id {id:x}"
                );
            }
            0..=6 if x64 => {
                let (m, p, o) = (self.x64_addr(), self.x64_addr(), self.x64_addr());
                let _ = writeln!(
                    self.out,
                    "            Waiting for reply to ALPC Message {m:x} : queued at port {p:x} : owned by process {o:x}"
                );
            }
            _ => {}
        }
        if self.rng.range(0, 10) == 0 {
            let _ = writeln!(self.out, "            IRP List:");
            for _ in 0..self.rng.range(1, 4) {
                let irp = if x64 {
                    self.x64_addr()
                } else {
                    self.x86_addr()
                };
                let _ = writeln!(
                    self.out,
                    "                {irp:x}: (0006,0{:02x}8) Flags: 00000900  Mdl: 00000000",
                    self.rng.range(0x10, 0xff)
                );
            }
        }
        if self.rng.range(0, 20) == 0 {
            let _ = writeln!(
                self.out,
                "            Impersonation token:  e492a6c0 (Level Impersonation)"
            );
        } else {
            let _ = writeln!(self.out, "            Not impersonating");
        }
        let _ = writeln!(
            self.out,
            "            DeviceMap                 e1003860\n            Owning Process            {process:x}       Image:         {image}\n            Attached Process          N/A            Image:         N/A"
        );
        if waiting {
            self.ticks_line();
        } else {
            let _ = writeln!(
                self.out,
                "            Wait Start TickCount      {NOW_TICK:<14} Ticks: 0"
            );
        }
        let _ = writeln!(
            self.out,
            "            Context Switch Count      {}\n            UserTime                  00:00:00.{:03}\n            KernelTime                00:00:00.{:03}\n            Win32 Start Address {}!WorkerThread (0x{:08x})\n            Start Address kernel32!BaseThreadStartThunk (0x77e617ec)",
            self.rng.range(1, 200_000),
            self.rng.range(0, 1000),
            self.rng.range(0, 1000),
            image.trim_end_matches(".exe"),
            self.rng.range(0x0100_0000, 0x0200_0000)
        );
        if x64 {
            let _ = writeln!(
                self.out,
                "            Stack Init fffffa60190e5db0 Current fffffa60190e5940\n            Base fffffa60190e6000 Limit fffffa60190df000 Call 0\n            Priority 9 BasePriority 8 PriorityDecrement 0 IoPriority 2 PagePriority 5"
            );
        } else {
            let _ = writeln!(
                self.out,
                "            Stack Init b3a44000 Current b3a43c08 Base b3a44000 Limit b3a41000 Call 0\n            Priority 9 BasePriority 8 PriorityDecrement 0"
            );
        }
        if self.rng.range(0, 100) < 15 {
            let _ = writeln!(self.out, "            Kernel stack not resident.\n");
            return;
        }
        self.stack(x64);
        self.out.push('\n');
    }

    fn stack(&mut self, x64: bool) {
        let args = self.rng.range(0, if x64 { 3 } else { 2 }) == 0;
        let (kernel, user) = if x64 {
            (KERNEL_X64, USER_X64)
        } else {
            (KERNEL_X86, USER_X86)
        };
        match (x64, args) {
            (false, false) => self.out.push_str("            ChildEBP RetAddr\n"),
            (false, true) => self.out.push_str("            ChildEBP RetAddr  Args to Child\n"),
            (true, false) => self
                .out
                .push_str("            Child-SP          RetAddr           Call Site\n"),
            (true, true) => self.out.push_str(
                "            Child-SP          RetAddr           : Args to Child                                                           : Call Site\n",
            ),
        }
        let nk = self.rng.range(3, 7);
        let nu = self.rng.range(4, 20);
        let mut sp = if x64 {
            0xffff_fa60_190e_5900 + self.rng.range(0, 0x100) * 16
        } else {
            0xb3a4_3c00 + self.rng.range(0, 0x100) * 4
        };
        for i in 0..nk + nu {
            let sym = if i < nk {
                *self.rng.pick(kernel)
            } else {
                *self.rng.pick(user)
            };
            if i == nk {
                // The trap frame: user addresses from here on.
                sp = 0x0223_f000 + self.rng.range(0, 0x100) * 4;
            }
            // Return addresses into the next (calling) frame's module.
            let ret = match (i + 1 < nk, x64) {
                (true, true) => 0xffff_f800_0100_0000 + self.rng.range(0, 0x40_0000),
                (true, false) => 0x8080_0000 + self.rng.range(0, 0x40_0000),
                _ => self.rng.range(0x7000_0000, 0x7fff_ffff),
            };
            let note = if i + 1 == nk {
                if x64 {
                    " (TrapFrame @ fffffa60`190e5c20)"
                } else {
                    " (TrapFrame @ b88a0d64)"
                }
            } else {
                ""
            };
            if x64 {
                let _ = write!(self.out, "            {} {} ", bt(sp), bt(ret));
                if args {
                    self.out.push_str(": ");
                    for _ in 0..4 {
                        let a = self.rng.range(0, 0x1_0000_0000);
                        let _ = write!(self.out, "{} ", bt(a));
                    }
                    self.out.push_str(": ");
                }
            } else {
                let _ = write!(self.out, "            {sp:08x} {ret:08x} ");
                if args {
                    for _ in 0..3 {
                        let a = self.rng.range(0, 0x1_0000_0000);
                        let _ = write!(self.out, "{a:08x} ");
                    }
                }
            }
            let _ = writeln!(self.out, "{sym}{note}");
            sp += if x64 { 0x60 } else { 0x30 };
        }
    }
}

/// x64 address with WinDbg's backtick: `fffffa60`190e5980`.
fn bt(v: u64) -> String {
    format!("{:08x}`{:08x}", v >> 32, v & 0xffff_ffff)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(size)) = (args.get(1), args.get(2).and_then(|s| parse_size(s))) else {
        dumptrace_bench::usage("gen-windbg OUT SIZE [SEED]   (SIZE like 200M, 1G)")
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut g = Gen {
        rng: Rng::new(seed),
        out: String::with_capacity(1 << 20),
        addr: 0,
        pid: 0x100,
        tid: 0x100,
    };
    let mut written = 0u64;
    let mut section = 0u64;
    let mut processes = 0u64;
    let mut header_due = true;
    while written < size {
        let x64 = section % 2 == 1;
        g.out.clear();
        if std::mem::take(&mut header_due) {
            let _ = writeln!(
                g.out,
                "Debug session time: Fri Oct  9 10:08:21.713 2009 (UTC - 4:00)\nSystem Uptime: 2 days 3:04:52.031\n{}kd> !process 0 ff\n**** NT ACTIVE PROCESS DUMP ****",
                if x64 { "0: " } else { "" }
            );
        }
        g.process(x64);
        processes += 1;
        written += g.out.len() as u64;
        w.write_all(g.out.as_bytes())?;
        if written >= (section + 1) * SECTION {
            section += 1;
            header_due = true;
        }
    }
    w.flush()?;
    eprintln!("{out}: {written} bytes, {processes} processes, seed {seed}");
    Ok(())
}
