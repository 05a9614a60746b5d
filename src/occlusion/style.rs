//! How an occluder covers a face: alpha-composited (only the object hides the face), pasted as
//! an opaque rectangle (the authors' protocol), or as a flat grey box of the same size.
//!
//! The authors' code (haibo-qiu/FROM, `lib/core/utils.py` `occluded_image_ratio`) reads each
//! occluder as RGB and pastes the whole resized rectangle, so the occluded area, and the pattern
//! label, is the full box. Alpha compositing leaves most of a box's corners showing the face and is
//! the easier protocol; both are kept, and training can mix them.

use std::fmt;
use std::str::FromStr;

use image::Rgb;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Colour of grey-box occlusions: the square sweep, grey regions and grey paste backgrounds.
pub const SWEEP_GREY: Rgb<u8> = Rgb([128, 128, 128]);

/// What shows through an opaquely pasted occluder's transparent pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PasteBackground {
    /// [`SWEEP_GREY`].
    #[default]
    Grey,
    /// What the authors' `Image.open(f).convert('RGB')` shows of a transparent PNG of the bundled
    /// library: every drawing stores black under its transparent pixels.
    Black,
    White,
}

impl PasteBackground {
    pub const ALL: [PasteBackground; 3] = [PasteBackground::Grey, PasteBackground::Black, PasteBackground::White];

    pub fn colour(self) -> Rgb<u8> {
        match self {
            PasteBackground::Grey => SWEEP_GREY,
            PasteBackground::Black => Rgb([0, 0, 0]),
            PasteBackground::White => Rgb([255, 255, 255]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PasteBackground::Grey => "grey",
            PasteBackground::Black => "black",
            PasteBackground::White => "white",
        }
    }
}

/// How one occluder is put on a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OcclusionStyle {
    /// Alpha-composited: the object's own pixels (alpha >= 0.5) are the occluded area.
    #[default]
    Alpha,
    /// The whole resized rectangle, the object over a flat background: the occluded area is the
    /// rectangle (the authors' protocol).
    Pasted(PasteBackground),
    /// The occluder's rectangle filled with [`SWEEP_GREY`], the classic grey box.
    GreyBox,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown occlusion style {0:?}; valid: alpha, pasted-grey, pasted-black, pasted-white, grey-box")]
pub struct UnknownStyle(pub String);

impl fmt::Display for OcclusionStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcclusionStyle::Alpha => f.write_str("alpha"),
            OcclusionStyle::Pasted(background) => write!(f, "pasted-{}", background.name()),
            OcclusionStyle::GreyBox => f.write_str("grey-box"),
        }
    }
}

impl FromStr for OcclusionStyle {
    type Err = UnknownStyle;

    /// The names [`Display`](fmt::Display) writes, in any case and with `_` for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        match wanted.as_str() {
            "alpha" => return Ok(OcclusionStyle::Alpha),
            "grey-box" | "gray-box" => return Ok(OcclusionStyle::GreyBox),
            _ => {}
        }
        wanted
            .strip_prefix("pasted-")
            .and_then(|bg| PasteBackground::ALL.into_iter().find(|b| b.name() == bg))
            .map(OcclusionStyle::Pasted)
            .ok_or_else(|| UnknownStyle(s.trim().to_string()))
    }
}

impl Serialize for OcclusionStyle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OcclusionStyle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let all = [
            OcclusionStyle::Alpha,
            OcclusionStyle::Pasted(PasteBackground::Grey),
            OcclusionStyle::Pasted(PasteBackground::Black),
            OcclusionStyle::Pasted(PasteBackground::White),
            OcclusionStyle::GreyBox,
        ];
        for style in all {
            assert_eq!(style.to_string().parse::<OcclusionStyle>().unwrap(), style);
            let json = serde_json::to_string(&style).unwrap();
            assert_eq!(serde_json::from_str::<OcclusionStyle>(&json).unwrap(), style);
        }
        assert_eq!("Pasted_Black".parse::<OcclusionStyle>().unwrap(), OcclusionStyle::Pasted(PasteBackground::Black));
        let err = "pasted-blue".parse::<OcclusionStyle>().unwrap_err();
        assert!(err.to_string().contains("pasted-blue"), "{err}");
    }
}
