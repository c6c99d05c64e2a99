//! Stored objects carry no resourceVersion (it is the revision, known only once committed); this
//! puts it in by splicing bytes, so serving an object never re-serializes it.

use bytes::{BufMut, Bytes, BytesMut};

const METADATA: &[u8] = b"\"metadata\":{";

/// `json` with `"resourceVersion":"<revision>"` as the first field of its top-level metadata.
/// The registry writes the type fields and `metadata` first, so the first `"metadata":{` is the
/// top-level one. Returns `json` unchanged if it has no metadata object.
pub fn with_resource_version(json: &[u8], revision: i64) -> Bytes {
    let Some(at) = json
        .windows(METADATA.len())
        .position(|w| w == METADATA)
        .map(|p| p + METADATA.len())
    else {
        return Bytes::copy_from_slice(json);
    };
    let mut out = BytesMut::with_capacity(json.len() + 40);
    out.put_slice(&json[..at]);
    out.put_slice(b"\"resourceVersion\":\"");
    out.put_slice(itoa::Buffer::new().format(revision).as_bytes());
    out.put_slice(b"\"");
    if json.get(at) != Some(&b'}') {
        out.put_slice(b",");
    }
    out.put_slice(&json[at..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_into_metadata() {
        let out = with_resource_version(br#"{"kind":"X","metadata":{"name":"a"},"spec":{"metadata":{}}}"#, 42);
        assert_eq!(
            &out[..],
            br#"{"kind":"X","metadata":{"resourceVersion":"42","name":"a"},"spec":{"metadata":{}}}"#
        );
        let empty = with_resource_version(br#"{"metadata":{}}"#, 7);
        assert_eq!(&empty[..], br#"{"metadata":{"resourceVersion":"7"}}"#);
    }
}
