//! Authentication (x509 client certificates, bearer tokens) and the authorizer trait.
