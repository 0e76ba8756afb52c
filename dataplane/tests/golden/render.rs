// The golden fixture rendered as `nft -f` text: shared by the golden test
// (`tests/policy_golden.rs`) and the program that rewrites the golden file
// (`examples/update_golden.rs`, run by `just update-golden`).

use model::policy::{Snapshot, resolve};

/// Where the golden file is.
pub const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/host_policy.nft");

/// The fixture's policy for host `h1`, rendered.
pub fn rendered_fixture() -> String {
    let text = include_str!("../fixtures/host_policy.yaml");
    let resources = model::document::resources_from_text(text, "host_policy.yaml")
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    let hp = resolve(&Snapshot::from_resources(resources), "h1");
    dataplane::policy::text::table_script(&dataplane::policy::render::render(&hp))
}
