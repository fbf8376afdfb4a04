//! Manifests parsed and events rendered: the shipped CLR manifest, and bad manifests.

use super::*;

/// The shipped manifest parses, and its providers are those its `<provider>` lines name.
#[test]
fn shipped_clr_manifest_parses() {
    let parsed = xml::parse(CLR_MANIFEST).expect("ClrEtwAll.man parses");
    let providers = CLR_MANIFEST.matches("<provider ").count();
    assert_eq!(parsed.providers.len(), providers);
    for g in parsed.providers.keys() {
        assert!(is_clr(g), "{g}");
    }
    // Every `<event ` element is an event of some version.
    assert_eq!(
        parsed.event_count(),
        CLR_MANIFEST.matches("<event ").count()
    );
}

#[test]
fn bad_manifests_name_their_line() {
    let cut = "<instrumentationManifest>\n<instrumentation>\n<events>\n<provider name=\"P\" guid=\"{11111111-2222-3333-4444-555555555555}\">\n<templates><template tid=\"T\"><data name=\"A\" inType=\"win:Nope\"/></template></templates>\n</provider></events></instrumentation></instrumentationManifest>";
    let e = xml::parse(cut).expect_err("unknown inType");
    assert_eq!(e.line, 5, "{e:?}");
    assert!(e.reason.contains("win:Nope"), "{e:?}");
    let e = xml::parse("<a>\n<b>\n</a>").expect_err("not well-formed");
    assert_eq!(e.line, 3, "{e:?}");
    let e = xml::parse("<a/>").expect_err("no provider");
    assert!(e.reason.contains("provider"), "{e:?}");
    let count = cut.replace(
        "<data name=\"A\" inType=\"win:Nope\"/>",
        "<data name=\"A\" inType=\"win:UInt32\" count=\"N\"/>",
    );
    let e = xml::parse(&count).expect_err("count names no field");
    assert!(e.reason.contains("'N'"), "{e:?}");
}

mod written {
    //! Events written with the crate's ETL writer and read back with `--manifest` files:
    //! the small sample manifests (maps, versions, types) and a fixture provider's
    //! (arrays, binary with a length, SID, pointer size, structs).

    use std::path::{Path, PathBuf};

    use super::Manifests;
    use crate::etl::synth::*;

    fn sample_manifests() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/manifests")
    }

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/manifests/Contoso-Orders.man")
    }

    fn ev(provider: &str, id: u16, version: u8, ptr64: bool) -> Event {
        Event {
            ptr64,
            provider: guid(provider),
            id,
            version,
            level: 4,
            opcode: 0,
            task: 1,
            channel: 0,
            keyword: 1,
            pid: 10,
            tid: 11,
            ts: Header::default().anchor + 10,
            extended: Vec::new(),
        }
    }

    /// (event name, message) of every manifest event of `records`, and the read's facts.
    fn read(
        records: &[Vec<u8>],
        manifests: &Manifests,
    ) -> (Vec<(Option<String>, String)>, crate::EtlInfo) {
        let h = Header::default();
        let mut file = buffer(&BufferSpec::header(1024), &[logfile_header(&h)]);
        file.extend(buffer(&BufferSpec::new(0, 1), records));
        let mut out = Vec::new();
        let (info, _) = crate::etl::walk(Path::new("w.etl"), &file, None, Some(manifests), |e| {
            if e.row.event_id.is_some() && e.row.pid == Some(10) {
                out.push((e.row.event.map(str::to_string), e.message.to_string()));
            }
        })
        .expect("reads");
        (out, info)
    }

    #[test]
    fn sample_manifests_decode_maps_versions_and_types() {
        let dir = sample_manifests();
        if !dir.exists() {
            println!("skipping: {} not present", dir.display());
            return;
        }
        let m = Manifests::load(&[dir]).expect("sample manifests load");
        assert_eq!(m.files().len(), 5);
        // EnumTest: Status 1 = Active (valueMap), Flags 5 = Read | Execute (bitMap).
        let mut enum_payload = 1u32.to_le_bytes().to_vec();
        enum_payload.extend(5u32.to_le_bytes());
        enum_payload.extend(utf16z("disk 0"));
        let enum_ev = ev("22222222-3333-4444-5555-666677778888", 1, 0, true);
        // VersionedEvent: v0 has ProcessId and Name, v1 adds CommandLine.
        let mut v0 = 4242u32.to_le_bytes().to_vec();
        v0.extend(utf16z("svc.exe"));
        let mut v1 = v0.clone();
        v1.extend(utf16z("svc.exe -k"));
        let versioned = "66666666-7777-8888-9999-aaaa00001111";
        // MultiType event 3: UInt32, string, GUID, HexInt32, FILETIME.
        let mut mixed = 1_234_567u32.to_le_bytes().to_vec();
        mixed.extend(utf16z("x"));
        mixed.extend(guid("0ad614c4-0ef4-4225-8a2b-3c4d5e6f7081"));
        mixed.extend(0xBEEFu32.to_le_bytes());
        // 2021-09-09T14:59:35Z: seconds since 1601 times 10^7.
        let ft = (1_631_199_575u64 + 11_644_473_600) * 10_000_000;
        mixed.extend(ft.to_le_bytes());
        let multi = "aabbccdd-1234-5678-9abc-def012345678";
        let records = [
            event(&enum_ev, &enum_payload),
            event(&ev(versioned, 1, 0, true), &v0),
            event(&ev(versioned, 1, 1, true), &v1),
            event(&ev(multi, 3, 0, true), &mixed),
            // EnumTest's template needs 8 bytes before the string: kept raw, counted.
            event(&enum_ev, &[1, 0]),
        ];
        let (got, info) = read(&records, &m);
        let want = [
            (
                "EnumTestProvider/StatusCheck",
                "Status=Active; Flags=Read, Execute; Description=disk 0",
            ),
            (
                "VersionedEventProvider/ProcessInfo",
                "ProcessId=4,242; Name=svc.exe",
            ),
            (
                "VersionedEventProvider/ProcessInfo",
                "ProcessId=4,242; Name=svc.exe; CommandLine=svc.exe -k",
            ),
            (
                "MultiTypeTestProvider/MixedOp",
                "Id=1,234,567; Name=x; ActivityId=0ad614c4-0ef4-4225-8a2b-3c4d5e6f7081; \
                 HexValue=0x0000beef; Timestamp=2021-09-09T14:59:35Z",
            ),
        ];
        for ((name, msg), (want_name, want_msg)) in got.iter().zip(want) {
            assert_eq!(name.as_deref(), Some(want_name));
            let short = want_name.split_once('/').map_or("", |(_, s)| s);
            assert_eq!(msg, &format!("{short} {want_msg}"));
        }
        assert_eq!(got[4].0, None);
        assert!(got[4].1.starts_with("id=1 v0 "), "{}", got[4].1);
        assert_eq!(
            info.manifest_misfits.get(super::decode::SHORT).copied(),
            Some(1)
        );
    }

    #[test]
    fn fixture_provider_arrays_binary_sid_pointer_struct() {
        let m = Manifests::load(&[fixture()]).expect("fixture manifest loads");
        let mut p = 2u16.to_le_bytes().to_vec();
        p.extend(7u32.to_le_bytes());
        p.extend(1_000_000u32.to_le_bytes());
        p.extend(3u32.to_le_bytes());
        p.extend([0xDE, 0xAD, 0x01]);
        // S-1-5-18: revision 1, one sub-authority, authority 5.
        p.extend([1, 1, 0, 0, 0, 0, 0, 5]);
        p.extend(18u32.to_le_bytes());
        p.extend(0x0040_1000u32.to_le_bytes()); // a 32-bit pointer
        p.extend(3u32.to_le_bytes());
        p.extend(b"A-1\0");
        p.extend((-2i32).to_le_bytes());
        p.extend(b"B-2\0");
        p.extend(5i32.to_le_bytes());
        let provider = "7a3c1f00-1b2c-4d5e-8f90-a1b2c3d4e5f6";
        let unknown = "0badf00d-0000-4000-8000-000000000001";
        let records = [
            event(&ev(provider, 100, 0, false), &p),
            event(&ev(unknown, 5, 0, true), &[1, 2, 3]),
            event(&ev(unknown, 6, 0, true), &[]),
        ];
        let (got, info) = read(&records, &m);
        assert_eq!(got[0].0.as_deref(), Some("Contoso-Orders/Order/Batch"));
        assert_eq!(
            got[0].1,
            "Order/Batch Count=2; Ids=[7, 1,000,000]; Len=3; Blob=dead01; Owner=S-1-5-18; Queue=0x00401000; \
             Flags=Rush, Gift; Lines=[{Sku=A-1 Qty=-2}, {Sku=B-2 Qty=5}]"
        );
        // The provider no manifest describes: raw, and listed with its count.
        assert!(got[1].1.contains("data=010203"), "{}", got[1].1);
        assert_eq!(info.manifest_without_schema.get(unknown).copied(), Some(2));
        // Cut anywhere, the event is kept raw with a counted reason; never a panic.
        for n in 0..p.len() {
            let (got, info) = read(&[event(&ev(provider, 100, 0, false), &p[..n])], &m);
            assert!(got[0].1.starts_with("id=100 "), "{n}: {}", got[0].1);
            assert_eq!(info.manifest_misfits.values().sum::<u64>(), 1, "{n}");
        }
    }
}
