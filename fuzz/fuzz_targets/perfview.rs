#![no_main]
// The perfview CSV export, whose times are relative: read with and without a trace start.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dumptrace_fuzz::trace("fuzz.csv", data, &Default::default());
    dumptrace_fuzz::trace("fuzz.csv", data, &dumptrace_fuzz::anchored());
});
