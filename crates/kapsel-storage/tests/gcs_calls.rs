#![allow(clippy::unwrap_used, clippy::expect_used)]
//! object_store's GCS client, built by Kapsel from a gcs Profile, against
//! fake-gcs-server v1.56.1 (tools/fake-gcs-server) on 127.0.0.1, call by
//! call: which calls it serves, and which it refuses and with what answer.
//!
//! It serves the XML API's reads (GET, ranged GET, HEAD, list with and
//! without a delimiter) and DELETE; it has no XML API object upload, so
//! every write (a put, create-if-absent, a copy, a multipart upload's
//! initiate) is answered `400 invalid uploadType`. If a later
//! fake-gcs-server serves them, `writes_are_refused` fails: then
//! crates/kando/tests/gcs.rs can run the full round trips.
//!
//! Skips (loudly) without `fake-gcs-server` on PATH, unless
//! `KAPSEL_GCS_TESTS=1`.

use futures::TryStreamExt;
use kapsel_testkit::objstore::{GCS_BUCKET, gcs_profile, gcs_upload, start_fake_gcs};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

/// The store and repository root a gcs Profile at `port` gives.
fn store(port: u16, bucket: &str) -> (std::sync::Arc<dyn ObjectStore>, Path) {
    let p = kapsel_storage::Profile::from_json(&gcs_profile(port, bucket, "calls")).unwrap();
    let b = kapsel_storage::backend_from_profile(&p).unwrap();
    (b.store, b.root)
}

/// An error and its sources as one text.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(" / ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[test]
fn reads_lists_and_deletes_are_served() {
    let Some(g) = start_fake_gcs() else { return };
    let (s, root) = store(g.port, GCS_BUCKET);
    assert_eq!(root.as_ref(), "calls/kapsel");
    // Written through fake-gcs-server's JSON upload (no XML upload there).
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    for name in ["a/one", "a/two", "b/three"] {
        gcs_upload(g.port, GCS_BUCKET, &format!("calls/kapsel/{name}"), &data);
    }
    let one = root.clone().join("a").join("one");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert_eq!(s.head(&one).await.unwrap().size, 100_000);
        let got = s.get(&one).await.unwrap().bytes().await.unwrap();
        assert!(got == data, "GET returned other bytes");
        // Ranged GETs (pack reads).
        let r = s.get_range(&one, 1000..1500).await.unwrap();
        assert_eq!(&r[..], &data[1000..1500]);
        let rs = s.get_ranges(&one, &[0..1, 99_990..100_000]).await.unwrap();
        assert_eq!((&rs[0][..], &rs[1][..]), (&data[0..1], &data[99_990..]));
        // Listing, recursive and by directory.
        let mut all: Vec<String> = s
            .list(Some(&root))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        all.sort();
        assert_eq!(
            all,
            [
                "calls/kapsel/a/one",
                "calls/kapsel/a/two",
                "calls/kapsel/b/three"
            ]
        );
        let l = s.list_with_delimiter(Some(&root)).await.unwrap();
        let dirs: Vec<String> = l.common_prefixes.iter().map(ToString::to_string).collect();
        assert_eq!(dirs, ["calls/kapsel/a", "calls/kapsel/b"]);
        assert!(l.objects.is_empty());
        // A missing object is NotFound (how Kapsel tells "no repository").
        let missing = root.clone().join("config");
        assert!(matches!(
            s.head(&missing).await,
            Err(object_store::Error::NotFound { .. })
        ));
        assert!(matches!(
            s.get(&missing).await,
            Err(object_store::Error::NotFound { .. })
        ));
        // Delete.
        let two = root.clone().join("a").join("two");
        s.delete(&two).await.unwrap();
        assert!(matches!(
            s.head(&two).await,
            Err(object_store::Error::NotFound { .. })
        ));
        let e = s.delete(&two).await;
        assert!(
            matches!(e, Ok(()) | Err(object_store::Error::NotFound { .. })),
            "{e:?}"
        );
    });
}

#[test]
fn writes_are_refused() {
    let Some(g) = start_fake_gcs() else { return };
    let (s, root) = store(g.port, GCS_BUCKET);
    gcs_upload(g.port, GCS_BUCKET, "calls/kapsel/src", b"source");
    let src = root.clone().join("src");
    let to = root.clone().join("new");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut results: Vec<(&str, object_store::Result<()>)> = Vec::new();
        results.push((
            "put (PUT /<bucket>/<object>)",
            s.put(&to, PutPayload::from_static(b"x")).await.map(drop),
        ));
        results.push((
            "put, create if absent (x-goog-if-generation-match: 0)",
            s.put_opts(
                &to,
                PutPayload::from_static(b"x"),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map(drop),
        ));
        results.push((
            "multipart initiate (POST /<bucket>/<object>?uploads)",
            s.put_multipart(&to).await.map(drop),
        ));
        results.push(("copy (x-goog-copy-source)", s.copy(&src, &to).await));
        results.push(("copy if not exists", s.copy_if_not_exists(&src, &to).await));
        for (what, r) in results {
            let e = r.expect_err(what);
            let text = chain(&e);
            assert!(
                text.contains("400") && text.contains("invalid uploadType"),
                "{what}: {text}"
            );
        }
        // Nothing was written.
        assert!(matches!(
            s.head(&to).await,
            Err(object_store::Error::NotFound { .. })
        ));
    });
}
