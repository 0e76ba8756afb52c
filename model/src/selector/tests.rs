//! Unit tests: error positions and messages, canonical text beyond Calico's own table, the
//! corners of the grammar, and the `Expr` → `Selector` checks.

use std::collections::{BTreeMap, HashMap};

use super::*;

fn parse_err(input: &str) -> ParseError {
    match Selector::parse(input) {
        Ok(selector) => panic!("{input:?} parsed as {selector}, expected an error"),
        Err(error) => error,
    }
}

fn canonical(input: &str) -> String {
    match Selector::parse(input) {
        Ok(selector) => selector.canonical(),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn error_message_names_input_position_expectation_and_finding() {
    let error = parse_err("a == ");
    assert_eq!(error.input(), "a == ");
    assert_eq!(error.position(), 5);
    assert_eq!(error.expected(), Some(Expected::QuotedString));
    assert_eq!(error.found(), Some(&Found::EndOfInput));
    assert_eq!(
        error.to_string(),
        r#"invalid selector "a == ": expected a quoted string at position 5, found end of input"#
    );
}

#[test]
fn label_on_the_right_is_reported_where_the_string_should_be() {
    let error = parse_err("b == b");
    assert_eq!(
        (error.position(), error.expected()),
        (5, Some(Expected::QuotedString))
    );
    assert_eq!(error.found(), Some(&Found::Token("b".into())));
    assert!(
        error
            .to_string()
            .ends_with("expected a quoted string at position 5, found `b`")
    );
}

#[test]
fn literal_on_the_left_expects_an_operation() {
    let error = parse_err("'b1' == b");
    assert_eq!(
        (error.position(), error.expected()),
        (0, Some(Expected::Operation))
    );
    assert_eq!(error.found(), Some(&Found::Token("'b1'".into())));
}

#[test]
fn bare_label_expects_an_operator() {
    let error = parse_err("a ");
    assert_eq!(
        (error.position(), error.expected()),
        (2, Some(Expected::Operator))
    );
    let error = parse_err("a b");
    assert_eq!(
        (error.position(), error.expected()),
        (2, Some(Expected::Operator))
    );
    assert_eq!(error.found(), Some(&Found::Token("b".into())));
}

#[test]
fn unknown_character_is_reported_with_what_was_expected_there() {
    let error = parse_err(r#"a == "b" && %"#);
    assert_eq!(
        (error.position(), error.expected()),
        (12, Some(Expected::Operation))
    );
    assert_eq!(error.found(), Some(&Found::Char('%')));
    assert!(
        error.to_string().ends_with("at position 12, found '%'"),
        "{error}"
    );

    let error = parse_err("a == %");
    assert_eq!(
        (error.position(), error.expected()),
        (5, Some(Expected::QuotedString))
    );
}

#[test]
fn newline_is_not_a_blank() {
    let error = parse_err("a == 'b'\n");
    assert_eq!(
        (error.position(), error.expected()),
        (8, Some(Expected::EndOfSelector))
    );
    assert_eq!(error.found(), Some(&Found::Char('\n')));
    assert!(parse_err("\n").position() == 0);
}

#[test]
fn position_is_a_byte_offset_past_multibyte_strings() {
    let error = parse_err("a == 'é' &&");
    assert_eq!(error.position(), "a == 'é' &&".len());
    let error = parse_err("a == 'x' && é");
    assert_eq!(
        (error.position(), error.found()),
        (12, Some(&Found::Char('é')))
    );
}

#[test]
fn unterminated_string_points_at_its_opening_quote() {
    for (input, quote, position) in [
        ("\"FOO", '"', 0),
        ("\"FOO'", '"', 0),
        ("a == 'FOO", '\'', 5),
    ] {
        let error = parse_err(input);
        assert_eq!(error.position(), position, "{input}");
        assert_eq!(
            error.expected(),
            Some(Expected::ClosingQuote(quote)),
            "{input}"
        );
    }
    assert!(
        parse_err("'FOO")
            .to_string()
            .contains("expected a closing ' for the string starting at position 0")
    );
}

#[test]
fn single_character_operators_are_rejected_where_they_stand() {
    let cases = [
        (r#"foo == "bar" &"#, 13, Expected::DoubleAmpersand),
        (r#"foo == "bar" |"#, 13, Expected::DoublePipe),
        ("a = 'b'", 2, Expected::DoubleEquals),
    ];
    for (input, position, expected) in cases {
        let error = parse_err(input);
        assert_eq!(
            (error.position(), error.expected()),
            (position, Some(expected)),
            "{input}"
        );
    }
}

#[test]
fn unbalanced_parentheses_are_reported() {
    let error = parse_err("(");
    assert_eq!(
        (error.position(), error.expected()),
        (1, Some(Expected::Operation))
    );
    let error = parse_err(r#"(a == "foo""#);
    assert_eq!(
        (error.position(), error.expected()),
        (11, Some(Expected::CloseParen))
    );
    let error = parse_err(")");
    assert_eq!(
        (error.position(), error.expected()),
        (0, Some(Expected::Operation))
    );
    let error = parse_err("()");
    assert_eq!(
        (error.position(), error.expected()),
        (1, Some(Expected::Operation))
    );
    let error = parse_err("has(a))");
    assert_eq!(
        (error.position(), error.expected()),
        (6, Some(Expected::EndOfSelector))
    );
}

#[test]
fn set_errors_say_which_part_of_the_set_is_wrong() {
    let error = parse_err(r#"foo in """#);
    assert_eq!(
        (error.position(), error.expected()),
        (7, Some(Expected::SetLiteral))
    );
    let error = parse_err(r#"foo in {"", ||"#);
    assert_eq!(
        (error.position(), error.expected()),
        (12, Some(Expected::SetMember))
    );
    let error = parse_err(r#"foo in {"a" "b"}"#);
    assert_eq!(
        (error.position(), error.expected()),
        (12, Some(Expected::SetSeparator))
    );
    let error = parse_err(r#"foo in {"a",,}"#);
    assert_eq!(
        (error.position(), error.expected()),
        (12, Some(Expected::SetMember))
    );
}

#[test]
fn malformed_calls_are_reported_inside_the_parentheses() {
    let error = parse_err("has()");
    assert_eq!(
        (error.position(), error.expected()),
        (4, Some(Expected::HasLabel))
    );
    let error = parse_err("has(a b)");
    assert_eq!(
        (error.position(), error.expected()),
        (6, Some(Expected::CallClose("has(")))
    );
    let error = parse_err("all(x)");
    assert_eq!(
        (error.position(), error.expected()),
        (4, Some(Expected::CallClose("all(")))
    );
    let error = parse_err("global( ");
    assert_eq!(error.expected(), Some(Expected::CallClose("global(")));
    assert!(
        error
            .to_string()
            .contains("expected ')' to close global( at position 8")
    );
}

#[test]
fn labels_longer_than_512_are_rejected() {
    let longest = "k".repeat(MAX_LABEL_LEN);
    assert!(Selector::parse(&format!("{longest} == 'v'")).is_ok());
    assert!(Selector::parse(&format!("has({longest})")).is_ok());

    let too_long = "k".repeat(MAX_LABEL_LEN + 1);
    let error = parse_err(&format!("a == 'v' && {too_long} == 'v'"));
    assert_eq!(error.position(), 12);
    assert_eq!(error.kind(), &ParseErrorKind::LabelTooLong { length: 513 });
    assert!(
        error
            .to_string()
            .contains("label of 513 characters (the limit is 512) at position 12")
    );
    let error = parse_err(&format!("has( {too_long})"));
    assert_eq!(error.kind(), &ParseErrorKind::LabelTooLong { length: 513 });
}

#[test]
fn nesting_is_limited() {
    let nested = |depth: usize| format!("{}has(a){}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(canonical(&nested(MAX_NESTING)), "has(a)");
    let error = parse_err(&nested(MAX_NESTING + 1));
    assert_eq!(error.kind(), &ParseErrorKind::NestingTooDeep);
    assert_eq!(error.position(), MAX_NESTING);
    // A run of `!` is not nesting.
    let negations = format!("{}has(a)", "!".repeat(100_001));
    assert_eq!(canonical(&negations), "!has(a)");
}

#[test]
fn canonical_wraps_every_and_or_list_in_parentheses() {
    // From libcalico-go's visitor tests (without the label prefix).
    let cases = [
        ("k == 'v' && x == 'y'", r#"(k == "v" && x == "y")"#),
        ("k == 'v' || has(x)", r#"(k == "v" || has(x))"#),
        ("!(k == 'v')", r#"!k == "v""#),
        ("k in {'v'}", r#"k in {"v"}"#),
        ("k not in {'v'}", r#"k not in {"v"}"#),
        (
            "!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
            r#"!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})"#,
        ),
        (
            "a == 'x' && b == 'y' || c == 'z'",
            r#"((a == "x" && b == "y") || c == "z")"#,
        ),
        (
            "a == 'x' && (b == 'y' || c == 'z')",
            r#"(a == "x" && (b == "y" || c == "z"))"#,
        ),
        (
            "((a == 'x') && b == 'y') && c == 'z'",
            r#"((a == "x" && b == "y") && c == "z")"#,
        ),
        ("\tglobal( )", "global()"),
        ("a notin {}", "a not in {}"),
        ("a  starts \t with 'x'", r#"a starts with "x""#),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "{input}");
    }
}

#[test]
fn double_negation_through_parentheses_keeps_calicos_text() {
    let selector = Selector::parse("!(!a == 'x')").expect("valid");
    assert_eq!(selector.canonical(), r#"!!a == "x""#);
    let reparsed = Selector::parse(&selector.canonical()).expect("valid");
    assert_eq!(reparsed.canonical(), r#"a == "x""#);
    let labels = [("a", "x")];
    assert_eq!(selector.matches(&labels), reparsed.matches(&labels));
}

#[test]
fn set_accepts_trailing_comma_and_empty_braces() {
    assert_eq!(canonical(r#"a in {"x",}"#), r#"a in {"x"}"#);
    let empty_in = Selector::parse("a in {}").expect("valid");
    let empty_not_in = Selector::parse("a not in {}").expect("valid");
    assert!(!empty_in.matches(&[("a", "")]));
    assert!(empty_not_in.matches(&[("a", "")]));
    assert!(empty_not_in.matches(&[("b", "")]));
}

#[test]
fn operator_words_are_labels_away_from_a_label() {
    let selector =
        Selector::parse("in == 'x' && not in {'y'} && contains contains 'z' && has(all)")
            .expect("valid");
    assert_eq!(
        selector.canonical(),
        r#"(in == "x" && not in {"y"} && contains contains "z" && has(all))"#
    );
    assert_eq!(selector.label_keys(), ["all", "contains", "in", "not"]);
    // After a label an operator word needs a word boundary.
    assert_eq!(
        parse_err("a inx {'y'}").expected(),
        Some(Expected::Operator)
    );
    assert_eq!(
        parse_err("a containsx 'y'").expected(),
        Some(Expected::Operator)
    );
    assert_eq!(canonical("a in{'y'}"), r#"a in {"y"}"#);
}

#[test]
fn strings_keep_blanks_newlines_and_unicode_verbatim() {
    let selector = Selector::parse("a == ' x\n\té ' || b == \"it's\"").expect("valid");
    assert_eq!(selector.canonical(), "(a == \" x\n\té \" || b == \"it's\")");
    assert!(selector.matches(&[("a", " x\n\té ")]));
    assert!(selector.matches(&[("b", "it's")]));
}

#[test]
fn large_sets_use_sorted_lookup() {
    let members: Vec<String> = (0..50).map(|i| format!("v{i:02}")).collect();
    let text = format!(
        "a in {{{}}}",
        members
            .iter()
            .rev()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let selector = Selector::parse(&text).expect("valid");
    for member in &members {
        assert!(selector.matches(&[("a", member.as_str())]), "{member}");
    }
    assert!(!selector.matches(&[("a", "v50")]));
    assert!(!selector.matches(&[("a", "")]));
}

#[test]
fn label_keys_are_sorted_and_unique() {
    let selector = Selector::parse("b == 'x' && (has(a) || !b in {'y'}) && c not in {} && all()")
        .expect("valid");
    assert_eq!(selector.label_keys(), ["a", "b", "c"]);
    assert!(Selector::all().label_keys().is_empty());
}

#[test]
fn is_all_only_for_all() {
    assert!(Selector::parse("").expect("valid").is_all());
    assert!(Selector::parse(" \t ").expect("valid").is_all());
    assert!(Selector::parse("((all()))").expect("valid").is_all());
    assert!(Selector::default().is_all());
    assert!(!Selector::parse("global()").expect("valid").is_all());
    assert!(!Selector::parse("all() && all()").expect("valid").is_all());
    assert!(!Selector::parse("!!!all()").expect("valid").is_all());
}

#[test]
fn from_str_and_display_agree_with_parse_and_canonical() {
    let selector: Selector = "a==\"b\"&&has(c)".parse().expect("valid");
    assert_eq!(selector.to_string(), r#"(a == "b" && has(c))"#);
    assert_eq!(selector.to_string(), selector.canonical());
    assert!("a ==".parse::<Selector>().is_err());
}

#[test]
fn every_label_source_gives_the_same_answer() {
    let selector = Selector::parse("a == 'x' && b != 'y' && has(c)").expect("valid");
    let btree: BTreeMap<String, String> = [("a", "x"), ("c", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let hash: HashMap<String, String> = btree.clone().into_iter().collect();
    let borrowed: BTreeMap<&str, &str> = [("a", "x"), ("c", "")].into_iter().collect();
    let pairs = vec![
        ("a".to_string(), "x".to_string()),
        ("c".to_string(), String::new()),
    ];
    assert!(selector.matches(&btree));
    assert!(selector.matches(&hash));
    assert!(selector.matches(&borrowed));
    assert!(selector.matches(&pairs));
    assert!(selector.matches(pairs.as_slice()));
    assert!(selector.matches(&[("a", "x"), ("c", "")]));
    assert!(selector.matches(&&btree));
    assert!(!selector.matches(&[("a", "x"), ("b", "y"), ("c", "")]));
}

#[test]
fn expr_becomes_a_selector_only_if_its_text_parses_back() {
    let label = |name: &str| -> Box<str> { name.into() };
    let has = |name: &str| Expr::Has(label(name));

    let valid = Expr::And(vec![
        has("a"),
        Expr::Not(Box::new(Expr::InSet {
            label: label("k8s.io/b"),
            values: ["z", "x", "z", "'"].into_iter().collect(),
        })),
    ]);
    let selector = Selector::try_from(valid.clone()).expect("valid tree");
    assert_eq!(
        selector.canonical(),
        r#"(has(a) && !k8s.io/b in {"'", "x", "z"})"#
    );
    assert_eq!(
        Selector::parse(&selector.canonical()).expect("parses"),
        selector
    );
    assert_eq!(Expr::from(selector), valid);

    let invalid = [
        (has(""), InvalidExpr::Label(String::new())),
        (has("a b"), InvalidExpr::Label("a b".into())),
        (has(&"k".repeat(513)), InvalidExpr::Label("k".repeat(513))),
        (
            Expr::Compare {
                label: label("a"),
                op: CompareOp::Eq,
                value: "'\"".into(),
            },
            InvalidExpr::Value("'\"".into()),
        ),
        (Expr::Or(vec![has("a")]), InvalidExpr::TooFewOperands("||")),
        (Expr::And(vec![]), InvalidExpr::TooFewOperands("&&")),
    ];
    for (expr, expected) in invalid {
        assert_eq!(Selector::try_from(expr), Err(expected));
    }

    let mut deep = has("a");
    for _ in 0..=MAX_NESTING {
        deep = Expr::And(vec![deep, has("b")]);
    }
    assert_eq!(Selector::try_from(deep), Err(InvalidExpr::TooDeep));
}

#[test]
fn unique_id_hashes_the_canonical_text() {
    assert_eq!(
        Selector::all().unique_id(),
        "s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug"
    );
    let a = Selector::parse("a=='x'&&b=='y'").expect("valid");
    let b = Selector::parse(" ( a == \"x\" ) && ( b == 'y' ) ").expect("valid");
    assert_eq!(a, b);
    assert_eq!(a.unique_id(), b.unique_id());
    assert_ne!(
        a.unique_id(),
        Selector::parse("b=='y'&&a=='x'")
            .expect("valid")
            .unique_id()
    );
}
