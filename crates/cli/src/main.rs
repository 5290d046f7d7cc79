//! The `wfm-bridge` binary.
fn main() {}
