//! Secrets from the user: lines of standard input when it is a pipe or file, prompts without
//! echo when it is a terminal.

use std::collections::VecDeque;
use std::io::{IsTerminal, Read};

use porchlight_client::Secret;
use zeroize::Zeroizing;

use crate::report::CliError;

/// More than any password and code together; a larger input is a mistake, not a secret.
const MAX_STDIN_BYTES: u64 = 64 * 1024;

/// Where the secrets of one command come from.
pub enum Secrets {
    Prompt,
    Lines {
        lines: VecDeque<Secret>,
        taken: usize,
    },
}

impl Secrets {
    /// Prompts if stdin is a terminal; otherwise reads all of stdin now.
    pub fn from_stdin() -> Result<Self, CliError> {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Ok(Self::Prompt);
        }
        let mut text = Zeroizing::new(String::new());
        stdin
            .lock()
            .take(MAX_STDIN_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|_| CliError::usage("standard input is not readable UTF-8 text"))?;
        if text.len() as u64 > MAX_STDIN_BYTES {
            return Err(CliError::usage(
                "standard input is too long to hold secrets",
            ));
        }
        Ok(Self::from_text(&text))
    }

    fn from_text(text: &str) -> Self {
        let lines = text
            .lines()
            .map(|line| Secret::from(line.strip_suffix('\r').unwrap_or(line)))
            .collect();
        Self::Lines { lines, taken: 0 }
    }

    /// The next secret: prompted as `prompt`, or the next line of stdin. Never empty.
    pub fn next(&mut self, prompt: &str, what: &str) -> Result<Secret, CliError> {
        let secret = match self {
            Self::Prompt => prompt_hidden(prompt)?,
            Self::Lines { lines, taken } => {
                *taken += 1;
                lines.pop_front().ok_or_else(|| {
                    CliError::usage(format!("expected {what} on line {taken} of standard input"))
                })?
            }
        };
        if secret.is_empty() {
            return Err(CliError::usage(format!("{what} is empty")));
        }
        Ok(secret)
    }

    /// A password being chosen: at a terminal it is asked for twice.
    pub fn new_password(&mut self, prompt: &str) -> Result<Secret, CliError> {
        let password = self.next(prompt, "the new password")?;
        if let Self::Prompt = self {
            let again = prompt_hidden("Repeat it: ")?;
            if again != password {
                return Err(CliError::usage("the two passwords differ"));
            }
        }
        Ok(password)
    }
}

fn prompt_hidden(prompt: &str) -> Result<Secret, CliError> {
    rpassword::prompt_password(prompt)
        .map(Secret::new)
        .map_err(|_| CliError::usage("could not read from the terminal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_taken_in_order_without_their_line_ends() {
        let mut secrets = Secrets::from_text("pass word \r\nRC-1234\n");
        let first = secrets.next("", "the password").ok();
        let second = secrets.next("", "the recovery code").ok();
        assert_eq!(first.as_ref().map(Secret::expose), Some("pass word "));
        assert_eq!(second.as_ref().map(Secret::expose), Some("RC-1234"));
    }

    #[test]
    fn a_missing_line_says_which() {
        let mut secrets = Secrets::from_text("only one\n");
        assert!(secrets.next("", "the password").is_ok());
        let err = secrets.next("", "the new password").err();
        assert!(err.is_some_and(|e| e.message.contains("line 2")));
    }

    #[test]
    fn an_empty_line_is_refused() {
        let mut secrets = Secrets::from_text("\nsecond\n");
        assert!(secrets.next("", "the password").is_err());
    }
}
