#![no_main]
// A user-mode minidump: the signature is forced so every input reaches the stream reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 4 {
        bytes[..4].copy_from_slice(b"MDMP");
    }
    dumptrace_fuzz::dump("fuzz.dmp", &bytes);
});
