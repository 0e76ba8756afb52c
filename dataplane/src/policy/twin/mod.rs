//! The twin of the `calico` nftables table: the table held in memory, changed by the same
//! [`Transaction`]s as the kernel, and able to say what happens to a packet.
//!
//! # Applying
//!
//! A transaction is applied to a copy of the table, which replaces the table only when every
//! operation succeeded; otherwise the error names the operation and the object, and the table
//! is as before (one `nft -f` run is one kernel transaction).
//!
//! The twin refuses what the kernel refuses, so that a reconciler bug shows up in the
//! simulation and not first on a node:
//!
//! - every operation but [`Op::ReplaceTable`] needs the table to exist;
//! - references are checked in operation order, as the kernel checks them while it walks the
//!   batch: a rule may only jump, go to or dispatch to a chain or map, or look up a set (of the
//!   right type), that exists when the rule is added; a map element may only go to an existing
//!   chain; a chain, set or map may only be deleted when no rule (and for a chain, no map
//!   element) uses it any more (EBUSY), and only if it exists (ENOENT). A chain's own rules go
//!   with it. Checking in order is stricter than checking the end state and never weaker: an
//!   object that exists at the end of the transaction and was referenced before it was added
//!   is refused, as by the kernel. [`Op::ReplaceTable`] is one `table { ... }` block, in which
//!   nft creates every chain, set and map before any rule, so its content is checked as a
//!   whole;
//! - `add chain` and `add map` of an existing object do nothing (`add chain` with another hook
//!   is refused); `add set` of an existing set adds its elements, and is refused for another
//!   type; sets and maps share one namespace;
//! - elements must fit the set's type; interval sets
//!   ([`SetType::Nets`](super::ir::SetType::Nets)) refuse an element overlapping another (an
//!   exact duplicate is accepted: `add element` is idempotent); deleting an absent element is
//!   refused (ENOENT); a map element for an interface that already goes to another chain is
//!   refused (EEXIST). Networks are stored without host bits, as nft does;
//! - at the end of the transaction: no loop of jumps, gotos and dispatches (ELOOP), no base
//!   chain more than 16 jumps from a chain it reaches (EMLINK), no `masquerade` reachable from
//!   a chain other than a nat postrouting base chain (EOPNOTSUPP).
//!
//! # Evaluating
//!
//! [`PolicyTwin::evaluate`] runs a packet through the base chains of one hook, as nftables does
//! (the `eval` submodule has the details): rule by rule, a rule applies when all its matches
//! hold, then its statements run and its verdict decides. `jump` pushes a return point, `goto`
//! replaces the current chain, `return` (or the end of a regular chain) goes back to the last
//! return point, and returning from the base chain applies its policy (accept).
//!
//! [`PolicyTwin::forward`], [`PolicyTwin::to_host`] and [`PolicyTwin::from_host`] follow the
//! first packet of a flow through every hook on its way, in kernel order: prerouting at
//! priority raw (or output at priority raw), connection tracking, prerouting at priority
//! mangle, then forward, input or output. The packet mark carries from hook to hook, and a
//! `notrack` leaves the packet untracked for the later hooks.

mod apply;
mod check;
mod eval;
mod refusal;
#[cfg(test)]
mod tests;

use model::policy::Packet;

use super::backend::PolicyBackend;
use super::error::PolicyError;
use super::ir::{Hook, Table};
use super::observed::Observed;
use super::ops::{Op, Transaction};

use eval::Stage;
pub use eval::{Conntrack, Outcome, Step};
pub use refusal::{Refusal, TwinError};

/// The in-memory `calico` table. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyTwin {
    table: Option<Table>,
}

impl PolicyTwin {
    /// A twin without the table (as a fresh network namespace).
    pub fn new() -> PolicyTwin {
        PolicyTwin::default()
    }

    /// A twin holding `table`, checked as a whole-table replace is.
    pub fn with_table(table: Table) -> Result<PolicyTwin, TwinError> {
        let mut twin = PolicyTwin::new();
        twin.apply(&Transaction {
            ops: vec![Op::ReplaceTable(Box::new(table))],
        })?;
        Ok(twin)
    }

    /// The table (`None`: it does not exist).
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }

    /// Applies `tx` atomically: all of it, or nothing and an error.
    pub fn apply(&mut self, tx: &Transaction) -> Result<(), TwinError> {
        if tx.is_empty() {
            return Ok(());
        }
        self.table = Some(apply::apply(self.table.as_ref(), tx)?);
        Ok(())
    }

    /// What happens to `packet` at `hook`: `iif` is the interface it arrived on (`None`:
    /// locally generated), `oif` the one it leaves through (`None`: to the host itself).
    pub fn evaluate(
        &self,
        hook: Hook,
        iif: Option<&str>,
        oif: Option<&str>,
        packet: &Packet,
        ct: Conntrack,
    ) -> Outcome {
        eval::evaluate(self.table.as_ref(), hook, iif, oif, packet, ct)
    }

    /// The first packet of a flow routed from `iif` to `oif`: prerouting at priority raw,
    /// connection tracking, prerouting at priority mangle, then forward.
    pub fn forward(&self, iif: &str, oif: &str, packet: &Packet) -> Outcome {
        self.forward_dnat(iif, oif, packet, packet)
    }

    /// As [`PolicyTwin::forward`], for a packet whose destination is translated (by another
    /// table's destination NAT) between prerouting at priority mangle and the routing
    /// decision: the prerouting hooks see `original`, forward sees `translated`.
    pub fn forward_dnat(
        &self,
        iif: &str,
        oif: &str,
        original: &Packet,
        translated: &Packet,
    ) -> Outcome {
        let arriving = |hook| Stage {
            hook,
            iif: Some(iif),
            oif: None,
            packet: original,
        };
        eval::evaluate_path(
            self.table.as_ref(),
            &[
                arriving(Hook::RawPrerouting),
                arriving(Hook::PreDnat),
                Stage {
                    hook: Hook::Forward,
                    iif: Some(iif),
                    oif: Some(oif),
                    packet: translated,
                },
            ],
        )
    }

    /// The first packet of a flow arriving on `iif` for the host itself: prerouting at
    /// priority raw, connection tracking, prerouting at priority mangle, then input.
    pub fn to_host(&self, iif: &str, packet: &Packet) -> Outcome {
        let arriving = |hook| Stage {
            hook,
            iif: Some(iif),
            oif: None,
            packet,
        };
        eval::evaluate_path(
            self.table.as_ref(),
            &[
                arriving(Hook::RawPrerouting),
                arriving(Hook::PreDnat),
                arriving(Hook::Input),
            ],
        )
    }

    /// The first packet of a flow the host sends through `oif`: output at priority raw,
    /// connection tracking, then output.
    pub fn from_host(&self, oif: &str, packet: &Packet) -> Outcome {
        let leaving = |hook| Stage {
            hook,
            iif: None,
            oif: Some(oif),
            packet,
        };
        eval::evaluate_path(
            self.table.as_ref(),
            &[leaving(Hook::RawOutput), leaving(Hook::Output)],
        )
    }

    /// The first packet of a flow leaving through `oif` (hook nat postrouting): whether it
    /// is masqueraded.
    pub fn postrouting(&self, iif: Option<&str>, oif: &str, packet: &Packet) -> Outcome {
        self.evaluate(Hook::NatPostrouting, iif, Some(oif), packet, Conntrack::New)
    }
}

/// The twin stands in for the kernel behind the reconciler: a refusal is reported as nft
/// would report it, the table is read back as the kernel listing would show it.
impl PolicyBackend for PolicyTwin {
    fn apply(&mut self, tx: &Transaction) -> Result<(), PolicyError> {
        PolicyTwin::apply(self, tx).map_err(|e| PolicyError::Rejected {
            stderr: e.to_string(),
        })
    }

    fn read(&mut self) -> Result<Option<Observed>, PolicyError> {
        Ok(self.table.as_ref().map(Observed::of_table))
    }
}
