//! Running `credential_process` (both modes: the async one runs it on a
//! blocking thread).

/// What a finished process left.
pub(crate) struct ProcessOutput {
    pub status: std::process::ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `command` through the shell (`sh -c`, or `cmd /C` on Windows), as
/// the AWS CLI runs `credential_process`.
///
/// # Errors
/// The process could not be started.
pub(crate) fn run_process(command: &str) -> std::io::Result<ProcessOutput> {
    let out = shell(command).output()?;
    Ok(ProcessOutput {
        status: out.status,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// The shell command that runs `command`.
pub(crate) fn shell(command: &str) -> std::process::Command {
    let mut c = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = std::process::Command::new("sh");
        c.arg("-c");
        c
    };
    c.arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}
