//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the admin API, written by hand.
//!
//! It is checked two ways: the server's tests walk every path of the document against the router
//! (a documented route that does not exist fails), and schemathesis (`bench/api_conformance.sh`)
//! fuzzes a running server against it (no 5xx, every response matching its schema).

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use super::AdminState;

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(document()) }))
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": content(schema) })
}

fn err(description: &str) -> Value {
    json!({ "description": description, "content": content(reference("Error")) })
}

/// The error responses every authenticated operation can give, plus `extra` ones.
fn responses(success: (&str, Value), extra: &[(&str, &str)]) -> Value {
    let mut r = serde_json::Map::new();
    r.insert(success.0.to_string(), success.1);
    r.insert("401".into(), err("No bearer token, or not an admin token"));
    for (code, description) in extra {
        r.insert((*code).to_string(), err(description));
    }
    Value::Object(r)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description,
            "schema": { "type": "string" } })
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description,
            "schema": schema })
}

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": content(schema) })
}

/// The document.
pub fn document() -> Value {
    let nullable_string = json!({ "type": ["string", "null"] });
    let nullable_int = json!({ "type": ["integer", "null"] });
    let property_value = json!({
        "description": "Text, number, boolean, duration text (\"15m\") or an object of text; secrets show as \"********\"",
        "oneOf": [
            { "type": "string" }, { "type": "integer" }, { "type": "boolean" },
            { "type": "object", "additionalProperties": { "type": "string" } }
        ]
    });
    let schemas = json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "string", "description": "What is wrong; names the field" } },
            "additionalProperties": true
        },
        "Me": {
            "type": "object", "required": ["name", "role", "tenants"],
            "properties": {
                "name": { "type": "string" },
                "role": { "type": "string", "enum": ["admin", "viewer"] },
                "tenants": { "type": "array", "items": { "type": "string" } }
            }
        },
        "Tenant": {
            "type": "object", "required": ["id", "name", "time_zone", "interval_minutes"],
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "time_zone": { "type": "string" },
                "interval_minutes": { "type": "integer", "enum": [15, 30, 60] }
            }
        },
        "PropertySpec": {
            "type": "object", "required": ["name", "kind", "required", "secret", "default", "help"],
            "properties": {
                "name": { "type": "string" },
                "kind": { "type": "string", "enum": ["text", "url", "path", "integer", "bool", "duration", "map"] },
                "required": { "type": "boolean" }, "secret": { "type": "boolean" },
                "default": nullable_string, "help": { "type": "string" }
            }
        },
        "AccountType": {
            "type": "object",
            "required": ["name", "description", "single_per_tenant", "can_deliver", "can_read", "properties"],
            "properties": {
                "name": { "type": "string" }, "description": { "type": "string" },
                "single_per_tenant": { "type": "boolean" },
                "can_deliver": { "type": "boolean" }, "can_read": { "type": "boolean" },
                "properties": { "type": "array", "items": reference("PropertySpec") }
            }
        },
        "AccountInput": {
            "type": "object", "required": ["name", "type"],
            "properties": {
                "name": { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$" },
                "type": { "type": "string", "description": "An account type's name (GET /account-types)" },
                "tenant": nullable_string,
                "properties": { "type": "object", "additionalProperties": property_value.clone(),
                    "description": "The type's properties; secrets are write-only (send \"********\" or leave one out to keep it)" }
            }
        },
        "Account": {
            "type": "object",
            "required": ["name", "type", "tenant", "origin", "read_only", "properties", "created_at", "updated_at"],
            "properties": {
                "name": { "type": "string" }, "type": { "type": "string" },
                "tenant": nullable_string,
                "origin": { "type": "string", "enum": ["config", "api"] },
                "read_only": { "type": "boolean" },
                "properties": { "type": "object", "additionalProperties": property_value.clone() },
                "created_at": nullable_int, "updated_at": nullable_int
            }
        },
        "CheckVerdict": {
            "type": "object", "required": ["ok", "message"],
            "properties": { "ok": { "type": "boolean" }, "message": { "type": "string" } }
        },
        "FlowInput": {
            "type": "object", "required": ["name", "kind", "tenant"],
            "properties": {
                "name": { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$" },
                "kind": { "type": "string", "enum": ["interactions", "interval_stats", "agent_states"] },
                "tenant": { "type": "string" },
                "source": nullable_string, "target": nullable_string,
                "every": nullable_string, "cron": nullable_string,
                "continuous": { "type": ["boolean", "null"] },
                "enabled": { "type": ["boolean", "null"] },
                "on_invalid": { "type": ["string", "null"], "enum": ["skip", "stop", null] },
                "options": { "type": "object", "additionalProperties": property_value.clone() }
            }
        },
        "Run": {
            "type": "object",
            "required": ["id", "flow", "started_at", "ended_at", "status", "read", "sent", "rejected", "error"],
            "properties": {
                "id": { "type": "integer" }, "flow": { "type": "string" },
                "started_at": { "type": "integer" }, "ended_at": nullable_int,
                "status": { "type": "string", "enum": ["running", "succeeded", "failed", "abandoned"] },
                "read": { "type": "integer" }, "sent": { "type": "integer" },
                "rejected": { "type": "integer" }, "error": nullable_string
            }
        },
        "Flow": {
            "type": "object",
            "required": ["name", "kind", "tenant", "source", "target", "every", "cron", "continuous",
                         "enabled", "on_invalid", "options", "origin", "read_only", "created_at",
                         "updated_at", "last_run"],
            "properties": {
                "name": { "type": "string" },
                "kind": { "type": "string" },
                "tenant": { "type": "string" },
                "source": nullable_string, "target": nullable_string,
                "every": nullable_string, "cron": nullable_string,
                "continuous": { "type": "boolean" }, "enabled": { "type": "boolean" },
                "on_invalid": nullable_string,
                "options": { "type": "object", "additionalProperties": property_value },
                "origin": { "type": "string", "enum": ["config", "api"] },
                "read_only": { "type": "boolean" },
                "created_at": nullable_int, "updated_at": nullable_int,
                "last_run": { "oneOf": [ reference("Run"), { "type": "null" } ] }
            }
        },
        "RunResult": {
            "type": "object", "required": ["run", "read", "sent", "rejected", "error"],
            "properties": {
                "run": { "type": "integer" }, "read": { "type": "integer" },
                "sent": { "type": "integer" }, "rejected": { "type": "integer" },
                "error": nullable_string
            }
        },
        "OutboxMessage": {
            "type": "object",
            "required": ["id", "flow", "key", "idempotency_key", "name", "content_type", "size",
                         "status", "attempts", "next_attempt_at", "last_error", "created_at", "sent_at"],
            "properties": {
                "id": { "type": "integer" }, "flow": { "type": "string" },
                "key": { "type": "string" }, "idempotency_key": { "type": "string" },
                "name": { "type": "string" }, "content_type": { "type": "string" },
                "size": { "type": "integer" },
                "status": { "type": "string", "enum": ["pending", "sent", "dead", "superseded"] },
                "attempts": { "type": "integer" }, "next_attempt_at": { "type": "integer" },
                "last_error": nullable_string, "created_at": { "type": "integer" },
                "sent_at": nullable_int
            }
        },
        "DeadLetterAction": {
            "type": "object", "required": ["id", "status"],
            "properties": { "id": { "type": "integer" },
                            "status": { "type": "string", "enum": ["pending", "discarded"] } }
        },
        "AgentState": {
            "type": "object", "required": ["agent", "state", "reason", "since"],
            "properties": {
                "agent": { "type": "string" },
                "state": { "type": "string", "enum": ["logged_out", "ready", "busy", "acw", "not_ready"] },
                "reason": nullable_string,
                "since": { "type": "string", "description": "RFC 3339 instant of the state's event" }
            }
        },
        "Queue": {
            "type": "object", "required": ["queue", "name", "sl_seconds", "short_abandon_seconds"],
            "properties": {
                "queue": { "type": "string" }, "name": { "type": "string" },
                "sl_seconds": { "type": "integer" }, "short_abandon_seconds": { "type": "integer" }
            }
        },
        "QueueStatistics": {
            "type": "object", "required": ["tenant", "queue", "from", "to", "interval_minutes", "rows"],
            "properties": {
                "tenant": { "type": "string" }, "queue": { "type": "string" },
                "from": { "type": "string", "format": "date" }, "to": { "type": "string", "format": "date" },
                "interval_minutes": { "type": "integer" },
                "rows": { "type": "array", "items": {
                    "type": "object", "required": ["date", "time", "queue", "offd_direct_call_cnt", "answ_call_cnt", "aband_call_cnt"],
                    "description": "A queue row of DESIGN §5 (every measure in seconds or counts)",
                    "additionalProperties": true,
                    "properties": {
                        "date": { "type": "string" }, "time": { "type": "string" },
                        "queue": { "type": "string" }, "queue_name": { "type": "string" },
                        "offd_direct_call_cnt": { "type": "integer" },
                        "answ_call_cnt": { "type": "integer" },
                        "aband_call_cnt": { "type": "integer" }
                    }
                } }
            }
        },
        "DirectoryLogEntry": {
            "type": "object",
            "required": ["id", "tenant", "flow", "source", "at", "change", "subject", "before",
                         "after", "action", "person_id"],
            "additionalProperties": false,
            "properties": {
                "id": { "type": "integer" }, "tenant": { "type": "string" },
                "flow": { "type": "string" }, "source": { "type": "string" },
                "at": { "type": "integer", "description": "Epoch milliseconds" },
                "change": { "type": "string", "description": "The kind of change (person_added, …)" },
                "subject": { "type": "string" },
                "before": { "type": ["string", "null"], "description": "The value before, as JSON text" },
                "after": { "type": ["string", "null"], "description": "The value after, as JSON text" },
                "action": { "type": "string", "description": "What the flow's policy did" },
                "person_id": { "type": ["string", "null"] }
            }
        },
        "QueueForecast": {
            "type": "object",
            "required": ["tenant", "queue", "from", "days", "interval_minutes", "method", "intervals"],
            "additionalProperties": false,
            "properties": {
                "tenant": { "type": "string" }, "queue": { "type": "string" },
                "from": { "type": "string", "format": "date" },
                "days": { "type": "integer", "minimum": 1, "maximum": 31 },
                "interval_minutes": { "type": "integer", "enum": [15, 30, 60] },
                "method": { "type": "string", "enum": ["baseline", "profile", "last_week"] },
                "intervals": { "type": "array", "items": {
                    "type": "object",
                    "required": ["start", "forecast_contacts", "forecast_aht_s", "actual_contacts"],
                    "additionalProperties": false,
                    "properties": {
                        "start": { "type": "string", "format": "date-time" },
                        "forecast_contacts": { "type": "number", "minimum": 0 },
                        "forecast_aht_s": { "type": ["number", "null"] },
                        "actual_contacts": { "type": ["number", "null"], "description": "Contacts offered; null for intervals not yet ended" }
                    }
                } }
            }
        }
    });

    let account = path_param("name", "Account name");
    let flow = path_param("name", "Flow name");
    let id = json!({ "name": "id", "in": "path", "required": true, "description": "Outbox message id",
                     "schema": { "type": "integer", "minimum": 1 } });
    let tenant = path_param("tenant", "Tenant id");
    let array = |name: &str| json!({ "type": "array", "items": reference(name) });
    let change = [
        (
            "403",
            "A viewer token, or a tenant this token may not manage",
        ),
        (
            "404",
            "No such account or flow (or not visible to this token)",
        ),
        (
            "409",
            "Defined in wfm-bridge.toml (read-only), or in conflict with what exists",
        ),
        (
            "422",
            "The document does not check; the error names the field",
        ),
        ("400", "The body is not a JSON object"),
        ("503", "The store failed"),
    ];
    let paths = json!({
        "/api/v1/me": { "get": {
            "summary": "The calling token: its name, role and tenants", "operationId": "me",
            "responses": responses(("200", ok("The token", reference("Me"))), &[])
        }},
        "/api/v1/tenants": { "get": {
            "summary": "Tenants this token sees", "operationId": "listTenants",
            "responses": responses(("200", ok("Tenants", array("Tenant"))), &[])
        }},
        "/api/v1/account-types": { "get": {
            "summary": "Account types with their property schemas", "operationId": "listAccountTypes",
            "responses": responses(("200", ok("Types", array("AccountType"))), &[])
        }},
        "/api/v1/accounts": {
            "get": {
                "summary": "Integration accounts (of the file and of the API)", "operationId": "listAccounts",
                "responses": responses(("200", ok("Accounts", array("Account"))), &[])
            },
            "post": {
                "summary": "Create an account", "operationId": "createAccount",
                "requestBody": body(reference("AccountInput")),
                "responses": responses(("201", ok("Created", reference("Account"))), &change)
            }
        },
        "/api/v1/accounts/{name}": {
            "parameters": [account],
            "get": {
                "summary": "One account", "operationId": "getAccount",
                "responses": responses(("200", ok("The account", reference("Account"))), &[("404", "No such account")])
            },
            "put": {
                "summary": "Edit an API account (type, tenant, properties)", "operationId": "updateAccount",
                "requestBody": body(reference("AccountInput")),
                "responses": responses(("200", ok("Saved", reference("Account"))), &change)
            },
            "delete": {
                "summary": "Delete an API account no flow uses", "operationId": "deleteAccount",
                "responses": responses(("204", json!({ "description": "Deleted" })), &change)
            }
        },
        "/api/v1/accounts/{name}/test": {
            "parameters": [account],
            "post": {
                "summary": "Test connection", "operationId": "testAccount",
                "responses": responses(("200", ok("The verdict", reference("CheckVerdict"))), &[("404", "No such account")])
            }
        },
        "/api/v1/flows": {
            "get": {
                "summary": "Flows, each with its last run", "operationId": "listFlows",
                "responses": responses(("200", ok("Flows", array("Flow"))), &[("503", "The store failed")])
            },
            "post": {
                "summary": "Create a flow", "operationId": "createFlow",
                "requestBody": body(reference("FlowInput")),
                "responses": responses(("201", ok("Created", reference("Flow"))), &change)
            }
        },
        "/api/v1/flows/{name}": {
            "parameters": [flow],
            "get": {
                "summary": "One flow with its last run", "operationId": "getFlow",
                "responses": responses(("200", ok("The flow", reference("Flow"))), &[("404", "No such flow"), ("503", "The store failed")])
            },
            "put": {
                "summary": "Edit an API flow", "operationId": "updateFlow",
                "requestBody": body(reference("FlowInput")),
                "responses": responses(("200", ok("Saved", reference("Flow"))), &change)
            },
            "delete": {
                "summary": "Delete an API flow", "operationId": "deleteFlow",
                "responses": responses(("204", json!({ "description": "Deleted" })), &change)
            }
        },
        "/api/v1/flows/{name}/enable": {
            "parameters": [flow],
            "post": {
                "summary": "Enable an API flow", "operationId": "enableFlow",
                "responses": responses(("200", ok("Saved", reference("Flow"))), &change)
            }
        },
        "/api/v1/flows/{name}/disable": {
            "parameters": [flow],
            "post": {
                "summary": "Disable an API flow", "operationId": "disableFlow",
                "responses": responses(("200", ok("Saved", reference("Flow"))), &change)
            }
        },
        "/api/v1/flows/{name}/run": {
            "parameters": [flow],
            "post": {
                "summary": "Run a flow once now", "operationId": "runFlow",
                "responses": responses(("200", ok("How the run ended", reference("RunResult"))), &change)
            }
        },
        "/api/v1/runs": { "get": {
            "summary": "Runs, newest first", "operationId": "listRuns",
            "parameters": [
                query_param("flow", "Only this flow", json!({ "type": "string" })),
                query_param("limit", "At most this many (default 50)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
            ],
            "responses": responses(("200", ok("Runs", array("Run"))), &[("400", "A bad parameter"), ("404", "No such flow"), ("503", "The store failed")])
        }},
        "/api/v1/outbox": { "get": {
            "summary": "Outbox messages, newest first, without payloads", "operationId": "listOutbox",
            "parameters": [
                query_param("status", "Only this state", json!({ "type": "string", "enum": ["pending", "sent", "dead", "superseded"] })),
                query_param("flow", "Only this flow", json!({ "type": "string" })),
                query_param("before_id", "Only ids below this (paging)", json!({ "type": "integer", "minimum": 1 })),
                query_param("limit", "At most this many (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
            ],
            "responses": responses(("200", ok("Messages", array("OutboxMessage"))), &[("400", "A bad parameter"), ("404", "No such flow"), ("503", "The store failed")])
        }},
        "/api/v1/outbox/{id}/retry": {
            "parameters": [id.clone()],
            "post": {
                "summary": "Send a dead letter again", "operationId": "retryDeadLetter",
                "responses": responses(("200", ok("Pending again", reference("DeadLetterAction"))), &[
                    ("400", "Not a message id"), ("403", "A viewer token"), ("404", "No such message"),
                    ("409", "Not a dead letter"), ("503", "The store failed")])
            }
        },
        "/api/v1/outbox/{id}/discard": {
            "parameters": [id],
            "post": {
                "summary": "Delete a dead letter for good", "operationId": "discardDeadLetter",
                "responses": responses(("200", ok("Discarded", reference("DeadLetterAction"))), &[
                    ("400", "Not a message id"), ("403", "A viewer token"), ("404", "No such message"),
                    ("409", "Not a dead letter"), ("503", "The store failed")])
            }
        },
        "/api/v1/tenants/{tenant}/agent-states": {
            "parameters": [tenant.clone()],
            "get": {
                "summary": "Every agent's current state (the live board)", "operationId": "agentStates",
                "responses": responses(("200", ok("States", array("AgentState"))), &[("404", "No such tenant"), ("503", "The store failed")])
            }
        },
        "/api/v1/tenants/{tenant}/queues": {
            "parameters": [tenant.clone()],
            "get": {
                "summary": "The tenant's queues", "operationId": "listQueues",
                "responses": responses(("200", ok("Queues", array("Queue"))), &[("404", "No such tenant"), ("503", "The store failed")])
            }
        },
        "/api/v1/tenants/{tenant}/queues/{queue}/statistics": {
            "parameters": [tenant.clone(), path_param("queue", "Queue id")],
            "get": {
                "summary": "Interval statistics of a queue for local dates from..=to (at most 31 days)",
                "operationId": "queueStatistics",
                "parameters": [
                    query_param("from", "First local date (default: today)", json!({ "type": "string", "format": "date" })),
                    query_param("to", "Last local date, included (default: from)", json!({ "type": "string", "format": "date" }))
                ],
                "responses": responses(("200", ok("Rows", reference("QueueStatistics"))), &[
                    ("400", "A bad date or window"), ("404", "No such tenant"),
                    ("422", "The statistics cannot be computed"), ("503", "The store failed")])
            }
        },
        "/api/v1/tenants/{tenant}/queues/{queue}/forecast": {
            "parameters": [tenant.clone(), path_param("queue", "Queue id")],
            "get": {
                "summary": "Forecast contacts of a queue per interval (as `forecast predict --tenant --queue`), with the actual contacts of intervals that have ended",
                "operationId": "queueForecast",
                "parameters": [
                    query_param("from", "First local date forecast; the history is the 70 days before it (default: today)", json!({ "type": "string", "format": "date" })),
                    query_param("days", "Days forecast (default 7, at most 31)", json!({ "type": "integer", "minimum": 1, "maximum": 31 })),
                    query_param("method", "auto (chosen by backtest, the default), baseline, profile or last_week", json!({ "type": "string", "enum": ["auto", "baseline", "profile", "last_week"] }))
                ],
                "responses": responses(("200", ok("Intervals", reference("QueueForecast"))), &[
                    ("400", "A bad parameter"), ("404", "No such tenant"),
                    ("422", "Nothing to forecast from (no history)"), ("503", "The store failed")])
            }
        },
        "/api/v1/tenants/{tenant}/directory/log": {
            "parameters": [tenant],
            "get": {
                "summary": "The directory change log: what directory flows found and did, newest first",
                "operationId": "directoryLog",
                "parameters": [
                    query_param("flow", "Only this flow", json!({ "type": "string" })),
                    query_param("before_id", "Only ids below this (paging)", json!({ "type": "integer", "minimum": 1 })),
                    query_param("limit", "At most this many (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
                ],
                "responses": responses(("200", ok("Entries", array("DirectoryLogEntry"))), &[
                    ("400", "A bad parameter"), ("404", "No such tenant, or a flow of another tenant"),
                    ("503", "The store failed")])
            }
        }
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wfm-bridge admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Integration accounts, flows, runs, the outbox and dead letters, live agent states, interval statistics, queue forecasts and the directory change log. Authenticate with Authorization: Bearer <an [[admin_tokens]] token>."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas
        },
        "paths": paths
    })
}
