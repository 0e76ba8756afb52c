//! The cases every backend must pass, by concern; the watch-event helpers they compare with
//! come from `watch_events`, which the etcd server's own tests share.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use datastore::{Compare, Datastore, Error, KeyValue, Txn, TxnOp, TxnOpResult, WatchEvent};
use futures::StreamExt;

mod kv;
mod lease;
mod txn;
mod watch;

pub use kv::*;
pub use lease::*;
pub use txn::*;
pub use watch::*;

pub use crate::watch_events::{WATCH_WAIT, del, next_batch, put, summaries};

pub async fn value_of(ds: &dyn Datastore, key: &str) -> Result<Option<String>> {
    Ok(ds
        .get(key)
        .await?
        .0
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
}
