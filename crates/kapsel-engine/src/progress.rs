//! Bytes a phase moves, read from kando's lines on its output (the engine
//! cannot know what a command transfers; kando says it):
//!
//! - `kando: progress <N> bytes <sent|received>[ of <M>]` while a transfer
//!   runs (every 2 s), `M` being the bytes expected when known;
//! - `kando: <sent|received> <N> bytes` when it ends.
//!
//! A line may carry a prefix (`<pod>: ` from the functions that run in
//! several pods): each prefix is one source, and the sources add up.
//! `kapsel run`'s live view and the controller's ActionSet status both read
//! phases through [`Transfers`].

use std::collections::BTreeMap;

/// Which way bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the repository (uploaded).
    Sent,
    /// From the repository (downloaded).
    Received,
}

/// One kando line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KandoLine {
    /// A transfer under way.
    Progress {
        /// Sent or received.
        direction: Direction,
        /// Bytes so far.
        bytes: u64,
        /// Bytes expected, when known.
        total: Option<u64>,
    },
    /// A transfer ended.
    Done {
        /// Sent or received.
        direction: Direction,
        /// Bytes moved.
        bytes: u64,
    },
}

fn direction(w: &str) -> Option<Direction> {
    match w {
        "sent" => Some(Direction::Sent),
        "received" => Some(Direction::Received),
        _ => None,
    }
}

/// Parses a line: its source prefix (empty without one) and what it says.
pub fn parse(line: &str) -> Option<(&str, KandoLine)> {
    let at = line.find("kando: ")?;
    let source = line[..at].trim();
    let mut w = line[at + "kando: ".len()..].split_whitespace();
    let kind = w.next()?;
    match kind {
        "progress" => {
            let bytes = w.next()?.parse().ok()?;
            (w.next()? == "bytes").then_some(())?;
            let direction = direction(w.next()?)?;
            let total = match (w.next(), w.next()) {
                (Some("of"), Some(t)) => Some(t.parse().ok()?),
                (None, _) => None,
                _ => return None,
            };
            Some((
                source,
                KandoLine::Progress {
                    direction,
                    bytes,
                    total,
                },
            ))
        }
        _ => {
            let direction = direction(kind)?;
            let bytes = w.next()?.parse().ok()?;
            (w.next()? == "bytes" && w.next().is_none()).then_some(())?;
            Some((source, KandoLine::Done { direction, bytes }))
        }
    }
}

/// A running transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Current {
    bytes: u64,
    total: Option<u64>,
}

/// One source's counts per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    done: [u64; 2],
    current: [Option<Current>; 2],
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Sent => 0,
        Direction::Received => 1,
    }
}

/// Bytes one way: so far, and the total when every running transfer
/// knows its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    /// Bytes moved.
    pub bytes: u64,
    /// Bytes expected (ended transfers count what they moved).
    pub expected: Option<u64>,
}

/// A phase's transfers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfers {
    sources: BTreeMap<String, Counts>,
}

impl Transfers {
    /// Takes one output line into account; whether it was a kando line.
    pub fn line(&mut self, line: &str) -> bool {
        let Some((source, l)) = parse(line) else {
            return false;
        };
        let c = self.sources.entry(source.to_string()).or_default();
        match l {
            KandoLine::Progress {
                direction,
                bytes,
                total,
            } => c.current[slot(direction)] = Some(Current { bytes, total }),
            KandoLine::Done { direction, bytes } => {
                c.done[slot(direction)] += bytes;
                c.current[slot(direction)] = None;
            }
        }
        true
    }

    /// Bytes one way.
    pub fn flow(&self, d: Direction) -> Flow {
        let i = slot(d);
        let mut f = Flow {
            bytes: 0,
            expected: Some(0),
        };
        for c in self.sources.values() {
            f.bytes += c.done[i];
            f.expected = f.expected.map(|e| e + c.done[i]);
            if let Some(cur) = c.current[i] {
                f.bytes += cur.bytes;
                f.expected = f.expected.zip(cur.total).map(|(e, t)| e + t.max(cur.bytes));
            }
        }
        if f.bytes == 0 && f.expected == Some(0) {
            f.expected = None;
        }
        f
    }

    /// Bytes both ways.
    pub fn total(&self) -> u64 {
        self.flow(Direction::Sent).bytes + self.flow(Direction::Received).bytes
    }

    /// Whether any kando line was seen.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kando_lines_only() {
        assert_eq!(parse("pg_dump: dumping contents of table"), None);
        assert_eq!(parse("kando: progress lots bytes sent"), None);
        assert_eq!(parse("kando: progress 5 bytes sideways"), None);
        assert_eq!(parse("kando: progress 5 bytes sent of"), None);
        assert_eq!(parse("kando: sent 5 bytes extra"), None);
        assert_eq!(
            parse(
                "kando: pushed 6000 bytes to /x as snapshot ab (1 new of 2 chunks, 10 bytes added)"
            ),
            None
        );
        assert_eq!(
            parse("kando: progress 10 bytes received of 30"),
            Some((
                "",
                KandoLine::Progress {
                    direction: Direction::Received,
                    bytes: 10,
                    total: Some(30)
                }
            ))
        );
        assert_eq!(
            parse("pod-1: kando: sent 7 bytes"),
            Some((
                "pod-1:",
                KandoLine::Done {
                    direction: Direction::Sent,
                    bytes: 7
                }
            ))
        );
    }

    #[test]
    fn transfers_add_up_per_source_and_direction() {
        let mut t = Transfers::default();
        assert!(!t.line("pg_dump: dumping contents of table"));
        assert_eq!(t.flow(Direction::Sent), Flow::default());
        assert!(t.line("kando: progress 1000 bytes sent"));
        assert_eq!(
            t.flow(Direction::Sent),
            Flow {
                bytes: 1000,
                expected: None
            }
        );
        assert!(t.line("kando: sent 6000 bytes"));
        assert!(t.line("kando: progress 10 bytes received of 20"));
        assert!(t.line("a: kando: progress 5 bytes received of 50"));
        assert_eq!(
            t.flow(Direction::Sent),
            Flow {
                bytes: 6000,
                expected: Some(6000)
            }
        );
        assert_eq!(
            t.flow(Direction::Received),
            Flow {
                bytes: 15,
                expected: Some(70)
            }
        );
        assert!(t.line("a: kando: received 50 bytes"));
        assert!(t.line("kando: received 20 bytes"));
        assert_eq!(
            t.flow(Direction::Received),
            Flow {
                bytes: 70,
                expected: Some(70)
            }
        );
        assert_eq!(t.total(), 6070);
    }
}
