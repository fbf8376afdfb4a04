//! Resource ids of the wait graph, as the report, the JSON and the TUI print them.
//!
//! A resource that belongs to one process carries the process after `@`, in the
//! notation WinDbg uses for a Cid (`0adc`, hex without `0x`), so `cs:0x0032be30@0adc`
//! reads like the `Cid 0adc.1c64` of the threads that wait on it.

use dumptrace_dump::pid_hex;

fn owner(pid: Option<u32>) -> String {
    pid.map_or_else(|| "?".into(), pid_hex)
}

/// `cs:0x0032be30@0adc`: a critical section at `address` in process `pid` (`?` when
/// the output did not say which process it was read in).
pub fn critical_section(address: u64, pid: Option<u32>) -> String {
    format!("cs:0x{address:08x}@{}", owner(pid))
}

/// `mutant:handle 0x3c@0adc`: the mutant behind handle `handle` of process `pid`.
pub fn mutant_handle(handle: u64, pid: Option<u32>) -> String {
    format!("mutant:handle 0x{handle:x}@{}", owner(pid))
}
