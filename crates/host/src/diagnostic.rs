//! What the type checker says about a script: [`Diagnostic`]s, printed as
//! `tsc` prints them, ready to hand back to a model.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One finding of the type checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The script's name, or the file's path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (UTF-16 units, as editors and engines count).
    pub column: u32,
    /// TypeScript's code for it (`2345` is `TS2345`).
    pub code: u32,
    /// `error`, `warning` or `suggestion`.
    pub category: String,
    /// What is wrong, as TypeScript says it (lines joined by `\n`).
    pub message: String,
}

impl Diagnostic {
    /// Whether it is an error (a run that checks fails on it).
    pub fn is_error(&self) -> bool {
        self.category == "error"
    }
}

impl fmt::Display for Diagnostic {
    /// `module.ts(3,14): error TS2345: Argument of type ...`, as `tsc` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({},{}): {} TS{}: {}",
            self.file, self.line, self.column, self.category, self.code, self.message
        )
    }
}

/// Diagnostics printed one per line, as `tsc` prints them.
pub(crate) fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_tsc_does() {
        let d = Diagnostic {
            file: "module.ts".into(),
            line: 3,
            column: 14,
            code: 2345,
            category: "error".into(),
            message: "Argument of type 'string' is not assignable to parameter of type 'number'."
                .into(),
        };
        assert_eq!(
            d.to_string(),
            "module.ts(3,14): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'."
        );
        assert!(d.is_error());
    }
}
