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
