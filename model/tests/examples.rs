//! The manifests under examples/ (used by `just demo`) stay valid, and bad.yaml stays bad for the
//! reason the demo shows.

use model::document::load;

fn read(name: &str) -> String {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn cluster_example_decodes_and_validates() {
    let loaded = load(&read("cluster.yaml"), "cluster.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.len() >= 10);
    for l in loaded {
        let mut r = l.resource;
        r.set_defaults();
        if let Err(e) = r.validate() {
            panic!("{}: {e}", l.origin);
        }
    }
}

#[test]
fn bad_example_fails_validation_on_the_pool_cidr() {
    let loaded =
        load(&read("bad.yaml"), "bad.yaml").expect("bad.yaml decodes; it fails validation");
    let errors: Vec<String> = loaded
        .iter()
        .filter_map(|l| {
            l.resource
                .validate()
                .err()
                .map(|e| format!("{}: {e}", l.origin))
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("spec.cidr") && errors[0].contains("10.90.0.0/33"),
        "{errors:?}"
    );
}
