//! The YAML reader never panics, whatever the input.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_yaml_like_text(text in "[-:{}\\[\\],&*!|>'\"#?<% \\n\\tabyn01.~]{0,64}") {
        let _ = model::yaml::parse_documents(&text);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = model::yaml::parse_documents(&text);
    }

    #[test]
    fn a_quoted_string_is_read_back_unchanged(s in "[a-zA-Z0-9 ./:_-]{0,32}") {
        let quoted = format!("v: '{s}'\n");
        let docs = model::yaml::parse_documents(&quoted).expect("quoted scalar parses");
        prop_assert_eq!(&docs[0]["v"], &serde_json::Value::String(s));
    }
}
