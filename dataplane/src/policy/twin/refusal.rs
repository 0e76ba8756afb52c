//! Why the twin refuses a transaction, as the kernel would: [`Refusal`] (with the errno the
//! kernel answers) and [`TwinError`] (where in the transaction).

use thiserror::Error;

use crate::policy::ir::{Element, Hook, SetType};

/// Why the kernel would refuse an operation (the errno it would answer in parentheses).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("table inet calico does not exist (ENOENT); only a whole-table replace creates it")]
    NoTable,
    #[error("set {0} does not exist (ENOENT)")]
    NoSet(String),
    #[error("map {0} does not exist (ENOENT)")]
    NoMap(String),
    #[error("chain {0} does not exist (ENOENT)")]
    NoChain(String),
    #[error("{name} is already a {existing}; sets and maps share one namespace (EEXIST)")]
    NameTaken {
        name: String,
        existing: &'static str,
    },
    #[error("set {set} has type {existing:?}, not {wanted:?} (EEXIST)")]
    SetType {
        set: String,
        existing: SetType,
        wanted: SetType,
    },
    #[error("chain {chain} exists with hook {existing:?}; it cannot become {wanted:?}")]
    Hook {
        chain: String,
        existing: Option<Hook>,
        wanted: Option<Hook>,
    },
    #[error("element {element:?} does not fit set {set} of type {set_type:?}")]
    ElementType {
        set: String,
        set_type: SetType,
        element: Element,
    },
    #[error("element {element:?} overlaps element {existing:?} of interval set {set} (EEXIST)")]
    Overlap {
        set: String,
        element: Element,
        existing: Element,
    },
    #[error("element {element:?} is not in set {set} (ENOENT)")]
    NoElement { set: String, element: Element },
    #[error("interface {iface:?} is not in map {map} (ENOENT)")]
    NoMapElement { map: String, iface: String },
    #[error("interface {iface:?} of map {map} goes to chain {existing}, not {wanted} (EEXIST)")]
    MapElementClash {
        map: String,
        iface: String,
        existing: String,
        wanted: String,
    },
    #[error("rule {index} of chain {chain} uses {what} {name}, which does not exist (ENOENT)")]
    Dangling {
        chain: String,
        index: usize,
        what: &'static str,
        name: String,
    },
    #[error("rule {index} of chain {chain} looks up set {set} of type {set_type:?} as {wanted:?}")]
    SetUse {
        chain: String,
        index: usize,
        set: String,
        set_type: SetType,
        wanted: SetType,
    },
    #[error("map {map}: interface {iface:?} goes to chain {chain}, which does not exist (ENOENT)")]
    DanglingMapElement {
        map: String,
        iface: String,
        chain: String,
    },
    #[error("{what} {name} is still used by {user} (EBUSY); remove that use first")]
    Busy {
        what: &'static str,
        name: String,
        user: String,
    },
    #[error("chains {} form a loop (ELOOP)", .0.join(" -> "))]
    Loop(Vec<String>),
    #[error("base chain {base} reaches a chain {depth} jumps deep; the kernel allows 15 (EMLINK)")]
    TooDeep { base: String, depth: usize },
    #[error(
        "chain {chain} masquerades but base chain {base} (hook {hook:?}) reaches it; only nat \
         postrouting chains may (EOPNOTSUPP)"
    )]
    MasqueradeOutsideNat {
        chain: String,
        base: String,
        hook: Hook,
    },
}

/// A transaction the twin (like the kernel) refused; the table is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("transaction refused at {at}: {refusal}; the table is unchanged")]
pub struct TwinError {
    /// `op <i> (<what the op does>)`, or `the end of the transaction`.
    pub at: String,
    pub refusal: Refusal,
}
