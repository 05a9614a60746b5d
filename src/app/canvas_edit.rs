//! What pointer gestures on the canvas and the stamp sliders do to the face being painted. The
//! canvas panel reads the pointer and emits [`CanvasEdit`]s (as `Command::Canvas`); [`apply`]
//! carries them out, so every change to a document goes through `dispatch`, as undo, presets and
//! random occluders do.

use super::document::{Op, Stamp};
use super::state::{AppState, StampSelection};

/// An edit of the probe's document; positions are crop pixels of the aligned face.
#[derive(Debug, Clone, PartialEq)]
pub enum CanvasEdit {
    /// The stroke or rectangle being drawn: shown and inferred live, not yet an undo step.
    Preview(Op),
    /// The drag ended: the preview becomes one undo step.
    CommitPreview,
    /// One finished operation (a click of the brush or the eraser).
    Add(Op),
    /// A drag of the stamp tool began here: grabs the topmost stamp under it, or places the
    /// chosen occluder here and grabs that.
    GrabStamp([f32; 2]),
    /// The grabbed stamp follows the pointer, held where it was grabbed.
    DragStamp([f32; 2]),
    /// The drag ended: the stamp is let go.
    ReleaseStamp,
    /// A click of the stamp tool: selects the stamp under it, or places the chosen occluder.
    ClickStamp([f32; 2]),
    /// The wheel over the stamp at `at`: scales it, or with `rotate` turns it.
    WheelStamp { at: [f32; 2], scroll: f32, rotate: bool },
    /// The sliders: size and rotation (degrees) of the selected stamp.
    ResizeSelected { size: f32, rotation: f32 },
}

/// Carries out `edit` on the probe's document (nothing without a probe).
pub fn apply(state: &mut AppState, edit: CanvasEdit) -> anyhow::Result<()> {
    let next_stamp = |state: &AppState, centre| {
        let occluder = state
            .selected_stamp()
            .ok_or_else(|| anyhow::anyhow!("no occluder to stamp: the occluder library is not loaded"))?;
        let settings = &state.settings;
        anyhow::Ok(Stamp { occluder, centre, size: settings.stamp_size, rotation: settings.stamp_rotation })
    };
    let placing = match &edit {
        CanvasEdit::GrabStamp(p) | CanvasEdit::ClickStamp(p)
            if state.probe().is_some_and(|f| f.doc.stamp_at(*p).is_none()) =>
        {
            Some(next_stamp(state, *p)?)
        }
        _ => None,
    };
    let Some(id) = state.probe else { return Ok(()) };
    let Some(face) = state.faces.iter_mut().find(|f| f.id == id) else { return Ok(()) };
    let (doc, canvas) = (&mut face.doc, &mut state.canvas);
    // The stamp this edit placed, grabbed, moved or changed: it becomes the selected one.
    let touched = match edit {
        CanvasEdit::Preview(op) => {
            doc.set_preview(Some(op));
            None
        }
        CanvasEdit::CommitPreview => {
            doc.commit_preview();
            None
        }
        CanvasEdit::Add(op) => {
            doc.push(op);
            None
        }
        CanvasEdit::GrabStamp(p) => {
            let index = match placing {
                Some(stamp) => {
                    doc.push(Op::Stamp(stamp));
                    doc.ops().len() - 1
                }
                None => {
                    let index = doc.stamp_at(p).expect("a stamp is under the pointer when none is placed");
                    // One undo step for the whole move.
                    doc.checkpoint();
                    index
                }
            };
            let Some(Op::Stamp(s)) = doc.ops().get(index) else { unreachable!("index {index} is a stamp") };
            canvas.moving = Some((index, [p[0] - s.centre[0], p[1] - s.centre[1]]));
            Some(index)
        }
        CanvasEdit::DragStamp(p) => canvas.moving.and_then(|(index, offset)| match doc.op_mut(index) {
            Some(Op::Stamp(s)) => {
                s.centre = [p[0] - offset[0], p[1] - offset[1]];
                Some(index)
            }
            _ => None,
        }),
        CanvasEdit::ReleaseStamp => {
            canvas.moving = None;
            None
        }
        CanvasEdit::ClickStamp(p) => match placing {
            Some(stamp) => {
                doc.push(Op::Stamp(stamp));
                Some(doc.ops().len() - 1)
            }
            None => doc.stamp_at(p),
        },
        CanvasEdit::WheelStamp { at, scroll, rotate } => doc.stamp_at(at).inspect(|&index| {
            if canvas.begin_stamp_edit(index) {
                doc.checkpoint();
            }
            if let Some(Op::Stamp(s)) = doc.op_mut(index) {
                if rotate {
                    s.rotation = (s.rotation + scroll * 0.2).rem_euclid(360.0);
                } else {
                    s.size = (s.size * (1.0 + scroll * 0.002)).clamp(4.0, 200.0);
                }
            }
        }),
        CanvasEdit::ResizeSelected { size, rotation } => {
            // A selection an edit elsewhere ended: the sliders set the next stamp instead.
            canvas.selected_stamp_in(id, doc).map(|(index, _)| index).inspect(|&index| {
                if canvas.begin_stamp_edit(index) {
                    doc.checkpoint();
                }
                if let Some(Op::Stamp(s)) = doc.op_mut(index) {
                    (s.size, s.rotation) = (size, rotation);
                }
            })
        }
    };
    if let Some(index) = touched {
        canvas.selected = Some(StampSelection { face: id, index, revision: doc.revision() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::document::Document;
    use crate::app::settings::Settings;
    use crate::occlusion::OccluderLibrary;

    /// A state with one face being painted and the bundled occluders.
    fn painting() -> AppState {
        let mut state = AppState::new(Settings::default());
        state.library = Some(std::sync::Arc::new(OccluderLibrary::bundled().unwrap()));
        state.probe = Some(state.add_face("face.png".into()));
        state
    }

    fn doc(state: &AppState) -> &Document {
        &state.probe().unwrap().doc
    }

    fn stamps(state: &AppState) -> Vec<Stamp> {
        doc(state).ops().iter().filter_map(|op| if let Op::Stamp(s) = op { Some(s.clone()) } else { None }).collect()
    }

    fn run(state: &mut AppState, edits: impl IntoIterator<Item = CanvasEdit>) {
        for edit in edits {
            apply(state, edit).unwrap();
        }
    }

    #[test]
    fn a_drag_on_a_stamp_moves_it_as_one_undo_step_holding_it_where_grabbed() {
        let mut state = painting();
        run(&mut state, [CanvasEdit::ClickStamp([40.0, 50.0])]);
        let placed = stamps(&state)[0].clone();
        assert_eq!(placed.centre, [40.0, 50.0]);
        assert_eq!((placed.size, placed.rotation), (state.settings.stamp_size, state.settings.stamp_rotation));

        // Grabbed 5 px right of its centre, dragged in three steps.
        let moves = [[50.0, 52.0], [60.0, 58.0], [65.0, 60.0]].map(CanvasEdit::DragStamp);
        run(
            &mut state,
            [CanvasEdit::GrabStamp([45.0, 50.0])].into_iter().chain(moves).chain([CanvasEdit::ReleaseStamp]),
        );
        assert_eq!(stamps(&state).len(), 1, "grabbing a stamp does not place another");
        assert_eq!(stamps(&state)[0].centre, [60.0, 60.0]);
        assert_eq!(state.canvas.moving, None);
        let (index, _) =
            state.canvas.selected_stamp_in(state.probe.unwrap(), doc(&state)).expect("the moved stamp is selected");
        assert_eq!(index, 0);

        state.probe_mut().unwrap().doc.undo();
        assert_eq!(stamps(&state)[0].centre, [40.0, 50.0], "one undo takes the whole move back");
        // A drag after the release moves nothing.
        run(&mut state, [CanvasEdit::DragStamp([10.0, 10.0])]);
        assert_eq!(stamps(&state)[0].centre, [40.0, 50.0]);
    }

    #[test]
    fn a_drag_on_an_empty_spot_places_a_stamp_and_moves_it() {
        let mut state = painting();
        run(
            &mut state,
            [CanvasEdit::GrabStamp([30.0, 30.0]), CanvasEdit::DragStamp([50.0, 40.0]), CanvasEdit::ReleaseStamp],
        );
        let placed = stamps(&state);
        assert_eq!(placed.len(), 1);
        assert_eq!(placed[0].centre, [50.0, 40.0]);
        assert_eq!(placed[0].occluder, state.selected_stamp().unwrap());
    }

    #[test]
    fn a_click_on_a_stamp_selects_it_and_places_nothing() {
        let mut state = painting();
        run(&mut state, [CanvasEdit::ClickStamp([30.0, 30.0]), CanvasEdit::ClickStamp([80.0, 80.0])]);
        let id = state.probe.unwrap();
        assert_eq!(state.canvas.selected_stamp_in(id, doc(&state)).map(|(i, _)| i), Some(1));
        let revision = doc(&state).revision();
        run(&mut state, [CanvasEdit::ClickStamp([31.0, 29.0])]);
        assert_eq!(stamps(&state).len(), 2);
        assert_eq!(doc(&state).revision(), revision, "selecting changes nothing");
        assert_eq!(state.canvas.selected_stamp_in(id, doc(&state)).map(|(i, _)| i), Some(0));
    }

    #[test]
    fn the_wheel_and_the_sliders_change_the_stamp_in_one_undo_step_per_gesture() {
        let mut state = painting();
        run(&mut state, [CanvasEdit::ClickStamp([50.0, 50.0])]);
        let size = stamps(&state)[0].size;
        let wheel = |scroll, rotate| CanvasEdit::WheelStamp { at: [50.0, 50.0], scroll, rotate };
        run(&mut state, [wheel(50.0, false), wheel(50.0, false), wheel(25.0, true)]);
        let s = &stamps(&state)[0];
        assert!((s.size - size * 1.1 * 1.1).abs() < 1e-3, "{} vs {size}", s.size);
        assert!((s.rotation - (state.settings.stamp_rotation + 5.0).rem_euclid(360.0)).abs() < 1e-4);
        // A wheel turn off every stamp changes nothing.
        run(&mut state, [CanvasEdit::WheelStamp { at: [2.0, 2.0], scroll: 50.0, rotate: false }]);
        assert_eq!(stamps(&state)[0].size, s.size);

        run(&mut state, [CanvasEdit::ResizeSelected { size: 90.0, rotation: -30.0 }]);
        assert_eq!((stamps(&state)[0].size, stamps(&state)[0].rotation), (90.0, -30.0));
        state.probe_mut().unwrap().doc.undo();
        assert_eq!(stamps(&state)[0].size, size, "the wheel and the sliders were one gesture: one undo step");
        assert_eq!(stamps(&state).len(), 1, "and the stamp stays");
    }

    #[test]
    fn brush_previews_become_one_undo_step() {
        let mut state = painting();
        let brush = |points: Vec<[f32; 2]>| Op::Brush { points, radius: 4.0, colour: [0, 0, 0] };
        run(
            &mut state,
            [CanvasEdit::Preview(brush(vec![[1.0, 1.0]])), CanvasEdit::Preview(brush(vec![[1.0, 1.0], [9.0, 9.0]]))],
        );
        assert!(doc(&state).ops().is_empty() && doc(&state).preview().is_some(), "a stroke in progress is a preview");
        run(&mut state, [CanvasEdit::CommitPreview, CanvasEdit::Add(brush(vec![[20.0, 20.0]]))]);
        assert_eq!(doc(&state).ops(), [brush(vec![[1.0, 1.0], [9.0, 9.0]]), brush(vec![[20.0, 20.0]])]);
        state.probe_mut().unwrap().doc.undo();
        assert_eq!(doc(&state).ops(), [brush(vec![[1.0, 1.0], [9.0, 9.0]])]);
    }

    #[test]
    fn stamping_without_the_occluder_library_says_so() {
        let mut state = painting();
        state.library = None;
        let error = apply(&mut state, CanvasEdit::ClickStamp([30.0, 30.0])).unwrap_err();
        assert!(error.to_string().contains("occluder library"), "{error}");
        assert!(doc(&state).ops().is_empty());
    }
}
