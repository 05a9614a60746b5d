//! Dumps photos exactly as maskscope decodes them (raw HWC RGB bytes), so a reference tool can
//! run on identical pixels: `tools/mtcnn_reference.py --pixels DIR`.
//!
//! Usage: `cargo run --example decode_rgb -- <image root> <list of relative paths> <out dir>`

use std::path::Path;

use anyhow::Context;
use maskscope::face::read_rgb;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, list, out] = args.as_slice() else {
        anyhow::bail!("usage: decode_rgb <image root> <list of relative paths> <out dir>");
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {out}"))?;
    let list = std::fs::read_to_string(list).with_context(|| format!("reading {list}"))?;
    for relative in list.lines().filter(|l| !l.trim().is_empty()) {
        let image = read_rgb(&Path::new(root).join(relative))?;
        let target = Path::new(out).join(format!("{}.rgb", relative.replace('/', "__")));
        std::fs::write(&target, image.as_raw()).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}
