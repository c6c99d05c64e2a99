//! The cluster CA, serving and client certificates kept in the data dir, and the admin kubeconfig.
