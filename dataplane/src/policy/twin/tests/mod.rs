//! Tests of the twin: transactions and evaluation on hand-built tables, then rendered tables
//! of small host policies, then rendered tables against the model's own evaluator.

mod crosscheck;
mod evaluation;
mod host_flavours;
mod rendered;
mod transactions;

use std::net::IpAddr;

use ipnet::IpNet;

use super::PolicyTwin;
use crate::policy::ir::{Chain, Hook, Rule, Table};
use crate::policy::ops::{Op, Transaction};

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("test address {s:?}: {e}"))
}

fn net(s: &str) -> IpNet {
    s.parse()
        .unwrap_or_else(|e| panic!("test network {s:?}: {e}"))
}

fn chain(hook: Option<Hook>, rules: Vec<Rule>) -> Chain {
    Chain { hook, rules }
}

fn table(chains: Vec<(&str, Chain)>) -> Table {
    Table {
        chains: chains.into_iter().map(|(n, c)| (n.to_owned(), c)).collect(),
        ..Table::default()
    }
}

fn twin(t: Table) -> PolicyTwin {
    PolicyTwin::with_table(t).unwrap_or_else(|e| panic!("test table refused: {e}"))
}

fn tx(ops: Vec<Op>) -> Transaction {
    Transaction { ops }
}
