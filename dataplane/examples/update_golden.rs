//! Rewrites `tests/golden/host_policy.nft` with the fixture as rendered now (`just
//! update-golden`). Review the diff before committing it.

#[path = "../tests/golden/render.rs"]
mod render;

fn main() -> std::io::Result<()> {
    std::fs::write(render::GOLDEN, render::rendered_fixture())?;
    eprintln!("wrote {}", render::GOLDEN);
    Ok(())
}
