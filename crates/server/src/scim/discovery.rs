//! The SCIM discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, describing what this server supports. They hold no tenant data, so they answer
//! without a token (clients read them before they provision).

use serde_json::{Value, json};

use super::filter::{GROUP_SCHEMA, USER_SCHEMA};
use super::{ENTERPRISE_SCHEMA, MAX_RESULTS};

/// Schema URN of the discovery resources.
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `GET /scim/v2/ServiceProviderConfig`
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/wfm-bridge/wfm-bridge#scim-20-server",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The tenant's scim_token (or its ingest_token when it has none) as Authorization: Bearer <token>",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

/// The resource types: User (with the enterprise extension) and Group.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RT_SCHEMA], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "An agent", "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RT_SCHEMA], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A team", "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    mutability: &str,
    uniqueness: &str,
) -> Value {
    let mut a = json!({
        "name": name, "type": kind, "multiValued": multi, "description": name,
        "required": required, "caseExact": false, "mutability": mutability,
        "returned": "default", "uniqueness": uniqueness
    });
    if name == "password" {
        a["returned"] = json!("never");
    }
    a
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, mutability, "none");
    a["subAttributes"] = Value::Array(subs);
    a
}

fn multi_valued(name: &str) -> Value {
    complex(
        name,
        true,
        "readWrite",
        vec![
            attr("value", "string", false, false, "readWrite", "none"),
            attr("display", "string", false, false, "readWrite", "none"),
            attr("type", "string", false, false, "readWrite", "none"),
            attr("primary", "boolean", false, false, "readWrite", "none"),
        ],
    )
}

fn reference(name: &str, mutability: &str) -> Value {
    let mut value = attr("value", "string", false, false, "immutable", "none");
    value["caseExact"] = json!(true);
    complex(
        name,
        true,
        mutability,
        vec![
            value,
            attr("$ref", "reference", false, false, "immutable", "none"),
            attr("display", "string", false, false, "readOnly", "none"),
            attr("type", "string", false, false, "immutable", "none"),
        ],
    )
}

/// The schemas: User, Group and the enterprise User extension.
pub fn schemas(base: &str) -> Vec<Value> {
    let str_attr = |n: &str| attr(n, "string", false, false, "readWrite", "none");
    let user = json!({
        "schemas": [SCHEMA_SCHEMA], "id": USER_SCHEMA, "name": "User", "description": "User Account",
        "attributes": [
            attr("userName", "string", false, true, "readWrite", "server"),
            complex("name", false, "readWrite", ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"].iter().map(|n| str_attr(n)).collect()),
            str_attr("displayName"), str_attr("nickName"), str_attr("profileUrl"), str_attr("title"),
            str_attr("userType"), str_attr("preferredLanguage"), str_attr("locale"), str_attr("timezone"),
            attr("active", "boolean", false, false, "readWrite", "none"),
            attr("password", "string", false, false, "writeOnly", "none"),
            multi_valued("emails"), multi_valued("phoneNumbers"), multi_valued("ims"), multi_valued("photos"),
            complex("addresses", true, "readWrite", ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type"].iter().map(|n| str_attr(n)).collect()),
            reference("groups", "readOnly"),
            multi_valued("entitlements"), multi_valued("roles"), multi_valued("x509Certificates"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")}
    });
    let group = json!({
        "schemas": [SCHEMA_SCHEMA], "id": GROUP_SCHEMA, "name": "Group", "description": "Group",
        "attributes": [
            attr("displayName", "string", false, true, "readWrite", "none"),
            reference("members", "readWrite"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")}
    });
    let enterprise = json!({
        "schemas": [SCHEMA_SCHEMA], "id": ENTERPRISE_SCHEMA, "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": [
            str_attr("employeeNumber"), str_attr("costCenter"), str_attr("organization"),
            str_attr("division"), str_attr("department"),
            complex("manager", false, "readWrite", vec![
                str_attr("value"),
                attr("$ref", "reference", false, false, "readWrite", "none"),
                attr("displayName", "string", false, false, "readOnly", "none"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE_SCHEMA}")}
    });
    vec![user, group, enterprise]
}
