//! Policy: nftables.
