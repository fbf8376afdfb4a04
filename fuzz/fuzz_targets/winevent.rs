#![no_main]
// The winevent text layout (its corpus holds that layout; detection picks the parser).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dumptrace_fuzz::trace("fuzz.txt", data, &Default::default())
});
