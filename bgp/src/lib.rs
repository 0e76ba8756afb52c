//! A general BGP-4 speaker: message codec (RFC 4271, 4760, 6793, 7606, ...), a sans-IO session
//! FSM, a RIB with interned attributes and best-path selection, and a driver generic over any
//! byte stream. It knows nothing about Calico; the embedder says whom to peer with and what to
//! export.

mod clock;
pub mod codec;
pub mod rib;
pub mod session;
pub mod speaker;
#[cfg(feature = "turmoil")]
pub mod turmoil;
