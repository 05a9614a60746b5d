//! Least-squares similarity transforms (rotation, uniform scale, translation; no reflection)
//! between point sets: Umeyama, "Least-squares estimation of transformation parameters between
//! two point patterns", TPAMI 1991, specialised to 2-D.

/// A 2-D point in pixels (x right, y down).
pub type Point = [f64; 2];

/// `p' = [a -b; b a] p + [tx, ty]`: scale s = hypot(a, b), rotation atan2(b, a).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f64,
    pub b: f64,
    pub tx: f64,
    pub ty: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimilarityError {
    #[error("need at least 2 point pairs, got {0}")]
    TooFewPoints(usize),
    #[error("source and destination have {0} and {1} points")]
    CountMismatch(usize, usize),
    #[error("the source points coincide; no transform is defined")]
    Degenerate,
}

impl Similarity {
    pub const IDENTITY: Similarity = Similarity { a: 1.0, b: 0.0, tx: 0.0, ty: 0.0 };

    /// Builds a transform from scale, rotation (radians, counter-clockwise in x-right/y-down
    /// pixel coordinates) and translation.
    pub fn from_parts(scale: f64, angle: f64, tx: f64, ty: f64) -> Self {
        Self { a: scale * angle.cos(), b: scale * angle.sin(), tx, ty }
    }

    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }

    pub fn angle(&self) -> f64 {
        self.b.atan2(self.a)
    }

    pub fn apply(&self, [x, y]: Point) -> Point {
        [self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty]
    }

    /// The inverse transform (the warp samples the source through it).
    pub fn inverse(&self) -> Self {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }

    /// The similarity that maps `src` onto `dst` with the least squared error.
    pub fn estimate(src: &[Point], dst: &[Point]) -> Result<Self, SimilarityError> {
        if src.len() != dst.len() {
            return Err(SimilarityError::CountMismatch(src.len(), dst.len()));
        }
        if src.len() < 2 {
            return Err(SimilarityError::TooFewPoints(src.len()));
        }
        let n = src.len() as f64;
        let mean = |pts: &[Point]| {
            let (sx, sy) = pts.iter().fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
            [sx / n, sy / n]
        };
        let (ms, md) = (mean(src), mean(dst));
        // With centred points u (source) and v (destination), the optimal [a, b] is
        // (sum u.v, sum u x v) / sum |u|^2; in 2-D the rotation never needs a reflection fix.
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (s, d) in src.iter().zip(dst) {
            let (ux, uy) = (s[0] - ms[0], s[1] - ms[1]);
            let (vx, vy) = (d[0] - md[0], d[1] - md[1]);
            dot += ux * vx + uy * vy;
            cross += ux * vy - uy * vx;
            norm += ux * ux + uy * uy;
        }
        if norm <= f64::EPSILON * n {
            return Err(SimilarityError::Degenerate);
        }
        let (a, b) = (dot / norm, cross / norm);
        Ok(Self { a, b, tx: md[0] - (a * ms[0] - b * ms[1]), ty: md[1] - (b * ms[0] + a * ms[1]) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_apply() {
        let t = Similarity::from_parts(1.7, 0.4, -3.0, 12.5);
        let p = [10.0, -4.0];
        let back = t.inverse().apply(t.apply(p));
        assert!((back[0] - p[0]).abs() < 1e-12 && (back[1] - p[1]).abs() < 1e-12);
    }
}
