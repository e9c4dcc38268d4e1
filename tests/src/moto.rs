//! moto's server (`python -m moto.server`), an independent implementation
//! of the AWS APIs, on a free loopback port for the end-to-end tests; killed
//! on drop. The interpreter comes from [`crate::tooling::python`] (missing
//! moto fails the test with the install hint, never skips silently).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::tooling::{Need, python};

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    python: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto with `envs` (for example `INITIAL_NO_AUTH_ACTION_COUNT`)
    /// and waits up to 30 s for its port; panics with what to do when it
    /// cannot (this is test support). Blocking: call it from
    /// `spawn_blocking` in async tests.
    #[allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failure is the test's failure
    pub fn start(test: &str, envs: &[(&str, &str)]) -> Moto {
        let python = python(
            test,
            "import moto.server",
            "run `make test-deps` (installs moto[server] into .tools/venv) or set OTEL_AWS_TEST_PYTHON",
            Need::Required,
        )
        .expect("Need::Required never skips");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto with {}: {e}. Run `make test-deps`.",
                    python.display()
                )
            });
        let mut moto = Moto {
            child,
            python,
            url: format!("http://127.0.0.1:{port}"),
        };
        // A connect is not an action: it does not use up unauthenticated calls.
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto.server exited with {status}: is moto[server] installed? Run `make test-deps`."
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto.server did not listen on port {port} within 30 s");
    }

    /// The interpreter moto runs under (for boto3 set-up scripts).
    pub fn python(&self) -> &PathBuf {
        &self.python
    }
}
