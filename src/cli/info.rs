use clap::Args;

use super::Cli;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, args: &InfoArgs) -> anyhow::Result<()> {
    let picked = cli.compute_device()?;
    let backends: Vec<&str> = ["flex", "wgpu"].into_iter().filter(|b| *b == "flex" || cfg!(feature = "wgpu")).collect();
    if args.json {
        let report = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "backends": backends,
            "device": picked.info,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("maskscope {}", env!("CARGO_PKG_VERSION"));
    println!("backends built: {}", backends.join(", "));
    println!("device: {}", picked.info.short());
    println!("  requested: {:?}", picked.info.requested);
    println!("  why: {}", picked.info.reason);
    if let Some(adapter) = &picked.info.adapter {
        println!("  adapter: {} ({}, {}, driver: {})", adapter.name, adapter.api, adapter.device_type, adapter.driver);
    }
    Ok(())
}
