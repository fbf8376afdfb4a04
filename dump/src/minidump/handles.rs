//! HandleData (stream 12): the process's handles, with type and object names
//! and, in v2 descriptors, a chain of object information that can say who owns
//! a mutant.
//!
//! Layout (formats.md §2): a 16-byte header {SizeOfHeader, SizeOfDescriptor,
//! NumberOfDescriptors, Reserved}, then descriptors of SizeOfDescriptor bytes:
//! 32 (v1, verified on breakpad__tiny-exe-with-cet-xsave.dmp: 147 handles) or
//! 40 (v2: adds ObjectInfoRva; [source] only, no public sample has it).

use std::collections::HashSet;

use winnow::binary::{le_i32, le_u32, le_u64, u8 as le_u8};
use winnow::combinator::seq;
use winnow::Parser;

use super::streams::{sized_list, string, Entry, Partial};
use crate::bytes::{Bytes, FormatError};
use crate::dumpfile::{Handle, MutantInfo};

const WHAT: &str = "HandleData stream";

/// Object information types (MINIDUMP_HANDLE_OBJECT_INFORMATION_TYPE, minidumpapiset.h).
const MUTANT_INFORMATION_1: u32 = 2;
const MUTANT_INFORMATION_2: u32 = 3;

/// At most this many object information records per handle: the enum has 8
/// types, so a longer chain is a loop or garbage. (rust-minidump follows
/// NextInfoRva without a bound; a chain pointing at itself never ends.)
const MAX_CHAIN: usize = 16;

#[derive(Default)]
struct RawDescriptor {
    handle: u64,
    type_rva: u32,
    name_rva: u32,
    attributes: u32,
    granted_access: u32,
    handle_count: u32,
    pointer_count: u32,
    info_rva: u32,
}

/// All handles of the stream; per-handle problems (unreadable names, broken
/// object information chains) come back as errors beside the handles.
pub(crate) fn handle_data(file: &Bytes<'_>, e: &Entry, pid: Option<u32>) -> Partial<Handle> {
    let (start, stride, count) = sized_list(file, WHAT, e, 16, 32)?;
    // 32..39 bytes: v1 (no ObjectInfoRva); 40 and more: v2.
    let v2 = stride >= 40;
    let v1 = seq! {RawDescriptor {
        handle: le_u64,
        type_rva: le_u32,
        name_rva: le_u32,
        attributes: le_u32,
        granted_access: le_u32,
        handle_count: le_u32,
        pointer_count: le_u32,
        ..RawDescriptor::default()
    }};
    let descriptor = (
        v1,
        move |i: &mut &[u8]| if v2 { le_u32.parse_next(i) } else { Ok(0) },
    )
        .map(|(d, info_rva)| RawDescriptor { info_rva, ..d });
    let raw = file.array(WHAT, start, count, stride, descriptor)?;
    let mut errors = Vec::new();
    let mut name = |what: &'static str, rva: u32| -> Option<String> {
        if rva == 0 {
            return None;
        }
        string(file, what, u64::from(rva))
            .map_err(|err| errors.push(err))
            .ok()
            .filter(|s| !s.is_empty())
    };
    let mut handles: Vec<Handle> = raw
        .iter()
        .map(|d| Handle {
            pid,
            handle: d.handle,
            type_name: name("handle type name", d.type_rva),
            object_name: name("handle object name", d.name_rva),
            attributes: d.attributes,
            granted_access: d.granted_access,
            handle_count: d.handle_count,
            pointer_count: d.pointer_count,
            ..Handle::default()
        })
        .collect();
    for (h, d) in handles.iter_mut().zip(&raw) {
        if let Err(err) = object_info(file, d.info_rva, h) {
            errors.push(err);
        }
    }
    Ok((handles, errors))
}

/// Follows the object information chain from `rva`: {NextInfoRva, InfoType,
/// SizeOfInfo} then SizeOfInfo payload bytes. Records read before a broken
/// link are kept.
fn object_info(file: &Bytes<'_>, mut rva: u32, h: &mut Handle) -> Result<(), FormatError> {
    const INFO: &str = "handle object information";
    let mut seen = HashSet::new();
    while rva != 0 {
        if !seen.insert(rva) || seen.len() > MAX_CHAIN {
            return Err(FormatError::invalid(
                INFO,
                u64::from(rva),
                format!("the chain loops or is longer than {MAX_CHAIN} records"),
            ));
        }
        let at = u64::from(rva);
        let (next, kind, size) = file.parse(INFO, at, 12, (le_u32, le_u32, le_u32))?;
        let payload = file.slice(INFO, at + 12, u64::from(size))?;
        h.object_info_types.push(kind);
        if kind == MUTANT_INFORMATION_1 || kind == MUTANT_INFORMATION_2 {
            mutant(
                kind,
                payload,
                h.mutant.get_or_insert_with(MutantInfo::default),
            );
        }
        rva = next;
    }
    Ok(())
}

/// Decodes a mutant payload. The payloads are undocumented (minidumpapiset.h:
/// "the minidump ... does not control nor describe the actual data"; formats.md
/// §2 and §6: unverified). Read here as the NtQueryMutant classes dbghelp is
/// believed to copy:
/// - MutantInformation1 = MUTANT_BASIC_INFORMATION {i32 CurrentCount,
///   u8 OwnedByCaller, u8 AbandonedState};
/// - MutantInformation2 = the owner's CLIENT_ID {UniqueProcess, UniqueThread},
///   8 bytes (two u32, 32-bit writer) or 16 bytes (two u64, 64-bit writer).
///
/// Any other size is left undecoded rather than guessed.
fn mutant(kind: u32, payload: &[u8], m: &mut MutantInfo) {
    let mut i = payload;
    if kind == MUTANT_INFORMATION_1 {
        if let Ok((count, _owned_by_caller, abandoned)) =
            (le_i32::<_, winnow::error::ContextError>, le_u8, le_u8).parse_next(&mut i)
        {
            m.current_count = Some(count);
            m.abandoned = Some(abandoned != 0);
        }
        return;
    }
    let owner = match payload.len() {
        8 => (le_u32::<_, winnow::error::ContextError>, le_u32)
            .parse_next(&mut i)
            .ok(),
        16 => (le_u64::<_, winnow::error::ContextError>, le_u64)
            .parse_next(&mut i)
            .ok()
            .and_then(|(p, t)| Some((u32::try_from(p).ok()?, u32::try_from(t).ok()?))),
        _ => None,
    };
    if let Some((pid, tid)) = owner.filter(|&(_, tid)| tid != 0) {
        m.owner_pid = Some(pid);
        m.owner_tid = Some(tid);
    }
}
