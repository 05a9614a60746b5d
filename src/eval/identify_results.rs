//! What `maskscope identify` measured (results.json), and its other outputs: results.csv (rank-1
//! and the CMC per condition and path) and rank1.png/.svg (rank-1 by condition, the compared pair
//! of networks side by side as in Figure 1). Pure data and formatting.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::conditions::{Condition, RegionFill, SquareFillKind};
use super::identification::IdentificationReport;
use super::plots::{RegionBar, RegionBars, write_atomic, write_region_bars};
use super::report::{ReportError, compared_pair, path_legend};
use super::results::{CacheStats, ModelIdentity, PathInfo, Seeds, Software, path_columns};
use crate::occlusion::PasteBackground;

/// Every file one run writes (an output set: older files of these names are replaced together).
pub const IDENTIFY_OUTPUT_NAMES: &[&str] = &["results.json", "results.csv", "rank1.png", "rank1.svg"];

/// One folder of photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoSet {
    pub root: PathBuf,
    pub images: usize,
    pub identities: usize,
    /// Photos in which no face was found: left out of the gallery; probes count as misses.
    pub without_face: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyProtocol {
    pub conditions: Vec<Condition>,
    /// Always "probe": the gallery stays clean.
    pub occluded_image: String,
    pub region_fill: RegionFill,
    pub paste_background: PasteBackground,
    pub square_fill: SquareFillKind,
    pub seeds: Seeds,
    pub face_pick: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligned_input: Option<String>,
    pub max_rank: usize,
    /// How scores and ranks are formed.
    pub ranking: String,
}

/// One compared path under one condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyPathResult {
    pub path: String,
    pub report: IdentificationReport,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyCondition {
    pub condition: Condition,
    pub label: String,
    pub paths: Vec<IdentifyPathResult>,
}

impl IdentifyCondition {
    pub fn path(&self, label: &str) -> Option<&IdentificationReport> {
        self.paths.iter().find(|p| p.path == label).map(|p| &p.report)
    }
}

/// The identify results.json document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyResults {
    pub software: Software,
    pub device: String,
    pub wall_time_s: f64,
    pub gallery: PhotoSet,
    pub probes: PhotoSet,
    pub protocol: IdentifyProtocol,
    pub models: Vec<ModelIdentity>,
    pub paths: Vec<PathInfo>,
    pub cache: CacheStats,
    pub conditions: Vec<IdentifyCondition>,
}

impl IdentifyResults {
    /// One row per condition and path: rank-1, the CMC to `max_rank`, and the probe counts.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let ranks = self.protocol.max_rank;
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = [
            "condition",
            "label",
            "path",
            "model",
            "embedding",
            "probes",
            "closed_set_probes",
            "probes_without_face",
            "rank1",
        ]
        .map(String::from)
        .to_vec();
        header.extend((1..=ranks).map(|k| format!("cmc_{k}")));
        writer.write_record(&header)?;
        for condition in &self.conditions {
            for path in &condition.paths {
                let (model, embedding) = path_columns(&self.paths, &self.models, &path.path);
                let r = &path.report;
                let mut row = vec![
                    condition.condition.name(),
                    condition.label.clone(),
                    path.path.clone(),
                    model.to_string(),
                    embedding.to_string(),
                    r.probes.to_string(),
                    r.closed_set_probes.to_string(),
                    r.probes_without_face.to_string(),
                    format!("{:.6}", r.rank1),
                ];
                // A gallery of fewer identities than max_rank ends the CMC early: every probe is
                // ranked by then, so the rest is the last value.
                row.extend((0..ranks).map(|k| format!("{:.6}", r.cmc.get(k).or(r.cmc.last()).copied().unwrap_or(0.0))));
                writer.write_record(&row)?;
            }
        }
        String::from_utf8(writer.into_inner().map_err(|e| e.into_error())?)
            .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }

    /// Rank-1 (%) by condition for the compared pair of paths (baseline and FROM); `None` without
    /// such a pair.
    pub fn rank1_bars(&self) -> Option<RegionBars> {
        let (base, from) = compared_pair(&self.paths, &self.models)?;
        let percent = |c: &IdentifyCondition, label: &str| c.path(label).map(|r| 100.0 * r.rank1);
        let regions = self
            .conditions
            .iter()
            .filter(|c| c.condition != Condition::Clean)
            .map(|c| {
                Some(RegionBar {
                    name: c.label.clone(),
                    occluded_area: None,
                    baseline: percent(c, &base.label)?,
                    from: percent(c, &from.label)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        if regions.is_empty() {
            return None;
        }
        let mut fig = RegionBars::new(
            format!(
                "Rank-1 identification by probe occlusion ({} gallery identities, {} probes)",
                self.gallery.identities, self.probes.images
            ),
            regions,
        );
        if let Some(clean) = self.conditions.iter().find(|c| c.condition == Condition::Clean) {
            fig.clean = percent(clean, &base.label).zip(percent(clean, &from.label));
        }
        fig.baseline_label = path_legend(&self.models, base);
        fig.from_label = path_legend(&self.models, from);
        fig.value_label = "rank-1 identification (%)".into();
        Some(fig)
    }

    /// The stdout table: rank-1 of every path under every condition, then the CMC.
    pub fn summary(&self) -> String {
        let mut out = format!("{:<18}", "condition");
        for path in &self.paths {
            out.push_str(&format!(" {:>20}", path.label));
        }
        out.push('\n');
        for c in &self.conditions {
            out.push_str(&format!("{:<18}", c.label));
            for path in &self.paths {
                match c.path(&path.label) {
                    Some(r) => out.push_str(&format!(" {:>19.2}%", 100.0 * r.rank1)),
                    None => out.push_str(&format!(" {:>20}", "")),
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Writes results.json, results.csv and the rank-1 figure (when there is a compared pair) into
/// `out`; returns the paths written.
pub fn write_identify_outputs(results: &IdentifyResults, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out).map_err(|source| ReportError::CreateDir { path: out.to_path_buf(), source })?;
    let mut written = Vec::new();
    for (name, bytes) in [
        ("results.json", serde_json::to_string_pretty(results)?.into_bytes()),
        ("results.csv", results.to_csv()?.into_bytes()),
    ] {
        let path = out.join(name);
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    if let Some(fig) = results.rank1_bars() {
        written.extend(write_region_bars(&fig, &out.join("rank1"))?);
    }
    Ok(written)
}
