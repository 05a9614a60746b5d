//! A picture with a labelled colour bar beside it and a caption under it: how `maskscope
//! inspect` writes a mask heatmap over a face, with the scale the workbench shows next to it.

use image::RgbImage;
use plotters::style::RGBColor;
use plotters::style::text_anchor::HPos;

use super::PlotError;
use super::canvas::{MUTED, Placed, font, render_rgb};

const MARGIN: f64 = 12.0;
const BAR_GAP: f64 = 14.0;
const BAR_WIDTH: f64 = 22.0;
const TICK_EM: f64 = 14.0;
const CAPTION_EM: f64 = 14.0;

/// The colour bar's look: its colours from low (first) to high (last), labelled ticks at
/// positions in [0, 1] from low to high, and a caption under everything.
pub struct ColourScale<'a> {
    pub colours: &'a [[u8; 3]],
    pub ticks: &'a [(f64, String)],
    pub caption: &'a str,
}

/// `picture` (drawn at its own size) with `scale` to its right, high values at the top.
pub fn with_colour_scale(picture: &RgbImage, scale: &ColourScale<'_>) -> Result<RgbImage, PlotError> {
    if scale.colours.is_empty() {
        return Err(PlotError::InvalidData("a colour scale needs colours".into()));
    }
    let (pw, ph) = (f64::from(picture.width()), f64::from(picture.height()));
    let tick_w = scale.ticks.iter().map(|(_, t)| super::canvas::text_width(t, TICK_EM, false)).fold(0.0, f64::max);
    let width = MARGIN + pw + BAR_GAP + BAR_WIDTH + 6.0 + tick_w + MARGIN;
    let caption_w = super::canvas::text_width(scale.caption, CAPTION_EM, false);
    let width = width.max(caption_w + 2.0 * MARGIN).ceil();
    let height = (MARGIN + ph + 8.0 + 1.5 * CAPTION_EM + MARGIN).ceil();
    let (bar_x, top, bottom) = (MARGIN + pw + BAR_GAP, MARGIN, MARGIN + ph);
    render_rgb(width as u32, height as u32, |c| {
        let n = scale.colours.len();
        let step = (bottom - top) / n as f64;
        for (i, &[r, g, b]) in scale.colours.iter().enumerate() {
            // High values at the top: the last colour in the first row.
            let y0 = bottom - (i + 1) as f64 * step;
            c.rect(bar_x, y0, bar_x + BAR_WIDTH, y0 + step + 0.5, RGBColor(r, g, b))?;
        }
        c.rect_outline(bar_x, top, bar_x + BAR_WIDTH, bottom, MUTED, 1.0)?;
        for (position, label) in scale.ticks {
            let y = bottom - position.clamp(0.0, 1.0) * (bottom - top);
            c.line((bar_x + BAR_WIDTH, y), (bar_x + BAR_WIDTH + 4.0, y), MUTED, 1.0)?;
            c.text(label, bar_x + BAR_WIDTH + 6.0, y + 0.36 * TICK_EM, font(TICK_EM), HPos::Left)?;
        }
        c.text(scale.caption, MARGIN, bottom + 8.0 + CAPTION_EM, font(CAPTION_EM).color(MUTED), HPos::Left)?;
        Ok(vec![Placed { image: picture, x: MARGIN, y: top, w: pw, h: ph }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_sits_unscaled_left_of_a_bar_that_runs_low_to_high_upwards() {
        let picture = RgbImage::from_pixel(40, 60, image::Rgb([10, 200, 30]));
        let colours = [[0, 0, 255], [255, 0, 0]];
        let ticks = [(0.0, "0.00".to_string()), (1.0, "1.00".to_string())];
        let out = with_colour_scale(&picture, &ColourScale { colours: &colours, ticks: &ticks, caption: "1 - mask" })
            .unwrap();
        assert_eq!(out.get_pixel(MARGIN as u32 + 20, MARGIN as u32 + 30).0, [10, 200, 30]);
        let bar_centre = (MARGIN + 40.0 + BAR_GAP + BAR_WIDTH / 2.0) as u32;
        assert_eq!(out.get_pixel(bar_centre, MARGIN as u32 + 5).0, [255, 0, 0], "high at the top");
        assert_eq!(out.get_pixel(bar_centre, MARGIN as u32 + 55).0, [0, 0, 255], "low at the bottom");
        assert!(out.height() as f64 > MARGIN + 60.0 + CAPTION_EM, "room for the caption");
    }
}
