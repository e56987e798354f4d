//! Loading a rule file: YAML text → validated [`RuleFile`], as Prometheus'
//! rule loader does it (strict decode, node-view decode, then validation).

use crate::parser::ParseOptions;
use crate::rules::decode::{DecodeError, View, decode_rule_file};
use crate::rules::model::RuleFile;
use crate::rules::validate::{NameValidation, RuleError, validate};
use crate::rules::yaml::parse_first_document;

/// How to load a rule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Parser options for `expr` (promtool 3.x: duration expressions on,
    /// other experimental features off unless `--enable-feature`).
    pub parse_options: ParseOptions,
    /// Name validation scheme.
    pub name_validation: NameValidation,
    /// Accept unknown fields (`--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            parse_options: ParseOptions::default().with_duration_expressions(true),
            name_validation: NameValidation::Utf8,
            ignore_unknown_fields: false,
        }
    }
}

/// The result of loading one rule file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// The rule file, when it decoded and validated without errors.
    pub file: Option<RuleFile>,
    /// Decode or validation errors, in promtool's order.
    pub errors: Vec<RuleError>,
    /// Non-fatal warnings (a second YAML document).
    pub warnings: Vec<String>,
}

/// Warning for a YAML stream with more than one document.
pub const MULTI_DOCUMENT_WARNING: &str =
    "Multiple document yaml rules files are not supported, only the first document is processed";

/// Loads and validates a rule file's text.
pub fn load_rule_file(text: &str, options: &LoadOptions) -> Loaded {
    let mut loaded = Loaded::default();
    let document = match parse_first_document(text) {
        Ok(doc) => doc,
        Err(e) => {
            // Prometheus decodes twice (typed and node view); a syntax error
            // fails both, so it is reported twice.
            let error = RuleError::Decode(DecodeError::Syntax(e));
            loaded.errors = vec![error.clone(), error];
            return loaded;
        }
    };
    if document.has_more_documents {
        loaded.warnings.push(MULTI_DOCUMENT_WARNING.to_string());
    }
    let view = if options.ignore_unknown_fields {
        View::IgnoreUnknownFields
    } else {
        View::Strict
    };
    let typed = decode_rule_file(document.root.as_ref(), view);
    let nodes = decode_rule_file(document.root.as_ref(), View::Nodes);
    let mut file = match typed {
        Ok(file) => Some(file),
        Err(e) => {
            loaded.errors.push(RuleError::Decode(e));
            None
        }
    };
    if let Err(e) = nodes {
        loaded.errors.push(RuleError::Decode(e));
    }
    if !loaded.errors.is_empty() {
        return loaded;
    }
    if let Some(file) = file.as_mut() {
        loaded.errors = validate(file, options);
    }
    if loaded.errors.is_empty() {
        loaded.file = file;
    }
    loaded
}
