//! The subcommands.

pub mod actionset;
pub mod blueprint;
pub mod cleanup;
pub mod cluster;
pub mod controller;
pub mod install;
pub mod live;
pub mod manifests;
pub mod repo;
pub mod resource;
pub mod run;
pub mod schema;

use std::io::Write;

/// A failure of the command itself (not a finding about the input).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(kapsel::io), help("check that the file exists and is readable"))]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: {message}")]
    #[diagnostic(code(kapsel::input))]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
        /// What to do.
        #[help]
        help: Option<String>,
    },
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    #[diagnostic(code(kapsel::output))]
    Write(#[from] std::io::Error),
}

/// Reads a file, naming it in the error.
pub fn read(path: &str) -> Result<String, CliError> {
    fs_err::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_string(),
        source,
    })
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
