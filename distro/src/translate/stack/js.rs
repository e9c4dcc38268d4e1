//! V8's `Error.stack` format (Node.js, browsers on V8):
//!
//! ```text
//! TypeError: Cannot read properties of undefined (reading 'id')   <- skipped
//!     at orderId (/srv/orders.js:12:19)
//!     at async Promise.all (index 0)
//!     at /srv/index.js:40:5
//!     at Array.map (<anonymous>)
//! ```

use super::{Parsed, frame, is_number, split_trailing_group};

/// One exception (V8 prints no causes in `stack`); lines after the first
/// that are indented `at …` are frames.
pub(super) fn parse(text: &str) -> Vec<Parsed> {
    let mut frames = Vec::new();
    for line in text.lines().skip(1) {
        let trimmed = line.trim();
        if trimmed.len() == line.trim_end().len() {
            // Not indented: message continuation, not a frame.
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("at ")
            && let Some(f) = parse_frame(rest)
        {
            frames.push(f);
        }
    }
    vec![Parsed {
        frames,
        ..Parsed::default()
    }]
}

/// `label (location)` or a bare `location`; a line with a `(` that does not
/// close at its end is malformed.
fn parse_frame(rest: &str) -> Option<super::StackFrame> {
    let (label, location) = match split_trailing_group(rest) {
        Some((label, location)) => (label.trim(), location),
        None if rest.contains('(') => return None,
        None => ("", rest),
    };
    let (path, line) = split_location(location);
    (!path.is_empty() || !label.is_empty()).then(|| frame(path, line, label))
}

/// `path:line:column` or `path:line` → (path, line); otherwise the whole
/// location is the path (`native`, `<anonymous>`, `index 0`).
fn split_location(location: &str) -> (&str, Option<u32>) {
    let Some((head, last)) = location.rsplit_once(':') else {
        return (location, None);
    };
    if !is_number(last) {
        return (location, None);
    }
    match head.rsplit_once(':') {
        Some((path, line)) if is_number(line) => (path, line.parse().ok()),
        _ => (head, last.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::document::StackFrame;

    fn f(path: Option<&str>, line: Option<u32>, label: Option<&str>) -> StackFrame {
        StackFrame {
            path: path.map(str::to_owned),
            line,
            label: label.map(str::to_owned),
        }
    }

    #[test]
    fn v8_frames() {
        let text = "TypeError: Cannot read properties of undefined (reading 'id')\n    at orderId (/srv/orders.js:12:19)\n    at async Promise.all (index 0)\n    at /srv/index.js:40:5\n    at Array.map (<anonymous>)\n    at new Cart (file:///C:/srv/cart.mjs:7:11)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at native\n    at loader (/srv/l.js:3)";
        assert_eq!(
            parse(text)[0].frames,
            vec![
                f(Some("/srv/orders.js"), Some(12), Some("orderId")),
                f(Some("index 0"), None, Some("async Promise.all")),
                f(Some("/srv/index.js"), Some(40), None),
                f(Some("<anonymous>"), None, Some("Array.map")),
                f(Some("file:///C:/srv/cart.mjs"), Some(7), Some("new Cart")),
                f(
                    Some("node:internal/process/task_queues"),
                    Some(95),
                    Some("process.processTicksAndRejections")
                ),
                f(Some("native"), None, None),
                f(Some("/srv/l.js"), Some(3), Some("loader")),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "Error: x\n    at a (/srv/a.js)\n    at b (/srv/b.js:5:3)junk\n    at c (/srv/c.js:10\nat d (/srv/d.js:1:1)";
        assert_eq!(
            parse(text)[0].frames,
            vec![f(Some("/srv/a.js"), None, Some("a"))]
        );
    }
}
