//! Emulators of target systems (Calabrio RTA, Wfm.Api, historical file drops…) used by tests and by
//! `wfm-bridge demo`. Filled by the target issues.
