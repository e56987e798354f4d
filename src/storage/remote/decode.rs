//! Turning remote-read responses into series: the SAMPLES body (one
//! snappy-compressed `ReadResponse`) and the STREAMED_XOR_CHUNKS frames.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use prost::Message;

use super::error::RemoteReadError;
use super::frames::FrameReader;
use super::histogram::to_float_histogram;
use super::proto;
use crate::model::{FPoint, HPoint, Label, Labels, Timestamp};
use crate::storage::chunk::{decode_float_histogram_chunk, decode_histogram_chunk, decode_xor};

/// One decoded series: labels and samples sorted by time.
#[derive(Debug)]
pub(crate) struct DecodedSeries {
    pub labels: Labels,
    pub floats: Vec<FPoint>,
    pub histograms: Vec<HPoint>,
}

/// Where the samples must lie, and which endpoint they come from (for errors).
pub(crate) struct Window<'a> {
    pub url: &'a str,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window<'_> {
    fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t <= self.end
    }
}

fn to_labels(labels: Vec<proto::Label>) -> Labels {
    Labels::new(
        labels
            .into_iter()
            .map(|l| Label::new(l.name, l.value))
            .collect(),
    )
}

/// Decodes a snappy-compressed `ReadResponse` holding the answer to one query.
pub(crate) fn decode_samples(
    compressed: &[u8],
    max_bytes: u64,
    w: &Window<'_>,
) -> Result<Vec<DecodedSeries>, RemoteReadError> {
    let malformed = |reason: String| RemoteReadError::MalformedSamples {
        url: w.url.to_string(),
        reason,
    };
    let len =
        snap::raw::decompress_len(compressed).map_err(|e| malformed(format!("snappy: {e}")))?;
    if len as u64 > max_bytes {
        return Err(malformed(format!(
            "decompressed size {len} bytes is over the limit of {max_bytes} bytes"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|e| malformed(format!("snappy: {e}")))?;
    let response = proto::ReadResponse::decode(raw.as_slice())
        .map_err(|e| malformed(format!("protobuf: {e}")))?;
    let [result] = <[proto::QueryResult; 1]>::try_from(response.results)
        .map_err(|results| malformed(format!("expected 1 query result, got {}", results.len())))?;
    let mut out = Collected::default();
    for ts in result.timeseries {
        let floats: Vec<FPoint> = ts
            .samples
            .into_iter()
            .map(|s| FPoint {
                t: s.timestamp,
                v: s.value,
            })
            .filter(|p| w.contains(p.t))
            .collect();
        let histograms: Vec<HPoint> = ts
            .histograms
            .iter()
            .filter(|h| w.contains(h.timestamp))
            .map(|h| HPoint {
                t: h.timestamp,
                h: Arc::new(to_float_histogram(h)),
            })
            .collect();
        out.add(to_labels(ts.labels), floats, histograms);
    }
    Ok(out.finish())
}

/// Decoded series by label set. The parts of one series, split over frames
/// or repeated by a server, are joined into one, as the engine expects one
/// series per label set.
#[derive(Default)]
struct Collected {
    series: Vec<DecodedSeries>,
    index: HashMap<Labels, usize>,
}

impl Collected {
    fn add(&mut self, labels: Labels, floats: Vec<FPoint>, histograms: Vec<HPoint>) {
        match self.index.get(&labels) {
            Some(&slot) => {
                let series = &mut self.series[slot];
                series.floats.extend(floats);
                series.histograms.extend(histograms);
            }
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(DecodedSeries {
                    labels,
                    floats,
                    histograms,
                });
            }
        }
    }

    /// The series, each with its samples sorted by time and one per timestamp.
    fn finish(mut self) -> Vec<DecodedSeries> {
        for series in &mut self.series {
            sort_dedup(&mut series.floats, |p| p.t);
            sort_dedup(&mut series.histograms, |p| p.t);
        }
        self.series
    }
}

/// Reads every frame of a STREAMED_XOR_CHUNKS response to the end and
/// decodes its chunks. Parts of one series split over several frames are
/// joined. Any failure, including a stream that stops mid-frame, is an error.
pub(crate) fn decode_stream<R: Read>(
    frames: &mut FrameReader<R>,
    w: &Window<'_>,
) -> Result<Vec<DecodedSeries>, RemoteReadError> {
    let mut out = Collected::default();
    while let Some(payload) = frames
        .next_frame()
        .map_err(|source| RemoteReadError::Stream {
            url: w.url.to_string(),
            source,
        })?
    {
        let frame = proto::ChunkedReadResponse::decode(payload.as_slice()).map_err(|e| {
            RemoteReadError::MalformedFrame {
                url: w.url.to_string(),
                reason: format!("protobuf: {e}"),
            }
        })?;
        if frame.query_index != 0 {
            return Err(RemoteReadError::MalformedFrame {
                url: w.url.to_string(),
                reason: format!("answer to query {} of a 1-query request", frame.query_index),
            });
        }
        for series in frame.chunked_series {
            let labels = to_labels(series.labels);
            let mut floats = Vec::new();
            let mut histograms = Vec::new();
            for chunk in series.chunks {
                decode_chunk(chunk, &labels, w, &mut floats, &mut histograms)?;
            }
            out.add(labels, floats, histograms);
        }
    }
    Ok(out.finish())
}

fn decode_chunk(
    chunk: proto::Chunk,
    labels: &Labels,
    w: &Window<'_>,
    floats: &mut Vec<FPoint>,
    histograms: &mut Vec<HPoint>,
) -> Result<(), RemoteReadError> {
    let encoding = proto::ChunkEncoding::try_from(chunk.r#type);
    if matches!(encoding, Ok(proto::ChunkEncoding::Unknown) | Err(_)) {
        return Err(RemoteReadError::Unsupported {
            url: w.url.to_string(),
            series: labels.to_string(),
            what: format!("chunks of encoding {}", chunk.r#type),
        });
    }
    // Chunks are whole TSDB chunks: keep only the asked window.
    if chunk.max_time_ms < w.start || chunk.min_time_ms > w.end {
        return Ok(());
    }
    let histogram_error = |source| RemoteReadError::HistogramChunk {
        url: w.url.to_string(),
        series: labels.to_string(),
        source,
    };
    match encoding {
        Ok(proto::ChunkEncoding::Xor) => {
            let points = decode_xor(&chunk.data).map_err(|source| RemoteReadError::Chunk {
                url: w.url.to_string(),
                series: labels.to_string(),
                source,
            })?;
            floats.extend(points.into_iter().filter(|p| w.contains(p.t)));
        }
        Ok(proto::ChunkEncoding::Histogram) => {
            let points = decode_histogram_chunk(&chunk.data).map_err(histogram_error)?;
            histograms.extend(points.into_iter().filter(|p| w.contains(p.t)));
        }
        _ => {
            let points = decode_float_histogram_chunk(&chunk.data).map_err(histogram_error)?;
            histograms.extend(points.into_iter().filter(|p| w.contains(p.t)));
        }
    }
    Ok(())
}

/// Sorts by time and keeps the first sample of each timestamp.
fn sort_dedup<P>(points: &mut Vec<P>, time: impl Fn(&P) -> Timestamp) {
    if !points.is_sorted_by_key(&time) {
        points.sort_by_key(&time);
    }
    points.dedup_by(|a, b| time(a) == time(b));
}

#[cfg(test)]
mod tests {
    use super::super::frames::encode_frame;
    use super::*;
    use crate::model::CounterResetHint;
    use crate::storage::chunk::{encode_float_histogram_chunk, encode_histogram_chunk, encode_xor};

    const URL: &str = "http://test/api/v1/read";

    fn window(start: Timestamp, end: Timestamp) -> Window<'static> {
        Window {
            url: URL,
            start,
            end,
        }
    }

    fn label(name: &str, value: &str) -> proto::Label {
        proto::Label {
            name: name.into(),
            value: value.into(),
        }
    }

    fn pts(range: std::ops::Range<i64>) -> Vec<FPoint> {
        range
            .map(|i| FPoint {
                t: i * 1000,
                v: i as f64 / 4.0,
            })
            .collect()
    }

    fn xor_chunk(points: &[FPoint]) -> proto::Chunk {
        proto::Chunk {
            min_time_ms: points.first().map_or(0, |p| p.t),
            max_time_ms: points.last().map_or(0, |p| p.t),
            r#type: proto::ChunkEncoding::Xor as i32,
            data: encode_xor(points).unwrap(),
        }
    }

    fn frame(series: Vec<proto::ChunkedSeries>) -> Vec<u8> {
        encode_frame(
            &proto::ChunkedReadResponse {
                chunked_series: series,
                query_index: 0,
            }
            .encode_to_vec(),
        )
    }

    /// `up{job="a"}` with the float samples `pts(range)`.
    fn up_series(range: std::ops::Range<i64>) -> proto::TimeSeries {
        proto::TimeSeries {
            labels: vec![label("__name__", "up"), label("job", "a")],
            samples: pts(range)
                .iter()
                .map(|p| proto::Sample {
                    value: p.v,
                    timestamp: p.t,
                })
                .collect(),
            histograms: vec![],
        }
    }

    /// A SAMPLES body answering one query with `timeseries`.
    fn samples_body(timeseries: Vec<proto::TimeSeries>) -> Vec<u8> {
        let response = proto::ReadResponse {
            results: vec![proto::QueryResult { timeseries }],
        };
        snap::raw::Encoder::new()
            .compress_vec(&response.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn samples_response_is_decoded_and_windowed() {
        let body = samples_body(vec![up_series(0..10)]);
        let out = decode_samples(&body, 1 << 20, &window(2000, 5000)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].labels,
            Labels::from_pairs(&[("__name__", "up"), ("job", "a")])
        );
        assert_eq!(out[0].floats, pts(2..6));
    }

    #[test]
    fn samples_response_repeating_a_series_gives_it_once() {
        let body = samples_body(vec![up_series(4..8), up_series(0..5)]);
        let out = decode_samples(&body, 1 << 20, &window(0, 10_000)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].floats, pts(0..8));
    }

    #[test]
    fn samples_response_histograms_are_converted_and_windowed() {
        let hist = |t: i64, count: u64| proto::Histogram {
            count_int: Some(count),
            positive_spans: vec![proto::BucketSpan {
                offset: 0,
                length: 1,
            }],
            positive_deltas: vec![count as i64],
            timestamp: t,
            ..Default::default()
        };
        let body = samples_body(vec![proto::TimeSeries {
            labels: vec![label("__name__", "h")],
            samples: vec![],
            histograms: vec![hist(3000, 7), hist(1000, 5), hist(9000, 9)],
        }]);
        let out = decode_samples(&body, 1 << 20, &window(0, 5000)).unwrap();
        let got: Vec<(i64, f64, Vec<f64>)> = out[0]
            .histograms
            .iter()
            .map(|p| (p.t, p.h.count, p.h.positive_buckets.clone()))
            .collect();
        assert_eq!(got, vec![(1000, 5.0, vec![5.0]), (3000, 7.0, vec![7.0])]);
        assert!(out[0].floats.is_empty());
    }

    #[test]
    fn samples_response_errors_are_clear() {
        let w = window(0, 10);
        let err = decode_samples(b"not snappy at all", 1 << 20, &w).unwrap_err();
        assert!(
            err.to_string().contains("malformed SAMPLES response"),
            "{err}"
        );

        let two = proto::ReadResponse {
            results: vec![proto::QueryResult::default(), proto::QueryResult::default()],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&two.encode_to_vec())
            .unwrap();
        let err = decode_samples(&body, 1 << 20, &w).unwrap_err();
        assert!(
            err.to_string().contains("expected 1 query result, got 2"),
            "{err}"
        );

        let big = snap::raw::Encoder::new().compress_vec(&[0; 4096]).unwrap();
        let err = decode_samples(&big, 1000, &w).unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    #[test]
    fn stream_joins_split_series_and_trims_chunks() {
        let labels = vec![label("__name__", "x")];
        let stream = [
            frame(vec![proto::ChunkedSeries {
                labels: labels.clone(),
                chunks: vec![xor_chunk(&pts(0..120)), xor_chunk(&pts(120..240))],
            }]),
            frame(vec![
                proto::ChunkedSeries {
                    labels: labels.clone(),
                    chunks: vec![xor_chunk(&pts(240..360))],
                },
                proto::ChunkedSeries {
                    labels: vec![label("__name__", "y")],
                    chunks: vec![xor_chunk(&pts(0..5))],
                },
            ]),
        ]
        .concat();
        let mut frames = FrameReader::new(stream.as_slice(), 1 << 20);
        let out = decode_stream(&mut frames, &window(100_000, 300_000)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].floats, pts(100..301));
        assert_eq!(out[1].labels, Labels::from_pairs(&[("__name__", "y")]));
        assert!(out[1].floats.is_empty());
    }

    #[test]
    fn truncated_stream_is_an_error_not_a_short_result() {
        let stream = frame(vec![proto::ChunkedSeries {
            labels: vec![label("__name__", "x")],
            chunks: vec![xor_chunk(&pts(0..100))],
        }]);
        let cut = &stream[..stream.len() - 3];
        let mut frames = FrameReader::new(cut, 1 << 20);
        let err = decode_stream(&mut frames, &window(0, i64::MAX)).unwrap_err();
        assert!(err.to_string().contains("truncated stream"), "{err}");
    }

    fn native(t: i64, scale: f64) -> HPoint {
        HPoint {
            t,
            h: std::sync::Arc::new(crate::model::FloatHistogram {
                schema: 0,
                count: 6.0 * scale,
                sum: 10.0 * scale,
                positive_spans: vec![crate::model::BucketSpan {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![2.0 * scale, 4.0 * scale],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn histogram_chunks_of_both_encodings_are_decoded_and_windowed() {
        let ints: Vec<HPoint> = (0..4).map(|i| native(i * 1000, (i + 1) as f64)).collect();
        let halves: Vec<HPoint> = (4..8).map(|i| native(i * 1000, i as f64 + 0.5)).collect();
        let chunk =
            |points: &[HPoint], encoding: proto::ChunkEncoding, data: Vec<u8>| proto::Chunk {
                min_time_ms: points[0].t,
                max_time_ms: points[points.len() - 1].t,
                r#type: encoding as i32,
                data,
            };
        let stream = frame(vec![proto::ChunkedSeries {
            labels: vec![label("__name__", "h")],
            chunks: vec![
                chunk(
                    &ints,
                    proto::ChunkEncoding::Histogram,
                    encode_histogram_chunk(&ints, CounterResetHint::Unknown).unwrap(),
                ),
                chunk(
                    &halves,
                    proto::ChunkEncoding::FloatHistogram,
                    encode_float_histogram_chunk(&halves, CounterResetHint::Unknown).unwrap(),
                ),
            ],
        }]);
        let mut frames = FrameReader::new(stream.as_slice(), 1 << 20);
        let out = decode_stream(&mut frames, &window(1000, 6000)).unwrap();
        let got: Vec<(i64, f64, Vec<f64>)> = out[0]
            .histograms
            .iter()
            .map(|p| (p.t, p.h.count, p.h.positive_buckets.clone()))
            .collect();
        let want: Vec<(i64, f64, Vec<f64>)> = ints[1..]
            .iter()
            .chain(&halves[..3])
            .map(|p| (p.t, p.h.count, p.h.positive_buckets.clone()))
            .collect();
        assert_eq!(got, want);
        assert!(out[0].floats.is_empty());
    }

    #[test]
    fn corrupt_histogram_chunk_names_the_series() {
        let stream = frame(vec![proto::ChunkedSeries {
            labels: vec![label("__name__", "h")],
            chunks: vec![proto::Chunk {
                r#type: proto::ChunkEncoding::FloatHistogram as i32,
                data: vec![0, 5],
                ..Default::default()
            }],
        }]);
        let mut frames = FrameReader::new(stream.as_slice(), 1 << 20);
        let err = decode_stream(&mut frames, &window(0, 10)).unwrap_err();
        assert!(
            err.to_string()
                .contains("series h: histogram chunk of 2 bytes"),
            "{err}"
        );
        let stream = frame(vec![proto::ChunkedSeries {
            labels: vec![label("__name__", "h")],
            chunks: vec![proto::Chunk {
                r#type: 9,
                ..Default::default()
            }],
        }]);
        let mut frames = FrameReader::new(stream.as_slice(), 1 << 20);
        let err = decode_stream(&mut frames, &window(0, 10)).unwrap_err();
        assert!(
            err.to_string()
                .contains("chunks of encoding 9 are not supported"),
            "{err}"
        );
    }

    #[test]
    fn frame_for_another_query_is_malformed() {
        let stream = encode_frame(
            &proto::ChunkedReadResponse {
                chunked_series: vec![],
                query_index: 3,
            }
            .encode_to_vec(),
        );
        let mut frames = FrameReader::new(stream.as_slice(), 1 << 20);
        let err = decode_stream(&mut frames, &window(0, 10)).unwrap_err();
        assert!(err.to_string().contains("query 3"), "{err}");
    }
}
