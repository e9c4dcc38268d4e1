//! `exception.stacktrace` text → X-Ray stack frames, one parser per
//! runtime's format (the collector's awsxray exporter is the reference for
//! which lines count and what `path`, `line` and `label` become; where we
//! differ, `docs/xray.md` "Exceptions and stack traces" says why).
//!
//! Every parser is a hand-written line scanner over `&str` slices: the
//! formats are line-oriented with fixed markers (`\tat `, `  File "`,
//! `Caused by: `, ` ---> `), so a scan costs one pass and no allocation
//! beyond the frames it keeps, where a regex would compile patterns and
//! backtrack on every line of the export hot path.
//!
//! A parser returns the exception chain it read: element 0 is the exception
//! the event describes (its type and message come from the event's
//! attributes, so parsers do not read them), each further element the
//! cause of the one before (Java `Caused by:`, Python chained tracebacks,
//! .NET inner exceptions). Lines a parser does not recognise are skipped,
//! never turned into frames.

mod dotnet;
mod go;
mod java;
mod js;
mod python;

use super::document::StackFrame;

/// Which stack-trace format an exception event's text is in: the
/// resource's `telemetry.sdk.language`, read once per resource.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StackLanguage {
    /// No `telemetry.sdk.language`: the format is recognised from the text
    /// (spans made from legacy segments, hand-built spans).
    #[default]
    Detect,
    /// `java`, and `php` (whose SDK prints Java's format).
    Java,
    /// `python`.
    Python,
    /// `nodejs`, `webjs`, `javascript` (V8 traces).
    JavaScript,
    /// `dotnet`.
    DotNet,
    /// `go`.
    Go,
    /// Any other language: stacks are not parsed (no junk frames).
    Other,
}

impl StackLanguage {
    /// From the resource attribute `telemetry.sdk.language` (`None` when
    /// absent).
    pub fn from_sdk_language(language: Option<&str>) -> Self {
        match language {
            None => Self::Detect,
            Some("java" | "php") => Self::Java,
            Some("python") => Self::Python,
            Some("nodejs" | "webjs" | "javascript") => Self::JavaScript,
            Some("dotnet") => Self::DotNet,
            Some("go") => Self::Go,
            Some(_) => Self::Other,
        }
    }
}

/// One exception read from a stack trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Type (causes only; the first exception's comes from the event).
    pub kind: Option<String>,
    /// Message (causes only).
    pub message: Option<String>,
    /// Frames, innermost first.
    pub frames: Vec<StackFrame>,
}

/// Parses `text` as `language` prints it. Returns at least one element
/// (with no frames when nothing was recognised).
pub(crate) fn parse(language: StackLanguage, text: &str) -> Vec<Parsed> {
    let language = match language {
        StackLanguage::Detect => detect(text),
        l => l,
    };
    let chain = match language {
        StackLanguage::Java => java::parse(text, true),
        // Recognised (not declared) Java-style text keeps labels whole: it
        // is mostly our own rendering of another runtime's frames.
        StackLanguage::Detect => java::parse(text, false),
        StackLanguage::Python => python::parse(text),
        StackLanguage::JavaScript => js::parse(text),
        StackLanguage::DotNet => dotnet::parse(text),
        StackLanguage::Go => go::parse(text),
        StackLanguage::Other => Vec::new(),
    };
    if chain.is_empty() {
        vec![Parsed::default()]
    } else {
        chain
    }
}

/// The format of a stack trace without a declared language, from its first
/// recognisable line; [`StackLanguage::Other`] when none is. Returns
/// `Detect` for Java-style `\tat label(path:line)` text (see [`parse`]).
fn detect(text: &str) -> StackLanguage {
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("Traceback (most recent call last):") || line.starts_with("  File \"") {
            return StackLanguage::Python;
        }
        if i == 0 && (go::is_goroutine_header(line) || line.starts_with("panic: ")) {
            return StackLanguage::Go;
        }
        let trimmed = line.trim_start();
        if i == 0 || !trimmed.starts_with("at ") {
            continue;
        }
        if trimmed.contains(":line ") {
            return StackLanguage::DotNet;
        }
        let indent = &line[..line.len() - trimmed.len()];
        return match indent {
            "\t" => StackLanguage::Detect,
            "   " => StackLanguage::DotNet,
            "    " => StackLanguage::JavaScript,
            _ => StackLanguage::Other,
        };
    }
    StackLanguage::Other
}

/// `s` up to the `(` that opens the parenthesised group `s` ends with, and
/// that group's content: `("label", "File.java:12")` for
/// `label(File.java:12)`. Balanced from the end, so parentheses inside the
/// group (`(x86)` in a path) or before it (a .NET signature in the label)
/// stay where they belong. `None` when `s` does not end with `)` or the
/// group never opens.
pub(crate) fn split_trailing_group(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_suffix(')')?;
    let mut depth = 0usize;
    for (i, b) in body.bytes().enumerate().rev() {
        match b {
            b')' => depth += 1,
            b'(' if depth == 0 => return Some((&body[..i], &body[i + 1..])),
            b'(' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// True for a non-empty run of ASCII digits.
pub(crate) fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `path:line` → (`path`, line) when what follows the last `:` is a number
/// (an empty one too: `File.java:` → no line); otherwise the whole text is
/// the path.
pub(crate) fn split_line(location: &str) -> (&str, Option<u32>) {
    match location.rsplit_once(':') {
        Some((path, "")) => (path, None),
        Some((path, n)) if is_number(n) => (path, n.parse().ok()),
        _ => (location, None),
    }
}

/// `Type: message` → (type, message); a line without `: ` is a type alone
/// when it has no whitespace, and `None` otherwise (not an exception line).
pub(crate) fn split_header(line: &str) -> Option<(String, Option<String>)> {
    match line.split_once(':') {
        Some((kind, message)) if !kind.is_empty() && !kind.contains(char::is_whitespace) => {
            let message = message.strip_prefix(' ').unwrap_or(message);
            Some((
                kind.to_owned(),
                (!message.is_empty()).then(|| message.to_owned()),
            ))
        }
        None if !line.is_empty() && !line.contains(char::is_whitespace) => {
            Some((line.to_owned(), None))
        }
        _ => None,
    }
}

/// A frame from borrowed parts (empty strings as absent).
pub(crate) fn frame(path: &str, line: Option<u32>, label: &str) -> StackFrame {
    let owned = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    StackFrame {
        path: owned(path),
        line,
        label: owned(label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_the_resource() {
        use StackLanguage::*;
        for (value, want) in [
            (None, Detect),
            (Some("java"), Java),
            (Some("php"), Java),
            (Some("python"), Python),
            (Some("nodejs"), JavaScript),
            (Some("webjs"), JavaScript),
            (Some("javascript"), JavaScript),
            (Some("dotnet"), DotNet),
            (Some("go"), Go),
            (Some("rust"), Other),
            (Some("ruby"), Other),
        ] {
            assert_eq!(StackLanguage::from_sdk_language(value), want, "{value:?}");
        }
    }

    #[test]
    fn formats_recognised_without_a_language() {
        use StackLanguage::*;
        for (text, want) in [
            ("E: x\n\tat a.B.c(B.java:1)", Detect),
            (
                "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nE",
                Python,
            ),
            ("Error: x\n    at f (/a.js:1:2)", JavaScript),
            ("System.Exception: x\n   at A.B() in /a.cs:line 3", DotNet),
            ("System.Exception: x\n   at A.B()", DotNet),
            ("System.Exception: x\n\tat A.B() in C:\\a.cs:line 3", DotNet),
            ("goroutine 1 [running]:\nmain.main()\n\t/a.go:3 +0x1", Go),
            ("panic: x\n\ngoroutine 1 [running]:", Go),
            // First line alone never decides (it is the message).
            ("\tat a.B.c(B.java:1)", Other),
            ("something went wrong\nand more", Other),
            ("", Other),
        ] {
            assert_eq!(detect(text), want, "{text:?}");
        }
    }

    #[test]
    fn trailing_group_is_balanced_from_the_end() {
        assert_eq!(
            split_trailing_group("a.B.c(B.java:1)"),
            Some(("a.B.c", "B.java:1"))
        );
        assert_eq!(
            split_trailing_group("N.T.M(String s)(C:\\Program Files (x86)\\a.cs:3)"),
            Some(("N.T.M(String s)", "C:\\Program Files (x86)\\a.cs:3"))
        );
        assert_eq!(split_trailing_group("a.B.c(B.java:1"), None);
        assert_eq!(split_trailing_group("a.B.c)"), None);
    }

    #[test]
    fn locations_and_headers() {
        assert_eq!(split_line("B.java:12"), ("B.java", Some(12)));
        assert_eq!(split_line("B.java:"), ("B.java", None));
        assert_eq!(split_line("Native Method"), ("Native Method", None));
        assert_eq!(split_line("C:\\a\\b.cs:7"), ("C:\\a\\b.cs", Some(7)));
        assert_eq!(split_line("C:\\a\\b.cs"), ("C:\\a\\b.cs", None));
        assert_eq!(
            split_header("java.io.IOException: disk: full"),
            Some(("java.io.IOException".into(), Some("disk: full".into())))
        );
        assert_eq!(split_header("KeyError"), Some(("KeyError".into(), None)));
        assert_eq!(split_header("ValueError bad value"), None);
        assert_eq!(split_header(""), None);
    }
}
