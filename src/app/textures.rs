//! egui textures made from images in the state, rebuilt only when their source changes.

use std::collections::HashMap;

use eframe::egui;
use image::{RgbImage, RgbaImage};

#[derive(Default)]
pub struct Textures {
    cache: HashMap<String, (u64, egui::TextureHandle)>,
}

impl Textures {
    /// The texture `name` at `version`, made by `make` when the cached one is older or missing.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        version: u64,
        options: egui::TextureOptions,
        make: impl FnOnce() -> egui::ColorImage,
    ) -> egui::TextureHandle {
        match self.cache.get(name) {
            Some((v, handle)) if *v == version => handle.clone(),
            _ => {
                let handle = ctx.load_texture(name, make(), options);
                self.cache.insert(name.to_string(), (version, handle.clone()));
                handle
            }
        }
    }

    /// The cached texture `name` whatever its version.
    pub fn peek(&self, name: &str) -> Option<&egui::TextureHandle> {
        self.cache.get(name).map(|(_, h)| h)
    }

    /// Drops textures whose name starts with `prefix` (a removed face's).
    pub fn forget(&mut self, prefix: &str) {
        self.cache.retain(|name, _| !name.starts_with(prefix));
    }
}

/// The thumbnail texture of a face's aligned crop (`None` before it is aligned), shared by every
/// panel that lists faces so they reuse one texture per face.
pub fn face_thumbnail(
    textures: &mut Textures,
    ctx: &egui::Context,
    id: crate::app::ids::FaceId,
    face: &crate::app::state::FaceEntry,
) -> Option<egui::TextureHandle> {
    face.aligned.as_ref().map(|a| {
        textures.get(ctx, &format!("face-{}-thumb", id.0), face.align_revision, egui::TextureOptions::LINEAR, || {
            rgb(&a.image)
        })
    })
}

pub fn rgb(image: &RgbImage) -> egui::ColorImage {
    egui::ColorImage::from_rgb([image.width() as usize, image.height() as usize], image.as_raw())
}

pub fn rgba(image: &RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied([image.width() as usize, image.height() as usize], image.as_raw())
}
