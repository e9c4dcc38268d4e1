//! Translation between OTLP spans and X-Ray segment documents (issue 6).
