//! Printing answers: JSON documents, aligned tables, times, QR codes.
//!
//! Every string that came from the server goes through [`clean`] before it reaches a terminal:
//! a device name is chosen by whoever signed in, and must not be able to send escape sequences.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `value` as one pretty JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// `value` as one compact JSON document on its own line, flushed: for commands that go on
/// running after they answer (the pairing code, the demo), whose reader acts on the line
/// before the command finishes.
pub fn print_json_line<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Control characters escaped (`\u{1b}`), everything else as it is.
pub fn clean(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(cleaned, "{}", c.escape_default());
        } else {
            cleaned.push(c);
        }
    }
    cleaned
}

/// Unix milliseconds as RFC 3339 in UTC, to the second.
pub fn rfc3339(at_ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok());
    at.unwrap_or_else(|| format!("@{at_ms}ms"))
}

/// A table with a header row, columns two spaces apart; the last column is not padded.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; each cell is [`clean`]ed.
    pub fn row(&mut self, cells: &[&str]) {
        self.rows
            .push(cells.iter().map(|cell| clean(cell)).collect());
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.chars().count();
                    let _ = write!(line, "{cell}{:pad$}  ", "");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The QR code of `text` for a terminal, or `None` when stdout is not one (a QR code in a
/// file or pipe is noise).
pub fn terminal_qr(text: &str) -> Option<String> {
    if !io::stdout().is_terminal() {
        return None;
    }
    qr(text)
}

/// `text` (a rendered QR code) when stdout is a terminal, else `None`.
pub fn terminal_text(text: &str) -> Option<String> {
    io::stdout().is_terminal().then(|| text.to_owned())
}

/// A progress bar on stderr for long loops, drawn only when stderr is a terminal (a log or
/// pipe gets nothing).
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    enabled: bool,
    drawn: bool,
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        Self {
            label,
            enabled: io::stderr().is_terminal(),
            drawn: false,
        }
    }

    pub fn update(&mut self, done: usize, total: usize) {
        if !self.enabled || total == 0 {
            return;
        }
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{}", progress_line(self.label, done, total));
        let _ = err.flush();
        self.drawn = true;
    }

    pub fn finish(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

fn progress_line(label: &str, done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "{label} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    )
}

fn qr(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    // Inverted, for the usual light-on-dark terminal; the quiet zone keeps it scannable.
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_to_the_second() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn escape_sequences_are_defused() {
        assert_eq!(clean("phone\u{1b}[2J\n"), "phone\\u{1b}[2J\\n");
        assert_eq!(clean("Zoë's laptop"), "Zoë's laptop");
    }

    #[test]
    fn tables_align_and_do_not_trail_spaces() {
        let mut table = Table::new(&["ID", "DEVICE", "CURRENT"]);
        table.row(&["s1", "cli on box", "*"]);
        table.row(&["session-22", "phone", ""]);
        assert_eq!(
            table.render(),
            "ID          DEVICE      CURRENT\n\
             s1          cli on box  *\n\
             session-22  phone\n"
        );
    }

    #[test]
    fn progress_lines_fill_in_proportion() {
        assert_eq!(
            progress_line("x", 0, 2),
            format!("x [{}] 0/2", " ".repeat(30))
        );
        assert_eq!(
            progress_line("x", 1, 2),
            format!("x [{}{}] 1/2", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(
            progress_line("x", 2, 2),
            format!("x [{}] 2/2", "#".repeat(30))
        );
    }

    #[test]
    fn otpauth_uris_fit_in_a_qr_code() {
        let uri = "otpauth://totp/Porchlight:someone%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Porchlight";
        assert!(qr(uri).is_some_and(|art| art.lines().count() > 10));
    }
}
