//! The one rtnetlink path of the crate: a blocking NETLINK_ROUTE socket opened inside a
//! network namespace ([`NetlinkSocket`]), the wire format written and read by hand
//! ([`wire`]), and the requests the backends share — links ([`link`]: one dump, one get by
//! name, both giving name, index, state and MAC), neighbours ([`neigh`]) and addresses
//! ([`addr`]). The route backend (`routes::kernel`) sends its batches of route messages
//! through the same socket; the interface backend (`links::kernel`) and the workload
//! plumbing (`links::workload`) use it for everything netlink.
//!
//! Messages are encoded straight into the socket's send buffer (no allocation per message)
//! from include/uapi/linux/{netlink,rtnetlink,if_link,neighbour,if_addr}.h, and parsing
//! walks only the attributes we use, so an attribute the parser does not know can never fail
//! a dump. Everything here blocks the calling thread (one system call pair per request, a
//! few per dump); see the crate docs for how async callers run it.

pub mod addr;
pub mod error;
pub mod link;
pub mod neigh;
pub mod socket;
pub mod wire;

pub use error::NetlinkError;
pub use link::LinkInfo;
pub use neigh::Neighbour;
pub use socket::NetlinkSocket;
