//! Go's goroutine dump (`runtime/debug.Stack`, a panic): a function line,
//! then its location indented by a tab.
//!
//! ```text
//! goroutine 7 [running]:
//! main.(*Server).handle(0xc000120000, {0x1029a40, 0xc0001a2000})
//! <TAB>/src/app/server.go:42 +0x1d4
//! created by net/http.(*Server).Serve in goroutine 1
//! <TAB>/usr/local/go/src/net/http/server.go:3285 +0x4b4
//! ```

use super::{Parsed, frame, is_number, split_trailing_group};

/// `goroutine N [state…]:`.
pub(super) fn is_goroutine_header(line: &str) -> bool {
    line.strip_prefix("goroutine ")
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(n, state)| is_number(n) && state.starts_with('[') && state.ends_with(':'))
}

/// One exception; every goroutine's frames in order (a dump lists the
/// failing goroutine first). A function line without a location line
/// after it is not a frame.
pub(super) fn parse(text: &str) -> Vec<Parsed> {
    let mut frames = Vec::new();
    let mut function: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(location) = line.strip_prefix('\t') {
            if let (Some(label), Some((path, n))) = (function.take(), split_location(location)) {
                frames.push(frame(path, Some(n), label_of(label)));
            }
        } else if line.is_empty() || is_goroutine_header(line) {
            function = None;
        } else {
            function = Some(line);
        }
    }
    vec![Parsed {
        frames,
        ..Parsed::default()
    }]
}

/// The function without its argument words (`main.f(0x1, 0x2)` →
/// `main.f`); `created by …` lines are kept whole.
fn label_of(function: &str) -> &str {
    split_trailing_group(function).map_or(function, |(name, _)| name)
}

/// `/path/file.go:42 +0x1d4` (or ` fp=… sp=… pc=…`) → (path, 42).
fn split_location(location: &str) -> Option<(&str, u32)> {
    let end = [" +0x", " fp="]
        .iter()
        .filter_map(|m| location.find(m))
        .min()
        .unwrap_or(location.len());
    let (path, n) = location[..end].trim().rsplit_once(':')?;
    if path.is_empty() || !is_number(n) {
        return None;
    }
    Some((path, n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::document::StackFrame;

    fn f(path: &str, line: u32, label: &str) -> StackFrame {
        StackFrame {
            path: Some(path.into()),
            line: Some(line),
            label: Some(label.into()),
        }
    }

    #[test]
    fn goroutine_dump() {
        let text = "goroutine 7 [running]:\nruntime/debug.Stack()\n\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e\nmain.(*Server).handle(0xc000120000, {0x1029a40, 0xc0001a2000})\n\t/src/app/server.go:42 +0x1d4\nmain.process[...](...)\n\t/src/app/generic.go:9\ncreated by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3285 +0x4b4\n\ngoroutine 1 [chan receive, 2 minutes]:\nmain.main()\n\tC:/src/app/main.go:15 +0x8c fp=0xc000 sp=0xc000 pc=0x1\n...additional frames elided...";
        assert_eq!(
            parse(text)[0].frames,
            vec![
                f(
                    "/usr/local/go/src/runtime/debug/stack.go",
                    26,
                    "runtime/debug.Stack"
                ),
                f("/src/app/server.go", 42, "main.(*Server).handle"),
                f("/src/app/generic.go", 9, "main.process[...]"),
                f(
                    "/usr/local/go/src/net/http/server.go",
                    3285,
                    "created by net/http.(*Server).Serve in goroutine 1"
                ),
                f("C:/src/app/main.go", 15, "main.main"),
            ]
        );
    }

    #[test]
    fn panic_output_and_nested_panics() {
        let text = "panic: boom [recovered]\n\tpanic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x1d\nexit status 2";
        assert_eq!(
            parse(text)[0].frames,
            vec![f("/app/main.go", 5, "main.main")]
        );
    }

    #[test]
    fn headers() {
        assert!(is_goroutine_header("goroutine 19 [running]:"));
        assert!(is_goroutine_header(
            "goroutine 1 [chan receive, 2 minutes]:"
        ));
        assert!(!is_goroutine_header("goroutine x [running]:"));
        assert!(!is_goroutine_header("goroutines 1 [running]:"));
    }
}
