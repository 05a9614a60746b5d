//! PyTorch's names for our modules' parameters where they differ from the burn field paths.
//!
//! Each module that comes from a PyTorch checkpoint keeps, beside its definition, the pairs
//! `(PyTorch name, burn field path)` in which the two differ (`nn.Sequential` indices, the
//! official code's upper-case pyramid names); a network assembles its blocks' pairs under their
//! prefixes. `checkpoint::torch_import` turns them into burn-store key remaps. A pair whose
//! PyTorch side starts with `^` holds at the start of a key only, any other pair wherever its
//! dotted segments stand.

/// `(PyTorch path, burn path)` pairs, tried in order.
pub type TorchRenames = Vec<(String, String)>;

/// `names`, relative to a block, for the block at `torch_prefix` (PyTorch) and `burn_prefix`
/// (burn), anchored at the start of a key. An empty prefix is the network's root.
pub fn under(torch_prefix: &str, burn_prefix: &str, names: &[(&str, &str)]) -> TorchRenames {
    let join = |prefix: &str, name: &str| if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
    names.iter().map(|(torch, burn)| (format!("^{}", join(torch_prefix, torch)), join(burn_prefix, burn))).collect()
}

/// `names` wherever they stand (not anchored).
pub fn anywhere(names: &[(&str, &str)]) -> TorchRenames {
    names.iter().map(|(torch, burn)| (torch.to_string(), burn.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_join_with_dots_and_anchor() {
        assert_eq!(under("fc", "fc", &[("0", "bn_in")]), [("^fc.0".to_string(), "fc.bn_in".to_string())]);
        assert_eq!(under("", "backbone", &[("conv1", "conv1")]), [("^conv1".into(), "backbone.conv1".into())]);
        assert_eq!(anywhere(&[("downsample.0", "downsample.conv")])[0].0, "downsample.0");
    }
}
