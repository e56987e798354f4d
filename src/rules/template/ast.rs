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
