#![no_main]
// A CSV in no known layout, read through a column mapping and a strftime time format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dumptrace_fuzz::trace("fuzz.csv", data, &dumptrace_fuzz::mapped())
});
