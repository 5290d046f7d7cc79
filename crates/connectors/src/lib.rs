//! One module per external system: `sources/…` read into the canonical model, `targets/…` deliver
//! to WFM and HR systems.
