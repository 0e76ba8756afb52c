//! Golden test of the rendered nftables table: the fixture's policy as `nft -f` text. Review
//! changes by reading the diff; regenerate with `UPDATE_GOLDEN=1`.

use model::policy::{Snapshot, resolve};

#[test]
fn rendered_table_matches_the_golden_file() {
    let text = include_str!("fixtures/host_policy.yaml");
    let resources = model::document::resources_from_text(text, "host_policy.yaml")
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    let hp = resolve(&Snapshot::from_resources(resources), "h1");
    let got = dataplane::policy::text::table_script(&dataplane::policy::render::render(&hp));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/host_policy.nft");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &got).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        got == want,
        "rendered table differs from {path} (UPDATE_GOLDEN=1 to accept):\n{got}"
    );
}
