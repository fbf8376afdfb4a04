#![no_main]
// A WinDbg/kd/cdb session log: the line-based block reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| dumptrace_fuzz::dump("fuzz.log", data));
