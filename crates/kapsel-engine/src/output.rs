//! Collecting phase outputs from a command's stdout.
//!
//! `kando output KEY VALUE` prints `###Phase-output###: {"key":"K","value":"V"}`.
//! Kanister's parser finds the marker anywhere in a line (text before it is
//! ordinary log output), takes the rest of the line, trims it and decodes it as
//! JSON; every other line is log output. Lines may be longer than any read
//! buffer and the marker may be split across reads: [`OutputParser`] is fed the
//! stream in arbitrary pieces and only looks at whole lines.
//!
//! Memory is bounded: a line without a marker is passed to the log sink in
//! pieces once it exceeds [`MAX_LOG_LINE`]; a marker line longer than
//! [`MAX_OUTPUT_LINE`] is an error (one value of that size is a mistake, not an
//! output).

use std::collections::BTreeMap;

/// The marker `kando output` prints before the JSON key/value pair.
pub const PHASE_OUTPUT_MARKER: &str = "###Phase-output###:";

/// Log text is passed on in pieces of at most this many bytes.
pub const MAX_LOG_LINE: usize = 64 * 1024;

/// The longest line carrying an output marker that is accepted.
pub const MAX_OUTPUT_LINE: usize = 64 * 1024 * 1024;

/// A malformed output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The text after the marker is not `{"key": "...", "value": "..."}`.
    #[error("malformed phase output after {PHASE_OUTPUT_MARKER:?}: {reason}: {text}")]
    Malformed {
        /// Why.
        reason: String,
        /// The text (cut to 200 bytes).
        text: String,
    },
    /// A marker line exceeds [`MAX_OUTPUT_LINE`].
    #[error("a phase output line exceeds {MAX_OUTPUT_LINE} bytes")]
    TooLong,
}

/// A streaming parser of phase outputs. Feed it stdout in any pieces with
/// [`OutputParser::feed`], then call [`OutputParser::finish`].
#[derive(Debug, Default)]
pub struct OutputParser {
    line: Vec<u8>,
    /// Where the marker starts in `line`, once seen.
    marker_at: Option<usize>,
    /// How much of `line` has been searched for the marker.
    scanned: usize,
    outputs: BTreeMap<String, String>,
}

impl OutputParser {
    /// A parser with no outputs yet.
    pub fn new() -> OutputParser {
        OutputParser::default()
    }

    /// Feeds a piece of the stream. `log` receives the text that is not output
    /// (whole lines, or pieces of over-long lines), without line ends.
    pub fn feed(&mut self, mut data: &[u8], log: &mut dyn FnMut(&[u8])) -> Result<(), OutputError> {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&data[..nl]);
            data = &data[nl + 1..];
            self.end_line(log)?;
        }
        self.line.extend_from_slice(data);
        self.bound(log)
    }

    /// Ends the stream (a last line without a newline counts) and returns the
    /// outputs by key; a later value for a key replaces an earlier one.
    pub fn finish(
        mut self,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<BTreeMap<String, String>, OutputError> {
        if !self.line.is_empty() {
            self.end_line(log)?;
        }
        Ok(self.outputs)
    }

    /// Keeps memory bounded while a line is still open.
    fn bound(&mut self, log: &mut dyn FnMut(&[u8])) -> Result<(), OutputError> {
        if self.line.len() <= MAX_LOG_LINE {
            return Ok(());
        }
        if self.find_marker().is_some() {
            return if self.line.len() > MAX_OUTPUT_LINE {
                Err(OutputError::TooLong)
            } else {
                Ok(())
            };
        }
        // No marker yet: pass all but a tail that could be the start of one.
        let keep = PHASE_OUTPUT_MARKER.len() - 1;
        let cut = self.line.len() - keep;
        log(&self.line[..cut]);
        self.line.drain(..cut);
        self.scanned = 0;
        Ok(())
    }

    /// The marker's position in the open line, searching only bytes not
    /// searched before (each byte is looked at a bounded number of times).
    fn find_marker(&mut self) -> Option<usize> {
        if self.marker_at.is_none() {
            let from = self.scanned.saturating_sub(PHASE_OUTPUT_MARKER.len() - 1);
            self.marker_at =
                find(&self.line[from..], PHASE_OUTPUT_MARKER.as_bytes()).map(|i| i + from);
            self.scanned = self.line.len();
        }
        self.marker_at
    }

    fn end_line(&mut self, log: &mut dyn FnMut(&[u8])) -> Result<(), OutputError> {
        let found = self.find_marker();
        let line = std::mem::take(&mut self.line);
        self.marker_at = None;
        self.scanned = 0;
        let Some(at) = found else {
            if !line.is_empty() {
                log(&line);
            }
            return Ok(());
        };
        if at > 0 {
            log(&line[..at]);
        }
        let content = line[at + PHASE_OUTPUT_MARKER.len()..].trim_ascii();
        if content.is_empty() {
            return Ok(());
        }
        let (key, value) = decode(content)?;
        self.outputs.insert(key, value);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn decode(content: &[u8]) -> Result<(String, String), OutputError> {
    let malformed = |reason: String| OutputError::Malformed {
        reason,
        text: String::from_utf8_lossy(&content[..content.len().min(200)]).into_owned(),
    };
    let v: serde_json::Value =
        serde_json::from_slice(content).map_err(|e| malformed(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("not a JSON object".to_string()))?;
    // Go decodes into struct{Key, Value string}: missing fields are empty, other
    // fields are ignored, non-string values are an error.
    let field = |name: &str| match obj.get(name) {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(malformed(format!("{name} is {other}, not a string"))),
    };
    Ok((field("key")?, field("value")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pieces(pieces: &[&[u8]]) -> (Result<BTreeMap<String, String>, OutputError>, Vec<u8>) {
        let mut logged = Vec::new();
        let mut p = OutputParser::new();
        let mut log = |b: &[u8]| {
            logged.extend_from_slice(b);
            logged.push(b'|');
        };
        for piece in pieces {
            if let Err(e) = p.feed(piece, &mut log) {
                return (Err(e), logged);
            }
        }
        (p.finish(&mut log), logged)
    }

    #[test]
    fn marker_anywhere_in_a_line() {
        let (out, logged) = parse_pieces(&[
            b"hello\nprefix ###Phase-output###: {\"key\":\"a\",\"value\":\"1\"}\n###Phase-output###:{\"key\":\"b\",\"value\":\"x y\"}  \nbye",
        ]);
        let out = out.unwrap();
        assert_eq!(out["a"], "1");
        assert_eq!(out["b"], "x y");
        assert_eq!(String::from_utf8(logged).unwrap(), "hello|prefix |bye|");
    }

    #[test]
    fn marker_split_across_reads_and_long_lines() {
        let value = "v".repeat(200 * 1024);
        let line = format!(
            "junk{}{{\"key\":\"big\",\"value\":\"{value}\"}}\n",
            PHASE_OUTPUT_MARKER
        );
        let bytes = line.as_bytes();
        // Split inside the marker and in the middle of the value.
        let pieces: Vec<&[u8]> = vec![&bytes[..7], &bytes[7..70_000], &bytes[70_000..]];
        let (out, _) = parse_pieces(&pieces);
        assert_eq!(out.unwrap()["big"], value);
    }

    #[test]
    fn long_log_lines_are_spilled_and_a_late_marker_still_found() {
        let mut line = "x".repeat(3 * MAX_LOG_LINE);
        line.push_str("###Phase-output###: {\"key\":\"k\",\"value\":\"v\"}\n");
        let bytes = line.as_bytes();
        let pieces: Vec<&[u8]> = bytes.chunks(1000).collect();
        let (out, logged) = parse_pieces(&pieces);
        assert_eq!(out.unwrap()["k"], "v");
        let xs = logged.iter().filter(|&&b| b == b'x').count();
        assert_eq!(
            xs,
            3 * MAX_LOG_LINE,
            "every byte of log text is passed on exactly once"
        );
    }

    #[test]
    fn malformed_outputs_are_errors() {
        for bad in [
            "###Phase-output###: {not json}\n",
            "###Phase-output###: [1]\n",
            "###Phase-output###: {\"key\":\"k\",\"value\":3}\n",
        ] {
            let (out, _) = parse_pieces(&[bad.as_bytes()]);
            assert!(
                matches!(out, Err(OutputError::Malformed { .. })),
                "{bad}: {out:?}"
            );
        }
    }

    #[test]
    fn empty_marker_content_is_ignored() {
        let (out, _) = parse_pieces(&[b"###Phase-output###:   \n"]);
        assert!(out.unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_split_gives_the_same_outputs(
            lines in proptest::collection::vec(("[a-z ]{0,30}", proptest::option::of(("[A-Za-z0-9_]{1,8}", "[ -~]{0,40}"))), 0..20),
            cuts in proptest::collection::vec(0usize..2000, 0..10),
        ) {
            let mut text = String::new();
            let mut want = BTreeMap::new();
            for (log, out) in &lines {
                text.push_str(log);
                if let Some((k, v)) = out {
                    let pair = serde_json::json!({"key": k, "value": v}).to_string();
                    text.push_str(&format!("{PHASE_OUTPUT_MARKER} {pair}"));
                    want.insert(k.clone(), v.clone());
                }
                text.push('\n');
            }
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for c in cuts {
                pieces.push(&bytes[prev..c]);
                prev = c;
            }
            pieces.push(&bytes[prev..]);
            let (out, _) = parse_pieces(&pieces);
            proptest::prop_assert_eq!(out.unwrap(), want);
        }
    }
}
