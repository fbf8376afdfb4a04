//! Writes a `tracerpt -of CSV` export of a given size, shaped like the Log-parser sample
//! (formats.md §5): UTF-8 BOM, space-padded header and cells, Clock-Time as a FILETIME
//! double, user data spilling into trailing columns (42 per row), an EventTrace/Header row.
//!
//! ```text
//! gen-tracerpt-csv OUT SIZE [SEED]      SIZE like 200M or 2G; SEED default 1
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};

use dumptrace_bench::{parse_size, Rng};

const HEADER: &str = "Index,  Event Name,       Type,     Event ID,    Version,    Channel,      Level,     Opcode,       Task,            Keyword,        PID,        TID,     Processor Number,  Instance ID,   Parent Instance ID,                              Activity ID,                      Related Activity ID,           Clock-Time, Kernel(ms),   User(ms), User Data";
const PAD: &str = "             ,                     ,   {00000000-0000-0000-0000-000000000000},                                         ";
/// Fields per row, as in the sample.
const FIELDS: usize = 42;
/// 2022-11-12T16:19:33Z as FILETIME.
const START: u64 = 133_127_435_730_000_000;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(size)) = (args.get(1), args.get(2).and_then(|s| parse_size(s))) else {
        dumptrace_bench::usage("gen-tracerpt-csv OUT SIZE [SEED]   (SIZE like 200M, 2G)")
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng::new(seed);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let mut written = 0u64;
    let put = |w: &mut BufWriter<File>, written: &mut u64, s: &str| -> std::io::Result<()> {
        *written += s.len() as u64;
        w.write_all(s.as_bytes())
    };
    put(&mut w, &mut written, "\u{feff}")?;
    put(&mut w, &mut written, HEADER)?;
    put(&mut w, &mut written, "\n")?;
    let providers = [
        "Microsoft-Windows-PktMon",
        "Microsoft-Windows-Kernel-Process",
        "DbClient",
        "Microsoft-Windows-RPC",
    ];
    let payloads: [&[&str]; 4] = [
        &[
            "\" \"\"HTTP Protocol \"\"\"",
            "\" \"\"http.sys\"\"\"",
            "\" \"\"HTTP\"\"\"",
        ],
        &[
            "\" \"\"Upper\"\"\"",
            "#",
            "\" \"\"Rx \"\"\"",
            "#",
            "#",
            "\" \"\"Tx \"\"\"",
            "#",
            "#",
        ],
        &[
            "\" \"\"Error: [DB Driver] Not enough space on temp disk\"\"\"",
            "0x70",
        ],
        &[
            "\" \"\"Execute DB command sleeps on error (retry #)\"\"\"",
            "#",
        ],
    ];
    let mut ticks = START;
    let mut index = 1u64;
    let mut line = String::with_capacity(512);
    while written < size {
        line.clear();
        let p = rng.range(0, providers.len() as u64) as usize;
        ticks += rng.range(1, 400);
        let pid = 1000 + 4 * rng.range(0, 50);
        let tid = 2000 + 4 * rng.range(0, 400);
        let level = [2, 3, 4, 4, 4, 5][rng.range(0, 6) as usize];
        let ft = format!("{:e}", ticks as f64).replace('e', "e+");
        line.push_str(&format!(
            "{index},{},0,{},0,0,{level},0,0,2,{pid},{tid},{},{PAD},{ft},15,0,{}",
            providers[p],
            rng.range(1, 100),
            rng.range(0, 8),
            rng.range(1, 200)
        ));
        let mut n = 21;
        for cell in payloads[p] {
            line.push(',');
            if cell.contains('#') {
                line.push_str(&cell.replace('#', &rng.range(0, 5000).to_string()));
            } else {
                line.push_str(cell);
            }
            n += 1;
        }
        while n < FIELDS {
            line.push(',');
            n += 1;
        }
        line.push('\n');
        put(&mut w, &mut written, &line)?;
        index += 1;
    }
    w.flush()?;
    eprintln!("{out}: {written} bytes, {} rows", index - 1);
    Ok(())
}
