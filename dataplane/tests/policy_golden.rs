//! Golden test of the rendered nftables table: the fixture's policy as `nft -f` text. Review
//! changes by reading the diff; `just update-golden` rewrites the file (nothing in a test run
//! does).

#[path = "golden/render.rs"]
mod render;

#[test]
fn rendered_table_matches_the_golden_file() {
    let got = render::rendered_fixture();
    let want = std::fs::read_to_string(render::GOLDEN)
        .unwrap_or_else(|e| panic!("{}: {e}", render::GOLDEN));
    assert!(
        got == want,
        "rendered table differs from {} (`just update-golden` accepts it):\n{got}",
        render::GOLDEN
    );
}
