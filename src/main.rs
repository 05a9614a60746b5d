use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    exit_quietly_on_closed_pipe();
    match maskscope::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", maskscope::error_text::error_message(&err));
            ExitCode::FAILURE
        }
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` connects to Wayland while wgpu lists
/// the adapters, and without a session (no `XDG_RUNTIME_DIR`: ssh, CI, a container) libwayland
/// prints "error: XDG_RUNTIME_DIR is invalid or not set in the environment." four times before
/// every command's output. The layer only reorders GPUs by the display they drive, and there is
/// no display session to ask then; wgpu's own power preference picks our adapter either way. So
/// without a runtime dir it is switched off through its documented `NODEVICE_SELECT=1`.
fn quiet_vulkan_device_select() {
    let has_session = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir());
    if !has_session && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: the first thing `main` does, before any thread exists that could read the
        // environment concurrently.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// `maskscope info | head -3` closed the pipe under our printing, and Rust's `println!` panics on
/// that (Rust ignores SIGPIPE). Restoring the default action ends the process quietly instead,
/// as any Unix filter does.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
