//! Interval statistics (DESIGN §5): queue, agent and agent-queue rows computed from contact segments
//! and agent state timelines. Pure functions, no I/O. Filled by the historical-data issue.
