//! The Calabrio WFM (ex-Teleopti) target.
//!
//! `historical` renders interval statistics as the three-file partner format Calabrio imports
//! (`Teleopti.Queue.Data`, `Teleopti.Agent.Data`, `Teleopti.AgentQueue.Data`, DESIGN §6,
//! reference/calabrio.md §3), plus plain CSV and JSON renderings of the same rows for the CLI. It is
//! pure formatting: the files are delivered by a file-drop target (`files`, later SFTP). The RTA and
//! Wfm.Api parts of Calabrio come with their own issues.

pub mod forecast;
pub mod historical;
pub mod rta;
pub mod wfm_api;
pub mod xlsx;

/// The `calabrio` account type: real-time agent states to Calabrio's RTA API, JSON
/// `Rta/State/Batch` or the SOAP service (see [`rta`]).
pub const ACCOUNT_TYPE: crate::accounts::AccountType = rta::ACCOUNT_TYPE;
