//! Parse tree of a Go text/template.

/// Where a node starts: byte offset and 1-based line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TemplatePos {
    /// Byte offset in the template text.
    pub offset: usize,
    /// Line, from 1.
    pub line: u32,
}

/// A parsed template: its main body and the templates it `define`s.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// The template's name (used in error messages).
    pub name: String,
    /// The main body.
    pub root: List,
    /// Templates defined with `{{define "name"}}` or `{{block "name" ...}}`,
    /// in order of appearance.
    pub definitions: Vec<Definition>,
}

/// A named template defined inside another.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// The name given to `define`/`block`.
    pub name: String,
    /// Its body.
    pub body: List,
}

/// A sequence of nodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    /// The nodes, in order.
    pub nodes: Vec<Node>,
}

/// One element of a template body.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Literal text, copied to the output.
    Text {
        /// The text.
        text: String,
        /// Where it starts.
        pos: TemplatePos,
    },
    /// `{{/* ... */}}`.
    Comment {
        /// The comment including `/*` and `*/`.
        text: String,
        /// Where it starts.
        pos: TemplatePos,
    },
    /// `{{pipeline}}`: evaluate and print (unless it only declares variables).
    Action(Pipeline),
    /// `{{if}}`.
    If(Branch),
    /// `{{range}}`.
    Range(Branch),
    /// `{{with}}`.
    With(Branch),
    /// `{{template "name" pipeline}}` (also the call that `block` makes).
    TemplateCall {
        /// The template's name.
        name: String,
        /// Its argument (`.` when absent, at run time).
        pipe: Option<Pipeline>,
        /// Where it starts.
        pos: TemplatePos,
    },
    /// `{{break}}` inside a range.
    Break(TemplatePos),
    /// `{{continue}}` inside a range.
    Continue(TemplatePos),
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The condition or range source.
    pub pipe: Pipeline,
    /// Executed when the pipeline is non-empty (or for each element).
    pub list: List,
    /// Executed otherwise. `{{else if ...}}` is an `else` list holding one `If`.
    pub else_list: Option<List>,
    /// Where the action starts.
    pub pos: TemplatePos,
}

/// `$x := cmd | cmd ...`
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// Declared or assigned variables (`$x`, or `$i, $e` in range).
    pub declarations: Vec<String>,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// The commands; each result is the last argument of the next.
    pub commands: Vec<Command>,
    /// Where it starts.
    pub pos: TemplatePos,
}

/// A function call or a single value: its arguments, the first being the
/// function (or the value).
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The operands.
    pub args: Vec<Arg>,
    /// Where it starts.
    pub pos: TemplatePos,
}

/// An operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// `.`
    Dot,
    /// `nil`
    Nil,
    /// `true` / `false`
    Bool(bool),
    /// A numeric constant.
    Number(Number),
    /// A string constant (already unquoted).
    String(String),
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A.B` (`$` alone is the root data).
    Variable {
        /// The variable name including `$`.
        name: String,
        /// Fields selected from it.
        fields: Vec<String>,
    },
    /// A function name.
    Function(String),
    /// `(pipeline)`.
    Pipe(Box<Pipeline>),
    /// `(pipeline).A.B`.
    Chain {
        /// The value fields are selected from.
        base: Box<Arg>,
        /// The fields.
        fields: Vec<String>,
    },
}

/// A numeric constant with every interpretation Go allows for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// The text as written.
    pub text: String,
    /// Value as a signed integer, if exact.
    pub int: Option<i64>,
    /// Value as a float, if it has one.
    pub float: Option<f64>,
    /// Imaginary or complex constant (`1i`).
    pub is_complex: bool,
}

// Display: the template as text, like Go's parse-tree `String()` (trim
// markers are gone, strings are re-quoted). Parsing the output again gives
// the same tree.

use std::fmt;

use super::lexer::go_quote;

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for definition in &self.definitions {
            write!(
                f,
                "{{{{define {}}}}}{}{{{{end}}}}",
                go_quote(&definition.name),
                definition.body
            )?;
        }
        write!(f, "{}", self.root)
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.nodes.iter().try_for_each(|node| write!(f, "{node}"))
    }
}

fn write_branch(f: &mut fmt::Formatter<'_>, keyword: &str, branch: &Branch) -> fmt::Result {
    write!(f, "{{{{{keyword} {}}}}}{}", branch.pipe, branch.list)?;
    if let Some(else_list) = &branch.else_list {
        write!(f, "{{{{else}}}}{else_list}")?;
    }
    f.write_str("{{end}}")
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Comment { text, .. } => write!(f, "{{{{{text}}}}}"),
            Node::Action(pipe) => write!(f, "{{{{{pipe}}}}}"),
            Node::If(branch) => write_branch(f, "if", branch),
            Node::Range(branch) => write_branch(f, "range", branch),
            Node::With(branch) => write_branch(f, "with", branch),
            Node::TemplateCall { name, pipe, .. } => match pipe {
                Some(pipe) => write!(f, "{{{{template {} {pipe}}}}}", go_quote(name)),
                None => write!(f, "{{{{template {}}}}}", go_quote(name)),
            },
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
        }
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.declarations.is_empty() {
            let op = if self.is_assign { "=" } else { ":=" };
            write!(f, "{} {op} ", self.declarations.join(", "))?;
        }
        for (i, command) in self.commands.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{command}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{arg}")?;
        }
        Ok(())
    }
}

fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[String]) -> fmt::Result {
    fields.iter().try_for_each(|field| write!(f, ".{field}"))
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Dot => f.write_str("."),
            Arg::Nil => f.write_str("nil"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String(s) => f.write_str(&go_quote(s)),
            Arg::Field(fields) => write_fields(f, fields),
            Arg::Variable { name, fields } => {
                f.write_str(name)?;
                write_fields(f, fields)
            }
            Arg::Function(name) => f.write_str(name),
            Arg::Pipe(pipe) => write!(f, "({pipe})"),
            Arg::Chain { base, fields } => {
                write!(f, "{base}")?;
                write_fields(f, fields)
            }
        }
    }
}
