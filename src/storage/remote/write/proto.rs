//! The remote-write 1.0 request message (`prometheus.WriteRequest` of
//! `remote.proto`), declared by hand for `prost`. Its series reuse the
//! remote-read [`TimeSeries`](super::super::proto::TimeSeries), which has
//! the same fields on the wire (labels 1, samples 2, histograms 4).

use super::super::proto::TimeSeries;

/// `prometheus.WriteRequest`: the series of one request (metadata, field 3,
/// is not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples and histograms.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}
