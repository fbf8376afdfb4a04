//! `!irp ADDR` (where one IRP is, and whether it is pending there) and
//! `!irpfind` (one row per IRP in pool).

use super::grammar::hex_token;
use super::{Out, Step};
use crate::model::Irp;
use crate::system::IrpRow;

pub(crate) struct IrpParser {
    irp: Option<Irp>,
    /// The previous line was the current (`>`) stack location.
    current: bool,
}

impl IrpParser {
    pub(crate) fn new(address: Option<u64>) -> Self {
        IrpParser {
            irp: address.map(|address| Irp {
                address,
                thread: None,
                driver: None,
                pending: false,
                line: 0,
            }),
            current: false,
        }
    }

    /// ```text
    /// Irp is active with 1 stacks 1 is current (= 0x893a74e0)
    ///  No Mdl: No System Buffer: Thread 89edadb0:  Irp stack trace.
    ///      cmd  flg cl Device   File     Completion-Context
    /// >[  e, 0]   0  1 8a216f18 8a023f70 00000000-00000000    pending
    ///         \Driver\DriverB
    /// ```
    pub(crate) fn line(&mut self, t: &str, n: u64) -> Step {
        let Some(irp) = self.irp.as_mut() else {
            return Step::Used;
        };
        if irp.line == 0 && t.starts_with("Irp is active") {
            irp.line = n;
        }
        if let Some(i) = t.find("Thread ") {
            if t.contains("Irp stack trace") {
                irp.thread = t[i + 7..]
                    .split(|c: char| c == ':' || c.is_whitespace())
                    .next()
                    .and_then(hex_token);
            }
        }
        if t.starts_with('>') {
            irp.pending = t.split_whitespace().any(|w| w == "pending");
            self.current = true;
            return Step::Used;
        }
        if self.current && t.starts_with('\\') {
            irp.driver = t.split_whitespace().next().map(str::to_string);
        }
        self.current = false;
        Step::Used
    }

    pub(crate) fn end(self, out: &mut Out) {
        if let Some(i) = self.irp {
            out.record();
            out.snap.irps.push(i);
        }
    }
}

/// `Irp    [ Thread ] irpStack: (Mj,Mn)   DevObj  [Driver]         MDL Process`.
pub(crate) fn is_irpfind_header(t: &str) -> bool {
    t.starts_with("Irp ") && t.contains("irpStack:")
}

/// One `!irpfind` line: a row, its header, or the pool-scan messages before it
/// (`Scanning large pool allocation table for Tag: Irp? ...`).
pub(crate) fn irpfind_line(t: &str, n: u64, out: &mut Out) -> Step {
    if is_irpfind_header(t)
        || t.starts_with("Scanning ")
        || t.starts_with("Searching ")
        || super::thread::is_noise(t)
    {
        return Step::Used;
    }
    let Some(first) = t.split_whitespace().next() else {
        return Step::Used;
    };
    if hex_token(first).is_none() {
        return Step::End;
    }
    match irpfind_row(t, n) {
        Some(r) => {
            out.record();
            out.snap.irpfind.push(r);
        }
        None => out.skip(n, "!irpfind row not understood", t),
    }
    Step::Used
}

/// `8a3d3008 [8b56cb10] irpStack: ( 4,34) 8b1b8030 [ \Driver\Disk] 0x00000000`
/// (seed: "IRP distribution anomaly ..."); x64 rows have 16-digit addresses.
fn irpfind_row(t: &str, n: u64) -> Option<IrpRow> {
    let (addr, rest) = t.split_once(char::is_whitespace)?;
    let address = hex_token(addr)?;
    let rest = rest.trim_start().strip_prefix('[')?;
    let (thread, rest) = rest.split_once(']')?;
    let thread = hex_token(thread.trim())?;
    let rest = rest.trim_start().strip_prefix("irpStack:")?;
    let rest = rest.trim_start().strip_prefix('(')?;
    let (mj_mn, rest) = rest.split_once(')')?;
    let (mj, mn) = mj_mn.split_once(',')?;
    let major = hex_token(mj.trim()).and_then(|v| u8::try_from(v).ok());
    let minor = hex_token(mn.trim()).and_then(|v| u8::try_from(v).ok());
    let rest = rest.trim_start();
    let (device, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let device = hex_token(device);
    let rest = rest.trim_start();
    let (driver, rest) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((d, r)) => (Some(d.trim().to_string()), r.trim()),
        None => (None, rest),
    };
    Some(IrpRow {
        address,
        thread: Some(thread).filter(|&a| a != 0),
        major,
        minor,
        device,
        driver,
        rest: rest.to_string(),
        line: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irpfind_rows_x86_and_x64() {
        let r = irpfind_row(
            "8a3d3008 [8b56cb10] irpStack: ( 4,34) 8b1b8030 [ \\Driver\\Disk] 0x00000000",
            1,
        )
        .unwrap();
        assert_eq!(r.address, 0x8a3d3008);
        assert_eq!(r.thread, Some(0x8b56cb10));
        assert_eq!((r.major, r.minor), (Some(4), Some(0x34)));
        assert_eq!(r.driver.as_deref(), Some("\\Driver\\Disk"));
        assert_eq!(r.rest, "0x00000000");
        let r = irpfind_row(
            "8aa6ab28 [00000000] irpStack: ( f, 0) 8b192030 [ \\Driver\\DriverA] 0x00000000",
            1,
        )
        .unwrap();
        assert_eq!(r.thread, None);
        let r = irpfind_row("ffffe0010ba27010 [ffffe0010c2c8080] irpStack: ( e, 5)  ffffe0010a1f1060 [ \\Driver\\AFD] 0xffffe0010c3cd900", 1).unwrap();
        assert_eq!(r.device, Some(0xffffe0010a1f1060));
        assert_eq!(r.major, Some(0xe));
        assert!(irpfind_row("8a3d3008 something else", 1).is_none());
    }
}
