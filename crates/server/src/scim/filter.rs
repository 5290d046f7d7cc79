//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths: parsing, and evaluation against a
//! resource's JSON.
//!
//! Supported: `eq ne co sw ew gt ge lt le pr`, `and`, `or` (`and` binds tighter), `not (…)`,
//! parentheses, value paths (`emails[type eq "work" and value co "@example.com"]`), sub-attributes
//! (`name.givenName`, `meta.lastModified`) and attributes qualified by their schema URN
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`). Attribute names are
//! compared without regard to case; string values too, except for the case-exact attributes (`id`,
//! `externalId`, and the `value` of `members` and `groups`, which are ids). Two strings that are
//! both RFC 3339 timestamps compare as times.

use serde_json::{Map, Value};

/// Core schema URNs, whose attributes live at the top level of a resource.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The Group core schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute path: optional schema URN, attribute, optional sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The extension schema URN, when the path names one (core URNs are dropped).
    pub uri: Option<String>,
    /// Attribute name as written.
    pub attr: String,
    /// Sub-attribute name as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `name`, `name.sub`, `urn:…:name` or `urn:…:name.sub`.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let (uri, rest) = if text.to_ascii_lowercase().starts_with("urn:") {
            match text.rfind(':') {
                Some(i) => (Some(&text[..i]), &text[i + 1..]),
                None => (None, text),
            }
        } else {
            (None, text)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return Err(format!("{text:?} is not an attribute path"));
        }
        let uri = uri
            .filter(|u| {
                !u.eq_ignore_ascii_case(USER_SCHEMA) && !u.eq_ignore_ascii_case(GROUP_SCHEMA)
            })
            .map(str::to_string);
        Ok(AttrPath {
            uri,
            attr: attr.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// Whether values of this attribute compare with case.
    fn case_exact(&self) -> bool {
        let attr = self.attr.to_ascii_lowercase();
        match &self.sub {
            None => attr == "id" || attr == "externalid",
            Some(sub) => {
                (attr == "members" || attr == "groups") && sub.eq_ignore_ascii_case("value")
            }
        }
    }

    /// The values at this path in `resource` (an attribute of a multi-valued complex attribute
    /// gives one value per element; a multi-valued attribute without sub-attribute gives its
    /// elements' `value`s, or the elements themselves when they are simple).
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let container = match &self.uri {
            Some(uri) => get_ci(resource, uri),
            None => Some(resource),
        };
        let Some(value) = container.and_then(|c| get_ci(c, &self.attr)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match (&self.sub, value) {
            (None, Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::Object(_) => out.extend(get_ci(item, "value")),
                        other => out.push(other),
                    }
                }
            }
            (None, other) => out.push(other),
            (Some(sub), Value::Array(items)) => {
                out.extend(items.iter().filter_map(|i| get_ci(i, sub)));
            }
            (Some(sub), other) => out.extend(get_ci(other, sub)),
        }
        out
    }
}

/// A key of a JSON object, found without regard to case.
pub fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The stored key of `key` in an object, found without regard to case.
pub fn key_ci(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare(AttrPath, Op, Value),
    /// `attr pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued `attr` matches `filter`.
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                // A JSON string: find its end, honouring escapes, and let serde decode it.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("a string is not closed (missing \")".to_string());
                }
                i += 1;
                let literal: String = chars[start..i].iter().collect();
                let decoded: String = serde_json::from_str(&literal)
                    .map_err(|e| format!("bad string {literal}: {e}"))?;
                tokens.push(Token::Str(decoded));
            }
            _ => {
                let start = i;
                while i < chars.len() && !" \t\n\r()[]\"".contains(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.keyword("not") {
            self.pos += 1;
            if self.next() != Some(Token::Open) {
                return Err("not must be followed by a parenthesised filter".to_string());
            }
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err("a parenthesis is not closed".to_string());
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.next() != Some(Token::Close) {
                    return Err("a parenthesis is not closed".to_string());
                }
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                let path = AttrPath::parse(&word)?;
                if self.peek() == Some(&Token::OpenBracket) {
                    self.pos += 1;
                    let inner = self.or()?;
                    if self.next() != Some(Token::CloseBracket) {
                        return Err("a [ is not closed".to_string());
                    }
                    return Ok(Filter::ValuePath(path, Box::new(inner)));
                }
                let op = match self.next() {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(format!("{word} must be followed by an operator")),
                };
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(path)),
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "co" => Op::Co,
                    "sw" => Op::Sw,
                    "ew" => Op::Ew,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    other => return Err(format!("{other:?} is not a filter operator")),
                };
                let value = match self.next() {
                    Some(Token::Str(s)) => Value::String(s),
                    Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        _ => serde_json::from_str::<serde_json::Number>(&w)
                            .map(Value::Number)
                            .map_err(|_| format!("{w} is not a value; quote strings (\"{w}\")"))?,
                    },
                    _ => return Err(format!("{word} {op:?} needs a value")),
                };
                Ok(Filter::Compare(path, op, value))
            }
            Some(other) => Err(format!("unexpected {other:?}")),
            None => Err("the filter ends too early".to_string()),
        }
    }
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            pos: 0,
        };
        let filter = parser.or()?;
        if parser.pos < parser.tokens.len() {
            return Err(format!(
                "unexpected {:?} after a complete filter",
                parser.tokens[parser.pos]
            ));
        }
        Ok(filter)
    }

    /// Whether `resource` (or an element of a multi-valued attribute) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(a) => !a.matches(resource),
            Filter::Present(path) => path.values(resource).into_iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::Compare(path, op, wanted) => {
                let values = path.values(resource);
                if *op == Op::Ne {
                    return !values.iter().any(|v| compare(path, Op::Eq, v, wanted));
                }
                if wanted.is_null() && *op == Op::Eq {
                    return values.iter().all(|v| v.is_null());
                }
                values.iter().any(|v| compare(path, *op, v, wanted))
            }
            Filter::ValuePath(path, inner) => {
                let container = match &path.uri {
                    Some(uri) => get_ci(resource, uri),
                    None => Some(resource),
                };
                match container.and_then(|c| get_ci(c, &path.attr)) {
                    Some(Value::Array(items)) => items.iter().any(|i| inner.matches(i)),
                    Some(item @ Value::Object(_)) => inner.matches(item),
                    _ => false,
                }
            }
        }
    }
}

fn compare(path: &AttrPath, op: Op, value: &Value, wanted: &Value) -> bool {
    match (value, wanted) {
        (Value::String(have), Value::String(want)) => {
            if let (Ok(a), Ok(b)) = (
                have.parse::<jiff::Timestamp>(),
                want.parse::<jiff::Timestamp>(),
            ) {
                return ordered(op, a.cmp(&b));
            }
            let (have, want) = if path.case_exact() {
                (have.clone(), want.clone())
            } else {
                (have.to_lowercase(), want.to_lowercase())
            };
            match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Co => have.contains(&want),
                Op::Sw => have.starts_with(&want),
                Op::Ew => have.ends_with(&want),
                _ => ordered(op, have.cmp(&want)),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| ordered(op, o)),
            _ => false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        // `active eq "true"` from clients that quote booleans.
        (Value::Bool(a), Value::String(b)) => match op {
            Op::Eq => b.eq_ignore_ascii_case(if *a { "true" } else { "false" }),
            _ => false,
        },
        _ => false,
    }
}

fn ordered(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => o == Equal,
        Op::Ne => o != Equal,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
        Op::Lt => o == Less,
        Op::Le => o != Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "abc", "userName": "Ada.Lovelace", "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true},
                       {"value": "ada@home.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Nordic"},
            "meta": {"lastModified": "2024-03-01T08:00:00Z"}
        })
    }

    fn check(filter: &str) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(&user())
    }

    #[test]
    fn operators_on_simple_and_complex_attributes() {
        assert!(check(r#"userName eq "ada.lovelace""#), "case-insensitive");
        assert!(!check(r#"id eq "ABC""#), "id is case-exact");
        assert!(check(r#"userName sw "ada" and name.familyName co "love""#));
        assert!(check(r#"emails co "home.org""#));
        assert!(check(r#"emails.value ew "@example.com""#));
        assert!(check(r#"emails[type eq "work" and value co "example"]"#));
        assert!(!check(r#"emails[type eq "other"]"#));
        assert!(check("active eq true and title pr or userName pr"));
        assert!(!check("title pr"));
        assert!(check(
            r#"not (title pr) and (active eq false or userName ne "x")"#
        ));
        assert!(check(r#"meta.lastModified gt "2024-02-29T23:00:00+01:00""#));
        assert!(!check(
            r#"meta.lastModified gt "2024-03-01T09:00:00+01:00""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "nordic""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "A""#
        ));
    }

    #[test]
    fn bad_filters_say_why() {
        for bad in [
            "userName",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            "(userName pr",
            r#"userName eq a"#,
            r#"userName eq "a" extra"#,
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}
