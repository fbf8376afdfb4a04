//! `lm` / `lmv m X`: loaded modules and, with `v`, their version resources.
//!
//! ```text
//! start    end        module name
//! 00400000 0049c000   AppA   (deferred)
//!     Image path: C:\PROGRA~1\AppA\AppA.exe
//!     Image name: AppA.exe
//!     Timestamp:        Thu Jun 05 14:51:52 2008 (4847EF78)
//!     CheckSum:         0009D068
//!     ImageSize:        0009C000
//!     File version:     5.80.5.1764
//!     Product version:  5.80.0.0
//!     CompanyName:      ...
//! ```
//! (seed: "Truncated dump, spiking thread, not my version and hooked functions";
//! x64 rows print `00007ff6`5e840000 00007ff6`5e847000   CSLock   (private pdb symbols)`.)

use super::grammar::hex_token;
use super::{Ctx, Out, Step};
use crate::dumpfile::Module;

#[derive(Default)]
pub(crate) struct LmParser {
    current: Option<Module>,
}

/// Highest user-mode address on x64 (canonical lower half); x86 user space ends
/// at 0x80000000 (0xC0000000 with /3GB, which a log does not say).
fn is_user_address(a: u64) -> bool {
    a < 0x8000_0000 || (a > 0xffff_ffff && a < 0x0000_8000_0000_0000)
}

impl LmParser {
    pub(crate) fn line(&mut self, t: &str, n: u64, ctx: Ctx, out: &mut Out) -> Step {
        if t.starts_with("start ") && t.contains("module name") || super::thread::is_noise(t) {
            return Step::Used;
        }
        if t.starts_with("Unloaded modules") {
            return Step::End;
        }
        let mut words = t.split_whitespace();
        let (Some(a), Some(b)) = (words.next(), words.next()) else {
            return Step::Used;
        };
        if let (Some(start), Some(end)) = (hex_token(a), hex_token(b)) {
            self.end(out, ctx);
            let Some(name) = words.next() else {
                out.skip(n, "lm row without a module name", t);
                return Step::Used;
            };
            self.current = Some(Module {
                pid: ctx
                    .user_pid
                    .or(ctx.process_pid.filter(|_| is_user_address(start))),
                base: start,
                size: u32::try_from(end.saturating_sub(start)).unwrap_or(u32::MAX),
                short_name: Some(name.to_string()),
                ..Module::default()
            });
            return Step::Used;
        }
        let Some(m) = self.current.as_mut() else {
            return Step::End;
        };
        if let Some((k, v)) = t.split_once(':') {
            let v = v.trim();
            let text = || (!v.is_empty()).then(|| v.to_string());
            match k.trim() {
                "Image path" => m.name = v.to_string(),
                "Image name" if m.name.is_empty() => m.name = v.to_string(),
                // `Thu Jun 05 14:51:52 2008 (4847EF78)`, or `5BD8A0B1 (This is a
                // reproducible build file hash, not a timestamp)` on newer images.
                "Timestamp" => {
                    let stamp = v
                        .rsplit_once('(')
                        .and_then(|(_, s)| hex_token(s.trim_end_matches(')').trim()))
                        .or_else(|| v.split_whitespace().next().and_then(hex_token));
                    m.time_stamp = stamp.and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
                }
                "CheckSum" => {
                    m.checksum = hex_token(v)
                        .and_then(|c| u32::try_from(c).ok())
                        .unwrap_or(0)
                }
                "ImageSize" => {
                    if let Some(s) = hex_token(v).and_then(|s| u32::try_from(s).ok()) {
                        m.size = s;
                    }
                }
                "File version" => m.version = text(),
                "Product version" => m.product_version = text(),
                "CompanyName" => m.company = text(),
                "FileDescription" => m.description = text(),
                _ => {}
            }
        }
        Step::Used
    }

    pub(crate) fn end(&mut self, out: &mut Out, _ctx: Ctx) {
        if let Some(mut m) = self.current.take() {
            // Plain `lm` prints no path: the module name is all there is.
            if m.name.is_empty() {
                m.name = m.short_name.clone().unwrap_or_default();
            }
            out.record();
            out.snap.modules.push(m);
        }
    }
}
