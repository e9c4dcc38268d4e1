//! Python's `traceback` format. Frames are printed outermost first, each
//! `  File "path", line N, in label` followed by indented source and
//! `^^^` marker lines; the exception line(s) come last. A chained exception
//! prints its context/cause traceback first, then a separator sentence,
//! then its own:
//!
//! ```text
//! Traceback (most recent call last):
//!   File "/app/db.py", line 8, in fetch
//!     return conn.execute(sql)
//! TimeoutError: query took 30s
//!
//! The above exception was the direct cause of the following exception:
//!
//! Traceback (most recent call last):
//!   File "/app/handler.py", line 20, in handle
//!     rows = fetch(sql)
//! app.errors.FetchError: cannot load orders
//! ```

use super::{Parsed, frame, is_number, split_header};

/// `raise ... from ...` and an exception raised while handling another.
const SEPARATORS: [&str; 2] = [
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
];

/// The chain, last-printed traceback first (it is the exception raised),
/// frames innermost first. A chained traceback that is malformed (a
/// `Traceback` header without frames, an exception line that is not
/// `Type: message` or a bare type) ends the chain there.
pub(super) fn parse(text: &str) -> Vec<Parsed> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut blocks: Vec<&[&str]> = Vec::new();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        if SEPARATORS.contains(line) {
            blocks.push(&lines[start..i]);
            start = i + 1;
        }
    }
    blocks.push(&lines[start..]);

    let mut chain = Vec::with_capacity(blocks.len());
    for (n, block) in blocks.iter().rev().enumerate() {
        let Some(exception) = parse_block(block, n == 0) else {
            break;
        };
        chain.push(exception);
    }
    chain
}

/// One traceback; `top` is the exception the event describes (its type and
/// message are the event's, so its exception line is not read).
fn parse_block(block: &[&str], top: bool) -> Option<Parsed> {
    let mut frames = Vec::new();
    let mut has_header = false;
    // Index of the first line after the last frame's source lines.
    let mut tail = 0;
    for (i, line) in block.iter().enumerate() {
        if line.starts_with("Traceback (most recent call last):") {
            has_header = true;
            tail = i + 1;
        } else if let Some(rest) = line.strip_prefix("  File \"") {
            if let Some(f) = parse_frame(rest) {
                frames.push(f);
            }
            tail = i + 1;
        } else if line.starts_with("    ") && tail == i {
            // Source line or `^^^^` markers under a frame.
            tail = i + 1;
        }
    }
    frames.reverse();
    if top {
        return Some(Parsed {
            frames,
            ..Parsed::default()
        });
    }
    if has_header && frames.is_empty() {
        return None;
    }
    let text: Vec<&str> = block[tail..]
        .iter()
        .copied()
        .skip_while(|l| l.is_empty())
        .collect();
    let end = text.iter().rposition(|l| !l.is_empty())? + 1;
    let (kind, first) = split_header(text[0])?;
    let mut message = first.unwrap_or_default();
    for more in &text[1..end] {
        message.push('\n');
        message.push_str(more);
    }
    Some(Parsed {
        kind: Some(kind),
        message: (!message.is_empty()).then_some(message),
        frames,
    })
}

/// `path", line N, in label` (after `  File "`). Exactly two parts must
/// follow the path, or the line is not a frame; a part that is not
/// `line N` or `in label` leaves that field empty.
fn parse_frame(rest: &str) -> Option<super::StackFrame> {
    let (path, rest) = rest.split_once("\", ")?;
    let (line_part, label_part) = rest.split_once(", ")?;
    let line = line_part
        .strip_prefix("line ")
        .filter(|n| is_number(n))
        .and_then(|n| n.parse().ok());
    let label = label_part.strip_prefix("in ").unwrap_or("");
    Some(frame(path, line, label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::document::StackFrame;

    fn f(path: &str, line: Option<u32>, label: Option<&str>) -> StackFrame {
        StackFrame {
            path: Some(path.into()),
            line,
            label: label.map(str::to_owned),
        }
    }

    #[test]
    fn innermost_first_without_source_lines() {
        let text = "Traceback (most recent call last):\n  File \"/srv/app.py\", line 31, in <module>\n    main()\n  File \"/srv/app.py\", line 27, in main\n    total = checkout(cart)\n            ^^^^^^^^^^^^^^\n  File \"/srv/cart, v2/cart.py\", line 9, in checkout\n    return sum(i.price for i in cart) / len(cart)\n           ~~~~~~~~~~~~~~~~~~~~~~~~~~~^~~~~~~~~~~\nZeroDivisionError: division by zero";
        let chain = parse(text);
        assert_eq!(chain.len(), 1);
        assert_eq!(
            chain[0].frames,
            vec![
                f("/srv/cart, v2/cart.py", Some(9), Some("checkout")),
                f("/srv/app.py", Some(27), Some("main")),
                f("/srv/app.py", Some(31), Some("<module>")),
            ]
        );
    }

    #[test]
    fn malformed_frame_lines() {
        let text = "Traceback (most recent call last):\n  File \"a.py\", line 3 in f\n  File \"b.py\", lin 4, in g\n  File \"c.py\", line 5, on h\n  File \"d.py\", line 6, in k\nE: x";
        assert_eq!(
            parse(text)[0].frames,
            vec![
                f("d.py", Some(6), Some("k")),
                f("c.py", Some(5), None),
                f("b.py", None, Some("g")),
            ]
        );
    }

    #[test]
    fn chained_tracebacks_become_causes() {
        let text = "Traceback (most recent call last):\n  File \"/app/db.py\", line 8, in fetch\n    return conn.execute(sql)\nTimeoutError: query took 30s\nafter 3 retries\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"/app/cache.py\", line 4, in get\n    raise KeyError(k)\nKeyError\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/app/handler.py\", line 20, in handle\n    rows = fetch(sql)\napp.errors.FetchError: cannot load orders";
        let chain = parse(text);
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0].kind, None);
        assert_eq!(
            chain[0].frames,
            vec![f("/app/handler.py", Some(20), Some("handle"))]
        );
        assert_eq!(chain[1].kind.as_deref(), Some("KeyError"));
        assert_eq!(chain[1].message, None);
        assert_eq!(
            chain[1].frames,
            vec![f("/app/cache.py", Some(4), Some("get"))]
        );
        assert_eq!(chain[2].kind.as_deref(), Some("TimeoutError"));
        assert_eq!(
            chain[2].message.as_deref(),
            Some("query took 30s\nafter 3 retries")
        );
        assert_eq!(
            chain[2].frames,
            vec![f("/app/db.py", Some(8), Some("fetch"))]
        );
    }

    #[test]
    fn malformed_cause_ends_the_chain() {
        let frameless = "Traceback (most recent call last):\nValueError: bad\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"m.py\", line 1, in <module>\nTypeError: t";
        let chain = parse(frameless);
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].frames, vec![f("m.py", Some(1), Some("<module>"))]);
        let no_colon = frameless.replace(
            "Traceback (most recent call last):\nValueError: bad",
            "Traceback (most recent call last):\n  File \"v.py\", line 2, in v\nValueError bad",
        );
        assert_eq!(parse(&no_colon).len(), 1);
    }

    #[test]
    fn cause_never_raised_has_no_traceback() {
        let text = "ValueError: original\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"m.py\", line 1, in <module>\nRuntimeError: wrapped";
        let chain = parse(text);
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1].kind.as_deref(), Some("ValueError"));
        assert!(chain[1].frames.is_empty());
    }
}
