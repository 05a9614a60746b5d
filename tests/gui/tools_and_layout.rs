//! The tool rows and the window's layout: stamps moved and changed after placing, the Help
//! window, every control reachable at 1280x800 and at the minimum size.

use eframe::egui::accesskit::Role;
use eframe::egui::{self, Event, Key, Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use maskscope::app::Workbench;
use maskscope::app::document::Op;
use maskscope::app::samples;
use maskscope::app::settings::Tool;

use super::{canvas_rect, crop, drag, harness, options, settle};

/// The workbench on the first sample face, settled, with the stamp tool chosen.
fn first_sample_with_the_stamp_tool() -> Harness<'static, Workbench> {
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo], false));
    settle(&mut h);
    h.state_mut().state.settings.tool = Tool::Stamp;
    settle(&mut h);
    h
}

/// [`first_sample_with_the_stamp_tool`] with one 40 px stamp placed at (56, 56).
fn first_sample_with_a_placed_stamp() -> Harness<'static, Workbench> {
    let mut h = first_sample_with_the_stamp_tool();
    let occluder = h.state().state.selected_stamp().expect("the bundled library");
    let stamp = maskscope::app::document::Stamp { occluder, centre: [56.0, 56.0], size: 40.0, rotation: 0.0 };
    let id = h.state().state.probe.unwrap();
    h.state_mut().state.face_mut(id).unwrap().doc.push(Op::Stamp(stamp));
    settle(&mut h);
    h
}

/// The wheel over a placed stamp scales it, and with Shift rotates it (egui turns a Shift+wheel
/// into horizontal scrolling, which the canvas used to ignore).
#[test]
fn the_wheel_scales_and_shift_wheel_rotates_a_placed_stamp() {
    let mut h = first_sample_with_a_placed_stamp();
    let centre = canvas_rect(&h).center();
    let stamp_now = |h: &Harness<'_, Workbench>| match h.state().state.probe().unwrap().doc.ops() {
        [Op::Stamp(s)] => (s.size, s.rotation),
        other => panic!("{other:?}"),
    };
    for (modifiers, what) in [(Modifiers::NONE, "size"), (Modifiers::SHIFT, "rotation")] {
        let before = stamp_now(&h);
        h.input_mut().events.push(Event::PointerMoved(centre));
        h.input_mut().events.push(Event::ModifiersChanged(modifiers));
        h.step();
        for _ in 0..5 {
            h.input_mut().events.push(Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, 20.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers,
            });
            h.step();
        }
        h.input_mut().events.push(Event::ModifiersChanged(Modifiers::NONE));
        settle(&mut h);
        let after = stamp_now(&h);
        match what {
            "size" => assert!(after.0 > before.0 && after.1 == before.1, "{before:?} -> {after:?}"),
            _ => assert!(after.1 != before.1 && after.0 == before.0, "{before:?} -> {after:?}"),
        }
    }
}

/// Dragging a placed stamp moves it, held where it was grabbed, as one undo step; a drag on an
/// empty spot places a new stamp there.
#[test]
fn a_drag_moves_a_placed_stamp_in_one_undo_step() {
    let mut h = first_sample_with_a_placed_stamp();
    let rect = canvas_rect(&h);
    let (w, _) = h.state().state.probe().unwrap().aligned.as_ref().unwrap().image.dimensions();
    let zoom = rect.width() / w as f32;
    let at = |x: f32, y: f32| rect.min + egui::vec2(x, y) * zoom;
    let centres = |h: &Harness<'_, Workbench>| -> Vec<[f32; 2]> {
        let doc = &h.state().state.probe().unwrap().doc;
        doc.ops().iter().filter_map(|op| if let Op::Stamp(s) = op { Some(s.centre) } else { None }).collect()
    };

    // Grabbed 10 px left of its centre and dragged 20 px right, 10 down.
    drag(&mut h, &[at(46.0, 56.0), at(56.0, 60.0), at(66.0, 66.0)]);
    settle(&mut h);
    let moved = centres(&h);
    assert_eq!(moved.len(), 1, "the drag moved the stamp rather than placing another: {moved:?}");
    assert!((moved[0][0] - 76.0).abs() < 1.0 && (moved[0][1] - 66.0).abs() < 1.0, "{moved:?}");
    assert!(h.query_by_label("editing the selected stamp").is_some(), "the moved stamp is selected");

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    assert_eq!(centres(&h), vec![[56.0, 56.0]], "one undo takes the whole move back");

    drag(&mut h, &[at(15.0, 100.0), at(20.0, 100.0), at(25.0, 100.0)]);
    settle(&mut h);
    let both = centres(&h);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!((both[1][0] - 25.0).abs() < 1.0 && (both[1][1] - 100.0).abs() < 1.0, "{both:?}");
}

/// A stamp placed by a click is selected: the size and rotation sliders then resize and rotate
/// it (one undo step for the gesture), and an edit elsewhere ends the selection, so the sliders
/// go back to setting the next stamp only.
#[test]
fn the_sliders_resize_and_rotate_the_placed_stamp() {
    let mut h = first_sample_with_the_stamp_tool();
    let centre = canvas_rect(&h).center();
    h.input_mut().events.push(Event::PointerMoved(centre));
    h.step();
    for pressed in [true, false] {
        h.input_mut().events.push(Event::PointerButton {
            pos: centre,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    settle(&mut h);
    let stamps = |h: &Harness<'_, Workbench>| -> Vec<(f32, f32)> {
        let doc = &h.state().state.probe().unwrap().doc;
        doc.ops()
            .iter()
            .filter_map(|op| if let Op::Stamp(s) = op { Some((s.size, s.rotation)) } else { None })
            .collect()
    };
    assert_eq!(stamps(&h).len(), 1, "a click places one stamp");
    assert!(h.query_by_label("editing the selected stamp").is_some(), "the placed stamp is selected");

    h.get_by_role_and_label(Role::Slider, "size").set_value_accesskit(90.0);
    settle(&mut h);
    h.get_by_role_and_label(Role::Slider, "rotation").set_value_accesskit(-30.0);
    settle(&mut h);
    assert_eq!(stamps(&h), vec![(90.0, -30.0)], "the sliders edit the placed stamp");
    let settings = &h.state().state.settings;
    assert_eq!((settings.stamp_size, settings.stamp_rotation), (90.0, -30.0), "and the next stamp's defaults");

    // Undo goes back through the slider edits to the stamp as placed, not past it.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    let after_undo = stamps(&h);
    assert_eq!(after_undo.len(), 1, "undo of a slider edit keeps the stamp: {after_undo:?}");
    assert_ne!(after_undo[0], (90.0, -30.0));

    // The undo ended the selection: the slider now sets the next stamp and leaves this one alone.
    assert!(h.query_by_label("editing the selected stamp").is_none());
    h.get_by_role_and_label(Role::Slider, "size").set_value_accesskit(20.0);
    settle(&mut h);
    assert_eq!(stamps(&h), after_undo);
    assert_eq!(h.state().state.settings.stamp_size, 20.0);
}

/// Help > Shortcuts (or F1) lists every shortcut and gesture.
#[test]
fn help_lists_the_shortcuts() {
    let mut h = harness(options(Vec::new(), false));
    settle(&mut h);
    assert!(h.query_by_label("Shortcuts and mouse").is_none());
    h.get_by_label("Help").click();
    h.run();
    h.get_by_label_contains("Shortcuts and mouse").click();
    h.run();
    for (keys, what) in [("Shift+wheel over a stamp", "rotate it"), ("Ctrl+V", "paste photo paths")] {
        assert!(h.query_by_label(keys).is_some(), "{keys}");
        assert!(h.query_by_label_contains(what).is_some(), "{what}");
    }
    assert!(h.query_by_label("What am I looking at?").is_some());
    h.key_press(Key::F1);
    h.run();
    assert!(!h.state().state.show_help, "F1 closes it again");
}

/// At 1280x800 and at the window's minimum size (960x600) every control of the stamp tool and the
/// region presets lies inside the window, and the face starts there (its scroll area shows the rest).
#[test]
fn every_control_is_reachable_at_1280x800_and_at_the_minimum_size() {
    for size in [egui::vec2(1280.0, 800.0), egui::vec2(960.0, 600.0)] {
        let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
        let options = options(vec![photo], false);
        let mut h = Harness::builder().with_size(size).wgpu().build_eframe(move |cc| Workbench::new(cc, options));
        settle(&mut h);
        h.state_mut().state.settings.tool = Tool::Stamp;
        settle(&mut h);
        let screen = egui::Rect::from_min_size(Pos2::ZERO, size);
        // The face starts inside the window; what a small window cannot show of it scrolls.
        let canvas = canvas_rect(&h);
        assert!(screen.contains(canvas.min) && screen.intersect(canvas).area() > 0.25 * canvas.area(), "{canvas:?}");
        if size.x == 1280.0 {
            // The tool rows with the stamp's size and rotation, as a snapshot.
            let ppp = h.ctx.pixels_per_point();
            let tools = ["class", "occluder", "size", "rotation"]
                .iter()
                .flat_map(|label| h.query_all_by_label(label).map(|n| n.rect()).collect::<Vec<_>>())
                .reduce(|a, b| a.union(b))
                .expect("the stamp controls")
                .expand(6.0);
            // The whole width between the side panels, so a label cut off at the inspector shows.
            let inspector = h.get_by_label("Feature mask").rect().left();
            let tools = egui::Rect::from_x_y_ranges(tools.left()..=inspector, tools.y_range());
            egui_kittest::image_snapshot(&crop(&h.render().unwrap(), tools, ppp), "stamp_tools_1280x800");
        }
        // Not under the side panels either: the central panel lies between them.
        let inspector = h.get_by_label("Feature mask").rect().left();
        let central = egui::Rect::from_x_y_ranges(canvas.left() - 1.0..=inspector, 0.0..=size.y);
        for label in ["size", "rotation", "class", "occluder", "two eyes", "Undo"] {
            let rects: Vec<egui::Rect> = h.query_all_by_label(label).map(|n| n.rect()).collect();
            assert!(
                rects.iter().any(|r| screen.contains_rect(*r) && central.contains_rect(*r) && r.width() > 0.0),
                "{label} at {rects:?} is not wholly inside the {size:?} window's central panel {central:?}"
            );
        }
    }
}
