//! XOR float chunks: the Gorilla encoding of the Prometheus TSDB, as stored
//! by [`MemoryStorage`](crate::storage::MemoryStorage) with compression on
//! and carried by STREAMED_XOR_CHUNKS remote-read responses.
//!
//! Layout: a big-endian `u16` sample count, then a bit stream. The first
//! sample is a zig-zag varint timestamp and the raw 64 bits of its value; the
//! second a varint timestamp delta and an XOR-coded value; every later one a
//! delta-of-delta timestamp in a prefix-coded width and an XOR-coded value.

use super::bits::{BitReader, BitWriter};
use crate::model::{FPoint, Timestamp};

/// Why a chunk could not be decoded or encoded.
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
    /// A timestamp overflowed `i64` while decoding, or the encoder was given
    /// two consecutive timestamps more than `i64::MAX` apart.
    #[error("XOR chunk timestamp overflows in sample {0}")]
    TimestampOverflow(usize),
    /// The encoder was given more samples than a chunk can count.
    #[error("an XOR chunk holds at most 65535 samples, got {0}")]
    TooManySamples(usize),
    /// The encoder was given timestamps that do not strictly increase.
    #[error("XOR chunk samples must have increasing timestamps (sample {0})")]
    NotIncreasing(usize),
}

/// The delta-of-delta widths, by the number of `1` bits before the `0` that
/// ends the prefix (`10`, `110`, `1110`).
const DOD_WIDTHS: [u32; 3] = [14, 17, 20];

/// Interprets the low `width` bits of `raw` as a signed number the way the
/// encoder wrote it: values above `2^(width-1)` are negative.
pub(crate) fn sign_extend(raw: u64, width: u32) -> i64 {
    let half = 1u64 << (width - 1);
    if raw > half {
        raw as i64 - (1i64 << width)
    } else {
        raw as i64
    }
}

/// Whether `v` fits the signed `width`-bit range the encodings use:
/// `-(2^(width-1) - 1) ..= 2^(width-1)`.
pub(crate) fn fits_signed(v: i64, width: u32) -> bool {
    let half = 1i64 << (width - 1);
    -(half - 1) <= v && v <= half
}

/// State of one XOR-coded value stream: the previous value's bits and the
/// leading/trailing zero counts of the last explicit window. Histogram
/// chunks keep one per field.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct XorValue {
    pub(crate) bits: u64,
    /// `None` until the first explicit window is written or read.
    window: Option<(u32, u32)>,
}

/// What the control bits before an XOR-coded value say.
enum Control {
    /// `0`: the value repeats.
    Same,
    /// `10`: the XOR fits the last window.
    Reuse,
    /// `11`: a new window follows (5 bits of leading zeros, 6 bits of
    /// significant width, 0 meaning 64).
    New(u64, u64),
}

impl Control {
    /// Reads the control bits (and a new window's header) from a register
    /// holding at least 13 bits.
    #[inline(always)]
    fn read(r: &mut BitReader<'_>) -> Control {
        match r.peek(2) {
            0b00 | 0b01 => {
                r.skip(1);
                Control::Same
            }
            0b10 => {
                r.skip(2);
                Control::Reuse
            }
            _ => {
                let head = r.peek(13);
                r.skip(13);
                Control::New((head >> 6) & 0x1f, head & 0x3f)
            }
        }
    }
}

impl XorValue {
    /// A stream whose previous value is `v`.
    pub(crate) fn starting_at(v: f64) -> Self {
        XorValue {
            bits: v.to_bits(),
            window: None,
        }
    }

    /// The current value.
    pub(crate) fn value(&self) -> f64 {
        f64::from_bits(self.bits)
    }

    /// Reads the next value; `None` when the data ends or is corrupt.
    #[inline(always)]
    pub(crate) fn read(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        // The control bits and a new window's header (13 bits) are read from
        // the register at once when it holds them, bit by bit near the end.
        let control = if r.has(13) {
            Control::read(r)
        } else if !r.bit()? {
            Control::Same
        } else if r.bit()? {
            Control::New(r.bits(5)?, r.bits(6)?)
        } else {
            Control::Reuse
        };
        match control {
            Control::Same => return Some(()),
            Control::Reuse => {}
            Control::New(leading, significant) => self.set_window(leading, significant)?,
        }
        let (leading, trailing) = self.window.unwrap_or((0, 0));
        let xor = r.bits(64 - leading - trailing)?;
        self.bits ^= xor.checked_shl(trailing).unwrap_or(0);
        Some(())
    }

    /// A new window from its header: 5 bits of leading zeros and 6 bits of
    /// significant width (0 means 64); `None` for more than 64 bits, which
    /// only a corrupt chunk announces.
    #[inline(always)]
    fn set_window(&mut self, leading: u64, significant: u64) -> Option<()> {
        let leading = leading as u32;
        let significant = if significant == 0 {
            64
        } else {
            significant as u32
        };
        let trailing = 64u32.checked_sub(leading + significant)?;
        self.window = Some((leading, trailing));
        Some(())
    }

    /// [`Self::read`] from a register topped up a word at a time (see
    /// [`BitReader::refill_word`]: the caller checks for reads past the
    /// end); `None` only for a corrupt window.
    #[inline(always)]
    fn read_fast(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        if r.valid() < 13 {
            r.refill_word();
        }
        match Control::read(r) {
            Control::Same => return Some(()),
            Control::Reuse => {}
            Control::New(leading, significant) => self.set_window(leading, significant)?,
        }
        let (leading, trailing) = self.window.unwrap_or((0, 0));
        let n = 64 - leading - trailing;
        if n > r.valid() {
            r.refill_word();
        }
        let xor = if n <= 56 {
            r.take_fast(n)
        } else {
            let high = r.take_fast(n - 32);
            r.refill_word();
            (high << 32) | r.take_fast(32)
        };
        // `n` is at least 1, so `trailing` is below 64.
        self.bits ^= xor << trailing;
        Some(())
    }

    /// Writes `v` relative to the previous value.
    pub(crate) fn write(&mut self, w: &mut BitWriter, v: f64) {
        let xor = v.to_bits() ^ self.bits;
        self.bits = v.to_bits();
        if xor == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        match self.window {
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
                self.window = Some((leading, trailing));
            }
        }
    }
}

/// Decodes an XOR chunk into its samples, in order.
pub fn decode_xor(data: &[u8]) -> Result<Vec<FPoint>, XorError> {
    let mut out = Vec::new();
    decode_xor_into(data, &mut out)?;
    Ok(out)
}

/// The number of samples an XOR chunk announces (its first two bytes);
/// `None` for fewer than two bytes.
pub(crate) fn sample_count(data: &[u8]) -> Option<usize> {
    let &[hi, lo, ..] = data else {
        return None;
    };
    Some(usize::from(u16::from_be_bytes([hi, lo])))
}

/// Decodes an XOR chunk, appending its samples to `out`. On error `out`
/// holds the samples decoded before it.
pub fn decode_xor_into(data: &[u8], out: &mut Vec<FPoint>) -> Result<(), XorError> {
    decode_xor_until(data, Timestamp::MAX, out)
}

/// [`decode_xor_into`] that stops before the first sample later than
/// `until`: for a chunk whose timestamps increase (as the store's do), the
/// samples up to `until`, without decoding the rest.
pub(crate) fn decode_xor_until(
    data: &[u8],
    until: Timestamp,
    out: &mut Vec<FPoint>,
) -> Result<(), XorError> {
    let (Some(expected), Some(rest)) = (sample_count(data), data.get(2..)) else {
        return Err(XorError::NoHeader(data.len()));
    };
    // Room for the samples announced, but no more than the data can hold
    // (every sample after the first takes at least two bits).
    out.reserve(expected.min(1 + rest.len().saturating_mul(4)));
    let truncated = |decoded| XorError::Truncated { decoded, expected };
    let mut r = BitReader::new(rest);

    if expected == 0 {
        return Ok(());
    }
    // The first two samples start with a varint (sample `i`'s).
    let varint = |r: &mut BitReader<'_>, i: usize| {
        r.uvarint()
            .map_err(|()| XorError::BadVarint(i))?
            .ok_or_else(|| truncated(i))
    };
    // The first sample: a zig-zag varint timestamp and the raw value.
    let zz = varint(&mut r, 0)?;
    let mut t = (zz >> 1) as i64 ^ -((zz & 1) as i64);
    let mut value = XorValue::starting_at(f64::from_bits(r.bits(64).ok_or_else(|| truncated(0))?));
    if t > until {
        return Ok(());
    }
    out.push(FPoint {
        t,
        v: value.value(),
    });
    if expected == 1 {
        return Ok(());
    }
    // The second: a varint delta and an XOR-coded value.
    let d = varint(&mut r, 1)?;
    let mut delta = i64::try_from(d).map_err(|_| XorError::TimestampOverflow(1))?;
    t = t.checked_add(delta).ok_or(XorError::TimestampOverflow(1))?;
    value.read(&mut r).ok_or_else(|| truncated(1))?;
    if t > until {
        return Ok(());
    }
    out.push(FPoint {
        t,
        v: value.value(),
    });
    // Every later one: a delta of the delta and an XOR-coded value, read
    // from a register topped up a word at a time; a read past the end
    // yields zeros, so the position is checked before a field is used.
    // Samples go through a batch on the stack, so that the loop calls
    // nothing and the reader (a fresh local) stays in registers.
    let mut fast = r;
    let mut batch = [FPoint { t: 0, v: 0.0 }; 32];
    let mut i = 2;
    while i < expected {
        let n = (expected - i).min(batch.len());
        for (k, slot) in batch[..n].iter_mut().enumerate() {
            let at = i + k;
            let dod = read_dod_fast(&mut fast);
            let failure = if fast.overran() {
                Some(truncated(at))
            } else if let Some(next) = delta
                .checked_add(dod)
                .and_then(|d| Some((d, t.checked_add(d)?)))
            {
                (delta, t) = next;
                (value.read_fast(&mut fast).is_none() || fast.overran()).then(|| truncated(at))
            } else {
                Some(XorError::TimestampOverflow(at))
            };
            if let Some(e) = failure {
                out.extend_from_slice(&batch[..k]);
                return Err(e);
            }
            if t > until {
                out.extend_from_slice(&batch[..k]);
                return Ok(());
            }
            *slot = FPoint {
                t,
                v: value.value(),
            };
        }
        out.extend_from_slice(&batch[..n]);
        i += n;
    }
    Ok(())
}

/// Reads one delta-of-delta: `0` is zero; `10`, `110`, `1110` prefix a
/// 14-, 17- or 20-bit signed number; `1111` prefixes all 64 bits. The
/// register is topped up a word at a time: the caller checks
/// [`BitReader::overran`].
#[inline(always)]
fn read_dod_fast(r: &mut BitReader<'_>) -> i64 {
    r.refill_word();
    // The `1`s before the first `0` among the next four bits, looked up.
    const ONES: [u32; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4];
    match ONES[r.peek(4) as usize] {
        0 => {
            r.take_fast(1);
            0
        }
        ones @ 1..=3 => {
            r.take_fast(ones + 1);
            let width = DOD_WIDTHS[ones as usize - 1];
            sign_extend(r.take_fast(width), width)
        }
        _ => {
            r.take_fast(4);
            r.refill_word();
            let high = r.take_fast(32);
            r.refill_word();
            ((high << 32) | r.take_fast(32)) as i64
        }
    }
}

fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.bit(false);
        return;
    }
    for (prefix, &width) in DOD_WIDTHS.iter().enumerate() {
        if fits_signed(dod, width) {
            // `prefix + 1` ones, then a zero.
            let ones = prefix as u32 + 1;
            w.bits(((1u64 << ones) - 1) << 1, ones + 1);
            w.bits(dod as u64 & ((1u64 << width) - 1), width);
            return;
        }
    }
    w.bits(0b1111, 4);
    w.bits(dod as u64, 64);
}

/// Builds an XOR chunk one sample at a time.
#[derive(Debug, Clone)]
pub struct XorEncoder {
    w: BitWriter,
    count: u16,
    t: Timestamp,
    delta: i64,
    value: XorValue,
}

impl Default for XorEncoder {
    fn default() -> Self {
        XorEncoder {
            w: BitWriter::with_header(&[0, 0]),
            count: 0,
            t: 0,
            delta: 0,
            value: XorValue::default(),
        }
    }
}

impl XorEncoder {
    /// An empty chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of samples so far.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a sample. Timestamps must strictly increase, by at most
    /// `i64::MAX` from one sample to the next; a chunk holds at most 65535
    /// samples.
    pub fn push(&mut self, t: Timestamp, v: f64) -> Result<(), XorError> {
        let i = self.len();
        let Some(count) = self.count.checked_add(1) else {
            return Err(XorError::TooManySamples(i + 1));
        };
        match i {
            0 => {
                self.w.uvarint(((t << 1) ^ (t >> 63)) as u64);
                self.w.bits(v.to_bits(), 64);
                self.value = XorValue::starting_at(v);
            }
            _ => {
                let delta = match t.checked_sub(self.t) {
                    Some(d) if d > 0 => d,
                    // Increasing, but more than `i64::MAX` apart: the
                    // format cannot hold the gap.
                    None if t > self.t => return Err(XorError::TimestampOverflow(i)),
                    _ => return Err(XorError::NotIncreasing(i)),
                };
                if i == 1 {
                    self.w.uvarint(delta as u64);
                } else {
                    write_dod(&mut self.w, delta.wrapping_sub(self.delta));
                }
                self.delta = delta;
                self.value.write(&mut self.w, v);
            }
        }
        self.t = t;
        self.count = count;
        Ok(())
    }

    /// The chunk bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let header = self.count.to_be_bytes();
        if let Some(h) = self.w.bytes_mut().get_mut(..2) {
            h.copy_from_slice(&header);
        }
        self.w.into_bytes()
    }
}

/// Encodes `points` (strictly increasing timestamps, at most 65535) as an XOR chunk.
pub fn encode_xor(points: &[FPoint]) -> Result<Vec<u8>, XorError> {
    let mut e = XorEncoder::new();
    for p in points {
        e.push(p.t, p.v)?;
    }
    Ok(e.finish())
}

#[cfg(test)]
mod tests {
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
        assert!(same(&decode_xor(&encode_xor(&p).unwrap()).unwrap(), &p));
    }

    #[test]
    fn regular_scrapes_round_trip() {
        let p: Vec<FPoint> = (0..120)
            .map(|i| FPoint {
                t: 1_700_000_000_250 + i * 30_000,
                v: (i * 7 % 13) as f64 * 1.5,
            })
            .collect();
        let enc = encode_xor(&p).unwrap();
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
        assert!(same(&decode_xor(&encode_xor(&p).unwrap()).unwrap(), &p));
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
        assert!(same(&decode_xor(&encode_xor(&p).unwrap()).unwrap(), &p));
    }

    #[test]
    fn truncated_chunk_is_an_error() {
        let p: Vec<FPoint> = (0..50)
            .map(|i| FPoint {
                t: i * 15_000 + (i % 3),
                v: (i as f64).sqrt(),
            })
            .collect();
        let enc = encode_xor(&p).unwrap();
        for cut in [3, 10, enc.len() / 2, enc.len() - 1] {
            match decode_xor(&enc[..cut]) {
                Err(XorError::Truncated { expected: 50, .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cut_chunk_yields_exactly_the_samples_whose_bits_it_holds() {
        // Steady steps, jitter, a huge jump (the 64-bit delta of a delta)
        // and values that need a new window, a reused one, or none.
        let p: Vec<FPoint> = (0..60i64)
            .map(|i| FPoint {
                t: i * 15_000 + (i % 7) * 3 + if i >= 40 { 1 << 40 } else { 0 },
                v: match i % 4 {
                    0 => 1.0,
                    1 => (i as f64).sqrt(),
                    2 => (i * 1000) as f64,
                    _ => f64::NAN,
                },
            })
            .collect();
        let enc = encode_xor(&p).unwrap();
        // The stream of the first `k` samples is a prefix of the whole one,
        // so they fit in `cut` bytes when their own chunk does.
        let fits: Vec<usize> = (0..=p.len())
            .map(|k| encode_xor(&p[..k]).unwrap().len())
            .collect();
        for cut in 2..enc.len() {
            let mut out = Vec::new();
            let whole = fits.iter().rposition(|&len| len <= cut).unwrap();
            match decode_xor_into(&enc[..cut], &mut out) {
                Err(XorError::Truncated {
                    decoded,
                    expected: 60,
                }) => {
                    assert_eq!(decoded, whole, "cut at {cut}");
                    assert!(same(&out, &p[..decoded]), "cut at {cut}");
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        assert!(same(&decode_xor(&enc).unwrap(), &p));
    }

    #[test]
    fn decoding_until_a_time_stops_before_the_first_later_sample() {
        let p: Vec<FPoint> = (0..100i64)
            .map(|i| FPoint {
                t: i * 15_000 + (i % 3),
                v: (i as f64).sqrt(),
            })
            .collect();
        let enc = encode_xor(&p).unwrap();
        let cases = p.iter().flat_map(|x| [x.t - 1, x.t, x.t + 1]);
        for until in cases.chain([i64::MIN, i64::MAX]) {
            let mut out = vec![FPoint { t: 0, v: 0.0 }];
            decode_xor_until(&enc, until, &mut out).unwrap();
            let want: Vec<FPoint> = p.iter().copied().filter(|x| x.t <= until).collect();
            assert!(same(&out[1..], &want), "until {until}");
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

    #[test]
    fn encoder_rejects_what_it_cannot_represent() {
        let p = points(&[(5, 1.0), (5, 2.0)]);
        assert_eq!(encode_xor(&p), Err(XorError::NotIncreasing(1)));
        let p = points(&[(5, 1.0), (4, 2.0)]);
        assert_eq!(encode_xor(&p), Err(XorError::NotIncreasing(1)));
        let many: Vec<FPoint> = (0..65_536).map(|t| FPoint { t, v: 0.0 }).collect();
        assert_eq!(encode_xor(&many), Err(XorError::TooManySamples(65_536)));
        assert_eq!(
            decode_xor(&encode_xor(&many[..65_535]).unwrap())
                .unwrap()
                .len(),
            65_535
        );
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_round_trip_or_are_refused_clearly() {
        let p = points(&[
            (i64::MIN, 1.0),
            (-1, 2.0),
            (i64::MAX - 1, 3.0),
            (i64::MAX, 4.0),
        ]);
        assert!(same(&decode_xor(&encode_xor(&p).unwrap()).unwrap(), &p));
        // Increasing, but further apart than a delta can say.
        let p = points(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
        assert_eq!(encode_xor(&p), Err(XorError::TimestampOverflow(1)));
        let p = points(&[(i64::MIN, 1.0), (0, 2.0), (1, 2.0)]);
        assert_eq!(encode_xor(&p), Err(XorError::TimestampOverflow(1)));
    }

    #[test]
    fn a_short_chunk_announcing_many_samples_reserves_little() {
        let mut out = Vec::new();
        assert_eq!(
            decode_xor_into(&[0xff, 0xff, 0], &mut out),
            Err(XorError::Truncated {
                decoded: 0,
                expected: 65_535
            })
        );
        assert!(out.capacity() <= 8, "{}", out.capacity());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_decode_in_proportion(
            bytes in prop::collection::vec(any::<u8>(), 0..2000),
        ) {
            let mut out = Vec::new();
            let ok = decode_xor_into(&bytes, &mut out).is_ok();
            prop_assert!(out.capacity() <= 1 + 4 * bytes.len());
            if ok {
                prop_assert!(out.len() <= 1 + 4 * bytes.len());
            }
        }
    }

    /// The samples from `start` on, each step moving the time by its `i64`
    /// and replacing the value when it holds one.
    fn series(start: i64, steps: &[(i64, Option<f64>)]) -> Vec<FPoint> {
        let (mut t, mut v) = (start, 0.0);
        let mut p = Vec::with_capacity(steps.len());
        for &(dt, nv) in steps {
            if let Some(nv) = nv {
                v = nv;
            }
            p.push(FPoint { t, v });
            t += dt;
        }
        p
    }

    /// Values drawn mostly from the awkward ones: NaN, stale markers, ±Inf,
    /// signed zeros, repeats of the previous value, extremes.
    fn awkward_value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            3 => any::<f64>().prop_map(Some),
            1 => Just(Some(f64::NAN)),
            1 => Just(Some(stale_nan())),
            1 => Just(Some(f64::INFINITY)),
            1 => Just(Some(f64::NEG_INFINITY)),
            1 => Just(Some(-0.0)),
            1 => Just(Some(f64::MAX)),
            1 => Just(Some(f64::MIN_POSITIVE)),
            3 => Just(None), // repeat the previous value
            2 => (-1000i32..1000).prop_map(|i| Some(f64::from(i) / 4.0)),
        ]
    }

    /// Timestamp steps: regular scrapes with jitter, big gaps, tiny steps.
    fn awkward_step() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => Just(15_000i64),
            2 => 14_990i64..15_010,
            1 => 1i64..3,
            1 => 1i64..(1 << 40),
        ]
    }

    /// The decoder written the plain way, every read checked as it
    /// happens: what [`decode_xor_into`] must agree with on any bytes,
    /// errors included.
    fn reference_decode(data: &[u8]) -> (Vec<FPoint>, Option<XorError>) {
        let mut out = Vec::new();
        let [hi, lo, rest @ ..] = data else {
            return (out, Some(XorError::NoHeader(data.len())));
        };
        let expected = usize::from(u16::from_be_bytes([*hi, *lo]));
        let truncated = |decoded| Some(XorError::Truncated { decoded, expected });
        let mut r = BitReader::new(rest);
        let (mut t, mut delta, mut value) = (0i64, 0i64, XorValue::default());
        for i in 0..expected {
            if i < 2 {
                let v = match r.uvarint() {
                    Err(()) => return (out, Some(XorError::BadVarint(i))),
                    Ok(None) => return (out, truncated(i)),
                    Ok(Some(v)) => v,
                };
                if i == 0 {
                    t = (v >> 1) as i64 ^ -((v & 1) as i64);
                    match r.bits(64) {
                        Some(bits) => value = XorValue::starting_at(f64::from_bits(bits)),
                        None => return (out, truncated(i)),
                    }
                } else {
                    let Ok(d) = i64::try_from(v) else {
                        return (out, Some(XorError::TimestampOverflow(i)));
                    };
                    delta = d;
                }
            } else {
                let ones = match r.ones(4) {
                    Some(n) => n,
                    None => return (out, truncated(i)),
                };
                let dod = match ones {
                    0 => Some(0),
                    1..=3 => {
                        let width = DOD_WIDTHS[ones as usize - 1];
                        r.bits(width).map(|raw| sign_extend(raw, width))
                    }
                    _ => r.bits(64).map(|raw| raw as i64),
                };
                let Some(dod) = dod else {
                    return (out, truncated(i));
                };
                let Some(d) = delta.checked_add(dod) else {
                    return (out, Some(XorError::TimestampOverflow(i)));
                };
                delta = d;
            }
            if i > 0 {
                let Some(next) = t.checked_add(delta) else {
                    return (out, Some(XorError::TimestampOverflow(i)));
                };
                t = next;
                if value.read(&mut r).is_none() {
                    return (out, truncated(i));
                }
            }
            out.push(FPoint {
                t,
                v: value.value(),
            });
        }
        (out, None)
    }

    /// Compares [`decode_xor_into`] with [`reference_decode`] on `data`.
    fn agrees_with_reference(data: &[u8]) -> Result<(), TestCaseError> {
        let (want, want_err) = reference_decode(data);
        let mut got = Vec::new();
        let got_err = decode_xor_into(data, &mut got).err();
        prop_assert_eq!(got_err, want_err);
        prop_assert!(same(&got, &want), "{} vs {} samples", got.len(), want.len());
        Ok(())
    }

    proptest! {
        #[test]
        fn any_bytes_decode_as_the_reference_decoder_does(
            bytes in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            agrees_with_reference(&bytes)?;
        }

        #[test]
        fn damaged_chunks_decode_as_the_reference_decoder_does(
            steps in prop::collection::vec((awkward_step(), awkward_value()), 1..200),
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            // A real chunk with a few bytes overwritten and its end cut
            // off: errors deep inside a stream, not only at its start.
            let p = series(1_700_000_000_000, &steps);
            let mut enc = encode_xor(&p).unwrap();
            for (at, byte) in damage {
                let at = at.index(enc.len());
                enc[at] ^= byte;
            }
            agrees_with_reference(&enc)?;
            let keep = cut.index(enc.len() + 1);
            agrees_with_reference(&enc[..keep])?;
        }

        #[test]
        fn arbitrary_series_round_trip(
            start in -(1i64 << 50)..(1i64 << 50),
            steps in prop::collection::vec((awkward_step(), awkward_value()), 0..300),
        ) {
            let p = series(start, &steps);
            let enc = encode_xor(&p).unwrap();
            prop_assert!(same(&decode_xor(&enc).unwrap(), &p));
            // Decoding appends, after what is already there.
            let mut into = vec![FPoint { t: 0, v: 0.0 }];
            decode_xor_into(&enc, &mut into).unwrap();
            prop_assert!(same(&into[1..], &p));
        }
    }
}
