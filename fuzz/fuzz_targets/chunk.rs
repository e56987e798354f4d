//! Chunk bytes come from the network (remote read): arbitrary bytes never
//! make the XOR or native-histogram chunk decoders panic, and whatever the
//! XOR decoder accepts re-encodes to a chunk that decodes to the same points;
//! decoded histograms stay within the decode budget for the chunk's size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promql_engine::model::HPoint;
use promql_engine::storage::chunk::histogram::decode_budget;
use promql_engine::storage::chunk::{
    decode_float_histogram_chunk, decode_histogram_chunk, decode_xor, encode_xor,
};

/// Spans, custom bounds and buckets held by decoded histograms.
fn values(points: &[HPoint]) -> usize {
    points
        .iter()
        .map(|p| {
            let h = &p.h;
            h.positive_spans.len()
                + h.negative_spans.len()
                + h.custom_values.len()
                + h.positive_buckets.len()
                + h.negative_buckets.len()
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    // Whatever decodes stays within the budget for the chunk's size.
    let decoded = [
        decode_histogram_chunk(data),
        decode_float_histogram_chunk(data),
    ];
    for points in decoded.into_iter().flatten() {
        assert!(values(&points) <= decode_budget(data.len()));
    }
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
