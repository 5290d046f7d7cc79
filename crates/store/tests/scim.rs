//! The SCIM tables (migration 6) on both backends: names unique per tenant among live users,
//! optimistic updates, soft deletion, tenant isolation.

use std::sync::Arc;

use wfm_store::{ScimResource, ScimType, ScimWrite, Store};

struct Fixture {
    url: String,
    _keep: Keep,
}

enum Keep {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] wfm_testkit::TestDatabase),
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        Fixture {
            url: format!("sqlite://{}", dir.path().join("store.db").display()),
            _keep: Keep::Sqlite(dir),
        }
    }

    async fn postgres() -> Option<Fixture> {
        let db = wfm_testkit::postgres().await?;
        Some(Fixture {
            url: db.url().to_string(),
            _keep: Keep::Postgres(db),
        })
    }

    async fn open(&self) -> Arc<dyn Store> {
        wfm_store::open(&self.url).await.expect("store opens")
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$name(fixture).await
                }
            )*
        }
    };
}

on_both_backends!(
    users_are_unique_by_name_among_live_ones,
    updates_are_optimistic_and_deletes_keep_the_row,
    concurrent_creations_of_one_name_admit_one,
);

fn user(tenant: &str, id: &str, name: &str) -> ScimResource {
    ScimResource {
        tenant: tenant.into(),
        resource_type: ScimType::User,
        id: id.into(),
        name_key: name.to_lowercase(),
        version: 1,
        created_at: 1_000,
        modified_at: 1_000,
        deleted_at: None,
        document: format!(r#"{{"userName":"{name}"}}"#),
    }
}

async fn users_are_unique_by_name_among_live_ones(f: Fixture) {
    let store = f.open().await;
    let scim = store.scim();
    assert_eq!(
        scim.scim_insert(&user("t1", "u1", "Ada")).await.unwrap(),
        ScimWrite::Written
    );
    assert_eq!(
        scim.scim_insert(&user("t1", "u2", "ADA")).await.unwrap(),
        ScimWrite::NameTaken,
        "userName is unique without regard to case"
    );
    // Another tenant may use the name; a group may share a user's name.
    assert_eq!(
        scim.scim_insert(&user("t2", "u2", "Ada")).await.unwrap(),
        ScimWrite::Written
    );
    let mut group = user("t1", "g1", "ada");
    group.resource_type = ScimType::Group;
    assert_eq!(scim.scim_insert(&group).await.unwrap(), ScimWrite::Written);

    let listed = scim.scim_list("t1", ScimType::User, false).await.unwrap();
    assert_eq!(listed, vec![user("t1", "u1", "Ada")]);
    assert!(
        scim.scim_get("t2", ScimType::User, "u1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        scim.scim_get("t1", ScimType::Group, "u1")
            .await
            .unwrap()
            .is_none()
    );

    // Once deleted, the name is free again.
    assert!(
        scim.scim_delete("t1", ScimType::User, "u1", 2_000)
            .await
            .unwrap()
    );
    assert_eq!(
        scim.scim_insert(&user("t1", "u3", "ada")).await.unwrap(),
        ScimWrite::Written
    );
}

async fn updates_are_optimistic_and_deletes_keep_the_row(f: Fixture) {
    let store = f.open().await;
    let scim = store.scim();
    scim.scim_insert(&user("t1", "u1", "ada")).await.unwrap();
    scim.scim_insert(&user("t1", "u2", "bob")).await.unwrap();

    let mut changed = user("t1", "u1", "ada.l");
    changed.version = 2;
    changed.modified_at = 1_500;
    assert_eq!(
        scim.scim_update(&changed, 1).await.unwrap(),
        ScimWrite::Written
    );
    let mut stale = changed.clone();
    stale.version = 3;
    assert_eq!(
        scim.scim_update(&stale, 1).await.unwrap(),
        ScimWrite::VersionMismatch,
        "version 1 is gone"
    );
    let mut clash = user("t1", "u1", "Bob");
    clash.version = 3;
    assert_eq!(
        scim.scim_update(&clash, 2).await.unwrap(),
        ScimWrite::NameTaken
    );
    assert_eq!(
        scim.scim_get("t1", ScimType::User, "u1").await.unwrap(),
        Some(changed.clone())
    );

    assert!(
        scim.scim_delete("t1", ScimType::User, "u1", 3_000)
            .await
            .unwrap()
    );
    assert!(
        !scim
            .scim_delete("t1", ScimType::User, "u1", 4_000)
            .await
            .unwrap()
    );
    assert!(
        scim.scim_get("t1", ScimType::User, "u1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        scim.scim_update(&stale, 2).await.unwrap(),
        ScimWrite::VersionMismatch,
        "a deleted resource cannot be updated"
    );
    let live = scim.scim_list("t1", ScimType::User, false).await.unwrap();
    assert_eq!(
        live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["u2"]
    );
    let all = scim.scim_list("t1", ScimType::User, true).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].deleted_at, Some(3_000));
    assert_eq!(all[0].version, 3, "a delete is a change");
}

async fn concurrent_creations_of_one_name_admit_one(f: Fixture) {
    let store = f.open().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .scim()
                .scim_insert(&user("t1", &format!("u{i}"), "same"))
                .await
                .unwrap()
        });
    }
    let mut written = 0;
    while let Some(result) = tasks.join_next().await {
        if result.unwrap() == ScimWrite::Written {
            written += 1;
        }
    }
    assert_eq!(written, 1);
}
