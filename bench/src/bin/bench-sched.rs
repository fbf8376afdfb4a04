//! The scheduler model at scale: a frame of N context switches (and a ReadyThread
//! before each) over T threads on 4 CPUs, then `dumptrace_correlate::scheduler_stats`
//! timed alone, with the process's peak memory.
//!
//! ```text
//! cargo run --release -p dumptrace-bench --bin bench-sched -- --switches 10000000 --threads 200000
//! ```

use std::time::Instant;

use dumptrace_bench::{arg, peak_rss_bytes, Rng};
use dumptrace_correlate::{scheduler_stats, TraceSource};
use dumptrace_trace::schema;
use polars::prelude::*;

const CSWITCH: &str = "Windows Kernel/Thread/CSwitch";
const READY: &str = "Windows Kernel/Dispatcher/ReadyThread";

fn frame(switches: u64, threads: u64, rng: &mut Rng) -> PolarsResult<DataFrame> {
    let n = (switches * 2) as usize;
    let (mut time, mut pid, mut tid) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut event = Vec::with_capacity(n);
    let mut msg = StringChunkedBuilder::new(schema::MESSAGE.into(), n);
    let mut running = [0u32; 4];
    let mut t: i64 = 1_700_000_000_000_000_000;
    for i in 0..switches {
        let cpu = (i % 4) as usize;
        let old = running[cpu];
        // A thread not running on another CPU.
        let mut new = 1 + rng.range(0, threads) as u32;
        while running.contains(&new) {
            new = 1 + rng.range(0, threads) as u32;
        }
        t += 2_000;
        time.push(t);
        pid.push(4u32);
        tid.push(old);
        event.push(READY);
        msg.append_value(format!(
            "Dispatcher/ReadyThread AwakenedThreadID={new}; AdjustReason=1; AdjustIncrement=0; Flag=0; Reserved=0"
        ));
        t += 3_000;
        time.push(t);
        pid.push(4);
        tid.push(old);
        event.push(CSWITCH);
        msg.append_value(format!(
            "Thread/CSwitch NewThreadID={new}; OldThreadID={old}; NewThreadPriority=8; OldThreadPriority=8; \
             PreviousCState=0; SpareByte=0; OldThreadWaitReason=UserRequest; OldThreadWaitMode=UserMode; \
             OldThreadState=Waiting; OldThreadWaitIdealProcessor=0; NewThreadWaitTime=0; OldProcessID=4; NewProcessID=4"
        ));
        running[cpu] = new;
    }
    let offsets: Vec<u64> = (0..n as u64).map(|i| i * 48).collect();
    DataFrame::new(
        n,
        vec![
            Int64Chunked::from_vec(schema::TIME.into(), time)
                .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
                .into_column(),
            UInt32Chunked::from_vec(schema::PID.into(), pid).into_column(),
            UInt32Chunked::from_vec(schema::TID.into(), tid).into_column(),
            StringChunked::from_iter_values(schema::EVENT.into(), event.into_iter()).into_column(),
            msg.finish().into_column(),
            UInt64Chunked::from_vec(schema::INPUT_OFFSET.into(), offsets).into_column(),
        ],
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let switches = arg(&args, "--switches", 10_000_000);
    let threads = arg(&args, "--threads", 200_000).max(8);
    let mut rng = Rng::new(arg(&args, "--seed", 20091009));
    let gen = Instant::now();
    let df = match frame(switches, threads, &mut rng) {
        Ok(df) => df,
        Err(e) => {
            eprintln!("bench-sched: building the frame: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "generated {} rows in {:.1} s",
        df.height(),
        gen.elapsed().as_secs_f64()
    );
    let before = peak_rss_bytes().unwrap_or(0);
    let sources = [TraceSource {
        label: "synthetic.etl".into(),
        frame: df,
    }];
    let start = Instant::now();
    let s = scheduler_stats(&sources);
    let wall = start.elapsed().as_secs_f64();
    let peak = peak_rss_bytes().unwrap_or(0);
    println!(
        "bench-sched  switches={}  readyings={}  threads={}  starved={}  notes={}  wall={wall:.3} s  {:.0} switches/s  peak RSS {} MiB (frame built: {} MiB)",
        s.switches,
        s.readyings,
        s.threads,
        s.starved,
        s.notes.len(),
        s.switches as f64 / wall.max(1e-9),
        peak >> 20,
        before >> 20,
    );
}
