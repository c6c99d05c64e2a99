//! Embedded SQLite backend (placeholder until implemented).
