//! Network definitions. Each block is its own small module built by a `#[derive(Config)]`.

pub mod block_ir;
pub mod config;
pub mod fpn;
pub mod from_mobilefacenet;
pub mod from_net;
pub mod heads;
pub mod lresnet;
pub mod mask_decoder;
pub mod mobilefacenet;
pub mod ops;
pub mod torch_names;

pub use config::FromNetConfig;
pub use from_net::{FromNet, FromOutput, normalize_pixels};
