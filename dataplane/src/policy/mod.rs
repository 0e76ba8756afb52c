//! Policy: the `calico` nftables table (calico.md §2.2, §3.1, §3.4).
//!
//! - [`ir`]: the table as data (sets, verdict maps, chains, rules);
//! - [`render`]: resolved policy model (`model::policy::HostPolicy`) → table, with
//!   [`rules`] for the rules of policies and profiles;
//! - [`ops`]: changes to the table as data, applied atomically;
//! - [`text`]: tables and transactions as `nft -f` input;
//! - [`twin`]: the in-memory table, applying the same transactions and running packets
//!   through the chains.

pub mod driver;
pub mod ir;
pub mod names;
pub mod netlink;
pub mod nft;
pub mod observed;
pub mod ops;
pub mod program;
pub mod render;
pub mod rules;
pub mod text;
pub mod twin;
