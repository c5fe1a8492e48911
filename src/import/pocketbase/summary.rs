//! What one conversion carried, counted, and what it could not carry and why: printed at
//! the end of `hearth import pocketbase`.

use std::fmt;

/// One collection as carried: its records (a view has none of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub name: String,
    pub kind: String,
    pub records: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub collections: Vec<Carried>,
    /// Stored files (originals) and thumbnails, and their bytes together.
    pub files: u64,
    pub thumbs: u64,
    pub bytes: u64,
    /// Request log entries (auxiliary.db's `_logs`).
    pub logs: u64,
    /// The app's applied JS migrations (`pb_migrations`), recorded as applied.
    pub app_migrations: u64,
    /// Whether settings were found (and decrypted, when they were encrypted).
    pub settings: bool,
    /// What was not carried, or carried differently, and why: one sentence each.
    pub notes: Vec<String>,
}

impl Summary {
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub fn records(&self) -> u64 {
        self.collections.iter().map(|c| c.records).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Collections ({}):", self.collections.len())?;
        for c in &self.collections {
            if c.kind == "view" {
                writeln!(f, "  {:<32} view", c.name)?;
            } else {
                writeln!(f, "  {:<32} {:>10} records", c.name, c.records)?;
            }
        }
        writeln!(
            f,
            "Files: {} ({} thumbnails), {} bytes",
            self.files, self.thumbs, self.bytes
        )?;
        writeln!(f, "Request log entries: {}", self.logs)?;
        writeln!(
            f,
            "App JS migrations marked applied: {}",
            self.app_migrations
        )?;
        writeln!(
            f,
            "Settings: {}",
            if self.settings {
                "carried"
            } else {
                "none stored"
            }
        )?;
        if self.notes.is_empty() {
            writeln!(f, "Not carried: nothing")?;
        } else {
            writeln!(f, "Not carried, or carried differently:")?;
            for n in &self.notes {
                writeln!(f, "  - {n}")?;
            }
        }
        Ok(())
    }
}
