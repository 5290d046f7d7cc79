//! The engine's side of the admin API: accounts and flows created, edited and deleted while it
//! runs, and the rotation of the key that encrypts their secrets.
//!
//! Accounts and flows of `wfm-bridge.toml` are read-only here ([`AdminError::ReadOnly`]): the file
//! is the truth for them. The ones created through the API live in the store's catalog
//! ([`wfm_store::CatalogTable`]), secrets sealed ([`crate::secrets`]); every change is checked as
//! the file would be (schemas, single-instance types, accounts that flows use), written to the
//! store, and then applied to the running engine, which reloads its schedule.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use wfm_connectors::accounts::{AccountConfig, account_type};
use wfm_connectors::sources::Source;
use wfm_connectors::targets::{CheckVerdict, Target};
use wfm_store::{CatalogEntry, CatalogTable, Store, StoreError};

use crate::catalog::{
    self, CatalogAccount, CatalogFlow, FieldError, Origin, account_body, account_from_entry,
    account_from_json, flow_from_entry, flow_from_json,
};
use crate::config::Config;
use crate::runner::RunReport;
use crate::secrets::SecretKey;
use crate::service::{Engine, EngineError};

/// Why an admin change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The document does not check; names the field.
    #[error("{0}")]
    Invalid(FieldError),
    /// No account or flow of that name.
    #[error("{0}")]
    NotFound(String),
    /// Defined in wfm-bridge.toml: change the file instead.
    #[error("{0}")]
    ReadOnly(String),
    /// The change conflicts with what exists (a name taken, a single-instance type, an account in
    /// use).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for AdminError {
    fn from(e: FieldError) -> Self {
        AdminError::Invalid(e)
    }
}

/// Accounts and flows created through the API, with the targets and sources built from them.
#[derive(Default)]
pub(crate) struct ApiCatalog {
    pub(crate) accounts: Vec<CatalogAccount>,
    pub(crate) flows: Vec<CatalogFlow>,
    pub(crate) targets: BTreeMap<String, Arc<dyn Target>>,
    pub(crate) sources: BTreeMap<String, Arc<dyn Source>>,
}

/// The target and source an account builds, as the engine keeps them.
type Built = (Option<Arc<dyn Target>>, Option<Arc<dyn Source>>);

fn build(account: &AccountConfig) -> Result<Built, FieldError> {
    let ty = account_type(&account.account_type)
        .ok_or_else(|| FieldError::new("type", "is not an account type"))?;
    let target = match ty.build {
        Some(build) => Some(Arc::from(
            build(account).map_err(|e| FieldError::new("properties", e.message))?,
        )),
        None => None,
    };
    let source = match ty.build_source {
        Some(build) => Some(Arc::from(
            build(account).map_err(|e| FieldError::new("properties", e.message))?,
        )),
        None => None,
    };
    Ok((target, source))
}

fn tenant_ids(config: &Config) -> Vec<String> {
    config
        .tenants
        .iter()
        .map(|t| t.tenant.tenant.clone())
        .collect()
}

impl ApiCatalog {
    /// Reads the catalog from the store and builds it; a stored entry that no longer checks (a
    /// missing key, a name now taken by the file) stops the start with its name and field.
    pub(crate) async fn load(
        config: &Config,
        store: &dyn Store,
    ) -> Result<ApiCatalog, EngineError> {
        let mut catalog = ApiCatalog::default();
        let key = config.secret_key.as_ref();
        let fail = |noun: &str, name: &str, e: String| {
            EngineError::Unknown(format!(
                "{noun} {name:?} (created through the admin API, kept in the store): {e}"
            ))
        };
        for entry in store.catalog(CatalogTable::Accounts).await? {
            if config.account(&entry.name).is_some() {
                return Err(fail(
                    "account",
                    &entry.name,
                    format!(
                        "{} now defines an account of the same name; delete one of them",
                        config.file
                    ),
                ));
            }
            let account = account_from_entry(&entry, key)
                .map_err(|e| fail("account", &entry.name, e.to_string()))?;
            let (target, source) =
                build(&account.account).map_err(|e| fail("account", &entry.name, e.to_string()))?;
            catalog.insert_built(&account.account.name, target, source);
            catalog.accounts.push(account);
        }
        let tenants = tenant_ids(config);
        let accounts: Vec<AccountConfig> = config
            .accounts
            .iter()
            .cloned()
            .chain(catalog.accounts.iter().map(|a| a.account.clone()))
            .collect();
        for entry in store.catalog(CatalogTable::Flows).await? {
            if config.flow(&entry.name).is_some() {
                return Err(fail(
                    "flow",
                    &entry.name,
                    format!(
                        "{} now defines a flow of the same name; delete one of them",
                        config.file
                    ),
                ));
            }
            let flow = flow_from_entry(&entry, &tenants, &accounts)
                .map_err(|e| fail("flow", &entry.name, e.to_string()))?;
            catalog.flows.push(flow);
        }
        Ok(catalog)
    }

    fn insert_built(
        &mut self,
        name: &str,
        target: Option<Arc<dyn Target>>,
        source: Option<Arc<dyn Source>>,
    ) {
        self.targets.remove(name);
        self.sources.remove(name);
        if let Some(target) = target {
            self.targets.insert(name.to_string(), target);
        }
        if let Some(source) = source {
            self.sources.insert(name.to_string(), source);
        }
    }
}

impl Engine {
    /// The ids of the configured tenants.
    pub fn tenant_ids(&self) -> Vec<String> {
        tenant_ids(&self.config)
    }

    /// Every account with its origin: the file's, then the API's, each by name.
    pub fn catalog_accounts(&self) -> Vec<CatalogAccount> {
        let api = self.api.read().expect("not poisoned");
        let mut all: Vec<CatalogAccount> = self
            .config
            .accounts
            .iter()
            .map(|a| CatalogAccount {
                account: a.clone(),
                origin: Origin::Config,
                created_at: None,
                updated_at: None,
            })
            .chain(api.accounts.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.account.name.cmp(&b.account.name));
        all
    }

    /// Every flow with its origin, by name.
    pub fn catalog_flows(&self) -> Vec<CatalogFlow> {
        let api = self.api.read().expect("not poisoned");
        let mut all: Vec<CatalogFlow> = self
            .config
            .flows
            .iter()
            .map(|f| CatalogFlow {
                flow: f.clone(),
                origin: Origin::Config,
                created_at: None,
                updated_at: None,
            })
            .chain(api.flows.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.flow.name.cmp(&b.flow.name));
        all
    }

    fn read_only(&self, noun: &str, name: &str) -> AdminError {
        AdminError::ReadOnly(format!(
            "{noun} {name:?} is defined in {}; edit the file (and restart) to change it",
            self.config.file
        ))
    }

    /// Refuses a second account of a single-instance type in one tenant.
    fn check_single(&self, account: &AccountConfig) -> Result<(), AdminError> {
        let Some(ty) = account_type(&account.account_type) else {
            return Ok(());
        };
        if !ty.single_per_tenant {
            return Ok(());
        }
        if let Some(other) = self.all_accounts().iter().find(|a| {
            a.name != account.name
                && a.account_type == account.account_type
                && a.tenant == account.tenant
        }) {
            let tenant = match &account.tenant {
                Some(t) => format!("tenant {t:?}"),
                None => "accounts without a tenant".to_string(),
            };
            return Err(AdminError::Conflict(format!(
                "only one {} account is allowed per tenant, and {tenant} has one already: {:?}",
                account.account_type, other.name
            )));
        }
        Ok(())
    }

    /// Creates an account from its API document.
    pub async fn create_account(&self, doc: &Value) -> Result<CatalogAccount, AdminError> {
        let _guard = self.changes.lock().await;
        let account = account_from_json(doc, &self.tenant_ids(), None)?;
        if self.all_accounts().iter().any(|a| a.name == account.name) {
            return Err(AdminError::Conflict(format!(
                "an account named {:?} exists already",
                account.name
            )));
        }
        self.save_account(account, None).await
    }

    /// Replaces an API account's type, tenant and properties; secrets left out (or sent back as
    /// `********`) are kept.
    pub async fn update_account(
        &self,
        name: &str,
        doc: &Value,
    ) -> Result<CatalogAccount, AdminError> {
        let _guard = self.changes.lock().await;
        if self.config.account(name).is_some() {
            return Err(self.read_only("account", name));
        }
        let current = self
            .api
            .read()
            .expect("not poisoned")
            .accounts
            .iter()
            .find(|a| a.account.name == name)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("there is no account {name:?}")))?;
        let mut doc = doc.clone();
        if let Some(object) = doc.as_object_mut() {
            match object.get("name") {
                None | Some(Value::Null) => {
                    object.insert("name".into(), Value::String(name.to_string()));
                }
                Some(Value::String(n)) if n == name => {}
                Some(_) => {
                    return Err(FieldError::new(
                        "name",
                        "differs from the name in the URL; an account cannot be renamed (create a new one)",
                    )
                    .into());
                }
            }
        }
        let account = account_from_json(&doc, &self.tenant_ids(), Some(&current.account))?;
        let used: Vec<String> = self
            .all_flows()
            .iter()
            .filter(|f| f.target() == Some(name) || f.source() == Some(name))
            .map(|f| f.name.clone())
            .collect();
        if account.account_type != current.account.account_type && !used.is_empty() {
            return Err(AdminError::Conflict(format!(
                "account {name:?} is used by flows {}; its type cannot change while they use it",
                used.join(", ")
            )));
        }
        self.save_account(account, current.created_at).await
    }

    async fn save_account(
        &self,
        account: AccountConfig,
        created_at: Option<i64>,
    ) -> Result<CatalogAccount, AdminError> {
        self.check_single(&account)?;
        let (target, source) = build(&account)?;
        let body = account_body(&account, self.config.secret_key.as_ref())?;
        let now = crate::now_ms();
        let entry = CatalogEntry {
            name: account.name.clone(),
            tenant: account.tenant.clone(),
            kind: account.account_type.clone(),
            body,
            created_at: created_at.unwrap_or(now),
            updated_at: now,
        };
        self.store
            .put_catalog(CatalogTable::Accounts, &entry)
            .await?;
        let saved = CatalogAccount {
            account,
            origin: Origin::Api,
            created_at: Some(entry.created_at),
            updated_at: Some(now),
        };
        {
            let mut api = self.api.write().expect("not poisoned");
            api.insert_built(&saved.account.name, target, source);
            api.accounts
                .retain(|a| a.account.name != saved.account.name);
            api.accounts.push(saved.clone());
            api.accounts
                .sort_by(|a, b| a.account.name.cmp(&b.account.name));
        }
        tracing::info!(account = %saved.account.name, r#type = %saved.account.account_type, "account saved through the admin API");
        self.reload.notify_one();
        Ok(saved)
    }

    /// Deletes an API account that no flow uses.
    pub async fn delete_account(&self, name: &str) -> Result<(), AdminError> {
        let _guard = self.changes.lock().await;
        if self.config.account(name).is_some() {
            return Err(self.read_only("account", name));
        }
        if !self
            .api
            .read()
            .expect("not poisoned")
            .accounts
            .iter()
            .any(|a| a.account.name == name)
        {
            return Err(AdminError::NotFound(format!(
                "there is no account {name:?}"
            )));
        }
        let used: Vec<String> = self
            .all_flows()
            .iter()
            .filter(|f| f.target() == Some(name) || f.source() == Some(name))
            .map(|f| f.name.clone())
            .collect();
        if !used.is_empty() {
            return Err(AdminError::Conflict(format!(
                "account {name:?} is used by flows {}; delete or change them first",
                used.join(", ")
            )));
        }
        self.store
            .delete_catalog(CatalogTable::Accounts, name)
            .await?;
        {
            let mut api = self.api.write().expect("not poisoned");
            api.accounts.retain(|a| a.account.name != name);
            api.insert_built(name, None, None);
        }
        tracing::info!(account = %name, "account deleted through the admin API");
        self.reload.notify_one();
        Ok(())
    }

    /// The accounts a flow of the document's tenant may name: its tenant's and those of no
    /// tenant. A flow created through the API cannot send one tenant's data to another tenant's
    /// system, and an error listing the accounts shows no other tenant's.
    fn usable_accounts(&self, doc: &Value) -> Vec<AccountConfig> {
        let tenant = doc.get("tenant").and_then(Value::as_str);
        self.all_accounts()
            .into_iter()
            .filter(|a| a.tenant.is_none() || a.tenant.as_deref() == tenant)
            .collect()
    }

    /// Creates a flow from its API document.
    pub async fn create_flow(&self, doc: &Value) -> Result<CatalogFlow, AdminError> {
        let _guard = self.changes.lock().await;
        let flow = flow_from_json(doc, &self.tenant_ids(), &self.usable_accounts(doc))?;
        if self.all_flows().iter().any(|f| f.name == flow.name) {
            return Err(AdminError::Conflict(format!(
                "a flow named {:?} exists already",
                flow.name
            )));
        }
        self.save_flow(flow, None).await
    }

    /// Replaces an API flow's settings.
    pub async fn update_flow(&self, name: &str, doc: &Value) -> Result<CatalogFlow, AdminError> {
        let _guard = self.changes.lock().await;
        let current = self.api_flow(name)?;
        let mut doc = doc.clone();
        if let Some(object) = doc.as_object_mut() {
            match object.get("name") {
                None | Some(Value::Null) => {
                    object.insert("name".into(), Value::String(name.to_string()));
                }
                Some(Value::String(n)) if n == name => {}
                Some(_) => {
                    return Err(FieldError::new(
                        "name",
                        "differs from the name in the URL; a flow cannot be renamed (create a new one)",
                    )
                    .into());
                }
            }
        }
        let flow = flow_from_json(&doc, &self.tenant_ids(), &self.usable_accounts(&doc))?;
        self.save_flow(flow, current.created_at).await
    }

    /// Enables or disables an API flow.
    pub async fn set_flow_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<CatalogFlow, AdminError> {
        let _guard = self.changes.lock().await;
        let mut current = self.api_flow(name)?;
        current.flow.enabled = enabled;
        self.save_flow(current.flow, current.created_at).await
    }

    fn api_flow(&self, name: &str) -> Result<CatalogFlow, AdminError> {
        if self.config.flow(name).is_some() {
            return Err(self.read_only("flow", name));
        }
        self.api
            .read()
            .expect("not poisoned")
            .flows
            .iter()
            .find(|f| f.flow.name == name)
            .cloned()
            .ok_or_else(|| AdminError::NotFound(format!("there is no flow {name:?}")))
    }

    async fn save_flow(
        &self,
        flow: crate::flows::FlowSettings,
        created_at: Option<i64>,
    ) -> Result<CatalogFlow, AdminError> {
        let now = crate::now_ms();
        let entry = CatalogEntry {
            name: flow.name.clone(),
            tenant: Some(flow.tenant.clone()),
            kind: flow.kind.as_str().to_string(),
            body: Value::Object(catalog::flow_document(&flow)).to_string(),
            created_at: created_at.unwrap_or(now),
            updated_at: now,
        };
        self.store.put_catalog(CatalogTable::Flows, &entry).await?;
        let saved = CatalogFlow {
            flow,
            origin: Origin::Api,
            created_at: Some(entry.created_at),
            updated_at: Some(now),
        };
        {
            let mut api = self.api.write().expect("not poisoned");
            api.flows.retain(|f| f.flow.name != saved.flow.name);
            api.flows.push(saved.clone());
            api.flows.sort_by(|a, b| a.flow.name.cmp(&b.flow.name));
        }
        tracing::info!(flow = %saved.flow.name, enabled = saved.flow.enabled, "flow saved through the admin API");
        self.reload.notify_one();
        Ok(saved)
    }

    /// Deletes an API flow (its runs and outbox messages stay for the record).
    pub async fn delete_flow(&self, name: &str) -> Result<(), AdminError> {
        let _guard = self.changes.lock().await;
        self.api_flow(name)?;
        self.store.delete_catalog(CatalogTable::Flows, name).await?;
        self.api
            .write()
            .expect("not poisoned")
            .flows
            .retain(|f| f.flow.name != name);
        tracing::info!(flow = %name, "flow deleted through the admin API");
        self.reload.notify_one();
        Ok(())
    }

    /// Runs a flow (of the file or the API) once now, then wakes the delivery worker.
    pub async fn run_now(&self, name: &str) -> Result<RunReport, AdminError> {
        if !self.all_flows().iter().any(|f| f.name == name) {
            return Err(AdminError::NotFound(format!("there is no flow {name:?}")));
        }
        match self.run_flow_once(name).await {
            Ok(report) => Ok(report),
            Err(EngineError::Store(e)) => Err(AdminError::Store(e)),
            Err(e) => Err(AdminError::NotFound(e.to_string())),
        }
    }

    /// Tests an account's connection (of the file or the API).
    pub async fn test_account(&self, name: &str) -> Result<CheckVerdict, AdminError> {
        self.check(name)
            .await
            .map_err(|e| AdminError::NotFound(e.to_string()))
    }
}

/// Re-encrypts every stored account secret: opened with `old`, sealed with `new`. An entry that
/// opens with `new` already (a rotation that stopped half way) is left as it is. Returns how many
/// accounts were rewritten.
pub async fn rotate_key(
    store: &dyn Store,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<usize, String> {
    let entries = store
        .catalog(CatalogTable::Accounts)
        .await
        .map_err(|e| e.to_string())?;
    let mut rewritten = 0;
    for entry in entries {
        if account_from_entry(&entry, Some(new)).is_ok()
            && account_from_entry(&entry, Some(old)).is_err()
        {
            continue;
        }
        let body = catalog::reseal(&entry, old, new)
            .map_err(|e| format!("account {:?}: {e}", entry.name))?;
        if body == entry.body {
            continue;
        }
        let entry = CatalogEntry {
            body,
            updated_at: crate::now_ms(),
            ..entry
        };
        store
            .put_catalog(CatalogTable::Accounts, &entry)
            .await
            .map_err(|e| e.to_string())?;
        rewritten += 1;
    }
    Ok(rewritten)
}
