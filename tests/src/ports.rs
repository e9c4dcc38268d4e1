//! Free loopback ports for a process the test starts (the extension, the
//! sidecar, moto's server), which binds them itself later.
//!
//! Binding `127.0.0.1:0` and releasing the port hands out a port of the
//! kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by
//! default), the range every outgoing connection's local port also comes
//! from. Between the release and the child's bind, any connection the tests
//! open (hundreds a second when suites run side by side) may take it, and the
//! child then fails to start. The ports here are drawn below that range,
//! where the kernel never assigns a port by itself: only another test's
//! explicit pick could collide, and each pick is checked free (TCP and UDP)
//! before it is returned.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::Mutex;

use rand::Rng;

/// The range the ports are drawn from: below Linux's default ephemeral
/// range and above the ports well-known services and our own defaults use
/// (4317/4318, 2000, 13133).
const RANGE: std::ops::Range<u16> = 20_000..32_768;

/// Where this process's next search starts (an offset into [`RANGE`]):
/// random at first, then past the last pick, so two picks of one process
/// (from any thread: the search holds the lock) never return one port.
static NEXT: Mutex<Option<u16>> = Mutex::new(None);

/// A port of 20000–32767 free for TCP and UDP on 127.0.0.1 when returned.
///
/// # Panics
/// When no port of the range is free (thousands of ports in use).
pub fn free_port() -> u16 {
    let span = RANGE.end - RANGE.start;
    let mut next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
    let start = *next.get_or_insert_with(|| rand::rng().random_range(0..span));
    for i in 0..span {
        let offset = (start + i) % span;
        let port = RANGE.start + offset;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
            && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        {
            *next = Some((offset + 1) % span);
            return port;
        }
    }
    panic!("no free loopback port in {RANGE:?}")
}

/// `127.0.0.1:<free_port()>`.
pub fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_outside_the_ephemeral_range_distinct_and_bindable() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!(RANGE.contains(&p), "{p}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).expect("still free");
        }
        let a = free_addr();
        assert!(a.starts_with("127.0.0.1:"), "{a}");
    }
}
