//! Bit streams, most significant bit first, as the TSDB chunk encodings use.

/// Reads bits most-significant first from a byte slice.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start of `bytes`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    pub(crate) fn bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` (at most 64) bits as an unsigned number; `None` past the end.
    pub(crate) fn bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n == 0 {
            return Some(0);
        }
        let end = self.pos.checked_add(n as usize)?;
        if end > self.bytes.len() * 8 {
            return None;
        }
        let first = self.pos / 8;
        let offset = (self.pos % 8) as u32;
        // Fast path: one big-endian word holds all the bits wanted.
        if offset + n <= 64
            && let Some(word) = self.bytes.get(first..first + 8)
        {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            let w = u64::from_be_bytes(buf);
            self.pos = end;
            return Some((w << offset) >> (64 - n));
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

    /// Bits left to read.
    pub(crate) fn remaining(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.pos)
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
        let mut n = 0;
        while n < max && self.bit()? {
            n += 1;
        }
        Some(n)
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

    #[test]
    fn reading_past_the_end_is_none() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.bits(4), Some(0xf));
        assert_eq!(r.bits(5), None);
        assert_eq!(r.bits(4), Some(0xf));
        assert_eq!(r.bit(), None);
    }
}
