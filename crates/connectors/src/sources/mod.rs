//! Sources: systems wfm-bridge reads canonical records from.

pub mod files;
