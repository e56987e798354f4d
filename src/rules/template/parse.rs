//! Recursive-descent parser from tokens to the [`Template`] tree, with Go's
//! parse-time checks (undefined variables and functions, misplaced `end`,
//! `else`, `break`, ...) and its messages.

use super::TemplateError;
use super::ast::{
    Arg, Branch, Command, Definition, List, Node, Number, Pipeline, Template, TemplatePos,
};
use super::lexer::{Keyword, Token, TokenKind, go_quote, tokenize};

/// Deepest nesting of control structures (`if`, `range`, `with`) accepted.
/// Go has no limit; ours keeps the recursive parser's stack bounded.
pub const MAX_NESTING: usize = 100;

/// Deepest nesting of parenthesized pipelines accepted (Go allows 10000 and
/// then fails with the same message, "max expression depth exceeded").
pub const MAX_PAREN_DEPTH: usize = 100;

/// How a template is parsed: which functions exist and which variables are
/// already declared at the top level (besides `$`).
pub struct ParseConfig<'f> {
    /// Whether a function name is defined (builtins are handled by the caller).
    pub has_function: &'f dyn Fn(&str) -> bool,
    /// Variables declared before the template text, such as `$labels`.
    pub predeclared: &'f [&'f str],
}

impl std::fmt::Debug for ParseConfig<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseConfig")
            .field("predeclared", &self.predeclared)
            .finish_non_exhaustive()
    }
}

/// Parses `text` as template `name`.
pub fn parse_template(
    name: &str,
    text: &str,
    config: &ParseConfig<'_>,
) -> Result<Template, TemplateError> {
    let mut vars = vec!["$".to_string()];
    vars.extend(config.predeclared.iter().map(|v| (*v).to_string()));
    let mut parser = Parser {
        name,
        tokens: tokenize(text),
        index: 0,
        vars,
        range_depth: 0,
        action_line: 0,
        depth: 0,
        paren_depth: 0,
        furthest: 0,
        config,
        definitions: Vec::new(),
    };
    let root = parser.top_level()?;
    // The main template is added last under its own name; a non-empty
    // `define` of the same name conflicts with a non-empty main body.
    if let Some(i) = parser.definitions.iter().position(|d| d.name == name) {
        let defined_empty = parser
            .definitions
            .get(i)
            .is_some_and(|d| is_empty_tree(&d.body));
        if !defined_empty && !is_empty_tree(&root) {
            return Err(parser.error(format!(
                "template: multiple definition of template {}",
                go_quote(name)
            )));
        }
    }
    Ok(Template {
        name: name.to_string(),
        root,
        definitions: parser.definitions,
    })
}

/// Whether a body holds only whitespace text and comments.
fn is_empty_tree(list: &List) -> bool {
    list.nodes.iter().all(|node| match node {
        Node::Text { text, .. } => text.trim().is_empty(),
        Node::Comment { .. } => true,
        _ => false,
    })
}

/// What ended an item list.
enum ListEnd {
    End,
    Else,
}

struct Parser<'a, 'f> {
    name: &'a str,
    tokens: Vec<Token>,
    index: usize,
    vars: Vec<String>,
    range_depth: usize,
    action_line: u32,
    depth: usize,
    paren_depth: usize,
    furthest: usize,
    config: &'a ParseConfig<'f>,
    definitions: Vec<Definition>,
}

type PResult<T> = Result<T, TemplateError>;

fn eof_token() -> Token {
    Token {
        kind: TokenKind::Eof,
        text: String::new(),
        offset: 0,
        line: 0,
    }
}

impl Parser<'_, '_> {
    fn pos_of(token: &Token) -> TemplatePos {
        TemplatePos {
            offset: token.offset,
            line: token.line,
        }
    }

    fn next(&mut self) -> Token {
        let token = self
            .tokens
            .get(self.index)
            .cloned()
            .unwrap_or_else(eof_token);
        self.furthest = self.furthest.max(self.index);
        if self.index < self.tokens.len() {
            self.index += 1;
        }
        token
    }

    fn back(&mut self) {
        self.index = self.index.saturating_sub(1);
    }

    fn peek(&mut self) -> Token {
        self.furthest = self.furthest.max(self.index);
        self.tokens
            .get(self.index)
            .cloned()
            .unwrap_or_else(eof_token)
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let token = self.next();
            if token.kind != TokenKind::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let saved = self.index;
        let token = self.next_non_space();
        self.index = saved;
        token
    }

    /// Go reports errors at the line of the last token read from the
    /// lexer, including look-ahead: the furthest token seen so far.
    fn error(&self, message: String) -> TemplateError {
        let line = self
            .tokens
            .get(self.furthest)
            .or(self.tokens.last())
            .map_or(1, |t| t.line);
        TemplateError {
            name: self.name.to_string(),
            line,
            message,
        }
    }

    fn unexpected(&self, token: &Token, context: &str) -> TemplateError {
        if token.kind == TokenKind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.text.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{}{extra}", token.text));
        }
        self.error(format!("unexpected {} in {context}", token.describe()))
    }

    fn expect(&mut self, kind: TokenKind, context: &str) -> PResult<Token> {
        let token = self.next_non_space();
        if token.kind != kind {
            return Err(self.unexpected(&token, context));
        }
        Ok(token)
    }

    fn top_level(&mut self) -> PResult<List> {
        let mut list = List::default();
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::Eof => return Ok(list),
                TokenKind::LeftDelim => {
                    let saved = self.index;
                    self.next();
                    if self.next_non_space().kind == TokenKind::Keyword(Keyword::Define) {
                        self.definition()?;
                        continue;
                    }
                    self.index = saved;
                }
                _ => {}
            }
            match self.text_or_action()? {
                Item::Node(node) => list.nodes.push(node),
                Item::End => return Err(self.error("unexpected {{end}}".into())),
                Item::Else => return Err(self.error("unexpected {{else}}".into())),
            }
        }
    }

    fn definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        self.expect(TokenKind::RightDelim, context)?;
        let body = self.with_fresh_scope(|p| {
            let (list, end) = p.item_list()?;
            match end {
                ListEnd::End => Ok(list),
                ListEnd::Else => Err(p.error(format!("unexpected {{{{else}}}} in {context}"))),
            }
        })?;
        self.add_definition(name, body)
    }

    /// Records a `define`/`block` body as Go does: an empty (whitespace and
    /// comments only) definition never conflicts; two non-empty ones do.
    fn add_definition(&mut self, name: String, body: List) -> PResult<()> {
        match self.definitions.iter().position(|d| d.name == name) {
            None => self.definitions.push(Definition { name, body }),
            Some(i) => {
                let existing_empty = self
                    .definitions
                    .get(i)
                    .is_some_and(|d| is_empty_tree(&d.body));
                if existing_empty {
                    if let Some(existing) = self.definitions.get_mut(i) {
                        existing.body = body;
                    }
                } else if !is_empty_tree(&body) {
                    return Err(self.error(format!(
                        "template: multiple definition of template {}",
                        go_quote(&name)
                    )));
                }
            }
        }
        Ok(())
    }

    /// Parses a nested template body with only `$` in scope.
    fn with_fresh_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        // Nesting depth is not reset: definitions nest in the same stack.
        let result = f(self);
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        result
    }

    fn template_name(&self, token: &Token, context: &str) -> PResult<String> {
        match token.kind {
            TokenKind::String | TokenKind::RawString => {
                unquote(&token.text).ok_or_else(|| self.error("invalid syntax".into()))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn item_list(&mut self) -> PResult<(List, ListEnd)> {
        let mut list = List::default();
        while self.peek_non_space().kind != TokenKind::Eof {
            match self.text_or_action()? {
                Item::Node(node) => list.nodes.push(node),
                Item::End => return Ok((list, ListEnd::End)),
                Item::Else => return Ok((list, ListEnd::Else)),
            }
        }
        Err(self.error("unexpected EOF".into()))
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let token = self.next_non_space();
        match token.kind {
            TokenKind::Text => Ok(Item::Node(Node::Text {
                pos: Self::pos_of(&token),
                text: token.text,
            })),
            TokenKind::LeftDelim => {
                self.action_line = token.line;
                let item = self.action();
                self.action_line = 0;
                item
            }
            TokenKind::Comment => {
                // The token spans the delimiters; keep `/* ... */`.
                let text = match (token.text.find("/*"), token.text.rfind("*/")) {
                    (Some(start), Some(end)) if end >= start => {
                        token.text[start..end + 2].to_string()
                    }
                    _ => token.text.clone(),
                };
                Ok(Item::Node(Node::Comment {
                    pos: Self::pos_of(&token),
                    text,
                }))
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let token = self.next_non_space();
        let pos = Self::pos_of(&token);
        if let TokenKind::Keyword(keyword) = token.kind {
            match keyword {
                Keyword::Block => return self.block(pos).map(Item::Node),
                Keyword::Break | Keyword::Continue => {
                    let label = if keyword == Keyword::Break {
                        "{{break}}"
                    } else {
                        "{{continue}}"
                    };
                    let next = self.next_non_space();
                    if next.kind != TokenKind::RightDelim {
                        return Err(self.unexpected(&next, label));
                    }
                    if self.range_depth == 0 {
                        return Err(self.error(format!("{label} outside {{{{range}}}}")));
                    }
                    return Ok(Item::Node(if keyword == Keyword::Break {
                        Node::Break(pos)
                    } else {
                        Node::Continue(pos)
                    }));
                }
                Keyword::Else => {
                    // `{{else if ...}}` / `{{else with ...}}`: the keyword is
                    // left for the enclosing control to consume.
                    let next = self.peek_non_space();
                    if matches!(next.kind, TokenKind::Keyword(Keyword::If | Keyword::With)) {
                        return Ok(Item::Else);
                    }
                    self.expect(TokenKind::RightDelim, "else")?;
                    return Ok(Item::Else);
                }
                Keyword::End => {
                    self.expect(TokenKind::RightDelim, "end")?;
                    return Ok(Item::End);
                }
                Keyword::If => return self.control(ControlKind::If, pos).map(Item::Node),
                Keyword::Range => return self.control(ControlKind::Range, pos).map(Item::Node),
                Keyword::With => return self.control(ControlKind::With, pos).map(Item::Node),
                Keyword::Template => return self.template_call(pos).map(Item::Node),
                Keyword::Define => {}
            }
        }
        self.back();
        let pipe = self.pipeline("command", TokenKind::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn block(&mut self, pos: TemplatePos) -> PResult<Node> {
        let context = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        let pipe = self.pipeline(context, TokenKind::RightDelim)?;
        let body = self.with_fresh_scope(|p| {
            let (list, end) = p.item_list()?;
            match end {
                ListEnd::End => Ok(list),
                ListEnd::Else => Err(p.error(format!("unexpected {{{{else}}}} in {context}"))),
            }
        })?;
        self.add_definition(name.clone(), body)?;
        Ok(Node::TemplateCall {
            name,
            pipe: Some(pipe),
            pos,
        })
    }

    fn template_call(&mut self, pos: TemplatePos) -> PResult<Node> {
        let context = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, context)?;
        let next = self.next_non_space();
        let pipe = if next.kind == TokenKind::RightDelim {
            None
        } else {
            self.back();
            Some(self.pipeline(context, TokenKind::RightDelim)?)
        };
        Ok(Node::TemplateCall { name, pipe, pos })
    }

    fn control(&mut self, kind: ControlKind, pos: TemplatePos) -> PResult<Node> {
        self.enter()?;
        let saved_vars = self.vars.len();
        let result = self.control_inner(kind, pos);
        self.vars.truncate(saved_vars);
        self.depth -= 1;
        result
    }

    /// Counts one level of control-structure nesting.
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(self.error(format!("exceeded max nesting depth of {MAX_NESTING}")));
        }
        self.depth += 1;
        Ok(())
    }

    fn control_inner(&mut self, kind: ControlKind, pos: TemplatePos) -> PResult<Node> {
        let context = kind.context();
        let pipe = self.pipeline(context, TokenKind::RightDelim)?;
        if kind == ControlKind::Range {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if kind == ControlKind::Range {
            self.range_depth -= 1;
        }
        let (list, end) = listed?;
        let mut else_list = None;
        if let ListEnd::Else = end {
            let chained = match (kind, self.peek_non_space().kind) {
                (ControlKind::If, TokenKind::Keyword(Keyword::If)) => Some(ControlKind::If),
                (ControlKind::With, TokenKind::Keyword(Keyword::With)) => Some(ControlKind::With),
                _ => None,
            };
            if let Some(inner_kind) = chained {
                let keyword = self.next_non_space();
                let inner = self.control(inner_kind, Self::pos_of(&keyword))?;
                else_list = Some(List { nodes: vec![inner] });
            } else {
                let (list, end) = self.item_list()?;
                if let ListEnd::Else = end {
                    return Err(self.error("expected end; found {{else}}".into()));
                }
                else_list = Some(list);
            }
        }
        let branch = Branch {
            pipe,
            list,
            else_list,
            pos,
        };
        Ok(match kind {
            ControlKind::If => Node::If(branch),
            ControlKind::Range => Node::Range(branch),
            ControlKind::With => Node::With(branch),
        })
    }

    fn pipeline(&mut self, context: &str, end: TokenKind) -> PResult<Pipeline> {
        let start = self.peek_non_space();
        let mut pipe = Pipeline {
            declarations: Vec::new(),
            is_assign: false,
            commands: Vec::new(),
            pos: Self::pos_of(&start),
        };
        self.declarations(&mut pipe, context)?;
        loop {
            let token = self.next_non_space();
            if token.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.kind {
                TokenKind::Bool
                | TokenKind::Char
                | TokenKind::Dot
                | TokenKind::Field
                | TokenKind::Identifier
                | TokenKind::Number
                | TokenKind::Complex
                | TokenKind::Nil
                | TokenKind::RawString
                | TokenKind::String
                | TokenKind::Variable
                | TokenKind::LeftParen => {
                    self.back();
                    let command = self.command()?;
                    pipe.commands.push(command);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn declarations(&mut self, pipe: &mut Pipeline, context: &str) -> PResult<()> {
        loop {
            if self.peek_non_space().kind != TokenKind::Variable {
                return Ok(());
            }
            let before = self.index;
            let variable = self.next_non_space();
            let next = self.peek_non_space();
            match next.kind {
                TokenKind::Assign | TokenKind::Declare => {
                    pipe.is_assign = next.kind == TokenKind::Assign;
                    self.next_non_space();
                    pipe.declarations.push(variable.text.clone());
                    self.vars.push(variable.text);
                    return Ok(());
                }
                TokenKind::Comma => {
                    self.next_non_space();
                    pipe.declarations.push(variable.text.clone());
                    self.vars.push(variable.text);
                    if context == "range" && pipe.declarations.len() < 2 {
                        match self.peek_non_space().kind {
                            TokenKind::Variable | TokenKind::RightDelim | TokenKind::RightParen => {
                                continue;
                            }
                            _ => {
                                return Err(
                                    self.error("range can only initialize variables".into())
                                );
                            }
                        }
                    }
                    return Err(self.error(format!("too many declarations in {context}")));
                }
                _ => {
                    self.index = before;
                    return Ok(());
                }
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipeline, context: &str) -> PResult<()> {
        if pipe.commands.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, command) in pipe.commands.iter().enumerate().skip(1) {
            if matches!(
                command.args.first(),
                Some(Arg::Bool(_) | Arg::Dot | Arg::Nil | Arg::Number(_) | Arg::String(_))
            ) {
                return Err(self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let start = self.peek_non_space();
        let mut command = Command {
            args: Vec::new(),
            pos: Self::pos_of(&start),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                command.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                TokenKind::Space => continue,
                TokenKind::RightDelim | TokenKind::RightParen => self.back(),
                TokenKind::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if command.args.is_empty() {
            return Err(self.error("empty command".into()));
        }
        Ok(command)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != TokenKind::Field {
            return Ok(Some(term));
        }
        let mut fields = Vec::new();
        while self.peek().kind == TokenKind::Field {
            let token = self.next();
            fields.push(token.text.trim_start_matches('.').to_string());
        }
        Ok(Some(match term {
            Arg::Field(mut path) => {
                path.extend(fields);
                Arg::Field(path)
            }
            Arg::Variable {
                name,
                fields: mut own,
            } => {
                own.extend(fields);
                Arg::Variable { name, fields: own }
            }
            Arg::Bool(_) | Arg::String(_) | Arg::Number(_) | Arg::Nil | Arg::Dot => {
                let shown = match &term {
                    Arg::Bool(b) => b.to_string(),
                    Arg::String(s) => go_quote(s),
                    Arg::Number(n) => n.text.clone(),
                    Arg::Nil => "nil".into(),
                    _ => ".".into(),
                };
                return Err(self.error(format!("unexpected . after term {}", go_quote(&shown))));
            }
            other => Arg::Chain {
                base: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        Ok(Some(match token.kind {
            TokenKind::Identifier => {
                if !(self.config.has_function)(&token.text) {
                    return Err(
                        self.error(format!("function {} not defined", go_quote(&token.text)))
                    );
                }
                Arg::Function(token.text)
            }
            TokenKind::Dot => Arg::Dot,
            TokenKind::Nil => Arg::Nil,
            TokenKind::Variable => {
                if !self.vars.contains(&token.text) {
                    return Err(self.error(format!("undefined variable {}", go_quote(&token.text))));
                }
                Arg::Variable {
                    name: token.text,
                    fields: Vec::new(),
                }
            }
            TokenKind::Field => Arg::Field(vec![token.text.trim_start_matches('.').to_string()]),
            TokenKind::Bool => Arg::Bool(token.text == "true"),
            TokenKind::Char | TokenKind::Number | TokenKind::Complex => {
                Arg::Number(parse_number(&token).map_err(|message| self.error(message))?)
            }
            TokenKind::LeftParen => {
                if self.paren_depth >= MAX_PAREN_DEPTH {
                    return Err(self.error("max expression depth exceeded".into()));
                }
                self.paren_depth += 1;
                let pipe = self.pipeline("parenthesized pipeline", TokenKind::RightParen);
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            TokenKind::String | TokenKind::RawString => Arg::String(
                unquote(&token.text).ok_or_else(|| self.error("invalid syntax".into()))?,
            ),
            _ => {
                self.back();
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    End,
    Else,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ControlKind {
    If,
    Range,
    With,
}

impl ControlKind {
    fn context(self) -> &'static str {
        match self {
            ControlKind::If => "if",
            ControlKind::Range => "range",
            ControlKind::With => "with",
        }
    }
}

/// Interprets a number or character constant.
fn parse_number(token: &Token) -> Result<Number, String> {
    let text = token.text.clone();
    if token.kind == TokenKind::Char {
        let inner = unquote_char(&text).ok_or_else(|| {
            // Go: a bad first escape is strconv's "invalid syntax"; anything
            // after the first character makes the constant malformed.
            let body = text.get(1..).unwrap_or("");
            if body.starts_with('\\') && first_escape(body).is_none() {
                "invalid syntax".to_string()
            } else {
                format!("malformed character constant: {text}")
            }
        })?;
        let value = i64::from(u32::from(inner));
        return Ok(Number {
            text,
            int: Some(value),
            float: Some(value as f64),
            is_complex: false,
        });
    }
    let illegal = || format!("illegal number syntax: {}", go_quote(&token.text));
    if token.kind == TokenKind::Complex {
        return Ok(Number {
            text,
            int: None,
            float: None,
            is_complex: true,
        });
    }
    if let Some(imaginary) = text.strip_suffix('i') {
        parse_float(imaginary).ok_or_else(illegal)?;
        return Ok(Number {
            text,
            int: None,
            float: None,
            is_complex: true,
        });
    }
    if let Some(value) = parse_go_int(&text) {
        return Ok(Number {
            text,
            // Values above i64::MAX are Go uint64 constants.
            int: i64::try_from(value).ok(),
            float: Some(value as f64),
            is_complex: false,
        });
    }
    let float = parse_float(&text).ok_or_else(illegal)?;
    // Like Go: an integer-looking text that only parses as a float is an
    // integer too large (or, like `08`, not a valid octal integer).
    if !text.contains(['.', 'e', 'E', 'p', 'P']) {
        return Err(format!("integer overflow: {}", go_quote(&text)));
    }
    let int = (float.fract() == 0.0 && float.abs() < 9.2e18).then_some(float as i64);
    Ok(Number {
        text,
        int,
        float: Some(float),
        is_complex: false,
    })
}

/// An integer constant in Go syntax (`0x`, `0o`, `0b`, leading-`0` octal,
/// `_` separators), as a wide value so both int64 and uint64 fit.
fn parse_go_int(text: &str) -> Option<i128> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    (i64::try_from(value).is_ok() || u64::try_from(value).is_ok()).then_some(value)
}

fn parse_float(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let body = cleaned.trim_start_matches(['+', '-']);
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let negative = cleaned.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        let value = parse_hex_float(hex)?;
        return Some(if negative { -value } else { value });
    }
    if body.contains(['i', 'n', 'I', 'N']) {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

/// A hexadecimal float after `0x`: hex digits with an optional fraction and
/// a mandatory binary exponent (`1.8p3` = 12).
fn parse_hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = text.split_once('p')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for digit in whole.chars() {
        value = value * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for digit in fraction.chars() {
        value += f64::from(digit.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exponent))
}

/// The character of the escape sequence at the start of `text` (`\\n`,
/// `\\x41`, `\\u00e9`, `\\101`, ...), if valid in a character constant.
fn first_escape(text: &str) -> Option<char> {
    let len = match text.as_bytes().get(1)? {
        b'x' => 4,
        b'u' => 6,
        b'U' => 10,
        b'0'..=b'7' => 4,
        _ => 2,
    };
    let sequence = text.get(..len)?;
    let decoded = unescape(sequence, '\'')?;
    let mut chars = decoded.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// Unquotes a Go string literal (`"..."` with escapes, or `` `raw` ``).
pub fn unquote(text: &str) -> Option<String> {
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        return Some(raw.replace('\r', ""));
    }
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    unescape(inner, '"')
}

fn unquote_char(text: &str) -> Option<char> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let value = unescape(inner, '\'')?;
    let mut chars = value.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

fn unescape(inner: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == quote || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<char> {
            let digits: String = chars.take(n).collect();
            if digits.len() != n {
                return None;
            }
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        match escaped {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' if quote == '"' => out.push('"'),
            '\'' if quote == '\'' => out.push('\''),
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8)?),
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let digits = format!("{escaped}{rest}");
                let value = u32::from_str_radix(&digits, 8).ok()?;
                if digits.len() != 3 || value > 255 {
                    return None;
                }
                out.push(char::from_u32(value)?);
            }
            _ => return None,
        }
    }
    Some(out)
}
