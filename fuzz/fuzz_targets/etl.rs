#![no_main]
// A binary ETL file (seeded with synthetic files: every header type, Xpress, WPP,
// TraceLogging).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dumptrace_fuzz::trace("fuzz.etl", data, &Default::default())
});
