//! The XOR float chunk decoder used for STREAMED_XOR_CHUNKS responses. The
//! codec lives in [`crate::storage::chunk::xor`], shared with the in-memory
//! store's compressed columns; this module re-exports its decoder.

pub use crate::storage::chunk::xor::{XorError, decode_xor};
