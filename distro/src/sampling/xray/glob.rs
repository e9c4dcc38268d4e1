//! X-Ray rule patterns: `*` matches any run of characters (also none, so it
//! matches a missing value), `?` exactly one; case-insensitive
//! (`spec/xray.md`, Remote sampling, **Decision**).
//!
//! Hand-written rather than a crate: it must fold case on both sides without
//! allocating on the sampling path, and the crates that do wildcards either
//! compile to regexes (globset) or are not in our dependency tree; the
//! algorithm is the classic linear backtracking wildcard match.

/// A compiled pattern. The common X-Ray shapes with an ASCII literal (`*`,
/// `GET`, `/prefix/*`, `*.suffix`) get one byte loop over pre-lowered bytes;
/// anything else runs the general matcher (over bytes when pattern and value
/// are ASCII, over chars otherwise).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Glob {
    /// `*` (or only stars): matches everything, including a missing value.
    Any,
    /// No wildcard, ASCII: equal ignoring case (bytes lower-cased).
    Exact(Box<[u8]>),
    /// `literal*`, ASCII literal: starts with it ignoring case.
    Prefix(Box<[u8]>),
    /// `*literal`, ASCII literal: ends with it ignoring case.
    Suffix(Box<[u8]>),
    /// Anything else; chars already case-folded (bytes too when ASCII).
    Pattern {
        chars: Box<[char]>,
        ascii: Option<Box<[u8]>>,
    },
}

/// One lower-case char for `c` (ASCII fast path; first char of the Unicode
/// lower-case mapping otherwise).
#[inline]
fn fold(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// `text` equals the lower-case ASCII `lit`, ignoring ASCII case. A
/// non-ASCII byte never equals an ASCII one (the few Unicode characters
/// whose lower case is ASCII, like the Kelvin sign, are not folded here).
#[inline]
fn lit_eq(lit: &[u8], text: &[u8]) -> bool {
    lit.len() == text.len()
        && lit
            .iter()
            .zip(text)
            .all(|(l, t)| *l == t.to_ascii_lowercase())
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Glob {
        let lower = |p: &str| -> Box<[u8]> { p.bytes().map(|b| b.to_ascii_lowercase()).collect() };
        let literal = |p: &str| p.is_ascii() && !p.contains(['*', '?']);
        if !pattern.is_empty() && pattern.chars().all(|c| c == '*') {
            Glob::Any
        } else if literal(pattern) {
            Glob::Exact(lower(pattern))
        } else if let Some(p) = pattern.strip_suffix('*').filter(|p| literal(p)) {
            Glob::Prefix(lower(p))
        } else if let Some(s) = pattern.strip_prefix('*').filter(|s| literal(s)) {
            Glob::Suffix(lower(s))
        } else {
            Glob::Pattern {
                chars: pattern.chars().map(fold).collect(),
                ascii: pattern.is_ascii().then(|| lower(pattern)),
            }
        }
    }

    /// Matches `value`; a missing value is matched as the empty string (so
    /// only `*`-only patterns and the empty pattern match it).
    // Always inlined: a decision calls it for every rule's path, method,
    // host and attributes (23 calls for the 20-rule bench), and the call
    // cost more than most comparisons (`sampling_instructions`: 3,559 →
    // 2,849 instructions per decision).
    #[inline(always)]
    pub(crate) fn matches(&self, value: Option<&str>) -> bool {
        let text = value.unwrap_or("");
        let bytes = text.as_bytes();
        match self {
            Glob::Any => true,
            Glob::Exact(lit) => lit_eq(lit, bytes),
            Glob::Prefix(lit) => bytes.get(..lit.len()).is_some_and(|head| lit_eq(lit, head)),
            Glob::Suffix(lit) => bytes
                .len()
                .checked_sub(lit.len())
                .is_some_and(|at| lit_eq(lit, &bytes[at..])),
            Glob::Pattern { chars, ascii } => match ascii {
                Some(p) if text.is_ascii() => wildcard_ascii(p, bytes),
                _ => wildcard(chars, text),
            },
        }
    }
}

/// How many bytes of a value a [`Head`] keeps.
const HEAD_BYTES: usize = 16;

/// A value's first (or last) [`HEAD_BYTES`] bytes, ASCII-lower-cased and
/// zero-padded, as two words, and its length: read once per decision, so
/// each rule's [`HeadCheck`] is two masked word compares instead of a byte
/// loop over the value (a decision tries every rule before the one that
/// matches, and the byte loops' early exits at varying positions were its
/// slowest part, docs/benchmarks.md "X-Ray adaptive sampling").
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Head {
    words: [u64; 2],
    len: usize,
}

impl Head {
    /// The first bytes of `value` (a missing value is the empty string, as
    /// in [`Glob::matches`]).
    #[inline]
    pub(crate) fn of(value: Option<&str>) -> Head {
        let bytes = value.unwrap_or("").as_bytes();
        let mut buf = [0u8; HEAD_BYTES];
        for (d, s) in buf.iter_mut().zip(bytes) {
            *d = s.to_ascii_lowercase();
        }
        Head {
            words: words(&buf),
            len: bytes.len(),
        }
    }

    /// The last bytes of `value`, right-aligned (for `*suffix` patterns).
    #[inline]
    pub(crate) fn tail_of(value: Option<&str>) -> Head {
        let bytes = value.unwrap_or("").as_bytes();
        let mut buf = [0u8; HEAD_BYTES];
        for (d, s) in buf.iter_mut().rev().zip(bytes.iter().rev()) {
            *d = s.to_ascii_lowercase();
        }
        Head {
            words: words(&buf),
            len: bytes.len(),
        }
    }
}

impl Head {
    /// The first of the two words.
    #[inline]
    pub(crate) fn first_word(&self) -> u64 {
        self.words[0]
    }
}

fn words(buf: &[u8; HEAD_BYTES]) -> [u64; 2] {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&buf[..8]);
    hi.copy_from_slice(&buf[8..]);
    [u64::from_le_bytes(lo), u64::from_le_bytes(hi)]
}

/// Which end of a value a [`HeadCheck`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// [`Head::of`].
    Start,
    /// [`Head::tail_of`].
    Tail,
}

/// A glob's outcome on a [`Head`], for the shapes it decides exactly:
/// [`Glob::Any`], [`Glob::Exact`]/[`Glob::Prefix`] (on the value's start)
/// and [`Glob::Suffix`] (on its tail) with a literal of at most
/// [`HEAD_BYTES`] bytes. The literal is lower-case ASCII and the head's
/// bytes are lower-cased as [`lit_eq`] does (bytes ≥ 0x80 unchanged, so
/// they never equal a literal byte), so the result is what
/// [`Glob::matches`] gives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadCheck {
    lit: [u64; 2],
    mask: [u64; 2],
    len: u8,
    /// The value's length must equal `len` (else be at least `len`).
    exact: bool,
}

impl HeadCheck {
    /// Passes every head: for a glob a head does not decide (the full
    /// match does), and what [`Glob::Any`] gives.
    pub(crate) const PASS: HeadCheck = HeadCheck {
        lit: [0; 2],
        mask: [0; 2],
        len: 0,
        exact: false,
    };

    /// The check for `glob` and the end of the value it reads, when a head
    /// decides it.
    pub(crate) fn of(glob: &Glob) -> Option<(HeadCheck, End)> {
        let (lit, exact, end) = match glob {
            Glob::Any => (&[][..], false, End::Start),
            Glob::Exact(lit) => (&lit[..], true, End::Start),
            Glob::Prefix(lit) => (&lit[..], false, End::Start),
            Glob::Suffix(lit) => (&lit[..], false, End::Tail),
            Glob::Pattern { .. } => return None,
        };
        if lit.len() > HEAD_BYTES {
            return None;
        }
        let at = match end {
            End::Start => 0,
            End::Tail => HEAD_BYTES - lit.len(),
        };
        let mut buf = [0u8; HEAD_BYTES];
        buf[at..at + lit.len()].copy_from_slice(lit);
        let mut mask = [0u8; HEAD_BYTES];
        mask[at..at + lit.len()].fill(0xff);
        let check = HeadCheck {
            lit: words(&buf),
            mask: words(&mask),
            len: lit.len() as u8,
            exact,
        };
        Some((check, end))
    }

    /// Whether the glob matches the value `head` was read from (from the
    /// end [`HeadCheck::of`] named). Written without early exits: the
    /// compares are cheaper than a mispredicted branch.
    #[inline(always)]
    pub(crate) fn matches(&self, head: &Head) -> bool {
        let len = if self.exact {
            head.len == usize::from(self.len)
        } else {
            head.len >= usize::from(self.len)
        };
        len & (head.words[0] & self.mask[0] == self.lit[0])
            & (head.words[1] & self.mask[1] == self.lit[1])
    }

    /// The first word's mask and literal: a value whose first word, masked,
    /// differs from the literal fails the check.
    pub(crate) fn first_word(&self) -> (u64, u64) {
        (self.mask[0], self.lit[0])
    }
}

/// [`wildcard`] over ASCII bytes (`pattern` already lower-case).
fn wildcard_ascii(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(pi), text.get(ti)) {
            (Some(b'*'), _) => {
                pi += 1;
                star = Some((pi, ti));
                continue;
            }
            (Some(&p), Some(&c)) if p == b'?' || p == c.to_ascii_lowercase() => {
                pi += 1;
                ti += 1;
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

fn wildcard(pattern: &[char], text: &str) -> bool {
    let mut pi = 0; // index into pattern
    let mut ti = 0; // byte index into text
    let mut star: Option<(usize, usize)> = None; // (pattern index after '*', text index)
    loop {
        let tc = text[ti..].chars().next();
        match (pattern.get(pi), tc) {
            (Some('*'), _) => {
                pi += 1;
                star = Some((pi, ti));
                continue;
            }
            (Some(&p), Some(c)) if p == '?' || p == fold(c) => {
                pi += 1;
                ti += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last star swallow one more character.
        match star {
            Some((sp, st)) => match text[st..].chars().next() {
                Some(c) => {
                    let st = st + c.len_utf8();
                    star = Some((sp, st));
                    pi = sp;
                    ti = st;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{End, Glob, Head, HeadCheck};

    #[test]
    fn table() {
        // (pattern, value, expected) — spec/xray.md "Remote sampling":
        // `*` = any run, `?` = one char, `*` matches missing, case-insensitive.
        let cases: &[(&str, Option<&str>, bool)] = &[
            ("*", None, true),
            ("*", Some(""), true),
            ("*", Some("anything"), true),
            ("**", Some("x"), true),
            ("", None, true),
            ("GET", Some("get"), true),
            ("get", Some("GET"), true),
            ("GET", Some("POST"), false),
            ("GET", None, false),
            ("/api/*", Some("/api/users"), true),
            ("/api/*", Some("/api"), false),
            ("/API/*", Some("/api/x"), true),
            ("*/users", Some("/v1/users"), true),
            ("*/users", Some("/v1/users/2"), false),
            ("/a?c", Some("/abc"), true),
            ("/a?c", Some("/ac"), false),
            ("/a?c", Some("/abbc"), false),
            ("a*b*c", Some("axxbyyc"), true),
            ("a*b*c", Some("axxbyy"), false),
            ("*.example.com", Some("API.Example.COM"), true),
            ("Ünï*", Some("ünïcode"), true),
            ("ü?", Some("ÜX"), true),
            ("?", None, false),
            ("a*", None, false),
            ("/api/*", Some("/API/"), true),
            ("/api/*", Some("/ap"), false),
            ("*.example.com", Some("example.com"), false),
            ("*.example.com", Some("x.example.co"), false),
            ("/é*", Some("/Éa"), true),
            ("*ü", Some("xÜ"), true),
            ("/ap*", Some("/aé"), false),
            ("*?*", Some(""), false),
            ("*?*", Some("x"), true),
            ("a?*c", Some("AbXc"), true),
            ("a?*c", Some("Ac"), false),
            ("a?*c", Some("ábc"), false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(*value),
                *expected,
                "{pattern:?} vs {value:?}"
            );
        }
    }

    /// Wherever a head check exists it gives what the full match gives:
    /// every pattern shape against values of every length around the
    /// 16-byte head, upper and lower case, non-ASCII bytes, NUL bytes
    /// (against the zero padding), missing values.
    #[test]
    fn head_checks_agree_with_the_full_match() {
        let patterns = [
            "*",
            "",
            "GET",
            "get",
            "/",
            "/api/*",
            "/API/V1/*",
            "/svc18/*",
            "/0123456789abcde*",
            "/0123456789abcdef*",
            "/0123456789ABCDEF",
            "0123456789abcdef",
            "0123456789abcdefg",
            "*.example.com",
            "*.EXAMPLE.COM",
            "*0123456789abcdef",
            "*0123456789abcdefg",
            "*/users",
            "/a?c",
            "ü*",
            "*ü",
        ];
        let mut values: Vec<Option<String>> = vec![None];
        for base in [
            "",
            "/",
            "get",
            "GET",
            "GETX",
            "/api/",
            "/API/x",
            "/api",
            "/api/v1/users",
            "/v1/users",
            "users",
            "/svc18/orders/42",
            "/svc1/orders",
            "/svc180/x",
            "/0123456789abcde",
            "/0123456789ABCDEF",
            "/0123456789abcdef/x",
            "0123456789abcdef",
            "0123456789ABCDEF",
            "0123456789abcdefg",
            "x0123456789abcdefg",
            "x.example.com",
            "api.internal.example.com",
            "example.com",
            "/ábc",
            "/api/é",
            "üx",
            "xü",
        ] {
            values.push(Some(base.to_owned()));
            values.push(Some(base.to_uppercase()));
            values.push(Some(format!("{base}\0")));
            values.push(Some(format!("\0{base}")));
        }
        let mut checked = 0;
        for p in patterns {
            let glob = Glob::new(p);
            let Some((check, end)) = HeadCheck::of(&glob) else {
                continue;
            };
            for v in &values {
                let v = v.as_deref();
                let head = match end {
                    End::Start => Head::of(v),
                    End::Tail => Head::tail_of(v),
                };
                assert_eq!(check.matches(&head), glob.matches(v), "{p:?} vs {v:?}");
                let (mask, lit) = check.first_word();
                if head.words[0] & mask != lit {
                    assert!(!glob.matches(v), "first word of {p:?} vs {v:?}");
                }
                checked += 1;
            }
        }
        // `*`, the empty pattern, GET, get, /, the four prefixes and the
        // four suffixes of at most 16 bytes and the 16-byte exact pattern
        // have checks; longer literals, `?` and non-ASCII patterns do not.
        assert_eq!(checked, 14 * values.len());
        for p in [
            "/0123456789abcdef*",
            "/0123456789ABCDEF",
            "0123456789abcdefg",
            "*0123456789abcdefg",
            "/a?c",
            "ü*",
            "*ü",
        ] {
            assert!(HeadCheck::of(&Glob::new(p)).is_none(), "{p:?}");
        }
    }
}
