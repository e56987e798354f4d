//! The framing of STREAMED_XOR_CHUNKS responses: each frame is a varint
//! length, a big-endian CRC-32C (Castagnoli) of the payload, and the payload
//! (one encoded `ChunkedReadResponse`).

use std::io::{self, Read};

/// Why the stream of frames could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Reading the body failed (connection reset, timeout, ...).
    #[error("connection lost while reading frame {frame}: {source}")]
    Io {
        /// Zero-based frame number.
        frame: usize,
        /// The transport error.
        #[source]
        source: io::Error,
    },
    /// The body ended inside a frame.
    #[error("response ended inside frame {frame} (truncated stream)")]
    Truncated {
        /// Zero-based frame number.
        frame: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("frame {frame} has a malformed length prefix")]
    BadLength {
        /// Zero-based frame number.
        frame: usize,
    },
    /// A frame is larger than the configured limit.
    #[error("frame {frame} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Zero-based frame number.
        frame: usize,
        /// Announced size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The frames together are larger than the configured limit on a
    /// whole response.
    #[error("response is over the limit of {limit} bytes at frame {frame}")]
    ResponseTooLarge {
        /// Zero-based frame number.
        frame: usize,
        /// The limit.
        limit: u64,
    },
    /// The payload does not match its checksum.
    #[error("frame {frame} is corrupt: CRC-32C {actual:#010x}, expected {expected:#010x}")]
    Checksum {
        /// Zero-based frame number.
        frame: usize,
        /// Checksum in the frame header.
        expected: u32,
        /// Checksum of the payload received.
        actual: u32,
    },
}

/// CRC-32C lookup table (reflected polynomial 0x82F63B78), built at compile time.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32C (Castagnoli) of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &b| {
        CRC32C_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}

/// Reads frames one by one from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    limit: u64,
    frame: usize,
    /// Most bytes of the whole stream (length prefixes, checksums and payloads).
    total_limit: u64,
    /// Bytes of the frames read so far.
    total: u64,
}

impl<R: Read> FrameReader<R> {
    /// Reads from `inner`, refusing frames over `limit` bytes.
    pub fn new(inner: R, limit: u64) -> Self {
        FrameReader {
            inner,
            limit,
            frame: 0,
            total_limit: u64::MAX,
            total: 0,
        }
    }

    /// Refuses a stream whose frames (length prefixes, checksums and
    /// payloads) add up to more than `limit` bytes, before reading the
    /// frame that would cross it. Default: no limit.
    pub fn with_total_limit(mut self, limit: u64) -> Self {
        self.total_limit = limit;
        self
    }

    /// The next frame's payload, or `None` when the stream ends cleanly
    /// between frames.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let frame = self.frame;
        let Some(size) = self.read_length()? else {
            return Ok(None);
        };
        if size > self.limit {
            return Err(FrameError::TooLarge {
                frame,
                size,
                limit: self.limit,
            });
        }
        // The prefix took at most 10 bytes; the checksum takes 4.
        let prefix = varint_len(size);
        self.total = self
            .total
            .saturating_add(prefix)
            .saturating_add(4)
            .saturating_add(size);
        if self.total > self.total_limit {
            return Err(FrameError::ResponseTooLarge {
                frame,
                limit: self.total_limit,
            });
        }
        let mut crc = [0u8; 4];
        self.read_exact(&mut crc)?;
        let expected = u32::from_be_bytes(crc);
        // `size <= limit`, and the limit is a usize-sized configuration value.
        let mut payload = vec![0u8; usize::try_from(size).unwrap_or(usize::MAX)];
        self.read_exact(&mut payload)?;
        let actual = crc32c(&payload);
        if actual != expected {
            return Err(FrameError::Checksum {
                frame,
                expected,
                actual,
            });
        }
        self.frame += 1;
        Ok(Some(payload))
    }

    /// The varint length prefix; `None` at a clean end of stream.
    fn read_length(&mut self) -> Result<Option<u64>, FrameError> {
        let frame = self.frame;
        let mut value = 0u64;
        for i in 0..10 {
            let mut byte = [0u8; 1];
            let n = self.read_some(&mut byte)?;
            if n == 0 {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated { frame })
                };
            }
            let [b] = byte;
            if i == 9 && b > 1 {
                return Err(FrameError::BadLength { frame });
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(FrameError::BadLength { frame })
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FrameError> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FrameError::Io {
                        frame: self.frame,
                        source,
                    });
                }
            }
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), FrameError> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read_some(buf.get_mut(filled..).unwrap_or_default())?;
            if n == 0 {
                return Err(FrameError::Truncated { frame: self.frame });
            }
            filled += n;
        }
        Ok(())
    }
}

/// Bytes of the varint encoding of `n`.
fn varint_len(n: u64) -> u64 {
    u64::from((64 - n.leading_zeros()).max(1).div_ceil(7))
}

/// Frames `payload` (for tests and for servers written in Rust).
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    let mut n = payload.len() as u64;
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(&crc32c(payload).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn frames_round_trip() {
        let payloads: Vec<Vec<u8>> = vec![vec![], vec![1, 2, 3], vec![7; 300], vec![9; 20_000]];
        let stream: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p)).collect();
        let mut r = FrameReader::new(stream.as_slice(), 1 << 20);
        for p in &payloads {
            assert_eq!(r.next_frame().unwrap().as_ref(), Some(p));
        }
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn every_cut_inside_a_frame_is_reported_as_truncation() {
        let stream = [encode_frame(&[1; 200]), encode_frame(&[2; 5])].concat();
        let first_len = encode_frame(&[1; 200]).len();
        for cut in 1..stream.len() {
            let mut r = FrameReader::new(&stream[..cut], 1 << 20);
            let mut frames = 0;
            let err = loop {
                match r.next_frame() {
                    Ok(Some(_)) => frames += 1,
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if cut == first_len {
                assert!(err.is_none() && frames == 1, "cut {cut}");
            } else {
                assert!(
                    matches!(err, Some(FrameError::Truncated { .. })),
                    "cut {cut}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn corrupt_payload_fails_the_checksum() {
        let mut stream = encode_frame(b"hello");
        if let Some(last) = stream.last_mut() {
            *last ^= 1;
        }
        let err = FrameReader::new(stream.as_slice(), 100).next_frame();
        assert!(
            matches!(err, Err(FrameError::Checksum { frame: 0, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_frame_is_refused_before_reading_it() {
        let stream = encode_frame(&[0; 64]);
        let err = FrameReader::new(stream.as_slice(), 63).next_frame();
        assert!(
            matches!(
                err,
                Err(FrameError::TooLarge {
                    size: 64,
                    limit: 63,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_stream_over_the_total_limit_is_refused_before_the_frame_that_crosses_it() {
        let frame = encode_frame(&[5; 100]);
        assert_eq!(frame.len(), 105);
        let stream: Vec<u8> = std::iter::repeat_n(&frame, 4).flatten().copied().collect();
        // Exactly three frames fit.
        let mut r = FrameReader::new(stream.as_slice(), 1000).with_total_limit(315);
        for _ in 0..3 {
            assert!(r.next_frame().unwrap().is_some());
        }
        let err = r.next_frame().unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::ResponseTooLarge {
                    frame: 3,
                    limit: 315
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "response is over the limit of 315 bytes at frame 3"
        );
        // An endless stream of empty frames stops at the limit too.
        let empty = encode_frame(&[]);
        let endless = std::io::Read::take(std::io::repeat(0), u64::MAX);
        assert_eq!(empty, vec![0, 0, 0, 0, 0]);
        let mut r = FrameReader::new(endless, 10).with_total_limit(1 << 16);
        let mut frames = 0;
        let err = loop {
            match r.next_frame() {
                Ok(Some(_)) => frames += 1,
                Ok(None) => panic!("endless stream ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(frames, (1 << 16) / 5);
        assert!(
            matches!(err, FrameError::ResponseTooLarge { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn varint_lengths() {
        for (n, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(n), len, "{n}");
        }
    }

    #[test]
    fn overlong_length_prefix_is_malformed() {
        let stream = [0xffu8; 12];
        let err = FrameReader::new(stream.as_slice(), 100).next_frame();
        assert!(matches!(err, Err(FrameError::BadLength { .. })), "{err:?}");
    }
}
