//! One module per subcommand.

pub mod demo;
pub mod export;
pub mod import;
pub mod simulate;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use wfm_model::RecordKind;

/// Parses a record kind, listing the choices in help and errors.
pub fn kind_parser() -> impl TypedValueParser<Value = RecordKind> {
    PossibleValuesParser::new(RecordKind::ALL.map(RecordKind::as_str))
        .map(|s| s.parse::<RecordKind>().expect("only listed values pass"))
}
