//! Emulators of Calabrio WFM (ex-Teleopti), described in reference/calabrio.md.
//!
//! - [`historical`]: the historical statistics intake (the three Teleopti files over HTTP or a
//!   drop directory), checking them with [`statistics_file`].
//!
//! The RTA state API and Wfm.Api come with their own work.

pub mod historical;
pub mod statistics_file;
