//! Reading the header of Windows kernel dump files (`PAGEDUMP`, `PAGEDU64`).
//!
//! Only the header is read (0x1000 bytes for 32-bit dumps, 0x2000 for 64-bit,
//! plus the bitmap header of bitmap dumps): the dump type, system time and
//! uptime, bugcheck, processors, machine type, the physical memory runs, and
//! whether the file is shorter than the header says it must be — WinDbg's
//! "Dump file has been truncated" (formats.md §3; all layouts there are
//! [source] from kdmp-parser and volatility3, no sample file exists).

use winnow::binary::{le_u32, le_u64};
use winnow::Parser;

use crate::bytes::{ascii_field, Bytes, FormatError};
use crate::dumpfile::{
    filetime, header_session_time, DumpFile, KernelHeader, MemoryRun, SystemInfo, Truncation,
};
use crate::model::DumpSnapshot;
use crate::{InputReport, Skip};

/// Format name of kernel dump files, as listed in reports.
pub(crate) const FORMAT: &str = "kernel-dump";

/// `PAGE` then `DUMP` (32-bit) or `DU64` (64-bit) at offset 0 (formats.md §3).
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PAGEDUMP") || bytes.starts_with(b"PAGEDU64")
}

/// Header bytes never written keep the `PAGE` filler (formats.md §3;
/// kdmp-parser treats NumberOfRuns = 0x45474150 as "no runs").
const FILLER32: u32 = u32::from_le_bytes(*b"PAGE");
const FILLER64: u64 = u64::from_le_bytes(*b"PAGEPAGE");

const PAGE_SIZE: u64 = 0x1000;

/// Field offsets of DUMP_HEADER32 / DUMP_HEADER64 (formats.md §3 table;
/// volatility3 crash.json for the 32-bit physical memory descriptor).
struct Layout {
    bits: u8,
    header_size: u64,
    machine: u64,
    bugcheck: u64,
    parameters: u64,
    /// 4 (u32) or 8 (u64): parameters, page counts and runs use the pointer size.
    word: u64,
    memory_block: u64,
    /// Bytes of the PhysicalMemoryBlock buffer (the runs must fit in it).
    memory_block_size: u64,
    dump_type: u64,
    required_space: u64,
    system_time: u64,
    comment: u64,
    uptime: u64,
    product_type: u64,
}

const LAYOUT64: Layout = Layout {
    bits: 64,
    header_size: 0x2000,
    machine: 0x30,
    bugcheck: 0x38,
    parameters: 0x40,
    word: 8,
    memory_block: 0x88,
    memory_block_size: 700,
    dump_type: 0xF98,
    required_space: 0xFA0,
    system_time: 0xFA8,
    comment: 0xFB0,
    uptime: 0x1030,
    product_type: 0x1040,
};

const LAYOUT32: Layout = Layout {
    bits: 32,
    header_size: 0x1000,
    machine: 0x20,
    bugcheck: 0x28,
    parameters: 0x2C,
    word: 4,
    memory_block: 0x64,
    // Up to ContextRecord at 0x320 (volatility3 crash.json).
    memory_block_size: 0x320 - 0x64,
    dump_type: 0xF88,
    required_space: 0xFA0,
    system_time: 0xFC0,
    comment: 0x820,
    uptime: 0xFB8,
    product_type: 0xF94,
};

/// Bitmap dumps (types 5 and 6) have an `SDMP`/`FDMP` header at 0x2000:
/// FirstPage (file offset of the first page) at +0x20, TotalPresentPages at
/// +0x28 (kdmp-parser-rs `BmpHeader64`).
const BITMAP_HEADER: u64 = 0x2000;

/// DumpType names (kdmp-parser `DumpType_t`, formats.md §3).
pub(crate) fn dump_type_name(t: u32) -> String {
    match t {
        1 => "full".into(),
        2 => "kernel".into(),
        4 => "triage (mini)".into(),
        5 => "bitmap".into(),
        6 => "live kernel bitmap".into(),
        8 => "kernel memory".into(),
        9 => "kernel and user memory".into(),
        0xA => "complete memory".into(),
        other => format!("type {other}"),
    }
}

fn machine_name(m: u32) -> String {
    match m {
        0x14C => "x86".into(),
        0x8664 => "amd64".into(),
        0xAA64 => "arm64".into(),
        0x1C4 => "arm".into(),
        other => format!("machine {other:#x}"),
    }
}

/// Reads a kernel dump header. Fails only when the fixed header cannot be read.
pub(crate) fn read(label: &str, data: &[u8]) -> Result<(DumpSnapshot, InputReport), FormatError> {
    let file = Bytes::new(data);
    let mut report = InputReport::new(label, FORMAT);
    let l = if data.starts_with(b"PAGEDU64") {
        &LAYOUT64
    } else {
        &LAYOUT32
    };
    const WHAT: &str = "kernel dump header";
    // Everything up to SystemUpTime must be there; the rest of the header is filler.
    let fixed = l.uptime + 8;
    file.slice(WHAT, 0, fixed)?;
    let u32_at = |off: u64| file.parse(WHAT, off, 4, le_u32);
    let word_at = |off: u64| -> Result<u64, FormatError> {
        if l.word == 8 {
            file.parse(WHAT, off, 8, le_u64)
        } else {
            u32_at(off).map(u64::from)
        }
    };
    let (major, minor) = file.parse(WHAT, 8, 8, (le_u32, le_u32))?;
    let (machine, processors) = file.parse(WHAT, l.machine, 8, (le_u32, le_u32))?;
    let mut parameters = [0u64; 4];
    for (i, p) in parameters.iter_mut().enumerate() {
        *p = word_at(l.parameters + i as u64 * l.word)?;
    }
    let dump_type = u32_at(l.dump_type)?;
    let required = file.parse(WHAT, l.required_space, 8, le_u64)?;
    let system_time = file.parse(WHAT, l.system_time, 8, le_u64)?;
    let uptime = file.parse(WHAT, l.uptime, 8, le_u64)?;
    let comment =
        ascii_field(file.slice(WHAT, l.comment, 128)?).filter(|c| !c.starts_with("PAGEPAGE"));
    let product_type = u32_at(l.product_type)?;
    report.records += 1;
    report.lines = 1;
    let mut header = KernelHeader {
        bits: l.bits,
        major_version: major,
        minor_version: minor,
        machine_type: machine,
        dump_type,
        dump_type_name: dump_type_name(dump_type),
        bugcheck_code: u32_at(l.bugcheck)?,
        bugcheck_parameters: parameters,
        required_dump_space: if required == FILLER64 { 0 } else { required },
        // SystemUpTime is in 100 ns units (volatility3 crashinfo).
        system_uptime_ms: (uptime != FILLER64 && uptime != 0).then_some(uptime / 10_000),
        comment,
        ..KernelHeader::default()
    };
    match memory_runs(&file, l) {
        Ok((pages, runs)) => {
            header.physical_pages = pages;
            header.memory_runs = runs;
        }
        Err(e) => skip(&mut report, &e),
    }
    let mut truncations = Vec::new();
    truncations.push(Truncation::check(
        file.len(),
        header.required_dump_space,
        "RequiredDumpSpace",
    ));
    if dump_type == 1 {
        // Full dumps: header then every page of the runs (formats.md §3, derived
        // from QEMU elf2dmp; not verified on a real truncated dump).
        if let Some(pages) = header.physical_pages {
            let expected = pages
                .saturating_mul(PAGE_SIZE)
                .saturating_add(l.header_size);
            truncations.push(Truncation::check(
                file.len(),
                expected,
                "header size + NumberOfPages x 4096",
            ));
        }
    }
    if matches!(dump_type, 5 | 6) && l.bits == 64 {
        match bitmap_end(&file) {
            Ok(expected) => {
                report.records += 1;
                truncations.push(Truncation::check(
                    file.len(),
                    expected,
                    "bitmap FirstPage + TotalPresentPages x 4096",
                ));
            }
            Err(e) => skip(&mut report, &e),
        }
    }
    let utc = (system_time != FILLER64)
        .then(|| filetime(system_time))
        .flatten();
    let dump = DumpFile {
        path: label.to_string(),
        format: FORMAT.to_string(),
        file_size: file.len(),
        time: utc,
        system: Some(SystemInfo {
            architecture: machine_name(machine),
            processors,
            product_type: u8::try_from(product_type)
                .ok()
                .filter(|&p| (1..=3).contains(&p)),
            ..SystemInfo::default()
        }),
        // The largest shortfall explains the others.
        truncation: truncations
            .into_iter()
            .flatten()
            .max_by_key(|t| t.missing_bytes),
        kernel: Some(header),
        ..DumpFile::default()
    };
    let snapshot = DumpSnapshot {
        session_time: utc.map(|t| header_session_time(t, None, "kernel dump header SystemTime")),
        uptime_ms: dump.kernel.as_ref().and_then(|k| k.system_uptime_ms),
        dump_files: vec![dump],
        ..DumpSnapshot::default()
    };
    Ok((snapshot, report))
}

fn skip(report: &mut InputReport, e: &FormatError) {
    report.skip(Skip {
        line: e.offset(),
        reason: e.reason(),
        text: e.to_string(),
    });
}

/// PhysicalMemoryBlock: {NumberOfRuns u32, NumberOfPages, runs {BasePage, PageCount}},
/// with pointer-sized page fields (u32 in DUMP_HEADER32, u64 after 4 bytes of
/// padding in DUMP_HEADER64). NumberOfRuns = `PAGE` means the block was not written.
fn memory_runs(file: &Bytes<'_>, l: &Layout) -> Result<(Option<u64>, Vec<MemoryRun>), FormatError> {
    const WHAT: &str = "PhysicalMemoryBlock";
    let runs = file.parse(WHAT, l.memory_block, 4, le_u32)?;
    if runs == FILLER32 {
        return Ok((None, Vec::new()));
    }
    let pages_at = l.memory_block + l.word;
    let first_run = pages_at + l.word;
    let pages = if l.word == 8 {
        file.parse(WHAT, pages_at, 8, le_u64)?
    } else {
        u64::from(file.parse(WHAT, pages_at, 4, le_u32)?)
    };
    let room = (l.memory_block + l.memory_block_size - first_run) / (2 * l.word);
    if u64::from(runs) > room {
        return Err(FormatError::TooMany {
            what: WHAT,
            offset: l.memory_block,
            count: u64::from(runs),
            entry_size: 2 * l.word,
            file_len: file.len(),
        });
    }
    let runs = if l.word == 8 {
        file.array(WHAT, first_run, u64::from(runs), 16, (le_u64, le_u64))?
    } else {
        file.array(
            WHAT,
            first_run,
            u64::from(runs),
            8,
            (le_u32, le_u32).map(|(b, c)| (u64::from(b), u64::from(c))),
        )?
    };
    let runs = runs
        .into_iter()
        .map(|(base_page, page_count)| MemoryRun {
            base_page,
            page_count,
        })
        .collect();
    Ok((Some(pages), runs))
}

/// Where the last page of a bitmap dump must end: FirstPage + TotalPresentPages x 4096.
fn bitmap_end(file: &Bytes<'_>) -> Result<u64, FormatError> {
    const WHAT: &str = "bitmap dump header";
    let (signature, valid) = file.parse(WHAT, BITMAP_HEADER, 8, (le_u32, le_u32))?;
    // `SDMP` or `FDMP`, then `DUMP` (kdmp-parser-rs BMPHEADER64_EXPECTED_*).
    if !matches!(&signature.to_le_bytes(), b"SDMP" | b"FDMP") || &valid.to_le_bytes() != b"DUMP" {
        return Err(FormatError::invalid(
            WHAT,
            BITMAP_HEADER,
            format!("signature {signature:#x}/{valid:#x} is not SDMP or FDMP then DUMP"),
        ));
    }
    let (first_page, present) = file.parse(WHAT, BITMAP_HEADER + 0x20, 16, (le_u64, le_u64))?;
    Ok(present.saturating_mul(PAGE_SIZE).saturating_add(first_page))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::synth::{kernel_dump, KernelSpec, XorShift};
    use crate::{read_bytes, DumpLoad, Error};

    fn load(bytes: &[u8]) -> DumpLoad {
        read_bytes(Path::new("memory.dmp"), bytes).expect("readable kernel dump")
    }

    #[test]
    fn header_facts_of_every_dump_type_64_and_32_bit() {
        let types = [
            (1, "full"),
            (2, "kernel"),
            (4, "triage (mini)"),
            (5, "bitmap"),
            (6, "live kernel bitmap"),
            (8, "kernel memory"),
            (9, "kernel and user memory"),
            (0xA, "complete memory"),
        ];
        for bits in [64u8, 32] {
            for (dump_type, name) in types {
                let spec = KernelSpec {
                    bits,
                    dump_type,
                    bitmap: (bits == 64 && matches!(dump_type, 5 | 6)).then_some((0x3000, 16)),
                    comment: "LiveKD live system view".into(),
                    ..KernelSpec::default()
                };
                let bytes = kernel_dump(&spec, None);
                assert_eq!(crate::detect(&bytes), Some("kernel-dump"));
                let l = load(&bytes);
                assert_eq!(
                    l.report.skipped, 0,
                    "{bits}/{dump_type}: {:?}",
                    l.report.first_skips
                );
                let s = &l.snapshot;
                let f = &s.dump_files[0];
                let k = f.kernel.as_ref().expect("kernel header");
                let ctx = format!("{bits}-bit type {dump_type}");
                assert_eq!(
                    (k.bits, k.dump_type, k.dump_type_name.as_str()),
                    (bits, dump_type, name),
                    "{ctx}"
                );
                assert_eq!((k.major_version, k.minor_version), (15, 19041), "{ctx}");
                assert_eq!(
                    (k.bugcheck_code, k.bugcheck_parameters),
                    (0xE2, [1, 2, 3, 4]),
                    "{ctx}"
                );
                assert_eq!(k.machine_type, 0x8664, "{ctx}");
                assert_eq!(k.physical_pages, Some(16), "{ctx}");
                assert_eq!(k.memory_runs.len(), 2, "{ctx}");
                assert_eq!(
                    (k.memory_runs[1].base_page, k.memory_runs[1].page_count),
                    (0x100, 8),
                    "{ctx}"
                );
                assert_eq!(
                    k.comment.as_deref(),
                    Some("LiveKD live system view"),
                    "{ctx}"
                );
                assert_eq!(k.system_uptime_ms, Some(3_600_000), "{ctx}");
                assert_eq!(s.uptime_ms, Some(3_600_000), "{ctx}");
                let sys = f.system.as_ref().expect("system");
                assert_eq!(
                    (sys.architecture.as_str(), sys.processors),
                    ("amd64", 4),
                    "{ctx}"
                );
                assert_eq!(
                    f.time.map(|t| t.to_rfc3339()),
                    Some("2024-03-01T12:00:00+00:00".into()),
                    "{ctx}"
                );
                let st = s.session_time.as_ref().expect("dump time");
                assert_eq!((st.utc, st.offset), (f.time, None), "{ctx}");
                assert_eq!(f.truncation, None, "{ctx}");
                assert!(s.notes.is_empty(), "{ctx}: {:?}", s.notes);
            }
        }
    }

    #[test]
    fn truncated_complete_dump_is_reported() {
        let spec = KernelSpec::default();
        let full = spec.full_size();
        let l = load(&kernel_dump(&spec, Some(full - 0x3000)));
        let t = l.snapshot.dump_files[0]
            .truncation
            .clone()
            .expect("truncated");
        assert_eq!(
            (t.file_size, t.expected_size, t.missing_bytes),
            (full - 0x3000, full, 0x3000)
        );
        let note = l
            .snapshot
            .notes
            .iter()
            .find(|n| n.starts_with("truncated dump"))
            .expect("note");
        assert!(note.contains("12288 bytes are missing"), "{note}");
        // The header times are still valid.
        assert!(l.snapshot.session_time.is_some());

        // RequiredDumpSpace alone (a complete-memory dump whose pages are not counted here).
        let spec = KernelSpec {
            dump_type: 0xA,
            required_space: Some(0x100_0000),
            ..KernelSpec::default()
        };
        let t = load(&kernel_dump(&spec, None)).snapshot.dump_files[0]
            .truncation
            .clone()
            .expect("truncated");
        assert_eq!(
            (t.expected_size, t.basis.as_str()),
            (0x100_0000, "RequiredDumpSpace")
        );

        // Bitmap: FirstPage + TotalPresentPages x 4096 beyond the file.
        let spec = KernelSpec {
            dump_type: 5,
            bitmap: Some((0x3000, 100)),
            required_space: Some(0),
            ..KernelSpec::default()
        };
        let t = load(&kernel_dump(&spec, Some(0x3000 + 40 * 0x1000)))
            .snapshot
            .dump_files[0]
            .truncation
            .clone();
        assert_eq!(
            t.map(|t| (t.missing_bytes, t.basis)),
            Some((
                60 * 0x1000,
                "bitmap FirstPage + TotalPresentPages x 4096".into()
            ))
        );

        // 32-bit full dump: 0x1000 + pages x 4096.
        let spec = KernelSpec {
            bits: 32,
            required_space: Some(0),
            ..KernelSpec::default()
        };
        let t = load(&kernel_dump(&spec, Some(0x1000 + 0x1000)))
            .snapshot
            .dump_files[0]
            .truncation
            .clone();
        assert_eq!(t.map(|t| t.expected_size), Some(0x1000 + 16 * 0x1000));
    }

    #[test]
    fn corrupted_headers_lose_only_the_bad_part() {
        let spec = KernelSpec {
            dump_type: 5,
            bitmap: Some((0x3000, 4)),
            ..KernelSpec::default()
        };
        let mut bytes = kernel_dump(&spec, None);
        bytes[0x88..0x8C].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        bytes[0x2000..0x2004].copy_from_slice(b"XXXX");
        let l = load(&bytes);
        let reasons: Vec<(&str, u64)> = l
            .report
            .first_skips
            .iter()
            .map(|s| (s.reason.as_str(), s.line))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("PhysicalMemoryBlock: count too large for the file", 0x88),
                ("bitmap dump header: invalid", 0x2000)
            ]
        );
        let k = l.snapshot.dump_files[0].kernel.clone().expect("header");
        assert!(k.memory_runs.is_empty());
        assert_eq!(k.bugcheck_code, 0xE2);

        // Never-written fields keep the PAGE filler.
        let mut bytes = kernel_dump(&KernelSpec::default(), None);
        bytes[0x88..0x8C].copy_from_slice(b"PAGE");
        bytes[0x1030..0x1038].copy_from_slice(b"PAGEPAGE");
        let l = load(&bytes);
        let k = l.snapshot.dump_files[0].kernel.clone().expect("header");
        assert_eq!(
            (k.physical_pages, k.memory_runs.len(), k.system_uptime_ms),
            (None, 0, None)
        );
        assert_eq!(l.report.skipped, 0);

        // A header cut before its fixed fields is an error naming the header.
        let cut = &kernel_dump(&KernelSpec::default(), None)[..0x800];
        let err = read_bytes(Path::new("memory.dmp"), cut).expect_err("cut header");
        assert!(
            matches!(
                err,
                Error::Corrupt {
                    format: "kernel-dump",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("kernel dump header at offset 0x0"),
            "{err}"
        );
    }

    #[test]
    fn no_panic_on_truncations_bit_flips_and_random_headers() {
        let mut rng = XorShift::new(42);
        for bits in [32u8, 64] {
            let spec = KernelSpec {
                bits,
                dump_type: 5,
                bitmap: (bits == 64).then_some((0x3000, 2)),
                ..KernelSpec::default()
            };
            let base = kernel_dump(&spec, None);
            for cut in (0..base.len()).step_by(97) {
                let _ = read_bytes(Path::new("cut.dmp"), &base[..cut]);
            }
            for _ in 0..1500 {
                let mut b = base.clone();
                for _ in 0..1 + rng.below(16) {
                    let i = 8 + rng.below(0x2100.min(b.len() as u64 - 8)) as usize;
                    b[i] ^= 1 << rng.below(8);
                }
                let _ = read_bytes(Path::new("flip.dmp"), &b);
            }
        }
        for _ in 0..200 {
            let len = 8 + rng.below(0x3000) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            b[..8].copy_from_slice(if rng.below(2) == 0 {
                b"PAGEDU64"
            } else {
                b"PAGEDUMP"
            });
            let _ = read_bytes(Path::new("random.dmp"), &b);
        }
    }
}
