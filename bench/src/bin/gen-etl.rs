//! Writes a large uncompressed ETL file, reproducible from its seed:
//! `gen-etl OUTPUT [MEGABYTES=2048] [SEED=1]`.
//!
//! 8 CPUs of 64 KiB buffers (the usual logger buffer size) with a mix of what a hang
//! investigation records: TraceLogging events (40%), manifest events (25%), context
//! switches (20%), sampled-profile PERFINFO records (10%) and thread/process events (5%).

use std::fs::File;
use std::io::{BufWriter, Write};

use dumptrace_bench::Rng;
use dumptrace_trace::etl_synth::*;

const CPUS: u16 = 8;
const BUFFER: usize = 64 * 1024;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    const USAGE: &str = "gen-etl OUTPUT [MEGABYTES] [SEED]";
    let Some(out) = args.next() else {
        dumptrace_bench::usage(USAGE)
    };
    let mut number = |default: u64| match args.next().map(|s| s.parse()) {
        None => default,
        Some(Ok(n)) => n,
        Some(Err(_)) => dumptrace_bench::usage(USAGE),
    };
    let megabytes = number(2048);
    let seed = number(1);
    let mut rng = Rng::new(seed);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&out)?);
    let h = Header {
        cpus: u32::from(CPUS),
        buffer_size: BUFFER as u32,
        ..Header::default()
    };
    w.write_all(&buffer(&BufferSpec::header(BUFFER), &[logfile_header(&h)]))?;
    let provider = guid("d3dd3dd4-aac2-4e2a-8dd4-a8fb61b77615");
    let clr = guid("e13c0d23-ccbc-4e12-931b-d9cc2eee27e4");
    let tl_items = tracelogging_items(
        "Contoso.Server",
        "RequestDone",
        &[
            ("url", 1, None),
            ("status", 8, None),
            ("ms", 10, None),
            ("cached", 4, Some(3)),
        ],
    );
    let urls = [
        "/api/orders",
        "/api/customers/42",
        "/health",
        "/api/orders/17/lines",
    ];
    let mut written = BUFFER as u64;
    let mut clocks = vec![h.anchor; usize::from(CPUS)];
    let mut sequence = vec![0u64; usize::from(CPUS)];
    let (mut buffers, mut records) = (0u64, 0u64);
    while written < megabytes << 20 {
        let cpu = (buffers % u64::from(CPUS)) as u16;
        let c = usize::from(cpu);
        sequence[c] += 1;
        let mut recs = Vec::new();
        let mut used = 0x48;
        loop {
            clocks[c] += rng.range(1, 200) as i64;
            let ts = clocks[c];
            let pid = 1000 + rng.range(0, 40) as u32 * 4;
            let tid = pid + 4 + rng.range(0, 8) as u32 * 4;
            let kind = rng.range(0, 100);
            let r = if kind < 40 {
                let url: &&str = rng.pick(&urls);
                let mut p = utf16z(url);
                p.extend_from_slice(&(200 + rng.range(0, 4) as u32 * 100).to_le_bytes());
                p.extend_from_slice(&rng.range(0, 5000).to_le_bytes());
                p.push(rng.range(0, 2) as u8);
                let e = Event::tracelogging(provider, pid, tid, ts, tl_items.clone());
                event(&e, &p)
            } else if kind < 65 {
                let e = Event {
                    ptr64: true,
                    provider: clr,
                    id: 10,
                    version: 0,
                    level: 5,
                    opcode: 0,
                    task: 1,
                    channel: 16,
                    keyword: 1,
                    pid,
                    tid,
                    ts,
                    extended: Vec::new(),
                };
                let payload: Vec<u8> = (0..rng.range(16, 96))
                    .map(|_| rng.next_u64() as u8)
                    .collect();
                event(&e, &payload)
            } else if kind < 85 {
                let wait = rng.range(0, 38) as u8;
                compact(
                    true,
                    0x05,
                    36,
                    2,
                    0,
                    0,
                    ts,
                    &cswitch_payload(tid, tid + 4, wait, 5),
                )
            } else if kind < 95 {
                perfinfo(
                    true,
                    0x0F,
                    0x2E,
                    ts,
                    false,
                    0,
                    &rng.next_u64().to_le_bytes(),
                )
            } else {
                system(true, 0x05, 1, 3, pid, tid, ts, &thread_payload(pid, tid))
            };
            let size = r.len().div_ceil(8) * 8;
            if used + size > BUFFER {
                break;
            }
            used += size;
            recs.push(r);
        }
        records += recs.len() as u64;
        let mut spec = BufferSpec::new(cpu, sequence[c]);
        spec.size = BUFFER;
        w.write_all(&buffer(&spec, &recs))?;
        written += BUFFER as u64;
        buffers += 1;
    }
    w.flush()?;
    eprintln!(
        "gen-etl: {out}: {written} bytes, {buffers} buffers, {records} records (seed {seed})"
    );
    Ok(())
}
