//! `embed` and `verify`: photos in, embeddings and similarities out.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::align::FaceTemplate;
use crate::assets;
use crate::face::embedder::{DEFAULT_THRESHOLD, EMBEDDER_TEMPLATE, cosine};
use crate::face::{Embedder, FaceFinder, FacePick, FoundFace, damage_warning};

/// `--aligned`, shared by every command that reads face photos.
#[derive(Debug, Args)]
pub struct AlignedArg {
    /// The photos are crops already aligned to this template: 112x96 (SphereFace/FROM, e.g. the
    /// authors' lfw-112X96) or 112x112 (ArcFace/MobileFaceNet). They are used as they are, with no
    /// detection; a model of the other template gets them shifted by 8 px (padded or cropped,
    /// never resized). A photo of another size is an error.
    #[arg(long, value_name = "HxW")]
    pub aligned: Option<FaceTemplate>,
}

impl AlignedArg {
    /// Sets `finder` to take the photos as aligned crops when `--aligned` was given.
    pub fn apply(&self, finder: &mut FaceFinder) {
        finder.pre_aligned = self.aligned;
    }
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Face embedder record (default: the bundled MobileFaceNet).
    #[arg(long)]
    pub embedder: Option<PathBuf>,
    /// Which face to use when a photo shows several (default: the largest; for `eval-pairs`
    /// the central one, where LFW-style datasets put the labelled person).
    #[arg(long, value_enum)]
    pub face: Option<FacePick>,
    /// Refuse a photo whose data is damaged (a truncated or corrupt JPEG, which decodes with the
    /// lost parts filled in) instead of warning about it.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub aligned: AlignedArg,
}

impl ModelArgs {
    pub fn load(&self, cli: &Cli, default_pick: FacePick) -> anyhow::Result<(FaceFinder, Embedder)> {
        let device = cli.compute_device()?.device;
        let record = self.embedder.clone().unwrap_or_else(assets::mobilefacenet_record);
        let embedder = Embedder::load(&record, &device).with_context(|| {
            format!(
                "loading the face embedder (convert it with `maskscope convert {}`)",
                "../shared/models/mobilefacenet/mobilefacenet.json -o assets/mobilefacenet.bpk"
            )
        })?;
        let mut finder = FaceFinder::load(&assets::mtcnn_dir(), EMBEDDER_TEMPLATE, &device)?;
        finder.pick = self.face.unwrap_or(default_pick);
        finder.strict = self.strict;
        self.aligned.apply(&mut finder);
        Ok((finder, embedder))
    }
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Photos to embed.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn embed(cli: &Cli, args: &EmbedArgs) -> anyhow::Result<()> {
    let (finder, embedder) = args.model.load(cli, FacePick::Largest)?;
    for path in &args.images {
        let face = finder.find_in_file(path)?;
        if let Some(why) = &face.damage {
            eprintln!("{} (--strict makes this an error)", damage_warning(path, why));
        }
        let embedding = embedder.embed(&[&face.aligned.image])?.remove(0);
        let mut line = face_json(path, &face, finder.pre_aligned);
        line["embedding"] = serde_json::json!(embedding);
        println!("{line}");
    }
    Ok(())
}

/// Where the face is in the photo: the detection, or (aligned input) the whole crop with the
/// template's landmarks, which is what `--aligned` assumes.
pub fn face_json(path: &std::path::Path, face: &FoundFace, given: Option<FaceTemplate>) -> serde_json::Value {
    let (bbox, score, landmarks) = match (&face.detection, given) {
        (Some(d), _) => (d.bbox, Some(d.score), d.landmarks),
        (None, Some(t)) => {
            let [h, w] = t.size();
            ([0.0, 0.0, w as f32, h as f32], None, t.landmarks().map(|[x, y]| [x as f32, y as f32]))
        }
        (None, None) => unreachable!("a finder without aligned input always detects"),
    };
    serde_json::json!({
        // Lossy: JSON strings are UTF-8, and a path that is not would make serde fail.
        "image": path.to_string_lossy(),
        "aligned_input": given.map(FaceTemplate::name),
        "faces_in_photo": face.faces_in_photo,
        "box": bbox,
        "score": score,
        "landmarks": landmarks,
        "damage": face.damage,
    })
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The first photo (its largest face unless --face says otherwise).
    pub a: PathBuf,
    /// The second photo, compared with the first.
    pub b: PathBuf,
    /// Cosine similarity above which the faces are called the same person, in [-1, 1].
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = cosine_threshold, allow_negative_numbers = true)]
    pub threshold: f32,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// A cosine threshold: a finite number in [-1, 1] (NaN would call every pair "different").
fn cosine_threshold(text: &str) -> Result<f32, String> {
    let value: f32 = text.trim().parse().map_err(|e| format!("{e}"))?;
    if (-1.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not a cosine similarity (a number from -1 to 1)"))
    }
}

pub fn verify(cli: &Cli, args: &VerifyArgs) -> anyhow::Result<()> {
    let (finder, embedder) = args.model.load(cli, FacePick::Largest)?;
    let a = finder.find_in_file(&args.a)?;
    let b = finder.find_in_file(&args.b)?;
    for (path, face) in [(&args.a, &a), (&args.b, &b)] {
        if let Some(why) = &face.damage {
            eprintln!("{} (--strict makes this an error)", damage_warning(path, why));
        }
    }
    let e = embedder.embed(&[&a.aligned.image, &b.aligned.image])?;
    let similarity = cosine(&e[0], &e[1]);
    let verdict = if similarity > args.threshold { "same person" } else { "different people" };
    println!("cosine similarity {similarity:.4} (threshold {:.3}): {verdict}", args.threshold);
    Ok(())
}
