#![no_main]
// A kernel dump header: the signature is forced (32- or 64-bit by the input's 5th byte)
// so every input reaches the header reader.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 8 {
        let sig: &[u8; 8] = if bytes[4] & 1 == 0 {
            b"PAGEDU64"
        } else {
            b"PAGEDUMP"
        };
        bytes[..8].copy_from_slice(sig);
    }
    dumptrace_fuzz::dump("fuzz.dmp", &bytes);
});
