//! Writes the binary seed inputs of the fuzz targets: `gen-fuzz-seeds DIR` fills
//! `DIR/etl`, `DIR/minidump` and `DIR/kernel_dump` with synthetic files (every ETL header
//! type, Xpress and WPP; a minidump with every stream read; 32- and 64-bit kernel dump
//! headers, full, cut and bitmap).

use std::fs;
use std::path::Path;

use dumptrace_dump::synth::{self as dsynth, KernelSpec};
use dumptrace_trace::etl_synth::{self as esynth, BufferSpec, Header};

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        dumptrace_bench::usage("gen-fuzz-seeds DIR")
    };
    let dir = Path::new(&dir);
    let write = |sub: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        fs::create_dir_all(dir.join(sub))?;
        fs::write(dir.join(sub).join(name), bytes)
    };

    write("etl", "sample.etl", &esynth::sample_file())?;
    // A small file: 1 KiB header buffer and one 1 KiB event buffer, compressed.
    let h = Header {
        buffer_size: 1024,
        ..Header::default()
    };
    let first = esynth::buffer(&BufferSpec::header(1024), &[esynth::logfile_header(&h)]);
    let mut spec = BufferSpec::new(0, 1);
    spec.compress = true;
    let events = esynth::buffer(
        &spec,
        &[
            esynth::tracelogging_event(&h, 10, 4, 8),
            esynth::compact(
                true,
                0x05,
                36,
                2,
                0,
                0,
                h.anchor + 20,
                &esynth::cswitch_payload(8, 9, 15, 5),
            ),
        ],
    );
    write("etl", "compressed.etl", &[first, events].concat())?;

    write("minidump", "sample.dmp", &dsynth::sample_minidump())?;

    for bits in [32u8, 64] {
        let spec = KernelSpec {
            bits,
            comment: "fuzz seed".into(),
            ..KernelSpec::default()
        };
        // Header and one page: the rest of the runs is cut off.
        let header = if bits == 64 { 0x2000 } else { 0x1000 };
        write(
            "kernel_dump",
            &format!("header{bits}.dmp"),
            &dsynth::kernel_dump(&spec, Some(header + 0x1000)),
        )?;
    }
    let bitmap = KernelSpec {
        dump_type: 5,
        bitmap: Some((0x3000, 4)),
        runs: Vec::new(),
        ..KernelSpec::default()
    };
    write(
        "kernel_dump",
        "bitmap.dmp",
        &dsynth::kernel_dump(&bitmap, Some(0x3000)),
    )?;
    Ok(())
}
