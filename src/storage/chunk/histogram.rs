//! Native-histogram chunks of the Prometheus TSDB: the integer encoding
//! (`HISTOGRAM`) and the float encoding (`FLOAT_HISTOGRAM`).
//!
//! Both start with a big-endian `u16` sample count and a flag byte whose two
//! top bits tell whether the chunk was cut because of a counter reset, is
//! known not to be, holds gauge histograms, or nothing is known. The bit
//! stream then holds the layout, shared by every sample of the chunk: the
//! zero threshold (one byte for 0 and powers of two, else 255 and the 64
//! bits), the schema, the positive and negative spans, and for custom-bucket
//! schemas the bounds. Then the samples:
//!
//! | field             | first sample | later samples (integer) | later samples (float) |
//! |-------------------|--------------|-------------------------|-----------------------|
//! | timestamp         | varbit       | delta of delta          | delta of delta        |
//! | count, zero count | varbit / raw | delta of delta          | XOR                   |
//! | sum               | raw 64 bits  | XOR                     | XOR                   |
//! | each bucket       | varbit / raw | delta of delta          | XOR                   |
//!
//! Integer buckets are stored as differences between neighbouring buckets.
//! A stale marker (a sum that is the stale NaN) has no bucket fields.
//! "Varbit" numbers have a unary prefix choosing 3, 6, 9, 12, 18, 25 or 56
//! bits, or a full 64.

use std::sync::Arc;

use super::bits::{BitReader, BitWriter};
use super::xor::{XorValue, fits_signed, sign_extend};
use crate::model::{BucketSpan, CounterResetHint, FloatHistogram, HPoint, is_stale_nan, stale_nan};

/// The custom-buckets schema number.
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// Widths of varbit numbers by the number of `1` bits in their prefix.
const VARBIT_WIDTHS: [u32; 7] = [3, 6, 9, 12, 18, 25, 56];

/// Values (spans, custom bounds and bucket counts, 8 bytes each) the
/// histograms decoded from one chunk may hold together, whatever the chunk's
/// size: 4 Mi values, 32 MiB.
pub const DECODE_BUDGET_BASE: usize = 1 << 22;

/// Values the decoded histograms may hold per byte of chunk, on top of
/// [`DECODE_BUDGET_BASE`]. Every bucket of every sample takes at least one
/// bit of the chunk, so real chunks stay far below 16 values (two per
/// bucket: the count and at most one span) per byte; the layout, though, is
/// written once and repeated in every decoded sample, so without this bound
/// a 40 KiB chunk (20,000 custom bounds or empty spans, 65,535 samples of 4
/// bits) would decode to 10 GiB.
pub const DECODE_BUDGET_PER_BYTE: usize = 16;

/// The most values the histograms decoded from a chunk of `len` bytes may hold.
pub fn decode_budget(len: usize) -> usize {
    DECODE_BUDGET_BASE.saturating_add(len.saturating_mul(DECODE_BUDGET_PER_BYTE))
}

/// Why a histogram chunk could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramChunkError {
    /// The chunk is shorter than its three-byte header.
    #[error("histogram chunk of {0} bytes has no header")]
    NoHeader(usize),
    /// The bit stream ended before the announced number of samples.
    #[error("histogram chunk truncated: {decoded} of {expected} samples decoded")]
    Truncated {
        /// Samples decoded before the data ran out.
        decoded: usize,
        /// Samples the header announced.
        expected: usize,
    },
    /// The layout names a schema this crate does not know.
    #[error("histogram chunk has unsupported schema {0}")]
    UnknownSchema(i64),
    /// The layout announces more buckets or spans than the chunk could hold.
    #[error("histogram chunk layout is corrupt: {0}")]
    BadLayout(&'static str),
    /// A timestamp overflowed `i64`.
    #[error("histogram chunk timestamp overflows in sample {0}")]
    TimestampOverflow(usize),
    /// The encoder was given more samples than a chunk can count.
    #[error("a histogram chunk holds at most 65535 samples, got {0}")]
    TooManySamples(usize),
    /// The encoder was given histograms with different layouts.
    #[error("sample {0} has a different bucket layout than the first sample of the chunk")]
    LayoutChanged(usize),
    /// The integer encoder was given counts that are not whole numbers.
    #[error("sample {0} has counts that are not non-negative whole numbers")]
    NotInteger(usize),
    /// The decoded histograms would hold more values (spans, custom bounds,
    /// buckets) than [`decode_budget`] allows for the chunk's size: the
    /// chunk repeats a large layout in many samples.
    #[error(
        "histogram chunk of {len} bytes would decode to more than {limit} values \
         (spans, bounds and buckets; {per_sample} per sample, over the limit at sample {sample})"
    )]
    TooLarge {
        /// The chunk's size in bytes.
        len: usize,
        /// The budget for that size.
        limit: usize,
        /// The sample that went over it.
        sample: usize,
        /// Spans, custom bounds and buckets of one decoded sample.
        per_sample: usize,
    },
}

// ---------------------------------------------------------------- varbit --

fn read_varbit_raw(r: &mut BitReader<'_>) -> Option<(u64, u32)> {
    match r.ones(8)? {
        0 => Some((0, 0)),
        8 => Some((r.bits(64)?, 64)),
        ones => {
            let width = VARBIT_WIDTHS[ones as usize - 1];
            Some((r.bits(width)?, width))
        }
    }
}

fn read_varbit_int(r: &mut BitReader<'_>) -> Option<i64> {
    Some(match read_varbit_raw(r)? {
        (raw, 64) => raw as i64,
        (0, _) => 0,
        (raw, width) => sign_extend(raw, width),
    })
}

fn read_varbit_uint(r: &mut BitReader<'_>) -> Option<u64> {
    read_varbit_raw(r).map(|(raw, _)| raw)
}

fn write_varbit_prefix(w: &mut BitWriter, ones: u32) {
    if ones == 8 {
        w.bits(0xff, 8);
    } else {
        w.bits(((1u64 << ones) - 1) << 1, ones + 1);
    }
}

fn write_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.bit(false);
        return;
    }
    for (i, &width) in VARBIT_WIDTHS.iter().enumerate() {
        if fits_signed(v, width) {
            write_varbit_prefix(w, i as u32 + 1);
            w.bits(v as u64 & ((1u64 << width) - 1), width);
            return;
        }
    }
    write_varbit_prefix(w, 8);
    w.bits(v as u64, 64);
}

fn write_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.bit(false);
        return;
    }
    for (i, &width) in VARBIT_WIDTHS.iter().enumerate() {
        if v >> width == 0 {
            write_varbit_prefix(w, i as u32 + 1);
            w.bits(v, width);
            return;
        }
    }
    write_varbit_prefix(w, 8);
    w.bits(v, 64);
}

// ---------------------------------------------------------------- layout --

/// What every sample of a chunk shares.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    schema: i32,
    zero_threshold: f64,
    positive_spans: Vec<BucketSpan>,
    negative_spans: Vec<BucketSpan>,
    custom_values: Vec<f64>,
}

impl Layout {
    fn of(h: &FloatHistogram) -> Self {
        Layout {
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            positive_spans: h.positive_spans.clone(),
            negative_spans: h.negative_spans.clone(),
            custom_values: if h.schema == CUSTOM_BUCKETS_SCHEMA {
                h.custom_values.clone()
            } else {
                Vec::new()
            },
        }
    }

    fn matches(&self, h: &FloatHistogram) -> bool {
        self.schema == h.schema
            && self.zero_threshold.to_bits() == h.zero_threshold.to_bits()
            && self.positive_spans == h.positive_spans
            && self.negative_spans == h.negative_spans
            && (self.schema != CUSTOM_BUCKETS_SCHEMA || self.custom_values == h.custom_values)
    }

    fn bucket_counts(&self) -> (usize, usize) {
        let count = |s: &[BucketSpan]| {
            s.iter()
                .fold(0usize, |n, s| n.saturating_add(s.length as usize))
        };
        (count(&self.positive_spans), count(&self.negative_spans))
    }

    /// Spans, custom bounds and buckets one decoded (non-stale) sample holds.
    fn values_per_sample(&self) -> usize {
        let (np, nn) = self.bucket_counts();
        [
            self.positive_spans.len(),
            self.negative_spans.len(),
            self.custom_values.len(),
            np,
            nn,
        ]
        .into_iter()
        .fold(0usize, usize::saturating_add)
    }

    fn read(r: &mut BitReader<'_>) -> Result<Option<Self>, HistogramChunkError> {
        let Some(zero_threshold) = read_zero_threshold(r) else {
            return Ok(None);
        };
        let Some(schema) = read_varbit_int(r) else {
            return Ok(None);
        };
        if !(-4..=8).contains(&schema) && schema != i64::from(CUSTOM_BUCKETS_SCHEMA) {
            return Err(HistogramChunkError::UnknownSchema(schema));
        }
        let schema = schema as i32;
        let Some(positive_spans) = read_spans(r)? else {
            return Ok(None);
        };
        let Some(negative_spans) = read_spans(r)? else {
            return Ok(None);
        };
        let mut custom_values = Vec::new();
        if schema == CUSTOM_BUCKETS_SCHEMA {
            let Some(n) = read_varbit_uint(r) else {
                return Ok(None);
            };
            // Each bound takes at least one bit.
            if n > r.remaining() as u64 {
                return Err(HistogramChunkError::BadLayout("too many custom bounds"));
            }
            for _ in 0..n {
                let Some(bound) = read_custom_bound(r) else {
                    return Ok(None);
                };
                custom_values.push(bound);
            }
        }
        Ok(Some(Layout {
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            custom_values,
        }))
    }

    fn write(&self, w: &mut BitWriter) {
        write_zero_threshold(w, self.zero_threshold);
        write_varbit_int(w, i64::from(self.schema));
        for spans in [&self.positive_spans, &self.negative_spans] {
            write_varbit_uint(w, spans.len() as u64);
            for s in spans {
                write_varbit_uint(w, u64::from(s.length));
                write_varbit_int(w, i64::from(s.offset));
            }
        }
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            write_varbit_uint(w, self.custom_values.len() as u64);
            for &b in &self.custom_values {
                write_custom_bound(w, b);
            }
        }
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Result<Option<Vec<BucketSpan>>, HistogramChunkError> {
    let Some(n) = read_varbit_uint(r) else {
        return Ok(None);
    };
    // Each span takes at least two bits.
    if n > r.remaining() as u64 / 2 {
        return Err(HistogramChunkError::BadLayout("too many spans"));
    }
    let mut spans = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (Some(length), Some(offset)) = (read_varbit_uint(r), read_varbit_int(r)) else {
            return Ok(None);
        };
        let (Ok(length), Ok(offset)) = (u32::try_from(length), i32::try_from(offset)) else {
            return Err(HistogramChunkError::BadLayout("span out of range"));
        };
        spans.push(BucketSpan { offset, length });
    }
    Ok(Some(spans))
}

/// 0 is one zero byte; a power of two `2^e` with `-243 <= e <= 10` is the
/// byte `e + 244`; anything else is the byte 255 and the 64 bits.
fn read_zero_threshold(r: &mut BitReader<'_>) -> Option<f64> {
    match r.byte()? {
        0 => Some(0.0),
        255 => Some(f64::from_bits(r.bits(64)?)),
        // 2^(b - 244), built from its exponent bits (b - 244 + 1023 > 0).
        b => Some(f64::from_bits((u64::from(b) + 779) << 52)),
    }
}

fn write_zero_threshold(w: &mut BitWriter, threshold: f64) {
    if threshold == 0.0 {
        w.bits(0, 8);
        return;
    }
    let bits = threshold.to_bits();
    let mantissa = bits & ((1u64 << 52) - 1);
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let exp = biased - 1023;
    if threshold > 0.0 && mantissa == 0 && biased != 0 && (-243..=10).contains(&exp) {
        w.bits((exp + 244) as u64, 8);
    } else {
        w.bits(255, 8);
        w.bits(bits, 64);
    }
}

/// A bound that is a multiple of 0.001 in `0..=33554.43` is the varbit of
/// `bound * 1000 + 1`; any other is a varbit 0 and the 64 bits.
fn read_custom_bound(r: &mut BitReader<'_>) -> Option<f64> {
    match read_varbit_uint(r)? {
        0 => Some(f64::from_bits(r.bits(64)?)),
        n => Some((n - 1) as f64 / 1000.0),
    }
}

fn write_custom_bound(w: &mut BitWriter, bound: f64) {
    let scaled = bound * 1000.0;
    let whole = (scaled.round() / 1000.0) == bound;
    if (0.0..=33_554_430.0).contains(&scaled) && whole {
        write_varbit_uint(w, scaled.round() as u64 + 1);
    } else {
        w.bit(false);
        w.bits(bound.to_bits(), 64);
    }
}

// ---------------------------------------------------------------- header --

fn header_hint(flags: u8) -> CounterResetHint {
    match flags >> 6 {
        0b10 => CounterResetHint::CounterReset,
        0b01 => CounterResetHint::NotCounterReset,
        0b11 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

fn header_flags(hint: CounterResetHint) -> u8 {
    match hint {
        CounterResetHint::CounterReset => 0b1000_0000,
        CounterResetHint::NotCounterReset => 0b0100_0000,
        CounterResetHint::Gauge => 0b1100_0000,
        CounterResetHint::Unknown => 0,
    }
}

/// The hint a sample gets from its position: gauge chunks hold gauges; a
/// counter chunk has no reset after its first sample; the first sample is a
/// reset only if the chunk says so (a previous chunk may be gone, so "not a
/// reset" is not trusted for it).
fn sample_hint(header: CounterResetHint, index: usize) -> CounterResetHint {
    match header {
        CounterResetHint::Gauge => CounterResetHint::Gauge,
        _ if index > 0 => CounterResetHint::NotCounterReset,
        CounterResetHint::CounterReset => CounterResetHint::CounterReset,
        _ => CounterResetHint::Unknown,
    }
}

struct Header<'a> {
    expected: usize,
    hint: CounterResetHint,
    stream: BitReader<'a>,
}

/// Counts the values decoded histograms hold against [`decode_budget`].
struct Budget {
    len: usize,
    limit: usize,
    used: usize,
    per_sample: usize,
}

impl Budget {
    fn new(data: &[u8], layout: &Layout) -> Self {
        Budget {
            len: data.len(),
            limit: decode_budget(data.len()),
            used: 0,
            per_sample: layout.values_per_sample(),
        }
    }

    /// Charges one non-stale sample.
    fn charge(&mut self, sample: usize) -> Result<(), HistogramChunkError> {
        self.used = self.used.saturating_add(self.per_sample);
        if self.used > self.limit {
            return Err(HistogramChunkError::TooLarge {
                len: self.len,
                limit: self.limit,
                sample,
                per_sample: self.per_sample,
            });
        }
        Ok(())
    }
}

/// Room for the samples announced, but no more than the data can hold
/// (every sample after the first takes at least four bits).
fn capacity(expected: usize, r: &BitReader<'_>) -> usize {
    expected.min(1 + r.remaining() / 4)
}

fn read_header(data: &[u8]) -> Result<Header<'_>, HistogramChunkError> {
    let [hi, lo, flags, rest @ ..] = data else {
        return Err(HistogramChunkError::NoHeader(data.len()));
    };
    Ok(Header {
        expected: usize::from(u16::from_be_bytes([*hi, *lo])),
        hint: header_hint(*flags),
        stream: BitReader::new(rest),
    })
}

fn stale_histogram(hint: CounterResetHint) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: hint,
        sum: stale_nan(),
        ..Default::default()
    }
}

fn histogram_of(
    layout: &Layout,
    hint: CounterResetHint,
    (count, zero_count, sum): (f64, f64, f64),
    positive_buckets: Vec<f64>,
    negative_buckets: Vec<f64>,
) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: hint,
        schema: layout.schema,
        zero_threshold: layout.zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans: layout.positive_spans.clone(),
        positive_buckets,
        negative_spans: layout.negative_spans.clone(),
        negative_buckets,
        custom_values: layout.custom_values.clone(),
    }
}

/// Reads the layout and checks the chunk can hold its buckets.
fn read_layout(
    r: &mut BitReader<'_>,
    expected: usize,
) -> Result<(Layout, usize, usize), HistogramChunkError> {
    let truncated = HistogramChunkError::Truncated {
        decoded: 0,
        expected,
    };
    let layout = Layout::read(r)?.ok_or(truncated)?;
    let (np, nn) = layout.bucket_counts();
    // Every bucket of the first sample takes at least one bit.
    if np.saturating_add(nn) > r.remaining() {
        return Err(HistogramChunkError::BadLayout("more buckets than data"));
    }
    Ok((layout, np, nn))
}

// --------------------------------------------------------------- integer --

/// Running state of one integer field coded as a delta of deltas.
#[derive(Clone, Copy, Default)]
struct DodInt {
    value: i64,
    delta: i64,
}

impl DodInt {
    fn read(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        let dod = read_varbit_int(r)?;
        self.delta = self.delta.wrapping_add(dod);
        self.value = self.value.wrapping_add(self.delta);
        Some(())
    }

    fn write(&mut self, w: &mut BitWriter, value: i64) {
        let delta = value.wrapping_sub(self.value);
        write_varbit_int(w, delta.wrapping_sub(self.delta));
        self.delta = delta;
        self.value = value;
    }
}

/// Running sums of bucket differences, as absolute counts.
fn absolute(diffs: &[DodInt]) -> Vec<f64> {
    let mut running = 0i64;
    diffs
        .iter()
        .map(|d| {
            running = running.wrapping_add(d.value);
            running as f64
        })
        .collect()
}

/// The values of one sample of an integer chunk: counts as deltas of
/// deltas (buckets as differences to the previous bucket), the sum as XOR.
struct IntFields {
    count: DodInt,
    zero: DodInt,
    sum: XorValue,
    pos: Vec<DodInt>,
    neg: Vec<DodInt>,
}

impl SampleFields for IntFields {
    fn new(positive: usize, negative: usize) -> Self {
        IntFields {
            count: DodInt::default(),
            zero: DodInt::default(),
            sum: XorValue::default(),
            pos: vec![DodInt::default(); positive],
            neg: vec![DodInt::default(); negative],
        }
    }

    fn read_first(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        self.count.value = read_varbit_uint(r)? as i64;
        self.zero.value = read_varbit_uint(r)? as i64;
        self.sum = XorValue::starting_at(f64::from_bits(r.bits(64)?));
        for b in self.pos.iter_mut().chain(self.neg.iter_mut()) {
            b.value = read_varbit_int(r)?;
        }
        Some(())
    }

    fn read_scalars(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        self.count.read(r)?;
        self.zero.read(r)?;
        self.sum.read(r)
    }

    fn read_buckets(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        for b in self.pos.iter_mut().chain(self.neg.iter_mut()) {
            b.read(r)?;
        }
        Some(())
    }

    fn sum(&self) -> f64 {
        self.sum.value()
    }

    fn histogram(&self, layout: &Layout, hint: CounterResetHint) -> FloatHistogram {
        histogram_of(
            layout,
            hint,
            (
                self.count.value as u64 as f64,
                self.zero.value as u64 as f64,
                self.sum.value(),
            ),
            absolute(&self.pos),
            absolute(&self.neg),
        )
    }
}

/// Decodes an integer native-histogram chunk (encoding `HISTOGRAM`).
pub fn decode_histogram_chunk(data: &[u8]) -> Result<Vec<HPoint>, HistogramChunkError> {
    decode_chunk::<IntFields>(data)
}

// ----------------------------------------------------------------- float --

/// The values of one sample of a float chunk, each XOR-coded.
struct FloatFields {
    count: XorValue,
    zero: XorValue,
    sum: XorValue,
    pos: Vec<XorValue>,
    neg: Vec<XorValue>,
}

impl SampleFields for FloatFields {
    fn new(positive: usize, negative: usize) -> Self {
        FloatFields {
            count: XorValue::default(),
            zero: XorValue::default(),
            sum: XorValue::default(),
            pos: vec![XorValue::default(); positive],
            neg: vec![XorValue::default(); negative],
        }
    }

    fn read_first(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        for field in [&mut self.count, &mut self.zero, &mut self.sum]
            .into_iter()
            .chain(self.pos.iter_mut())
            .chain(self.neg.iter_mut())
        {
            *field = XorValue::starting_at(f64::from_bits(r.bits(64)?));
        }
        Some(())
    }

    fn read_scalars(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        for field in [&mut self.count, &mut self.zero, &mut self.sum] {
            field.read(r)?;
        }
        Some(())
    }

    fn read_buckets(&mut self, r: &mut BitReader<'_>) -> Option<()> {
        for b in self.pos.iter_mut().chain(self.neg.iter_mut()) {
            b.read(r)?;
        }
        Some(())
    }

    fn sum(&self) -> f64 {
        self.sum.value()
    }

    fn histogram(&self, layout: &Layout, hint: CounterResetHint) -> FloatHistogram {
        histogram_of(
            layout,
            hint,
            (self.count.value(), self.zero.value(), self.sum.value()),
            self.pos.iter().map(XorValue::value).collect(),
            self.neg.iter().map(XorValue::value).collect(),
        )
    }
}

/// Decodes a float native-histogram chunk (encoding `FLOAT_HISTOGRAM`).
pub fn decode_float_histogram_chunk(data: &[u8]) -> Result<Vec<HPoint>, HistogramChunkError> {
    decode_chunk::<FloatFields>(data)
}

// ------------------------------------------------------------ both kinds --

/// What the integer and float encodings code differently: the values of
/// one sample after its timestamp.
trait SampleFields {
    /// State for a layout with these numbers of positive and negative buckets.
    fn new(positive: usize, negative: usize) -> Self;
    /// Reads the first sample's values (written in full).
    fn read_first(&mut self, r: &mut BitReader<'_>) -> Option<()>;
    /// Reads a later sample's count, zero count and sum.
    fn read_scalars(&mut self, r: &mut BitReader<'_>) -> Option<()>;
    /// Reads a later sample's buckets (absent after a stale marker's sum).
    fn read_buckets(&mut self, r: &mut BitReader<'_>) -> Option<()>;
    /// The current sum (a stale NaN marks a stale sample).
    fn sum(&self) -> f64;
    /// The current sample as a histogram of `layout`.
    fn histogram(&self, layout: &Layout, hint: CounterResetHint) -> FloatHistogram;
}

/// Decodes a chunk: header, layout, then each sample's timestamp (delta of
/// deltas) and values, within the decode budget.
fn decode_chunk<F: SampleFields>(data: &[u8]) -> Result<Vec<HPoint>, HistogramChunkError> {
    let Header {
        expected,
        hint,
        stream: mut r,
    } = read_header(data)?;
    let mut out = Vec::new();
    if expected == 0 {
        return Ok(out);
    }
    let (layout, np, nn) = read_layout(&mut r, expected)?;
    let mut t = DodInt::default();
    let mut fields = F::new(np, nn);
    let mut budget = Budget::new(data, &layout);
    out.reserve(capacity(expected, &r));
    for i in 0..expected {
        let truncated = HistogramChunkError::Truncated {
            decoded: i,
            expected,
        };
        if i == 0 {
            let first = (|| {
                t.value = read_varbit_int(&mut r)?;
                fields.read_first(&mut r)
            })();
            first.ok_or(truncated)?;
        } else {
            let before = t.value;
            let next = (|| {
                t.read(&mut r)?;
                fields.read_scalars(&mut r)?;
                if !is_stale_nan(fields.sum()) {
                    fields.read_buckets(&mut r)?;
                }
                Some(())
            })();
            next.ok_or(truncated)?;
            if before.checked_add(t.delta) != Some(t.value) {
                return Err(HistogramChunkError::TimestampOverflow(i));
            }
        }
        let hint = sample_hint(hint, i);
        let h = if is_stale_nan(fields.sum()) {
            stale_histogram(hint)
        } else {
            budget.charge(i)?;
            fields.histogram(&layout, hint)
        };
        out.push(HPoint {
            t: t.value,
            h: Arc::new(h),
        });
    }
    Ok(out)
}

// -------------------------------------------------------------- encoders --

fn start_chunk(
    points: &[HPoint],
    header: CounterResetHint,
) -> Result<(BitWriter, Option<Layout>), HistogramChunkError> {
    let count = u16::try_from(points.len())
        .map_err(|_| HistogramChunkError::TooManySamples(points.len()))?;
    let [hi, lo] = count.to_be_bytes();
    let mut w = BitWriter::with_header(&[hi, lo, header_flags(header)]);
    let layout = points.first().map(|p| Layout::of(&p.h));
    if let Some(layout) = &layout {
        layout.write(&mut w);
        for (i, p) in points.iter().enumerate() {
            if !is_stale_nan(p.h.sum) && !layout.matches(&p.h) {
                return Err(HistogramChunkError::LayoutChanged(i));
            }
        }
    }
    Ok((w, layout))
}

/// Bucket differences (each bucket minus the one before it) of whole counts.
fn diffs(buckets: &[f64]) -> Vec<i64> {
    let mut prev = 0i64;
    buckets
        .iter()
        .map(|&b| {
            let d = (b as i64).wrapping_sub(prev);
            prev = b as i64;
            d
        })
        .collect()
}

fn is_whole(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v < 9_007_199_254_740_992.0
}

/// Encodes histograms with whole counts as an integer histogram chunk
/// (encoding `HISTOGRAM`) whose header carries `header`. Every sample but
/// stale markers must have the first sample's layout; timestamps are
/// written as given.
pub fn encode_histogram_chunk(
    points: &[HPoint],
    header: CounterResetHint,
) -> Result<Vec<u8>, HistogramChunkError> {
    let (mut w, layout) = start_chunk(points, header)?;
    let Some(layout) = layout else {
        return Ok(w.into_bytes());
    };
    let (np, nn) = layout.bucket_counts();
    let mut t = DodInt::default();
    let (mut count, mut zero) = (DodInt::default(), DodInt::default());
    let mut sum = XorValue::default();
    let mut buckets = vec![DodInt::default(); np + nn];
    for (i, p) in points.iter().enumerate() {
        let h = &p.h;
        let stale = is_stale_nan(h.sum);
        let whole = is_whole(h.count)
            && is_whole(h.zero_count)
            && h.positive_buckets
                .iter()
                .chain(&h.negative_buckets)
                .all(|&b| is_whole(b));
        if !stale && !whole {
            return Err(HistogramChunkError::NotInteger(i));
        }
        let values: Vec<i64> = if stale {
            Vec::new()
        } else {
            let mut v = diffs(&h.positive_buckets);
            v.extend(diffs(&h.negative_buckets));
            v
        };
        if i == 0 {
            t.value = p.t;
            write_varbit_int(&mut w, p.t);
            count.value = h.count as i64;
            zero.value = h.zero_count as i64;
            write_varbit_uint(&mut w, h.count as u64);
            write_varbit_uint(&mut w, h.zero_count as u64);
            w.bits(h.sum.to_bits(), 64);
            sum = XorValue::starting_at(h.sum);
            let values = if stale { vec![0; np + nn] } else { values };
            for (b, v) in buckets.iter_mut().zip(values) {
                b.value = v;
                write_varbit_int(&mut w, v);
            }
        } else {
            t.write(&mut w, p.t);
            count.write(&mut w, h.count as i64);
            zero.write(&mut w, h.zero_count as i64);
            sum.write(&mut w, h.sum);
            if !stale {
                for (b, v) in buckets.iter_mut().zip(values) {
                    b.write(&mut w, v);
                }
            }
        }
    }
    Ok(w.into_bytes())
}

/// Encodes histograms as a float histogram chunk (encoding
/// `FLOAT_HISTOGRAM`) whose header carries `header`. Every sample but stale
/// markers must have the first sample's layout.
pub fn encode_float_histogram_chunk(
    points: &[HPoint],
    header: CounterResetHint,
) -> Result<Vec<u8>, HistogramChunkError> {
    let (mut w, layout) = start_chunk(points, header)?;
    let Some(layout) = layout else {
        return Ok(w.into_bytes());
    };
    let (np, nn) = layout.bucket_counts();
    let mut t = DodInt::default();
    let mut fields = vec![XorValue::default(); 3 + np + nn];
    for (i, p) in points.iter().enumerate() {
        let h = &p.h;
        let stale = is_stale_nan(h.sum);
        let mut values = vec![h.count, h.zero_count, h.sum];
        if i == 0 && stale {
            values.resize(3 + np + nn, 0.0);
        } else if !stale {
            values.extend(&h.positive_buckets);
            values.extend(&h.negative_buckets);
        }
        if i == 0 {
            t.value = p.t;
            write_varbit_int(&mut w, p.t);
            for (f, v) in fields.iter_mut().zip(values) {
                w.bits(v.to_bits(), 64);
                *f = XorValue::starting_at(v);
            }
        } else {
            t.write(&mut w, p.t);
            for (f, v) in fields.iter_mut().zip(values) {
                f.write(&mut w, v);
            }
        }
    }
    Ok(w.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    fn hist(count_base: f64, layout: &Layout, scale: f64) -> FloatHistogram {
        let (np, nn) = layout.bucket_counts();
        let pos: Vec<f64> = (0..np).map(|i| (i as f64 + 1.0) * scale).collect();
        let neg: Vec<f64> = (0..nn).map(|i| (i as f64 * 2.0) * scale).collect();
        let zero = 3.0 * scale;
        FloatHistogram {
            count: count_base + pos.iter().sum::<f64>() + neg.iter().sum::<f64>() + zero,
            zero_count: zero,
            sum: 12.5 * scale,
            schema: layout.schema,
            zero_threshold: layout.zero_threshold,
            positive_spans: layout.positive_spans.clone(),
            positive_buckets: pos,
            negative_spans: layout.negative_spans.clone(),
            negative_buckets: neg,
            custom_values: layout.custom_values.clone(),
            ..Default::default()
        }
    }

    fn exponential() -> Layout {
        Layout {
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            positive_spans: vec![span(-2, 3), span(4, 2)],
            negative_spans: vec![span(1, 2)],
            custom_values: vec![],
        }
    }

    fn custom() -> Layout {
        Layout {
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            positive_spans: vec![span(0, 4)],
            negative_spans: vec![],
            custom_values: vec![0.005, 0.1, 2.5, 1e9],
        }
    }

    /// Same samples apart from the hint, which a chunk derives from its header.
    fn same(a: &[HPoint], b: &[HPoint]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                let mut hx = (*x.h).clone();
                hx.counter_reset_hint = y.h.counter_reset_hint;
                x.t == y.t && (hx == *y.h || (is_stale_nan(hx.sum) && is_stale_nan(y.h.sum)))
            })
    }

    fn series(layout: &Layout, times: &[i64]) -> Vec<HPoint> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| HPoint {
                t,
                h: Arc::new(hist(i as f64, layout, (i + 1) as f64)),
            })
            .collect()
    }

    #[test]
    fn integer_chunk_round_trips_with_hints_from_the_header() {
        let p = series(&exponential(), &[-5_000, 10_000, 25_000, 40_000, 40_001]);
        let enc = encode_histogram_chunk(&p, CounterResetHint::CounterReset).unwrap();
        let got = decode_histogram_chunk(&enc).unwrap();
        assert!(same(&got, &p), "{got:?}");
        let hints: Vec<_> = got.iter().map(|p| p.h.counter_reset_hint).collect();
        assert_eq!(hints[0], CounterResetHint::CounterReset);
        assert!(
            hints[1..]
                .iter()
                .all(|h| *h == CounterResetHint::NotCounterReset)
        );

        let gauge = encode_histogram_chunk(&p, CounterResetHint::Gauge).unwrap();
        let got = decode_histogram_chunk(&gauge).unwrap();
        assert!(
            got.iter()
                .all(|p| p.h.counter_reset_hint == CounterResetHint::Gauge)
        );
        let unknown = encode_histogram_chunk(&p, CounterResetHint::NotCounterReset).unwrap();
        let got = decode_histogram_chunk(&unknown).unwrap();
        assert_eq!(got[0].h.counter_reset_hint, CounterResetHint::Unknown);
    }

    #[test]
    fn float_chunk_round_trips_custom_buckets_and_odd_thresholds() {
        let mut layout = custom();
        let p = series(&layout, &[0, 15_000, 30_000]);
        let enc = encode_float_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
        assert!(same(&decode_float_histogram_chunk(&enc).unwrap(), &p));
        // A custom bound that is not a multiple of 0.001, and a negative one.
        layout.custom_values = vec![-1.0, 0.0001, 7.0];
        layout.positive_spans = vec![span(0, 2), span(1, 1)];
        let p = series(&layout, &[0, 15_000]);
        let enc = encode_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
        assert!(same(&decode_histogram_chunk(&enc).unwrap(), &p));
        for threshold in [0.0, 1e-300, 0.3, 1024.0, 2048.0, 2f64.powi(-243)] {
            let mut layout = exponential();
            layout.zero_threshold = threshold;
            let p = series(&layout, &[1, 2, 3]);
            let enc = encode_float_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
            assert!(
                same(&decode_float_histogram_chunk(&enc).unwrap(), &p),
                "{threshold}"
            );
        }
    }

    #[test]
    fn stale_markers_have_no_buckets() {
        let mut p = series(&exponential(), &[0, 10, 20, 30]);
        p[1].h = Arc::new(stale_histogram(CounterResetHint::Unknown));
        p[2].h = Arc::new(stale_histogram(CounterResetHint::Unknown));
        for (enc, dec) in [
            (
                encode_histogram_chunk(&p, CounterResetHint::Unknown).unwrap(),
                decode_histogram_chunk as fn(&[u8]) -> _,
            ),
            (
                encode_float_histogram_chunk(&p, CounterResetHint::Unknown).unwrap(),
                decode_float_histogram_chunk,
            ),
        ] {
            let got = dec(&enc).unwrap();
            assert!(same(&got, &p));
            assert!(is_stale_nan(got[1].h.sum) && got[1].h.positive_buckets.is_empty());
        }
    }

    #[test]
    fn encoders_refuse_what_the_format_cannot_hold() {
        let mut p = series(&exponential(), &[0, 10]);
        let mut other = (*p[1].h).clone();
        other.schema = 2;
        p[1].h = Arc::new(other);
        assert_eq!(
            encode_float_histogram_chunk(&p, CounterResetHint::Unknown),
            Err(HistogramChunkError::LayoutChanged(1))
        );
        let mut p = series(&exponential(), &[0]);
        let mut fractional = (*p[0].h).clone();
        fractional.count = 1.5;
        p[0].h = Arc::new(fractional);
        assert_eq!(
            encode_histogram_chunk(&p, CounterResetHint::Unknown),
            Err(HistogramChunkError::NotInteger(0))
        );
    }

    #[test]
    fn corrupt_chunks_are_errors_never_panics() {
        assert_eq!(
            decode_histogram_chunk(&[0, 1]),
            Err(HistogramChunkError::NoHeader(2))
        );
        assert_eq!(decode_float_histogram_chunk(&[0, 0, 0]), Ok(vec![]));
        let p = series(&exponential(), &[0, 15_000, 30_000, 45_000]);
        let enc = encode_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
        for cut in 3..enc.len() {
            assert!(decode_histogram_chunk(&enc[..cut]).is_err(), "cut at {cut}");
        }
        // A layout announcing a huge span must not allocate it.
        let mut w = BitWriter::with_header(&[0, 1, 0]);
        write_zero_threshold(&mut w, 0.0);
        write_varbit_int(&mut w, 0);
        write_varbit_uint(&mut w, 1);
        write_varbit_uint(&mut w, u64::from(u32::MAX));
        write_varbit_int(&mut w, 0);
        write_varbit_uint(&mut w, 0);
        let bytes = w.into_bytes();
        assert!(matches!(
            decode_float_histogram_chunk(&bytes),
            Err(HistogramChunkError::BadLayout(_))
        ));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = decode_histogram_chunk(&bytes);
            let _ = decode_float_histogram_chunk(&bytes);
        }
    }

    /// A chunk announcing 65,535 samples whose layout has `bounds` custom
    /// bounds (or, without them, `bounds` empty spans), every sample after
    /// the first repeating the previous one in four bits.
    fn repeated_layout_chunk(bounds: u64, float: bool) -> Vec<u8> {
        let mut w = BitWriter::with_header(&[0xff, 0xff, 0]);
        write_zero_threshold(&mut w, 0.0);
        let custom = bounds % 2 == 0;
        write_varbit_int(&mut w, if custom { -53 } else { 0 });
        write_varbit_uint(&mut w, if custom { 0 } else { bounds });
        if !custom {
            for _ in 0..bounds {
                write_varbit_uint(&mut w, 0);
                write_varbit_int(&mut w, 0);
            }
        }
        write_varbit_uint(&mut w, 0);
        if custom {
            write_varbit_uint(&mut w, bounds);
            for _ in 0..bounds {
                write_varbit_uint(&mut w, 1); // the bound 0, in five bits
            }
        }
        write_varbit_int(&mut w, 0); // first timestamp
        if float {
            for v in [0.0f64, 0.0, 1.0] {
                w.bits(v.to_bits(), 64);
            }
        } else {
            write_varbit_uint(&mut w, 0);
            write_varbit_uint(&mut w, 0);
            w.bits(1.0f64.to_bits(), 64);
        }
        for _ in 1..65_535 {
            w.bits(0, 4);
        }
        w.into_bytes()
    }

    #[test]
    fn a_layout_repeated_in_every_sample_is_bounded_by_the_chunk_size() {
        // Found by the audit: ~45 KiB decoded to 65,535 histograms of 20,000
        // bounds each (10 GiB) before the decode budget.
        for bounds in [20_000, 20_001] {
            for float in [false, true] {
                let bytes = repeated_layout_chunk(bounds, float);
                assert!(bytes.len() < 50_000, "{}", bytes.len());
                let got = if float {
                    decode_float_histogram_chunk(&bytes)
                } else {
                    decode_histogram_chunk(&bytes)
                };
                let Err(HistogramChunkError::TooLarge {
                    len,
                    limit,
                    sample,
                    per_sample,
                }) = got
                else {
                    panic!("{bounds} {float}: {:?}", got.map(|p| p.len()));
                };
                assert_eq!((len, limit), (bytes.len(), decode_budget(bytes.len())));
                assert_eq!(per_sample as u64, bounds);
                assert!(sample * per_sample <= limit + per_sample);
            }
        }
        // The same layouts with few samples are fine.
        let err = decode_histogram_chunk(&repeated_layout_chunk(20_000, false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("would decode to more than"), "{err}");
        let mut small = repeated_layout_chunk(20_000, false);
        small[..2].copy_from_slice(&100u16.to_be_bytes());
        let got = decode_histogram_chunk(&small).unwrap();
        assert_eq!(got.len(), 100);
        assert_eq!(got[99].h.custom_values.len(), 20_000);
    }

    #[test]
    fn real_sized_chunks_are_within_the_budget() {
        // 120 samples of 4,000 buckets in 4 spans, and 8,000 custom bounds.
        let layout = Layout {
            schema: 0,
            zero_threshold: 0.0,
            positive_spans: vec![span(-3000, 1000), span(5, 1000), span(5, 1000)],
            negative_spans: vec![span(0, 1000)],
            custom_values: vec![],
        };
        let custom = Layout {
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            positive_spans: vec![span(0, 3), span(7000, 2)],
            negative_spans: vec![],
            custom_values: (0..8000).map(f64::from).collect(),
        };
        for layout in [layout, custom] {
            let times: Vec<i64> = (0..120).map(|i| i * 15_000).collect();
            // Constant histograms: every bucket costs one bit per sample.
            let p: Vec<HPoint> = times
                .iter()
                .map(|&t| HPoint {
                    t,
                    h: Arc::new(hist(0.0, &layout, 1.0)),
                })
                .collect();
            let ints = encode_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
            assert!(same(&decode_histogram_chunk(&ints).unwrap(), &p));
            let floats = encode_float_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
            assert!(same(&decode_float_histogram_chunk(&floats).unwrap(), &p));
        }
    }

    /// Values (spans, bounds, buckets) held by decoded histograms.
    fn decoded_values(points: &[HPoint]) -> usize {
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

    /// A chunk that starts with a plausible layout (so that decoding gets
    /// past it) and continues with arbitrary bytes.
    fn chunk_with_layout() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u16>(),
            any::<u8>(),
            any::<bool>(),
            prop::collection::vec((0u32..4, -3i32..3), 0..40),
            0u64..300,
            prop::collection::vec(any::<u8>(), 0..3000),
        )
            .prop_map(|(count, flags, custom, spans, bounds, tail)| {
                let mut w = BitWriter::with_header(&[(count >> 8) as u8, count as u8, flags]);
                write_zero_threshold(&mut w, 0.0);
                write_varbit_int(&mut w, if custom { -53 } else { 2 });
                write_varbit_uint(&mut w, spans.len() as u64);
                for &(length, offset) in &spans {
                    write_varbit_uint(&mut w, u64::from(length));
                    write_varbit_int(&mut w, i64::from(offset));
                }
                write_varbit_uint(&mut w, 0);
                if custom {
                    write_varbit_uint(&mut w, bounds);
                    for i in 0..bounds {
                        write_custom_bound(&mut w, i as f64 / 8.0);
                    }
                }
                let mut bytes = w.into_bytes();
                bytes.extend(tail);
                bytes
            })
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_never_panic_and_decode_within_the_budget(
            bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..3000), chunk_with_layout()],
        ) {
            for decode in [decode_histogram_chunk, decode_float_histogram_chunk] {
                if let Ok(points) = decode(&bytes) {
                    prop_assert!(decoded_values(&points) <= decode_budget(bytes.len()));
                    prop_assert!(points.len() <= 1 + bytes.len() * 2);
                }
            }
        }
    }

    #[test]
    fn varbit_numbers_round_trip_at_every_width_edge() {
        let mut ints = vec![0i64, i64::MIN, i64::MAX];
        let mut uints = vec![0u64, u64::MAX];
        for &w in &VARBIT_WIDTHS {
            let half = 1i64 << (w - 1);
            ints.extend([half, half + 1, -(half - 1), -half]);
            uints.extend([(1u64 << w) - 1, 1u64 << w]);
        }
        let mut w = BitWriter::default();
        ints.iter().for_each(|&v| write_varbit_int(&mut w, v));
        uints.iter().for_each(|&v| write_varbit_uint(&mut w, v));
        let bytes = w.into_bytes();
        let mut r = BitReader::new(&bytes);
        for &v in &ints {
            assert_eq!(read_varbit_int(&mut r), Some(v));
        }
        for &v in &uints {
            assert_eq!(read_varbit_uint(&mut r), Some(v));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_counter_series_round_trip(
            start in -(1i64 << 45)..(1i64 << 45),
            steps in prop::collection::vec((1i64..100_000, 0u32..50, any::<bool>()), 1..60),
            float in any::<bool>(),
        ) {
            let layout = exponential();
            let mut t = start;
            let mut p = Vec::new();
            let mut grow = 0.0;
            for (dt, inc, stale) in steps {
                grow += f64::from(inc);
                let h = if stale && !p.is_empty() {
                    stale_histogram(CounterResetHint::Unknown)
                } else {
                    hist(grow, &layout, 1.0 + grow)
                };
                p.push(HPoint { t, h: Arc::new(h) });
                t += dt;
            }
            let (enc, got) = if float {
                let enc = encode_float_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
                let got = decode_float_histogram_chunk(&enc).unwrap();
                (enc, got)
            } else {
                let enc = encode_histogram_chunk(&p, CounterResetHint::Unknown).unwrap();
                let got = decode_histogram_chunk(&enc).unwrap();
                (enc, got)
            };
            prop_assert!(!enc.is_empty());
            prop_assert!(same(&got, &p));
        }
    }
}
