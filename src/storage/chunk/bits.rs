//! Bit streams, most significant bit first, as the TSDB chunk encodings use.

/// Reads bits most-significant first from a byte slice, through a 64-bit
/// register refilled eight bytes at a time (a byte at a time near the end).
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next byte of `bytes` to load into `buf`.
    next: usize,
    /// Unread bits, left-aligned (the next bit is the top bit).
    buf: u64,
    /// Number of valid bits in `buf`.
    valid: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            next: 0,
            buf: 0,
            valid: 0,
        }
    }

    /// Loads whole bytes while they fit in the register (leaving 56 to 63
    /// bits in it): eight at a time while that many remain, then one at a
    /// time.
    #[inline(always)]
    fn refill(&mut self) {
        if self.valid >= 56 {
            return;
        }
        if self.bytes_ahead() >= 8 {
            self.refill_word();
            return;
        }
        while self.valid < 56 {
            let Some(&b) = self.bytes.get(self.next) else {
                return;
            };
            self.buf |= u64::from(b) << (56 - self.valid);
            self.valid += 8;
            self.next += 1;
        }
    }

    /// Whether more bits were taken than the data holds (only
    /// [`Self::refill_word`] reads past the end, as zeros).
    #[inline(always)]
    pub(crate) fn overran(&self) -> bool {
        self.next * 8 - self.valid as usize > self.bytes.len() * 8
    }

    /// Bits in the register.
    #[inline(always)]
    pub(crate) fn valid(&self) -> u32 {
        self.valid
    }

    /// Bytes not yet loaded into the register.
    #[inline(always)]
    pub(crate) fn bytes_ahead(&self) -> usize {
        self.bytes.len().saturating_sub(self.next)
    }

    /// Tops the register up to 56-63 bits with one eight-byte load. Past
    /// the end of the data it loads zeros, as if the data went on: a caller
    /// checks [`Self::overran`] before trusting what it read.
    #[inline(always)]
    pub(crate) fn refill_word(&mut self) {
        let word = match self.bytes.get(self.next..) {
            Some(ahead) => match ahead.first_chunk::<8>() {
                Some(w) => u64::from_be_bytes(*w),
                None => {
                    let mut w = [0u8; 8];
                    w[..ahead.len()].copy_from_slice(ahead);
                    u64::from_be_bytes(w)
                }
            },
            None => 0,
        };
        // Bits of a byte only partly taken land below `valid`: they are the
        // stream's next bits, which the next load writes again.
        self.buf |= word >> self.valid;
        self.next += ((63 - self.valid) / 8) as usize;
        self.valid |= 56;
    }

    /// Takes `n` (1..=56, at most [`Self::valid`]) bits from the register.
    #[inline(always)]
    pub(crate) fn take_fast(&mut self, n: u32) -> u64 {
        debug_assert!((1..=56).contains(&n) && n <= self.valid);
        let out = self.peek(n);
        self.skip(n);
        out
    }

    #[inline]
    pub(crate) fn bit(&mut self) -> Option<bool> {
        if self.valid == 0 {
            self.refill();
            if self.valid == 0 {
                return None;
            }
        }
        let bit = self.buf >> 63 == 1;
        self.buf <<= 1;
        self.valid -= 1;
        Some(bit)
    }

    /// Takes `n` (1..=56 after a refill, at most `valid`) bits from the register.
    #[inline]
    fn take(&mut self, n: u32) -> u64 {
        let out = self.buf >> (64 - n);
        self.buf = self.buf.checked_shl(n).unwrap_or(0);
        self.valid -= n;
        out
    }

    /// Reads `n` (at most 64) bits as an unsigned number; `None` past the end.
    #[inline(always)]
    pub(crate) fn bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n > self.valid {
            self.refill();
        }
        // The common case, 1..=63 bits in the register, without `take`'s
        // checked shift.
        if n.wrapping_sub(1) < self.valid.min(63) {
            let out = self.peek(n);
            self.skip(n);
            return Some(out);
        }
        self.bits_rare(n)
    }

    /// [`Self::bits`] for zero bits, all 64 bits, more than the register
    /// holds after a refill, or past the end.
    #[cold]
    fn bits_rare(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if n <= self.valid {
            return Some(self.take(n));
        }
        if n as usize > self.remaining() {
            return None;
        }
        // More than the register holds after a refill (n > 56): two parts.
        let high = n - 32;
        let hi = self.bits(high)?;
        let lo = self.bits(32)?;
        Some((hi << 32) | lo)
    }

    /// Whether at least `n` (at most 56) bits are in the register, refilling
    /// it first if needed: a decoder checks once and then [`Self::peek`]s
    /// and [`Self::skip`]s without further checks.
    #[inline]
    pub(crate) fn has(&mut self, n: u32) -> bool {
        if self.valid < n {
            self.refill();
        }
        self.valid >= n
    }

    /// The next `n` (1..=64, at most what [`Self::has`] confirmed) bits,
    /// without consuming them.
    #[inline(always)]
    pub(crate) fn peek(&self, n: u32) -> u64 {
        self.buf >> (64 - n)
    }

    /// Consumes `n` (1..=63, at most what [`Self::has`] confirmed) bits.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: u32) {
        self.buf <<= n;
        self.valid -= n;
    }

    /// Bits left to read (not meaningful once [`Self::overran`]).
    pub(crate) fn remaining(&self) -> usize {
        self.bytes_ahead() * 8 + self.valid as usize
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.bits(8).map(|b| b as u8)
    }

    /// An unsigned LEB128 varint read from the bit stream (not byte aligned).
    /// `Err(())` for a varint longer than ten bytes, `Ok(None)` at end of data.
    pub(crate) fn uvarint(&mut self) -> Result<Option<u64>, ()> {
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

    /// Counts `1` bits before a `0`, reading at most `max` bits (the `0`
    /// is consumed when seen).
    pub(crate) fn ones(&mut self, max: u32) -> Option<u32> {
        if self.valid < max {
            self.refill();
        }
        if self.valid >= max {
            // All candidate bits are in the register: count them at once.
            let n = (!self.buf).leading_zeros().min(max);
            let consumed = if n < max { n + 1 } else { n };
            self.take_bits(consumed);
            return Some(n);
        }
        let mut n = 0;
        while n < max && self.bit()? {
            n += 1;
        }
        Some(n)
    }

    /// Drops `n` (at most `valid`) bits.
    fn take_bits(&mut self, n: u32) {
        if n > 0 {
            self.take(n);
        }
    }
}

/// Writes bits most-significant first.
#[derive(Debug, Default, Clone)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 means the last byte is full or absent).
    used: u32,
}

impl BitWriter {
    /// A writer whose stream starts after `header` (whole bytes).
    pub(crate) fn with_header(header: &[u8]) -> Self {
        BitWriter {
            bytes: header.to_vec(),
            used: 0,
        }
    }

    pub(crate) fn bit(&mut self, b: bool) {
        self.bits(u64::from(b), 1);
    }

    /// Writes the low `n` (at most 64) bits of `v`.
    pub(crate) fn bits(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut left = n;
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(left);
            let chunk = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= chunk << (free - take);
            }
            self.used = (self.used + take) % 8;
            left -= take;
        }
    }

    pub(crate) fn uvarint(&mut self, mut v: u64) {
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

    /// The bytes written so far (the last one padded with zero bits).
    pub(crate) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn written_bits_read_back(fields in prop::collection::vec((any::<u64>(), 0u32..=64), 0..60)) {
            let mut w = BitWriter::default();
            for &(v, n) in &fields {
                w.bits(v, n);
            }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            for &(v, n) in &fields {
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.bits(n), Some(v & mask));
            }
        }
    }

    proptest! {
        #[test]
        fn unary_prefixes_read_back(prefixes in prop::collection::vec((0u32..=8, 1u32..=8, any::<u64>(), 0u32..=64), 0..40)) {
            let mut w = BitWriter::default();
            for &(ones, max, tail, n) in &prefixes {
                let ones = ones.min(max);
                w.bits(u64::MAX, ones);
                if ones < max {
                    w.bit(false);
                }
                w.bits(tail, n);
            }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            for &(ones, max, tail, n) in &prefixes {
                prop_assert_eq!(r.ones(max), Some(ones.min(max)));
                let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.bits(n), Some(tail & mask));
            }
            prop_assert!(r.remaining() < 8);
        }
    }

    #[test]
    fn reading_past_the_end_is_none() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.bits(4), Some(0xf));
        assert_eq!(r.bits(5), None);
        assert_eq!(r.bits(4), Some(0xf));
        assert_eq!(r.bit(), None);
    }
}
