//! A small YAML document tree with a line and column on every node.
//!
//! Built from the event stream of `saphyr-parser`. Only the first document of
//! a stream is read (as Prometheus does); whether more documents follow is
//! reported so that the caller can warn. Aliases are expanded (with a cap on
//! the total expansion, against "billion laughs" inputs); merge keys (`<<`)
//! are kept as ordinary entries and resolved by [`Node::entries`].

use std::collections::{HashMap, HashSet};
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as YamlSpan};

/// A 1-based line and column in a YAML file (columns count characters).
///
/// The zero position `0:0` stands for "no node", as Prometheus prints it for
/// a missing field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, starting at 1 (0 when unknown).
    pub line: u32,
    /// Column in characters, starting at 1 (0 when unknown).
    pub column: u32,
}

impl Pos {
    /// Creates a position.
    pub const fn new(line: u32, column: u32) -> Self {
        Pos { line, column }
    }

    fn from_span(span: &YamlSpan) -> Self {
        Pos {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
            column: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Unquoted: its type is resolved from its text (`null`, `12`, `true`, ...).
    Plain,
    /// Quoted or a block scalar: always a string.
    Quoted,
}

/// A scalar's text, style and explicit tag (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scalar {
    /// The scalar's value after unquoting and folding.
    pub value: String,
    /// Plain or quoted.
    pub style: Style,
    /// An explicit tag such as `!!str`, in short form.
    pub tag: Option<String>,
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence of nodes.
    Sequence(Vec<Node>),
    /// Key/value pairs in document order (duplicates and `<<` kept).
    Mapping(Vec<(Node, Node)>),
}

/// A YAML node and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The content.
    pub kind: NodeKind,
    /// Where the node starts.
    pub pos: Pos,
}

/// The YAML type of a node, as Go's yaml package names it in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlTag {
    /// `!!null`
    Null,
    /// `!!bool`
    Bool,
    /// `!!int`
    Int,
    /// `!!float`
    Float,
    /// `!!str`
    Str,
    /// `!!seq`
    Seq,
    /// `!!map`
    Map,
}

impl fmt::Display for YamlTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            YamlTag::Null => "!!null",
            YamlTag::Bool => "!!bool",
            YamlTag::Int => "!!int",
            YamlTag::Float => "!!float",
            YamlTag::Str => "!!str",
            YamlTag::Seq => "!!seq",
            YamlTag::Map => "!!map",
        })
    }
}

impl Node {
    /// The node's YAML type after tag resolution.
    pub fn tag(&self) -> YamlTag {
        match &self.kind {
            NodeKind::Sequence(_) => YamlTag::Seq,
            NodeKind::Mapping(_) => YamlTag::Map,
            NodeKind::Scalar(s) => s.resolved_tag(),
        }
    }

    /// Whether the node is a null scalar (`~`, `null`, empty, `!!null`).
    pub fn is_null(&self) -> bool {
        self.tag() == YamlTag::Null
    }

    /// The scalar, if this node is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The effective entries of a mapping: its own keys in document order,
    /// then keys merged in through `<<` that the mapping does not set itself.
    /// Empty for non-mappings.
    pub fn entries(&self) -> Vec<(&Node, &Node)> {
        let mut out: Vec<(&Node, &Node)> = Vec::new();
        let NodeKind::Mapping(pairs) = &self.kind else {
            return out;
        };
        let mut merged: Vec<&Node> = Vec::new();
        for (k, v) in pairs {
            if k.is_merge_key() {
                match &v.kind {
                    NodeKind::Sequence(items) => merged.extend(items.iter()),
                    _ => merged.push(v),
                }
            } else {
                out.push((k, v));
            }
        }
        if merged.is_empty() {
            return out;
        }
        let mut present: HashSet<Option<&str>> = out
            .iter()
            .map(|(k, _)| k.as_scalar().map(|s| s.value.as_str()))
            .collect();
        for source in merged {
            for (k, v) in source.entries() {
                if present.insert(k.as_scalar().map(|s| s.value.as_str())) {
                    out.push((k, v));
                }
            }
        }
        out
    }

    fn is_merge_key(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.style == Style::Plain && s.value == "<<" && s.tag.is_none())
    }

    fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 1,
            NodeKind::Sequence(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Mapping(pairs) => {
                1 + pairs
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

impl Scalar {
    /// The resolved YAML type of this scalar (an explicit tag wins; quoted
    /// scalars are strings; plain ones are resolved from their text).
    pub fn resolved_tag(&self) -> YamlTag {
        if let Some(tag) = &self.tag {
            return match tag.as_str() {
                "!!null" => YamlTag::Null,
                "!!bool" => YamlTag::Bool,
                "!!int" => YamlTag::Int,
                "!!float" => YamlTag::Float,
                _ => YamlTag::Str,
            };
        }
        if self.style == Style::Quoted {
            return YamlTag::Str;
        }
        resolve_plain(&self.value)
    }
}

fn resolve_plain(text: &str) -> YamlTag {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return YamlTag::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return YamlTag::Bool,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return YamlTag::Float,
        _ => {}
    }
    if parse_int(text).is_some() {
        YamlTag::Int
    } else if looks_like_float(text) {
        YamlTag::Float
    } else {
        YamlTag::Str
    }
}

/// Parses a YAML integer (decimal with optional sign and `_`, `0x`, `0o`, `0b`).
pub fn parse_int(text: &str) -> Option<i64> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if neg { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut chars = body.chars().peekable();
    let mut digits = 0;
    while chars
        .peek()
        .is_some_and(|c| c.is_ascii_digit() || *c == '_')
    {
        digits += 1;
        chars.next();
    }
    if chars.peek() == Some(&'.') {
        chars.next();
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || *c == '_')
        {
            digits += 1;
            chars.next();
        }
    }
    if digits == 0 {
        return false;
    }
    if matches!(chars.peek(), Some('e' | 'E')) {
        chars.next();
        if matches!(chars.peek(), Some('-' | '+')) {
            chars.next();
        }
        let mut exp = 0;
        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            exp += 1;
            chars.next();
        }
        if exp == 0 {
            return false;
        }
    }
    chars.next().is_none()
}

/// A YAML syntax error, shown as Go's yaml package does: `yaml: line N: problem`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("yaml: line {line}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

impl YamlError {
    fn from_scan(err: &ScanError) -> Self {
        // Go's yaml package prints libyaml's problem without its context
        // ("while parsing a block mapping, did not find expected key" →
        // "did not find expected key").
        let info = err.info();
        let message = match info.split_once(", ") {
            Some((context, problem)) if context.starts_with("while ") => problem,
            _ => info,
        };
        YamlError {
            line: u32::try_from(err.marker().line()).unwrap_or(u32::MAX),
            message: message.to_string(),
        }
    }
}

/// The first document of a YAML stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The root node, or `None` for an empty stream.
    pub root: Option<Node>,
    /// Whether anything follows the first document (another document, or
    /// text that fails to parse).
    pub has_more_documents: bool,
}

/// Deepest nesting of sequences and mappings accepted (rule and rule-test
/// files nest fewer than ten levels; the limit keeps recursion over the tree,
/// including its `Drop`, bounded).
pub const MAX_DEPTH: usize = 128;

/// Largest number of nodes a document may expand to through aliases.
const MAX_EXPANDED_NODES: usize = 1_000_000;

/// Parses the first document of `text`.
pub fn parse_first_document(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        expanded: 0,
        depth: 0,
    };
    builder.document()
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    depth: usize,
}

type Spanned<'a> = (Event<'a>, YamlSpan);

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<Spanned<'a>>, YamlError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(YamlError::from_scan(&e)),
        }
    }

    fn document(&mut self) -> Result<Document, YamlError> {
        let mut root = None;
        loop {
            match self.next()? {
                None | Some((Event::StreamEnd, _)) => {
                    return Ok(Document {
                        root,
                        has_more_documents: false,
                    });
                }
                Some((Event::StreamStart | Event::Nothing, _)) => {}
                Some((Event::DocumentStart(_), _)) => {
                    let first = self.next()?;
                    match first {
                        Some((Event::DocumentEnd, _)) => {}
                        Some(ev) => {
                            root = Some(self.node(ev)?);
                            // Consume the DocumentEnd event.
                            self.next()?;
                        }
                        None => {}
                    }
                    let has_more_documents = !matches!(
                        self.parser.next_event(),
                        None | Some(Ok((Event::StreamEnd, _)))
                    );
                    return Ok(Document {
                        root,
                        has_more_documents,
                    });
                }
                Some((_, span)) => {
                    return Err(YamlError {
                        line: Pos::from_span(&span).line,
                        message: "unexpected event before document start".into(),
                    });
                }
            }
        }
    }

    fn node(&mut self, event: Spanned<'a>) -> Result<Node, YamlError> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err(YamlError {
                line: Pos::from_span(&event.1).line,
                message: format!("exceeded max depth of {MAX_DEPTH}"),
            })
        } else {
            self.node_at_depth(event)
        };
        self.depth -= 1;
        result
    }

    fn node_at_depth(&mut self, (event, span): Spanned<'a>) -> Result<Node, YamlError> {
        let pos = Pos::from_span(&span);
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    _ => Style::Quoted,
                };
                let tag = tag.map(|t| {
                    if t.is_yaml_core_schema() {
                        format!("!!{}", t.suffix)
                    } else {
                        t.to_string()
                    }
                });
                let scalar = Scalar {
                    value: value.into_owned(),
                    style,
                    tag,
                };
                (
                    Node {
                        kind: NodeKind::Scalar(scalar),
                        pos,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        Some((Event::SequenceEnd, _)) => break,
                        Some(ev) => items.push(self.node(ev)?),
                        None => return Err(eof(pos)),
                    }
                }
                (
                    Node {
                        kind: NodeKind::Sequence(items),
                        pos,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                let mut pairs = Vec::new();
                loop {
                    let key = match self.next()? {
                        Some((Event::MappingEnd, _)) => break,
                        Some(ev) => self.node(ev)?,
                        None => return Err(eof(pos)),
                    };
                    let value = match self.next()? {
                        Some(ev) => self.node(ev)?,
                        None => return Err(eof(pos)),
                    };
                    pairs.push((key, value));
                }
                (
                    Node {
                        kind: NodeKind::Mapping(pairs),
                        pos,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        line: pos.line,
                        message: "unknown anchor".into(),
                    });
                };
                self.expanded += target.count();
                if self.expanded > MAX_EXPANDED_NODES {
                    return Err(YamlError {
                        line: pos.line,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                let mut node = target.clone();
                node.pos = pos;
                return Ok(node);
            }
            _ => {
                return Err(YamlError {
                    line: pos.line,
                    message: "did not find expected node content".into(),
                });
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn eof(pos: Pos) -> YamlError {
    YamlError {
        line: pos.line,
        message: "unexpected end of stream".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        parse_first_document(text).unwrap().root.unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let node = root("a:\n  b: c\n");
        let entries = node.entries();
        assert_eq!(entries[0].0.pos, Pos::new(1, 1));
        let inner = entries[0].1.entries();
        assert_eq!(inner[0].0.pos, Pos::new(2, 3));
        assert_eq!(inner[0].1.pos, Pos::new(2, 6));
    }

    #[test]
    fn resolves_plain_scalars() {
        assert_eq!(resolve_plain("12"), YamlTag::Int);
        assert_eq!(resolve_plain("-0x1F"), YamlTag::Int);
        assert_eq!(resolve_plain("1.5e3"), YamlTag::Float);
        assert_eq!(resolve_plain("~"), YamlTag::Null);
        assert_eq!(resolve_plain("5m"), YamlTag::Str);
        assert_eq!(resolve_plain("true"), YamlTag::Bool);
    }

    #[test]
    fn aliases_and_merge_keys() {
        let node = root("a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n");
        let entries = node.entries();
        let merged = entries[1].1.entries();
        let keys: Vec<_> = merged
            .iter()
            .map(|(k, v)| {
                (
                    k.as_scalar().unwrap().value.clone(),
                    v.as_scalar().unwrap().value.clone(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![("k".into(), "3".into()), ("j".into(), "2".into())]
        );
    }

    #[test]
    fn only_first_document() {
        let doc = parse_first_document("a: 1\n---\nb: [\n").unwrap();
        assert!(doc.has_more_documents);
        assert_eq!(doc.root.unwrap().entries().len(), 1);
        assert!(!parse_first_document("a: 1\n").unwrap().has_more_documents);
        assert!(parse_first_document("").unwrap().root.is_none());
        assert!(
            parse_first_document("# only a comment\n")
                .unwrap()
                .root
                .is_none()
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Flow nesting: the scanner's own limit.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_first_document(&deep).is_err());
        // Block nesting: ours.
        let deep = format!("{}x\n", "- ".repeat(5_000));
        let err = parse_first_document(&deep).unwrap_err();
        assert_eq!(err.message, format!("exceeded max depth of {MAX_DEPTH}"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_first_document(&text).unwrap_err();
        assert_eq!(err.message, "document contains excessive aliasing");
    }

    #[test]
    fn syntax_errors_drop_the_parser_context() {
        let err = parse_first_document("a:\n  - b\n   c: d\n").unwrap_err();
        assert!(!err.message.starts_with("while "), "{}", err.message);
        let err = parse_first_document("a: \"b\n").unwrap_err();
        assert_eq!(err.message, "found unexpected end of stream");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse_first_document("a: b: c\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert_eq!(
            err.to_string(),
            "yaml: line 1: mapping values are not allowed in this context"
        );
    }
}
