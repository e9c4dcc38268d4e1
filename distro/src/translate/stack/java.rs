//! Java's `Throwable.printStackTrace` format (also PHP's SDK and our own
//! rendering of segment frames):
//!
//! ```text
//! com.acme.OrderException: order 7 failed          <- first line: skipped
//! \tat com.acme.Orders.place(Orders.java:42)      <- frame
//! \tSuppressed: ...  /  \t\tat ...                <- suppressed: skipped
//! Caused by: java.io.IOException: disk full       <- a cause, linked
//! \tat java.base/java.io.File.write(File.java:9)
//! \t... 3 more                                    <- common frames: skipped
//! ```

use super::{Parsed, frame, split_header, split_line, split_trailing_group};

/// The chain: the top exception, then each `Caused by:` (column 0 only: an
/// indented one belongs to a suppressed exception). `strip_modules`
/// removes Java's class-loader/module prefix from labels
/// (`java.base/java.io.File.write` → `java.io.File.write`).
pub(super) fn parse(text: &str, strip_modules: bool) -> Vec<Parsed> {
    let mut chain = vec![Parsed::default()];
    // Message lines of a `Caused by:` still being read.
    let mut in_header = false;
    for line in text.lines().skip(1) {
        let line = line.trim_end();
        if let Some(cause) = line.strip_prefix("Caused by: ") {
            let (kind, message) = match split_header(cause) {
                Some((k, m)) => (Some(k), m),
                None => (Some(cause.to_owned()), None),
            };
            chain.push(Parsed {
                kind,
                message,
                frames: Vec::new(),
            });
            in_header = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("\tat ") {
            in_header = false;
            if let Some(f) = parse_frame(rest, strip_modules)
                && let Some(current) = chain.last_mut()
            {
                current.frames.push(f);
            }
            continue;
        }
        if line.starts_with('\t') {
            // `... N more`, `Suppressed:` and everything indented under it.
            in_header = false;
            continue;
        }
        if in_header && let Some(current) = chain.last_mut() {
            // A multi-line cause message.
            let message = current.message.get_or_insert_with(String::new);
            message.push('\n');
            message.push_str(line);
        }
    }
    chain
}

/// `label(path:line)`, `label(Native Method)`, `label(File.java)`;
/// `label(Unknown Source)` has no path. Anything else is not a frame.
fn parse_frame(rest: &str, strip_modules: bool) -> Option<super::StackFrame> {
    let (label, location) = split_trailing_group(rest)?;
    let label = if strip_modules {
        without_module(label)
    } else {
        label
    };
    let (path, line) = match location {
        "Unknown Source" => ("", None),
        l => split_line(l),
    };
    Some(frame(path, line, label.trim()))
}

/// Drops up to two leading `loader/` or `module@version/` segments
/// (`app//com.acme.Main.run`, `java.base@21/java.lang.Thread.run`). A
/// segment with `$` is part of a hidden class name
/// (`com.acme.Main$$Lambda/0x0000…`), and what follows must not be a
/// hidden-class suffix, so those stay whole.
fn without_module(label: &str) -> &str {
    let mut rest = label;
    for _ in 0..2 {
        match rest.split_once('/') {
            Some((prefix, after)) if !prefix.contains('$') && !after.starts_with("0x") => {
                rest = after;
            }
            _ => break,
        }
    }
    rest
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
    fn frames_causes_suppressed_and_common_frames() {
        let text = "com.acme.CheckoutException: checkout 7 failed\n\
\tat com.acme.Checkout.run(Checkout.java:51)\n\
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Native Method)\n\
\tat app//com.acme.Server.handle(Server.java)\n\
\tat com.acme.Server.loop(Server.java:)\n\
\tat com.acme.Broken.one(Broken.java:3)trailing\n\
\tat com.acme.Broken.two\n\
\tat com.acme.Broken.three(Broken.java:4\n\
\tSuppressed: com.acme.CloseException: pool\n\
\t\tat com.acme.Pool.close(Pool.java:8)\n\
\t\tCaused by: java.io.IOException: socket\n\
Caused by: com.acme.StockException: sku 9\n\
out of stock\n\
\tat com.acme.Stock.take(Stock.java:20)\n\
\t... 4 more\n\
Caused by: java.sql.SQLException\n\
\tat com.acme.Db.query(Db.java:77)";
        let chain = parse(text, true);
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[0].kind, None);
        assert_eq!(
            chain[0].frames,
            vec![
                f(Some("Checkout.java"), Some(51), "com.acme.Checkout.run"),
                f(
                    Some("Native Method"),
                    None,
                    "jdk.internal.reflect.DirectMethodHandleAccessor.invoke"
                ),
                f(Some("Server.java"), None, "com.acme.Server.handle"),
                f(Some("Server.java"), None, "com.acme.Server.loop"),
            ]
        );
        assert_eq!(chain[1].kind.as_deref(), Some("com.acme.StockException"));
        assert_eq!(chain[1].message.as_deref(), Some("sku 9\nout of stock"));
        assert_eq!(
            chain[1].frames,
            vec![f(Some("Stock.java"), Some(20), "com.acme.Stock.take")]
        );
        assert_eq!(chain[2].kind.as_deref(), Some("java.sql.SQLException"));
        assert_eq!(chain[2].message, None);
        assert_eq!(
            chain[2].frames,
            vec![f(Some("Db.java"), Some(77), "com.acme.Db.query")]
        );
    }

    #[test]
    fn module_prefixes() {
        assert_eq!(
            without_module("java.base/java.lang.Thread.run"),
            "java.lang.Thread.run"
        );
        assert_eq!(
            without_module("app//com.acme.Main.run"),
            "com.acme.Main.run"
        );
        assert_eq!(
            without_module("com.foo.loader/foo@9.0/com.foo.Main.run"),
            "com.foo.Main.run"
        );
        assert_eq!(
            without_module("com.acme.Main$$Lambda/0x000000080100a000.run"),
            "com.acme.Main$$Lambda/0x000000080100a000.run"
        );
        assert_eq!(without_module("com.acme.Main.run"), "com.acme.Main.run");
    }

    #[test]
    fn labels_kept_whole_when_not_declared_java() {
        let text = "E: x\n\tat go.example.com/app/db.Query(db.go:12)\n\tat N.T.M(String s)(Unknown Source)";
        let chain = parse(text, false);
        assert_eq!(
            chain[0].frames,
            vec![
                f(Some("db.go"), Some(12), "go.example.com/app/db.Query"),
                StackFrame {
                    path: None,
                    line: None,
                    label: Some("N.T.M(String s)".into())
                },
            ]
        );
    }

    #[test]
    fn header_only() {
        assert_eq!(parse("java.lang.Error: x", true), vec![Parsed::default()]);
        assert_eq!(parse("", true), vec![Parsed::default()]);
    }
}
