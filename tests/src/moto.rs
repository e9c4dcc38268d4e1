//! moto's server (`python -m moto.server`), an independent implementation
//! of the AWS APIs (X-Ray, CloudWatch Logs, IAM) that verifies SigV4 with
//! botocore once `INITIAL_NO_AUTH_ACTION_COUNT` unauthenticated calls are
//! used up. Needs `moto[server,xray]` in `.tools/venv` (`make test-deps`) or
//! a Python with moto in `OTEL_AWS_TEST_PYTHON`; a missing moto fails the
//! test with that instruction, never skips silently.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::tooling::{Need, python};

/// A running moto server on 127.0.0.1; killed on drop.
pub struct Moto {
    child: Child,
    python: PathBuf,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto for `test`; the first `no_auth_actions` calls need no
    /// valid signature (0: every call is checked only if moto's auth is on,
    /// which it is not by default).
    ///
    /// # Panics
    /// When moto is missing or does not listen within 30 s.
    pub fn start(test: &str, no_auth_actions: Option<u32>) -> Moto {
        let python = python(
            test,
            "import moto.server",
            "run `make test-deps` (installs moto[server,xray] into .tools/venv) or set OTEL_AWS_TEST_PYTHON",
            Need::Required,
        )
        .unwrap_or_else(|| panic!("{test}: moto is required"));
        let port = crate::ports::free_port();
        let mut cmd = Command::new(&python);
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some(n) = no_auth_actions {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "{test}: cannot start moto with {}: {e}. Run `make test-deps`.",
                python.display()
            )
        });
        let mut moto = Moto {
            child,
            python,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Wait for the port (a connect is not an action: it does not use up
        // the unauthenticated calls).
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("{test}: moto.server exited with {status}: run `make test-deps`.");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{test}: moto.server did not listen on port {port} within 30 s");
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The interpreter moto runs on (for boto3 set-up scripts).
    pub fn python(&self) -> &PathBuf {
        &self.python
    }

    /// Creates an IAM user allowed `action` (e.g. `xray:*`) and an access key
    /// for it (three calls, made with boto3): `(key id, secret)`.
    ///
    /// # Panics
    /// When the set-up script fails.
    pub fn create_user_key(&self, action: &str) -> (String, String) {
        let script = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="otel-aws-e2e")
iam.put_user_policy(UserName="otel-aws-e2e", PolicyName="e2e", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": sys.argv[2], "Resource": "*"}]}))
key = iam.create_access_key(UserName="otel-aws-e2e")["AccessKey"]
print(key["AccessKeyId"] + " " + key["SecretAccessKey"])
"#;
        let out = Command::new(&self.python)
            .args(["-c", script, &self.url, action])
            .output()
            .unwrap_or_else(|e| panic!("IAM setup could not run: {e}"));
        assert!(
            out.status.success(),
            "IAM setup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (id, secret) = text
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("IAM setup printed {text:?}"));
        (id.to_owned(), secret.to_owned())
    }
}
