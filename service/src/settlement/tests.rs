//! Invariants of settlement against a real database.
