//! [`LinkError`]: errors of the interface reconciler and its backends that are not about one
//! op (failed ops are [`super::ops::OpError`]s).

use std::io;

use thiserror::Error;

use super::names::InvalidName;
use crate::netlink::NetlinkError;

/// A refused desired configuration, or a read that failed as a whole.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error(
        "interface {interface} is not a workload interface (expected a name starting with {prefixes:?})"
    )]
    NotWorkloadInterface {
        interface: String,
        prefixes: Vec<String>,
    },
    #[error("interface {interface}: rp_filter {value} is not 0 (off), 1 (strict) or 2 (loose)")]
    InvalidRpFilter { interface: String, value: u8 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

impl LinkError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> LinkError {
        LinkError::Io {
            context: context.into(),
            source,
        }
    }
}
