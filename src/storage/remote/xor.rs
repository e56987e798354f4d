//! Decoder for XOR float chunks (the Gorilla encoding of the Prometheus TSDB),
//! as carried by STREAMED_XOR_CHUNKS remote-read responses.
//!
//! Layout: a big-endian `u16` sample count, then a bit stream. The first
//! sample is a zig-zag varint timestamp and the raw 64 bits of its value; the
//! second a varint timestamp delta and an XOR-coded value; every later one a
//! delta-of-delta timestamp in a prefix-coded width and an XOR-coded value.

use crate::model::FPoint;

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XorError {
    /// The chunk is shorter than its two-byte header.
    #[error("XOR chunk of {0} bytes has no sample-count header")]
    NoHeader(usize),
    /// The bit stream ended before the announced number of samples.
    #[error("XOR chunk truncated: {decoded} of {expected} samples decoded")]
    Truncated {
        /// Samples decoded before the data ran out.
        decoded: usize,
        /// Samples the header announced.
        expected: usize,
    },
    /// A varint in the stream is longer than 64 bits.
    #[error("XOR chunk has a malformed varint in sample {0}")]
    BadVarint(usize),
    /// A timestamp overflowed `i64`.
    #[error("XOR chunk timestamp overflows in sample {0}")]
    TimestampOverflow(usize),
}

/// Reads bits most-significant first.
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start of `bytes`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    fn bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` (at most 64) bits as an unsigned number.
    fn bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if self.pos + n as usize > self.bytes.len() * 8 {
            return None;
        }
        let mut out = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self.bytes.get(self.pos / 8)?;
            let offset = (self.pos % 8) as u32;
            let avail = 8 - offset;
            let take = avail.min(left);
            let chunk = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            out = (out << take) | chunk;
            self.pos += take as usize;
            left -= take;
        }
        Some(out)
    }

    fn byte(&mut self) -> Option<u8> {
        self.bits(8).map(|b| b as u8)
    }

    /// An unsigned LEB128 varint read from the bit stream (not byte aligned).
    /// `Err(())` for a varint longer than ten bytes, `Ok(None)` at end of data.
    fn uvarint(&mut self) -> Result<Option<u64>, ()> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(b) = self.byte() else {
                return Ok(None);
            };
            if i == 9 && b > 1 {
                return Err(());
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(())
    }
}

/// The delta-of-delta widths, by the number of `1` bits before the `0` that
/// ends the prefix (`10`, `110`, `1110`).
const DOD_WIDTHS: [u32; 3] = [14, 17, 20];

/// Interprets the low `width` bits of `raw` as a signed number the way the
/// encoder wrote it: values above `2^(width-1)` are negative.
fn sign_extend(raw: u64, width: u32) -> i64 {
    let half = 1u64 << (width - 1);
    if raw > half {
        raw as i64 - (1i64 << width)
    } else {
        raw as i64
    }
}

/// State of the XOR value decoder: the previous value's bits and the
/// leading/trailing zero counts of the last explicit window.
struct ValueState {
    bits: u64,
    leading: u32,
    trailing: u32,
}

impl ValueState {
    fn next(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        if !r.bit()? {
            return Some(()); // same value
        }
        if r.bit()? {
            // New window: 5 bits of leading zeros, 6 bits of significant width (0 means 64).
            let leading = r.bits(5)? as u32;
            let mut significant = r.bits(6)? as u32;
            if significant == 0 {
                significant = 64;
            }
            // A corrupt chunk can announce more than 64 bits; refuse it rather than wrap.
            self.trailing = 64u32.checked_sub(leading + significant)?;
            self.leading = leading;
        }
        let significant = 64 - self.leading - self.trailing;
        let xor = r.bits(significant)?;
        self.bits ^= xor.checked_shl(self.trailing).unwrap_or(0);
        Some(())
    }
}

/// Decodes an XOR chunk into its samples, in order.
pub fn decode_xor(data: &[u8]) -> Result<Vec<FPoint>, XorError> {
    let [hi, lo, rest @ ..] = data else {
        return Err(XorError::NoHeader(data.len()));
    };
    let expected = usize::from(u16::from_be_bytes([*hi, *lo]));
    let mut out = Vec::with_capacity(expected);
    let truncated = |decoded| XorError::Truncated { decoded, expected };
    let mut r = BitReader::new(rest);

    let mut t = 0i64;
    let mut delta = 0i64;
    let mut value = ValueState {
        bits: 0,
        leading: 0,
        trailing: 0,
    };
    for i in 0..expected {
        match i {
            0 => {
                let zz = r
                    .uvarint()
                    .map_err(|()| XorError::BadVarint(i))?
                    .ok_or_else(|| truncated(i))?;
                t = (zz >> 1) as i64 ^ -((zz & 1) as i64);
                value.bits = r.bits(64).ok_or_else(|| truncated(i))?;
            }
            1 => {
                let d = r
                    .uvarint()
                    .map_err(|()| XorError::BadVarint(i))?
                    .ok_or_else(|| truncated(i))?;
                delta = i64::try_from(d).map_err(|_| XorError::TimestampOverflow(i))?;
                t = t.checked_add(delta).ok_or(XorError::TimestampOverflow(i))?;
                value.next(&mut r).ok_or_else(|| truncated(i))?;
            }
            _ => {
                let dod = read_dod(&mut r).ok_or_else(|| truncated(i))?;
                delta = delta
                    .checked_add(dod)
                    .ok_or(XorError::TimestampOverflow(i))?;
                t = t.checked_add(delta).ok_or(XorError::TimestampOverflow(i))?;
                value.next(&mut r).ok_or_else(|| truncated(i))?;
            }
        }
        out.push(FPoint {
            t,
            v: f64::from_bits(value.bits),
        });
    }
    Ok(out)
}

/// Reads one delta-of-delta: `0` is zero; `10`, `110`, `1110` prefix a
/// 14-, 17- or 20-bit signed number; `1111` prefixes all 64 bits.
fn read_dod(r: &mut BitReader<'_>) -> Option<i64> {
    let mut ones = 0;
    while ones < 4 && r.bit()? {
        ones += 1;
    }
    match ones {
        0 => Some(0),
        1..=3 => {
            let width = DOD_WIDTHS[ones - 1];
            Some(sign_extend(r.bits(width)?, width))
        }
        _ => Some(r.bits(64)? as i64),
    }
}

#[cfg(test)]
pub(crate) mod encode {
    //! A test-only XOR chunk encoder, written from the format description, to
    //! round-trip the decoder on arbitrary series.

    use crate::model::FPoint;

    struct BitWriter {
        bytes: Vec<u8>,
        used: u32,
    }

    impl BitWriter {
        fn bit(&mut self, b: bool) {
            if self.used % 8 == 0 {
                self.bytes.push(0);
            }
            if b {
                if let Some(last) = self.bytes.last_mut() {
                    *last |= 1 << (7 - self.used % 8);
                }
            }
            self.used += 1;
        }

        fn bits(&mut self, v: u64, n: u32) {
            for i in (0..n).rev() {
                self.bit((v >> i) & 1 == 1);
            }
        }

        fn uvarint(&mut self, mut v: u64) {
            loop {
                let low = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.bits(u64::from(low), 8);
                    return;
                }
                self.bits(u64::from(low | 0x80), 8);
            }
        }
    }

    /// Encodes `points` (at most 65535) as an XOR chunk.
    pub(crate) fn encode_xor(points: &[FPoint]) -> Vec<u8> {
        let count = u16::try_from(points.len()).expect("test chunk too long");
        let mut w = BitWriter {
            bytes: count.to_be_bytes().to_vec(),
            used: 0,
        };
        let (mut prev_t, mut prev_delta, mut prev_bits) = (0i64, 0i64, 0u64);
        let mut window: Option<(u32, u32)> = None;
        for (i, p) in points.iter().enumerate() {
            match i {
                0 => {
                    w.uvarint(((p.t << 1) ^ (p.t >> 63)) as u64);
                    w.bits(p.v.to_bits(), 64);
                }
                _ => {
                    let delta = p.t - prev_t;
                    if i == 1 {
                        w.uvarint(delta as u64);
                    } else {
                        write_dod(&mut w, delta - prev_delta);
                    }
                    prev_delta = delta;
                    write_value(&mut w, p.v.to_bits() ^ prev_bits, &mut window);
                }
            }
            prev_t = p.t;
            prev_bits = p.v.to_bits();
        }
        w.bytes
    }

    fn write_dod(w: &mut BitWriter, dod: i64) {
        let fits = |n: u32| -((1i64 << (n - 1)) - 1) <= dod && dod <= 1i64 << (n - 1);
        if dod == 0 {
            w.bit(false);
        } else if fits(14) {
            w.bits(0b10, 2);
            w.bits(dod as u64 & ((1 << 14) - 1), 14);
        } else if fits(17) {
            w.bits(0b110, 3);
            w.bits(dod as u64 & ((1 << 17) - 1), 17);
        } else if fits(20) {
            w.bits(0b1110, 4);
            w.bits(dod as u64 & ((1 << 20) - 1), 20);
        } else {
            w.bits(0b1111, 4);
            w.bits(dod as u64, 64);
        }
    }

    fn write_value(w: &mut BitWriter, xor: u64, window: &mut Option<(u32, u32)>) {
        if xor == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        match *window {
            Some((wl, wt)) if leading >= wl && trailing >= wt => {
                w.bit(false);
                w.bits(xor >> wt, 64 - wl - wt);
            }
            _ => {
                w.bit(true);
                let significant = 64 - leading - trailing;
                w.bits(u64::from(leading), 5);
                w.bits(u64::from(significant % 64), 6);
                w.bits(xor >> trailing, significant);
                *window = Some((leading, trailing));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode::encode_xor;
    use super::*;
    use crate::model::stale_nan;
    use proptest::prelude::*;

    fn same(a: &[FPoint], b: &[FPoint]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    fn points(pairs: &[(i64, f64)]) -> Vec<FPoint> {
        pairs.iter().map(|&(t, v)| FPoint { t, v }).collect()
    }

    #[test]
    fn empty_chunk_has_no_samples() {
        assert_eq!(decode_xor(&[0, 0]), Ok(vec![]));
    }

    #[test]
    fn missing_header_is_an_error() {
        assert_eq!(decode_xor(&[1]), Err(XorError::NoHeader(1)));
        assert_eq!(decode_xor(&[]), Err(XorError::NoHeader(0)));
    }

    #[test]
    fn single_sample_with_negative_timestamp() {
        let p = points(&[(-1_234_567, -0.5)]);
        assert!(same(&decode_xor(&encode_xor(&p)).unwrap(), &p));
    }

    #[test]
    fn regular_scrapes_round_trip() {
        let p: Vec<FPoint> = (0..120)
            .map(|i| FPoint {
                t: 1_700_000_000_250 + i * 30_000,
                v: (i * 7 % 13) as f64 * 1.5,
            })
            .collect();
        let enc = encode_xor(&p);
        // Constant deltas cost one bit each: the chunk is far smaller than raw.
        assert!(enc.len() < p.len() * 16 / 4, "{} bytes", enc.len());
        assert!(same(&decode_xor(&enc).unwrap(), &p));
    }

    #[test]
    fn every_delta_of_delta_width_and_its_edges() {
        let mut t = 0i64;
        let mut delta = 1000i64;
        let mut p = vec![FPoint { t, v: 1.0 }];
        t += delta;
        p.push(FPoint { t, v: 1.0 });
        for dod in [
            0,
            1,
            -1,
            8191,
            8192,
            -8191,
            -8192,
            8193,
            65536,
            -65535,
            65537,
            524_288,
            -524_287,
            524_289,
            -524_289,
            1 << 40,
            -(1 << 40),
        ] {
            delta += dod;
            t += delta;
            p.push(FPoint { t, v: 2.0 });
        }
        assert!(same(&decode_xor(&encode_xor(&p)).unwrap(), &p));
    }

    #[test]
    fn special_values_keep_their_bits() {
        let p = points(&[
            (0, f64::NAN),
            (1, stale_nan()),
            (2, f64::INFINITY),
            (3, f64::NEG_INFINITY),
            (4, -0.0),
            (5, 0.0),
            (6, f64::MIN_POSITIVE),
            (7, f64::MAX),
            (8, stale_nan()),
            (9, 1.0),
        ]);
        assert!(same(&decode_xor(&encode_xor(&p)).unwrap(), &p));
    }

    #[test]
    fn truncated_chunk_is_an_error() {
        let p: Vec<FPoint> = (0..50)
            .map(|i| FPoint {
                t: i * 15_000 + (i % 3),
                v: (i as f64).sqrt(),
            })
            .collect();
        let enc = encode_xor(&p);
        for cut in [3, 10, enc.len() / 2, enc.len() - 1] {
            match decode_xor(&enc[..cut]) {
                Err(XorError::Truncated { expected: 50, .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = decode_xor(&bytes);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_series_round_trip(
            start in any::<i32>(),
            steps in prop::collection::vec((0i64..10_000_000, any::<f64>(), any::<bool>()), 0..300),
        ) {
            let mut t = i64::from(start);
            let mut v = 0.0;
            let mut p = Vec::new();
            for (dt, nv, repeat) in steps {
                if !repeat {
                    v = nv;
                }
                p.push(FPoint { t, v });
                t += dt;
            }
            prop_assert!(same(&decode_xor(&encode_xor(&p)).unwrap(), &p));
        }
    }
}
