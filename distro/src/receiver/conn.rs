//! Connection-level bounds shared by both receivers: a connection that
//! receives nothing for `idle_timeout` is closed (headers never sent, body
//! stalled, idle keep-alive, half-open peers), so stalled peers cannot hold
//! descriptors or buffers forever.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// A stream whose reads fail with `TimedOut` after `timeout` without a
/// received byte (no timeout when `None`).
#[derive(Debug)]
pub struct IdleTimeout<T> {
    inner: T,
    timeout: Option<Duration>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<T> IdleTimeout<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, timeout: Option<Duration>) -> Self {
        Self {
            inner,
            timeout,
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if let (Some(deadline), Some(t)) = (me.deadline.as_mut(), me.timeout) {
                    // `sleep` clamps far-future deadlines; do the same here.
                    let now = Instant::now();
                    let next = now
                        .checked_add(t)
                        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
                    deadline.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match me.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle: nothing received within the idle timeout",
                ))),
                _ => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for IdleTimeout<TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::Connected::connect_info(&self.inner)
    }
}

/// An axum listener that sets TCP_NODELAY and closes a connection after
/// `timeout` without a received byte (none when `None`) (the HTTP receiver's; also for other
/// axum servers of an embedding, such as a health endpoint). Wrap it in
/// `axum::serve::ListenerExt::tap_io` to get `ConnectInfo<SocketAddr>`.
#[derive(Debug)]
pub struct IdleListener {
    inner: TcpListener,
    timeout: Option<Duration>,
}

impl IdleListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, timeout: Option<Duration>) -> Self {
        Self { inner, timeout }
    }
}

impl axum::serve::Listener for IdleListener {
    type Io = IdleTimeout<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Small request/response exchanges: don't wait for Nagle.
        let _ = tcp.set_nodelay(true);
        (IdleTimeout::new(tcp, self.timeout), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
