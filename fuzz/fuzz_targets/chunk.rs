//! Chunk bytes come from the network (remote read): arbitrary bytes never
//! make the XOR or native-histogram chunk decoders panic, and whatever the
//! XOR decoder accepts re-encodes to a chunk that decodes to the same points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::storage::chunk::{
    decode_float_histogram_chunk, decode_histogram_chunk, decode_xor, encode_xor,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_histogram_chunk(data);
    let _ = decode_float_histogram_chunk(data);
    let Ok(points) = decode_xor(data) else { return };
    // Timestamps must increase for the encoder; decoded chunks may not.
    if points.windows(2).any(|w| w[0].t >= w[1].t) {
        return;
    }
    let encoded = encode_xor(&points).expect("decoded points re-encode");
    let again = decode_xor(&encoded).expect("re-encoded chunk decodes");
    assert_eq!(points.len(), again.len());
    for (a, b) in points.iter().zip(&again) {
        assert_eq!(a.t, b.t);
        assert_eq!(a.v.to_bits(), b.v.to_bits());
    }
});
