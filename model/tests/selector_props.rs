//! Property tests for selectors.
//!
//! - Printing then parsing gives back the same selector, and canonical text is a fixed point.
//! - Evaluation agrees with a tiny reference evaluator defined here: a binary-tree AST of its
//!   own, rendered to selector text in varied styles (quotes, blanks, `notin`/`startswith`,
//!   redundant parentheses, unsorted sets with duplicates), parsed by the real parser and
//!   evaluated on label maps drawn from a small alphabet so that matches are common.
//! - Parsing never panics, and whatever parses has a canonical form that parses too.

use std::collections::BTreeMap;

use model::selector::{CompareOp, Expr, Selector, ValueSet};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------
// The reference: its own AST, its own renderer, its own evaluator.

#[derive(Clone, Debug)]
enum Reference {
    All,
    Global,
    Has(&'static str),
    Eq(&'static str, &'static str),
    Ne(&'static str, &'static str),
    Contains(&'static str, &'static str),
    StartsWith(&'static str, &'static str),
    EndsWith(&'static str, &'static str),
    In(&'static str, Vec<&'static str>),
    NotIn(&'static str, Vec<&'static str>),
    Not(Box<Reference>),
    And(Box<Reference>, Box<Reference>),
    Or(Box<Reference>, Box<Reference>),
}

type LabelMap = BTreeMap<&'static str, &'static str>;

/// Direct reading of Calico's semantics: `!=` and `not in` hold when the label is absent,
/// every other label test needs the label.
fn reference_eval(expr: &Reference, labels: &LabelMap) -> bool {
    let value = |key: &str| labels.get(key).copied();
    match expr {
        Reference::All | Reference::Global => true,
        Reference::Has(key) => value(key).is_some(),
        Reference::Eq(key, v) => value(key) == Some(*v),
        Reference::Ne(key, v) => value(key) != Some(*v),
        Reference::Contains(key, v) => value(key).is_some_and(|actual| actual.contains(v)),
        Reference::StartsWith(key, v) => value(key).is_some_and(|actual| actual.starts_with(v)),
        Reference::EndsWith(key, v) => value(key).is_some_and(|actual| actual.ends_with(v)),
        Reference::In(key, set) => value(key).is_some_and(|actual| set.contains(&actual)),
        Reference::NotIn(key, set) => !value(key).is_some_and(|actual| set.contains(&actual)),
        Reference::Not(inner) => !reference_eval(inner, labels),
        Reference::And(a, b) => reference_eval(a, labels) && reference_eval(b, labels),
        Reference::Or(a, b) => reference_eval(a, labels) || reference_eval(b, labels),
    }
}

/// Label keys, some of them operator words (they are labels wherever a label is expected).
const KEYS: &[&str] = &["a", "b", "c", "in", "not", "has", "k8s.io/app-name_1"];
/// Values: overlapping substrings for contains/starts/ends, both quote characters, blanks.
const VALUES: &[&str] = &[
    "",
    "x",
    "y",
    "xy",
    "yx",
    "x y",
    "it's",
    "say \"hi\"",
    "é",
    "&&",
];

fn reference_strategy() -> impl Strategy<Value = Reference> {
    let key = || select(KEYS);
    let value = || select(VALUES);
    let set = || prop::collection::vec(value(), 0..5);
    let leaf = prop_oneof![
        1 => Just(Reference::All),
        1 => Just(Reference::Global),
        3 => key().prop_map(Reference::Has),
        3 => (key(), value()).prop_map(|(k, v)| Reference::Eq(k, v)),
        3 => (key(), value()).prop_map(|(k, v)| Reference::Ne(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Reference::Contains(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Reference::StartsWith(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Reference::EndsWith(k, v)),
        2 => (key(), set()).prop_map(|(k, s)| Reference::In(k, s)),
        2 => (key(), set()).prop_map(|(k, s)| Reference::NotIn(k, s)),
    ];
    leaf.prop_recursive(5, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Reference::Not(Box::new(e))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Reference::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Reference::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn labels_strategy() -> impl Strategy<Value = LabelMap> {
    prop::collection::btree_map(select(KEYS), select(VALUES), 0..=KEYS.len())
}

/// Stylistic choices for rendering, drawn from a seed so one generated case renders the same
/// way every time it is replayed.
struct Style(u64);

impl Style {
    fn next(&mut self) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        let len = u64::try_from(options.len()).unwrap_or(1);
        options[usize::try_from(self.next() % len).unwrap_or(0)]
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().checked_rem(one_in) == Some(0)
    }

    /// Optional blanks between two tokens.
    fn blank(&mut self) -> &'static str {
        self.pick(&["", "", " ", "  ", "\t"])
    }

    /// At least one blank, where two words would otherwise run together.
    fn separator(&mut self) -> &'static str {
        self.pick(&[" ", " ", "  ", "\t", " \t "])
    }

    fn quoted(&mut self, value: &str) -> String {
        let quote = if value.contains('"') {
            '\''
        } else if value.contains('\'') || self.chance(2) {
            '"'
        } else {
            '\''
        };
        format!("{quote}{value}{quote}")
    }
}

const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_UNARY: u8 = 3;

/// Renders `expr` as selector text, adding parentheses only where precedence needs them (and
/// sometimes where it does not).
fn render(expr: &Reference, context: u8, style: &mut Style) -> String {
    let (text, precedence) = match expr {
        Reference::All => (format!("all({})", style.blank()), PREC_UNARY),
        Reference::Global => (format!("global({})", style.blank()), PREC_UNARY),
        Reference::Has(key) => (
            format!("has({}{key}{})", style.blank(), style.blank()),
            PREC_UNARY,
        ),
        Reference::Eq(key, v) => (compare(key, "==", v, style), PREC_UNARY),
        Reference::Ne(key, v) => (compare(key, "!=", v, style), PREC_UNARY),
        Reference::Contains(key, v) => (compare(key, "contains", v, style), PREC_UNARY),
        Reference::StartsWith(key, v) => {
            let op = style.pick(&["starts with", "startswith", "starts \t with"]);
            (compare(key, op, v, style), PREC_UNARY)
        }
        Reference::EndsWith(key, v) => {
            let op = style.pick(&["ends with", "endswith"]);
            (compare(key, op, v, style), PREC_UNARY)
        }
        Reference::In(key, set) => (set_op(key, "in", set, style), PREC_UNARY),
        Reference::NotIn(key, set) => {
            let op = style.pick(&["not in", "notin", "not  in"]);
            (set_op(key, op, set, style), PREC_UNARY)
        }
        Reference::Not(inner) => {
            let inner = render(inner, PREC_UNARY, style);
            (format!("!{}{inner}", style.blank()), PREC_UNARY)
        }
        Reference::And(a, b) => {
            let (a, b) = (render(a, PREC_AND, style), render(b, PREC_AND, style));
            (
                format!("{a}{}&&{}{b}", style.blank(), style.blank()),
                PREC_AND,
            )
        }
        Reference::Or(a, b) => {
            let (a, b) = (render(a, PREC_OR, style), render(b, PREC_OR, style));
            (
                format!("{a}{}||{}{b}", style.blank(), style.blank()),
                PREC_OR,
            )
        }
    };
    if precedence < context || style.chance(8) {
        format!("({}{text}{})", style.blank(), style.blank())
    } else {
        text
    }
}

fn compare(key: &str, op: &str, value: &str, style: &mut Style) -> String {
    // Word operators need a blank after the label; symbols do not.
    let before = if op.starts_with(|c: char| c.is_ascii_alphabetic()) {
        style.separator()
    } else {
        style.blank()
    };
    format!("{key}{before}{op}{}{}", style.blank(), style.quoted(value))
}

fn set_op(key: &str, op: &str, set: &[&str], style: &mut Style) -> String {
    let mut members: Vec<String> = set.iter().map(|v| style.quoted(v)).collect();
    if !members.is_empty() && style.chance(4) {
        members.push(String::new()); // trailing comma
    }
    let sep = style.pick(&[",", ", ", " , "]);
    format!(
        "{key}{}{op}{}{{{}}}",
        style.separator(),
        style.blank(),
        members.join(sep)
    )
}

// ---------------------------------------------------------------------------------------------
// Real syntax trees, in the shape the parser produces from canonical text.

fn label_name() -> impl Strategy<Value = Box<str>> {
    prop_oneof![
        3 => select(KEYS).prop_map(Box::from),
        2 => "[A-Za-z0-9_./-]{1,16}".prop_map(Box::from),
        1 => Just(Box::from("l".repeat(512).as_str())),
    ]
}

fn value_text() -> impl Strategy<Value = Box<str>> {
    prop_oneof![
        3 => select(VALUES).prop_map(Box::from),
        2 => "[^'\"]{0,8}".prop_map(Box::from),
        1 => "[a-z' ]{0,4}".prop_map(Box::from),
        1 => "[a-z\" ]{0,4}".prop_map(Box::from),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    select(
        &[
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Contains,
            CompareOp::StartsWith,
            CompareOp::EndsWith,
        ][..],
    )
}

/// Trees where `!` never applies directly to a negation (Calico's canonical text for that
/// prints `!!`, which re-parses as no negation; see the module docs).
fn expr_strategy() -> impl Strategy<Value = Expr> {
    let set = || prop::collection::vec(value_text(), 0..5).prop_map(ValueSet::new);
    let leaf =
        prop_oneof![
            Just(Expr::All),
            Just(Expr::Global),
            label_name().prop_map(Expr::Has),
            (label_name(), compare_op(), value_text())
                .prop_map(|(label, op, value)| Expr::Compare { label, op, value }),
            (label_name(), set()).prop_map(|(label, values)| Expr::InSet { label, values }),
            (label_name(), set()).prop_map(|(label, values)| Expr::NotInSet { label, values }),
        ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| match e {
                Expr::Not(_) => e,
                other => Expr::Not(Box::new(other)),
            }),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Expr::And),
            prop::collection::vec(inner, 2..5).prop_map(Expr::Or),
        ]
    })
}

fn has_double_negation(expr: &Expr) -> bool {
    match expr {
        Expr::Not(inner) => matches!(**inner, Expr::Not(_)) || has_double_negation(inner),
        Expr::And(operands) | Expr::Or(operands) => operands.iter().any(has_double_negation),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Text that looks like selectors, for "never panics".

const FRAGMENTS: &[&str] = &[
    "a", "b", "k8s.io/x", " ", "\t", "\n", "==", "!=", "!", "=", "&&", "&", "||", "|", "(", ")",
    "{", "}", ",", "'x'", "\"y\"", "'", "\"", "in", "not", "notin", "contains", "starts", "with",
    "ends", "has(", "has", "all()", "all(", "global()", "%", "é", "\u{0}",
];

fn selector_like_text() -> impl Strategy<Value = String> {
    prop::collection::vec(select(FRAGMENTS), 0..24).prop_map(|parts| parts.concat())
}

/// Whatever parses must print to text that parses, reaches a fixed point after at most one
/// more round, and selects the same endpoints.
fn check_parsed(selector: &Selector, label_sets: &[LabelMap]) -> Result<(), TestCaseError> {
    let canonical = selector.canonical();
    let reparsed = Selector::parse(&canonical)
        .map_err(|e| TestCaseError::fail(format!("canonical text does not parse: {e}")))?;
    let again = reparsed.canonical();
    prop_assert_eq!(
        Selector::parse(&again).map(|s| s.canonical()).ok(),
        Some(again.clone())
    );
    if !has_double_negation(selector.expr()) {
        prop_assert_eq!(&reparsed, selector);
        prop_assert_eq!(&again, &canonical);
    }
    for labels in label_sets {
        prop_assert_eq!(
            reparsed.matches(labels),
            selector.matches(labels),
            "labels {:?}",
            labels
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_of_canonical_is_identity(expr in expr_strategy()) {
        let selector = Selector::try_from(expr.clone())
            .map_err(|e| TestCaseError::fail(format!("generated tree rejected: {e}")))?;
        let text = selector.canonical();
        let parsed = Selector::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("canonical text does not parse: {e}")))?;
        prop_assert_eq!(parsed.expr(), &expr);
        prop_assert_eq!(parsed.canonical(), text.clone());
        prop_assert_eq!(parsed.unique_id(), selector.unique_id());
        prop_assert_eq!(format!("{parsed}"), text);
    }

    #[test]
    fn evaluation_matches_the_reference(
        reference in reference_strategy(),
        seed in 1u64..,
        label_sets in prop::collection::vec(labels_strategy(), 8),
    ) {
        let text = render(&reference, PREC_OR, &mut Style(seed));
        let selector = Selector::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("rendered text does not parse: {e}")))?;
        for labels in &label_sets {
            prop_assert_eq!(
                selector.matches(labels),
                reference_eval(&reference, labels),
                "{} (canonical {}) on {:?}", text, selector, labels
            );
        }
        check_parsed(&selector, &label_sets)?;
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        if let Err(error) = Selector::parse(&text) {
            prop_assert!(error.position() <= text.len());
            prop_assert!(text.is_char_boundary(error.position()));
            prop_assert_eq!(error.input(), text.as_str());
        }
    }

    #[test]
    fn parse_never_panics_on_selector_like_text(
        text in selector_like_text(),
        label_sets in prop::collection::vec(labels_strategy(), 4),
    ) {
        match Selector::parse(&text) {
            Ok(selector) => check_parsed(&selector, &label_sets)?,
            Err(error) => {
                prop_assert!(error.position() <= text.len());
                prop_assert!(text.is_char_boundary(error.position()));
                let message = error.to_string();
                prop_assert!(message.starts_with(&format!("invalid selector {text:?}: ")), "{}", message);
                prop_assert!(message.contains(&format!("at position {}", error.position())), "{}", message);
            }
        }
    }
}
