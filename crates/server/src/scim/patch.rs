//! SCIM PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove` operations applied to a resource's
//! stored document.
//!
//! Paths: `attr`, `attr.sub`, `urn:…:attr[.sub]`, `attr[filter]`, `attr[filter].sub`; an operation
//! without a path takes an object of attributes (whose keys may themselves be paths, as Azure AD
//! sends `name.givenName`). Operation names are read without regard to case (`Replace`), and the
//! strings `"True"`/`"False"` for `active` are read as booleans — both are what common identity
//! providers send. An `add` or `replace` whose filter is `attr[sub eq "x"]` and matches nothing adds
//! the element `{sub: "x", …}` (an e-mail of a type the user did not have yet).

use serde_json::{Map, Value};

use super::filter::{AttrPath, Filter, Op, key_ci};

/// A PATCH failure: the SCIM `scimType` and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError {
    /// `invalidPath`, `noTarget`, `invalidValue`, `invalidSyntax`, `invalidFilter`.
    pub scim_type: &'static str,
    /// Detail for the client.
    pub detail: String,
}

fn fail(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

/// A parsed PATCH path.
struct Target {
    path: AttrPath,
    filter: Option<Filter>,
    /// Sub-attribute after a filter (`emails[type eq "work"].value`).
    sub: Option<String>,
}

fn parse_target(text: &str) -> Result<Target, PatchError> {
    // The path is an extension's URN itself: the target is its whole object.
    if super::is_schema_urn(text) {
        return Ok(Target {
            path: AttrPath {
                uri: None,
                attr: text.to_string(),
                sub: None,
            },
            filter: None,
            sub: None,
        });
    }
    match text.find('[') {
        None => {
            let path = AttrPath::parse(text).map_err(|e| fail("invalidPath", e))?;
            Ok(Target {
                path,
                filter: None,
                sub: None,
            })
        }
        Some(open) => {
            let close = text
                .rfind(']')
                .filter(|&c| c > open)
                .ok_or_else(|| fail("invalidPath", format!("{text:?}: a [ is not closed")))?;
            let path = AttrPath::parse(&text[..open]).map_err(|e| fail("invalidPath", e))?;
            if path.sub.is_some() {
                return Err(fail(
                    "invalidPath",
                    format!("{text:?}: a filter follows an attribute, not a sub-attribute"),
                ));
            }
            let filter =
                Filter::parse(&text[open + 1..close]).map_err(|e| fail("invalidFilter", e))?;
            let rest = &text[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(sub) if !sub.is_empty() => Some(sub.to_string()),
                None if rest.is_empty() => None,
                _ => {
                    return Err(fail(
                        "invalidPath",
                        format!("{text:?}: unexpected {rest:?}"),
                    ));
                }
            };
            Ok(Target {
                path,
                filter: Some(filter),
                sub,
            })
        }
    }
}

/// The object an attribute path lives in (the resource, or an extension's object, created on
/// demand).
fn container<'a>(
    doc: &'a mut Map<String, Value>,
    uri: &Option<String>,
) -> &'a mut Map<String, Value> {
    match uri {
        None => doc,
        Some(uri) => {
            let key = key_ci(doc, uri).unwrap_or_else(|| uri.clone());
            let entry = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            entry.as_object_mut().expect("made an object")
        }
    }
}

fn key_in(object: &Map<String, Value>, name: &str) -> String {
    key_ci(object, name).unwrap_or_else(|| super::canonical_name(name))
}

/// Merges `value`'s keys into `target` (replace semantics for each key).
fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(t), Value::Object(v)) => {
            for (k, v) in v {
                let key = key_in(t, &k);
                t.insert(key, v);
            }
        }
        (t, v) => *t = v,
    }
}

/// Whether two elements of a multi-valued attribute are the same (by `value` for complex ones).
fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Applies one operation.
fn apply_one(
    doc: &mut Map<String, Value>,
    op: &str,
    path: Option<&str>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        if op == "remove" {
            return Err(fail("noTarget", "remove needs a path"));
        }
        let Some(Value::Object(attrs)) = value else {
            return Err(fail(
                "invalidValue",
                format!("{op} without a path needs an object of attributes as value"),
            ));
        };
        for (key, v) in attrs {
            // An extension's object: its attributes one by one.
            if super::is_schema_urn(&key)
                && let Value::Object(inner) = &v
            {
                for (k, v) in inner.clone() {
                    apply_one(doc, op, Some(&format!("{key}:{k}")), Some(v))?;
                }
                continue;
            }
            apply_one(doc, op, Some(&key), Some(v))?;
        }
        return Ok(());
    };
    let target = parse_target(path.trim())?;
    let object = container(doc, &target.path.uri);
    let attr_key = key_in(object, &target.path.attr);
    match op {
        "add" | "replace" => {
            let value = value
                .ok_or_else(|| fail("invalidValue", format!("{op} {path:?} needs a value")))?;
            if let Some(filter) = &target.filter {
                let slot = object
                    .entry(attr_key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = slot else {
                    return Err(fail(
                        "invalidPath",
                        format!("{path:?}: {} is not multi-valued", target.path.attr),
                    ));
                };
                let mut matched = false;
                for item in items.iter_mut().filter(|i| filter.matches(i)) {
                    matched = true;
                    match &target.sub {
                        Some(sub) => {
                            if let Value::Object(o) = item {
                                let key = key_in(o, sub);
                                o.insert(key, value.clone());
                            }
                        }
                        None => merge(item, value.clone()),
                    }
                }
                if !matched {
                    // `emails[type eq "work"].value` on a user without a work address: add one.
                    let Filter::Compare(fpath, Op::Eq, wanted) = filter else {
                        return Err(fail("noTarget", format!("{path:?} matches nothing")));
                    };
                    let mut element = Map::new();
                    element.insert(super::canonical_name(&fpath.attr), wanted.clone());
                    let mut element = Value::Object(element);
                    match &target.sub {
                        Some(sub) => {
                            element[super::canonical_name(sub)] = value;
                        }
                        None => merge(&mut element, value),
                    }
                    items.push(element);
                }
                return Ok(());
            }
            if let Some(sub) = &target.path.sub {
                let slot = object
                    .entry(attr_key)
                    .or_insert_with(|| Value::Object(Map::new()));
                match slot {
                    Value::Object(o) => {
                        let key = key_in(o, sub);
                        o.insert(key, value);
                    }
                    Value::Array(items) => {
                        for item in items.iter_mut() {
                            if let Value::Object(o) = item {
                                let key = key_in(o, sub);
                                o.insert(key, value.clone());
                            }
                        }
                    }
                    other => {
                        *other =
                            Value::Object(Map::from_iter([(super::canonical_name(sub), value)]))
                    }
                }
                return Ok(());
            }
            match (op, object.get_mut(&attr_key)) {
                ("add", Some(Value::Array(items))) => {
                    let new = match value {
                        Value::Array(new) => new,
                        single => vec![single],
                    };
                    for element in new {
                        if !items.iter().any(|i| same_element(i, &element)) {
                            items.push(element);
                        }
                    }
                }
                ("add", Some(existing @ Value::Object(_))) => merge(existing, value),
                _ => {
                    object.insert(attr_key, value);
                }
            }
            Ok(())
        }
        "remove" => {
            if let Some(filter) = &target.filter {
                if let Some(Value::Array(items)) = object.get_mut(&attr_key) {
                    match &target.sub {
                        None => items.retain(|i| !filter.matches(i)),
                        Some(sub) => {
                            for item in items.iter_mut().filter(|i| filter.matches(i)) {
                                if let Value::Object(o) = item
                                    && let Some(k) = key_ci(o, sub)
                                {
                                    o.remove(&k);
                                }
                            }
                        }
                    }
                }
                return Ok(());
            }
            if let Some(sub) = &target.path.sub {
                match object.get_mut(&attr_key) {
                    Some(Value::Object(o)) => {
                        if let Some(k) = key_ci(o, sub) {
                            o.remove(&k);
                        }
                    }
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut() {
                            if let Value::Object(o) = item
                                && let Some(k) = key_ci(o, sub)
                            {
                                o.remove(&k);
                            }
                        }
                    }
                    _ => {}
                }
                return Ok(());
            }
            // `{"op": "remove", "path": "members", "value": [{"value": "id"}]}` (Azure AD) removes
            // those members only.
            if let (Some(Value::Array(items)), Some(value)) = (object.get_mut(&attr_key), &value) {
                let gone: Vec<Value> = match value {
                    Value::Array(v) => v.clone(),
                    single => vec![single.clone()],
                };
                items.retain(|i| !gone.iter().any(|g| same_element(i, g)));
                return Ok(());
            }
            object.remove(&attr_key);
            Ok(())
        }
        other => Err(fail(
            "invalidSyntax",
            format!("{other:?} is not a PATCH operation; use add, replace or remove"),
        )),
    }
}

/// Applies a PatchOp body (`{"schemas": […PatchOp], "Operations": […]}`) to `doc`.
pub fn apply(doc: &mut Map<String, Value>, body: &Value) -> Result<(), PatchError> {
    let operations = super::filter::get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            fail(
                "invalidSyntax",
                "a PATCH body needs Operations: [{op, path?, value?}]",
            )
        })?;
    for (i, operation) in operations.iter().enumerate() {
        let op = super::filter::get_ci(operation, "op")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("invalidSyntax", format!("Operations[{i}] has no op")))?
            .to_ascii_lowercase();
        let path = super::filter::get_ci(operation, "path").and_then(Value::as_str);
        let value = super::filter::get_ci(operation, "value").cloned();
        apply_one(doc, &op, path, value).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, ops: Value) -> Value {
        let mut doc = doc.as_object().unwrap().clone();
        apply(&mut doc, &json!({"Operations": ops})).unwrap();
        Value::Object(doc)
    }

    #[test]
    fn add_replace_remove_with_paths_and_filters() {
        let doc = json!({"userName": "ada", "name": {"givenName": "Ada"},
            "emails": [{"value": "a@x.org", "type": "work"}],
            "members": [{"value": "1"}, {"value": "2"}]});
        let out = patched(
            doc.clone(),
            json!([
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "replace", "path": "active", "value": false},
                {"op": "add", "path": "members", "value": [{"value": "2"}, {"value": "3"}]},
                {"op": "remove", "path": "members[value eq \"1\"]"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.org"},
                {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x.org"},
            ]),
        );
        assert_eq!(out["name"]["givenName"], "Augusta");
        assert_eq!(out["active"], false);
        assert_eq!(out["members"], json!([{"value": "2"}, {"value": "3"}]));
        assert_eq!(
            out["emails"],
            json!([{"value": "b@x.org", "type": "work"}, {"type": "home", "value": "h@x.org"}])
        );

        let out = patched(
            doc,
            json!([
                {"op": "replace", "value": {"name.familyName": "King", "displayName": "Ada King",
                 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}},
                {"op": "remove", "path": "members", "value": [{"value": "1"}]},
                {"op": "remove", "path": "emails"},
            ]),
        );
        assert_eq!(
            out["name"],
            json!({"givenName": "Ada", "familyName": "King"})
        );
        assert_eq!(out["displayName"], "Ada King");
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
        assert_eq!(out["members"], json!([{"value": "2"}]));
        assert!(out.get("emails").is_none());
    }

    #[test]
    fn bad_operations_are_refused() {
        let mut doc = Map::new();
        for (ops, scim_type) in [
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "move", "path": "a", "value": 1}]),
                "invalidSyntax",
            ),
            (
                json!([{"op": "add", "path": "emails[type eq", "value": 1}]),
                "invalidPath",
            ),
            (
                json!([{"op": "add", "path": "a b", "value": 1}]),
                "invalidPath",
            ),
        ] {
            let err = apply(&mut doc, &json!({"Operations": ops})).unwrap_err();
            assert_eq!(err.scim_type, scim_type, "{ops}");
        }
        assert!(apply(&mut doc, &json!({})).is_err());
    }
}
