//! .NET's `Exception.ToString()` format. Inner exceptions are announced
//! in the header with ` ---> ` (on the same line in .NET Framework, at the
//! start of a line since .NET Core), and their frames come first, each
//! block closed by `--- End of inner exception stack trace ---`:
//!
//! ```text
//! System.InvalidOperationException: Checkout failed
//!  ---> System.FormatException: Bad quantity
//!    at System.Number.ThrowFormatException(ReadOnlySpan`1 value)
//!    at Shop.Cart.Parse(String s) in /src/Shop/Cart.cs:line 14
//!    --- End of inner exception stack trace ---
//!    at Shop.Checkout.Run() in /src/Shop/Checkout.cs:line 30
//! ```

use super::{Parsed, frame, is_number, split_header};

const INNER_END: &str = "--- End of inner exception stack trace ---";
const INNER_PREFIX: &str = "--->";

/// The chain, outermost first (the exception the event describes), each
/// inner exception the cause of the one before; frames in the order
/// printed (innermost call first).
pub(super) fn parse(text: &str) -> Vec<Parsed> {
    let mut header = String::new();
    let mut sections: Vec<Vec<super::StackFrame>> = vec![Vec::new()];
    let mut in_header = true;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed == INNER_END {
            in_header = false;
            sections.push(Vec::new());
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("at ")
            && (!in_header || line.len() > trimmed.len())
        {
            in_header = false;
            if let (Some(f), Some(section)) = (parse_frame(rest), sections.last_mut()) {
                section.push(f);
            }
            continue;
        }
        if in_header {
            if !header.is_empty() {
                header.push('\n');
            }
            header.push_str(line.trim_end());
        }
        // Anything else (`--- End of stack trace from previous location
        // ---`, blank lines) is not a frame.
    }

    let mut chain: Vec<Parsed> = header
        .split(INNER_PREFIX)
        .enumerate()
        .map(|(i, part)| {
            let part = part.trim();
            // The outermost exception's type and message are the event's.
            let (kind, message) = if i == 0 {
                (None, None)
            } else {
                match split_header(part) {
                    Some((k, m)) => (Some(k), m),
                    None => (None, (!part.is_empty()).then(|| part.to_owned())),
                }
            };
            Parsed {
                kind,
                message,
                frames: Vec::new(),
            }
        })
        .collect();
    // The last frame block is the outermost exception's, the one before it
    // its inner exception's, and so on.
    for (exception, frames) in chain.iter_mut().zip(sections.into_iter().rev()) {
        exception.frames = frames;
    }
    chain
}

/// `label in path:line N` (the word before the number is localised), or
/// `label` ending with its parameter list; anything else is not a frame.
fn parse_frame(rest: &str) -> Option<super::StackFrame> {
    // The label ends with its parameter list, so `) in ` is where the
    // location starts even when the path itself contains ` in `.
    let split = rest
        .find(") in ")
        .map(|i| (&rest[..=i], &rest[i + 5..]))
        .or_else(|| rest.split_once(" in "));
    match split {
        Some((label, location)) => {
            let numbered = location.rsplit_once(':').and_then(|(path, n)| {
                let n = n.rsplit(' ').next().unwrap_or(n);
                is_number(n).then(|| (path, n.parse().ok()))
            });
            let (path, line) = numbered.unwrap_or((location, None));
            Some(frame(path, line, label))
        }
        None => {
            let end = rest.rfind(')')?;
            Some(frame("", None, &rest[..=end]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::document::StackFrame;

    fn f(path: Option<&str>, line: Option<u32>, label: &str) -> StackFrame {
        StackFrame {
            path: path.map(str::to_owned),
            line,
            label: Some(label.to_owned()),
        }
    }

    #[test]
    fn frames_with_and_without_locations() {
        let text = "System.FormatException: The input string 'x' was not in a correct format.\n   at System.Number.ThrowFormatException[TChar](ReadOnlySpan`1 value)\n   at System.Int32.Parse(String s)\n   at Shop.Cart.Parse(String s) in C:\\src\\Shop in progress\\Cart.cs:line 14\n   --- End of stack trace from previous location ---\n   at Shop.Program.<Main>$(String[] args) in /src/Shop/Program.cs:Zeile 3\n   at Shop.Broken.One(String s\n   at Shop.Broken.Two(Int32 n) trailing";
        let chain = parse(text);
        assert_eq!(chain.len(), 1);
        assert_eq!(
            chain[0].frames,
            vec![
                f(
                    None,
                    None,
                    "System.Number.ThrowFormatException[TChar](ReadOnlySpan`1 value)"
                ),
                f(None, None, "System.Int32.Parse(String s)"),
                f(
                    Some("C:\\src\\Shop in progress\\Cart.cs"),
                    Some(14),
                    "Shop.Cart.Parse(String s)"
                ),
                f(
                    Some("/src/Shop/Program.cs"),
                    Some(3),
                    "Shop.Program.<Main>$(String[] args)"
                ),
                f(None, None, "Shop.Broken.Two(Int32 n)"),
            ]
        );
    }

    #[test]
    fn inner_exceptions_core_layout() {
        let text = "System.InvalidOperationException: Checkout failed\n ---> System.FormatException: Bad quantity\n ---> System.OverflowException: Value was either too large or too small.\n   at System.Number.ThrowOverflow()\n   --- End of inner exception stack trace ---\n   at Shop.Cart.Parse(String s) in /src/Shop/Cart.cs:line 14\n   --- End of inner exception stack trace ---\n   at Shop.Checkout.Run() in /src/Shop/Checkout.cs:line 30\n   at Shop.Program.Main() in /src/Shop/Program.cs:line 8";
        let chain = parse(text);
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0].kind, None);
        assert_eq!(
            chain[0].frames,
            vec![
                f(
                    Some("/src/Shop/Checkout.cs"),
                    Some(30),
                    "Shop.Checkout.Run()"
                ),
                f(Some("/src/Shop/Program.cs"), Some(8), "Shop.Program.Main()"),
            ]
        );
        assert_eq!(chain[1].kind.as_deref(), Some("System.FormatException"));
        assert_eq!(chain[1].message.as_deref(), Some("Bad quantity"));
        assert_eq!(
            chain[1].frames,
            vec![f(
                Some("/src/Shop/Cart.cs"),
                Some(14),
                "Shop.Cart.Parse(String s)"
            )]
        );
        assert_eq!(chain[2].kind.as_deref(), Some("System.OverflowException"));
        assert_eq!(
            chain[2].message.as_deref(),
            Some("Value was either too large or too small.")
        );
        assert_eq!(
            chain[2].frames,
            vec![f(None, None, "System.Number.ThrowOverflow()")]
        );
    }

    #[test]
    fn inner_exception_framework_layout() {
        let text = "System.Exception: outer ---> System.IO.IOException: disk full\n   at Shop.Disk.Write() in c:\\shop\\Disk.cs:line 5\n   --- End of inner exception stack trace ---\n   at Shop.Save() in c:\\shop\\Save.cs:line 9";
        let chain = parse(text);
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1].kind.as_deref(), Some("System.IO.IOException"));
        assert_eq!(chain[1].message.as_deref(), Some("disk full"));
        assert_eq!(chain[1].frames[0].line, Some(5));
        assert_eq!(chain[0].frames[0].label.as_deref(), Some("Shop.Save()"));
    }

    #[test]
    fn header_only() {
        assert_eq!(
            parse("System.Exception: nothing else"),
            vec![Parsed::default()]
        );
    }
}
