//! KEEPALIVE message (RFC 4271 §4.4): a bare header of exactly 19 octets, checked by
//! [`Header::decode`](super::Header::decode) (RFC 4271 §6.1 Bad Message Length otherwise).

use bytes::BytesMut;

use super::error::EncodeError;
use super::header::{self, MAX_MESSAGE_LEN, MessageType};

pub(crate) fn encode(buf: &mut BytesMut) -> Result<(), EncodeError> {
    let start = header::begin(buf, MessageType::Keepalive);
    header::finish(buf, start, MessageType::Keepalive, MAX_MESSAGE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_is_a_bare_header() {
        let mut buf = BytesMut::new();
        encode(&mut buf).unwrap();
        assert_eq!(buf.len(), header::HEADER_LEN);
        assert_eq!(&buf[16..], &[0, 19, 4]);
    }
}
