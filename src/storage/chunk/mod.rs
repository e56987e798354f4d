//! Compressed chunk encodings of the Prometheus TSDB, independent of any
//! transport: XOR float chunks (encode and decode) and native-histogram
//! chunks (decode, plus an encoder for tests and tools).
//!
//! The in-memory store compresses float series with [`xor`]; remote read
//! decodes STREAMED_XOR_CHUNKS responses with both modules.

mod bits;
pub mod histogram;
pub mod xor;

pub use histogram::{
    HistogramChunkError, decode_float_histogram_chunk, decode_histogram_chunk,
    encode_float_histogram_chunk, encode_histogram_chunk,
};
pub use xor::{XorEncoder, XorError, decode_xor, decode_xor_into, encode_xor};
pub(crate) use xor::{decode_xor_until, sample_count};
