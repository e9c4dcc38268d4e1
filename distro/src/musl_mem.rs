//! `memcpy` and `memmove` for the static x86_64 musl binaries: the sidecar
//! image and the Lambda extension enable the `musl-mem` feature.
//!
//! musl's x86_64 `memcpy` is `rep movsq` with byte-at-a-time loops for an
//! unaligned head and the tail, so every copy, however short, pays the
//! string instruction's start-up. The sidecar copies a few dozen short
//! strings per span (decoding, the Application Signals attributes,
//! encoding): on an Intel Xeon, musl's `memcpy` was a third of its CPU
//! profile, and the same code linked against glibc ran about 1.5× the spans
//! per CPU-second (docs/benchmarks.md, "musl's memcpy").
//!
//! Why code of our own: no maintained crate provides replacement symbols
//! for a hosted target (`rlibc` and its kin are byte loops for freestanding
//! ones), and a C library cannot be swapped inside a static musl build.
//!
//! Copies of up to [`SMALL`] bytes use overlapping unaligned 1-, 2-, 4-,
//! 8- and 16-byte loads and stores, every load before any store, so they
//! are also right for overlapping ranges. Longer ones use `rep movsb`,
//! which processors with ERMS (Intel since Ivy Bridge, AMD since Zen 3) run
//! in wide chunks; a longer backward move (destination inside the source)
//! runs it with the direction flag set, slower but rare. No loop is written
//! in Rust: the compiler could turn a copying loop back into a call to
//! `memcpy`, which here would call itself.
//!
//! The exported symbols exist only on x86_64 musl; elsewhere (and in the
//! tests) [`copy`] and [`copy_overlapping`] are ordinary functions.

use core::arch::asm;
use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
use core::ptr::{read_unaligned, write_unaligned};

/// The longest copy done with loads and stores rather than `rep movsb`.
pub const SMALL: usize = 128;

/// Copies `n ≤ SMALL` bytes; every load is made before the first store,
/// so `src` and `dst` may overlap.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
#[inline(always)]
unsafe fn copy_small(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; every offset below stays within `n`
    // bytes (each branch's loads and stores end at `n` at the latest).
    unsafe {
        if n <= 16 {
            if n >= 8 {
                let a = read_unaligned(src.cast::<u64>());
                let b = read_unaligned(src.add(n - 8).cast::<u64>());
                write_unaligned(dst.cast::<u64>(), a);
                write_unaligned(dst.add(n - 8).cast::<u64>(), b);
            } else if n >= 4 {
                let a = read_unaligned(src.cast::<u32>());
                let b = read_unaligned(src.add(n - 4).cast::<u32>());
                write_unaligned(dst.cast::<u32>(), a);
                write_unaligned(dst.add(n - 4).cast::<u32>(), b);
            } else if n >= 2 {
                let a = read_unaligned(src.cast::<u16>());
                let b = read_unaligned(src.add(n - 2).cast::<u16>());
                write_unaligned(dst.cast::<u16>(), a);
                write_unaligned(dst.add(n - 2).cast::<u16>(), b);
            } else if n == 1 {
                dst.write(src.read());
            }
            return;
        }
        let load = |at: usize| _mm_loadu_si128(src.add(at).cast::<__m128i>());
        let store = |at: usize, v: __m128i| _mm_storeu_si128(dst.add(at).cast::<__m128i>(), v);
        if n <= 32 {
            let (a, b) = (load(0), load(n - 16));
            store(0, a);
            store(n - 16, b);
        } else if n <= 64 {
            let (a, b, c, d) = (load(0), load(16), load(n - 32), load(n - 16));
            store(0, a);
            store(16, b);
            store(n - 32, c);
            store(n - 16, d);
        } else {
            let (a, b, c, d) = (load(0), load(16), load(32), load(48));
            let (e, f, g, h) = (load(n - 64), load(n - 48), load(n - 32), load(n - 16));
            store(0, a);
            store(16, b);
            store(32, c);
            store(48, d);
            store(n - 64, e);
            store(n - 48, f);
            store(n - 32, g);
            store(n - 16, h);
        }
    }
}

/// `rep movsb` from the first byte up (right when `dst` is not inside
/// `src..src + n`).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
#[inline(always)]
unsafe fn movsb_forward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the direction flag is clear on entry
    // to any function (System V ABI), so the copy runs upwards.
    unsafe {
        asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}

/// `rep movsb` from the last byte down, the direction flag cleared again
/// after (the ABI requires it clear).
///
/// # Safety
/// `src` readable and `dst` writable for `n ≥ 1` bytes.
#[inline(always)]
unsafe fn movsb_backward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the pointers start at the last byte.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dst.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack)
        );
    }
}

/// Copies `n` bytes from `src` to `dst` (`memcpy`: the ranges must not
/// overlap).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes, the two ranges apart.
#[inline]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        if n <= SMALL {
            copy_small(dst, src, n);
        } else {
            movsb_forward(dst, src, n);
        }
    }
}

/// Copies `n` bytes from `src` to `dst` as if through a buffer
/// (`memmove`: the ranges may overlap).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
#[inline]
pub unsafe fn copy_overlapping(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract. An upward copy is right unless `dst`
    // starts inside `src..src + n`: then the bytes it would overwrite are
    // still to be read, and the copy runs downwards (a move onto itself
    // does nothing).
    unsafe {
        if n <= SMALL {
            copy_small(dst, src, n);
        } else if (dst as usize).wrapping_sub(src as usize) >= n {
            movsb_forward(dst, src, n);
        } else if dst.cast_const() != src {
            movsb_backward(dst, src, n);
        }
    }
}

/// musl's `memcpy`, replaced (see the module documentation).
///
/// # Safety
/// As C's `memcpy`.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: C's contract, the same as `copy`'s.
    unsafe { copy(dst, src, n) };
    dst
}

/// musl's `memmove`, replaced (see the module documentation). musl's own
/// calls into its `memcpy`'s code, so the two go together.
///
/// # Safety
/// As C's `memmove`.
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: C's contract, the same as `copy_overlapping`'s.
    unsafe { copy_overlapping(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer of distinct-looking bytes (no two neighbours equal, so a
    /// copy off by one shows).
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// Every length up to four times `SMALL` and past the page size, from
    /// and to every alignment within 16 bytes; the bytes around the
    /// destination are left alone.
    #[test]
    fn copies_every_length_and_alignment() {
        let lengths = (0..=4 * SMALL).chain([4095, 4096, 4097, 70_000]);
        for n in lengths {
            for (s_off, d_off) in [(0, 0), (1, 0), (0, 3), (5, 9), (15, 1), (8, 8)] {
                let src = pattern(n + 32);
                let mut dst = vec![0xAAu8; n + 64];
                // SAFETY: both ranges are inside their buffers.
                unsafe { copy(dst.as_mut_ptr().add(d_off + 16), src.as_ptr().add(s_off), n) };
                assert_eq!(
                    &dst[d_off + 16..d_off + 16 + n],
                    &src[s_off..s_off + n],
                    "n={n}"
                );
                assert!(
                    dst[..d_off + 16].iter().all(|&b| b == 0xAA),
                    "n={n}: before"
                );
                assert!(
                    dst[d_off + 16 + n..].iter().all(|&b| b == 0xAA),
                    "n={n}: after"
                );
            }
        }
    }

    /// Overlapping moves both ways, by every shift up to 40 bytes and by
    /// large ones, against `Vec::copy_within` (the standard library's
    /// `memmove` on the test host).
    #[test]
    fn moves_overlapping_ranges_both_ways() {
        let lengths = (0..=3 * SMALL).chain([1000, 4096, 70_000]);
        for n in lengths {
            for shift in (1..=40).chain([64, 100, 129, n / 2 + 1]) {
                if shift > n + 64 {
                    continue;
                }
                for up in [true, false] {
                    let base = pattern(n + shift + 32);
                    let (from, to) = if up { (8, 8 + shift) } else { (8 + shift, 8) };
                    let mut expected = base.clone();
                    expected.copy_within(from..from + n, to);
                    let mut got = base.clone();
                    let p = got.as_mut_ptr();
                    // SAFETY: both ranges are inside `got`.
                    unsafe { copy_overlapping(p.add(to), p.add(from), n) };
                    assert!(got == expected, "n={n} shift={shift} up={up}");
                }
            }
        }
    }

    /// A move onto itself changes nothing, and a move between separate
    /// buffers is a copy.
    #[test]
    fn moves_in_place_and_between_buffers() {
        for n in [0, 1, 17, SMALL, SMALL + 1, 5000] {
            let mut buf = pattern(n);
            let p = buf.as_mut_ptr();
            // SAFETY: the same range, inside `buf`.
            unsafe { copy_overlapping(p, p, n) };
            assert_eq!(buf, pattern(n));
            let src = pattern(n + 1);
            let mut dst = vec![0u8; n];
            // SAFETY: separate buffers of at least `n` bytes.
            unsafe { copy_overlapping(dst.as_mut_ptr(), src.as_ptr().add(1), n) };
            assert_eq!(dst, &src[1..]);
        }
    }
}
