#![no_main]
// A WinDbg/kd/cdb session log: the line-based block reader, then the wait graph,
// chains and findings built from what it read.
libfuzzer_sys::fuzz_target!(|data: &[u8]| dumptrace_fuzz::dump_and_analyze("fuzz.log", data));
