//! The HTTPS listener: TLS handshakes, peer certificates handed to the HTTP layer.
