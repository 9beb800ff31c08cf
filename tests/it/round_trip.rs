//! Whatever the API accepts, `orders export` writes and `orders import` reads back into a fresh
//! store as the same orders: a property test over datetimes across years 0001–9999 written
//! with offsets up to ±23:59 and extra digits, fees over the whole range in any JSON number
//! form, and every shape of service reference.

use chrono::{Datelike as _, FixedOffset, SecondsFormat};
use orders::auth::Role;
use orders::domain::{Money, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::api_helpers::spawn_app;
use crate::helpers::TestDb;

/// The largest fee, in cents.
const MAX_CENTS: i64 = 100_000_000_000;

/// One order as the API is asked for it.
#[derive(Debug, Clone)]
struct Asked {
    /// The instant meant.
    millis: i64,
    /// How it is written: RFC 3339 in some offset, maybe with digits past the millisecond.
    datetime: String,
    /// The fee meant.
    cents: i64,
    /// How it is written: a JSON number's text.
    totalfee: String,
    /// The service ids meant, ascending.
    services: Vec<i64>,
    /// How they are written.
    references: Vec<Value>,
}

impl Asked {
    fn body(&self) -> String {
        let services = Value::Array(self.references.clone());
        format!(r#"{{"datetime": {:?}, "totalfee": {}, "services": {services}}}"#, self.datetime, self.totalfee)
    }
}

/// `millis` written in an offset of `minutes` (UTC where that offset would make its year
/// 10000, which RFC 3339 cannot write), with `extra` digits past the millisecond.
fn written(millis: i64, minutes: i32, extra: &str) -> String {
    let offset = FixedOffset::east_opt(minutes * 60).expect("an offset under a day");
    let utc = Timestamp::from_millis(millis).to_utc();
    let local = utc.with_timezone(&offset);
    let text = if local.year() <= 9999 {
        local.to_rfc3339_opts(SecondsFormat::Millis, false)
    } else {
        utc.to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    // "….sss+hh:mm" or "….sssZ": the extra digits go right after the milliseconds.
    let at = text.rfind(['+', '-', 'Z']).filter(|at| *at > 19).expect("an offset");
    format!("{}{extra}{}", &text[..at], &text[at..])
}

/// A fee's text: plain, with trailing zeros, or with an exponent.
fn fee_text(cents: i64, form: u8) -> String {
    let (whole, part) = (cents / 100, cents % 100);
    match form % 3 {
        0 => {
            if part == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{part:02}")
            }
        }
        1 => format!("{whole}.{part:02}000"),
        _ => format!("{cents}e-2"),
    }
}

/// One reference to `id` in one of the four shapes the API takes.
fn reference(id: i64, shape: u8) -> Value {
    match shape % 4 {
        0 => json!(id),
        1 => json!(id.to_string()),
        2 => json!({"id": id}),
        _ => json!({"id": id.to_string()}),
    }
}

/// Up to five orders, in slots of the range far more than the minimum gap apart.
fn orders() -> impl Strategy<Value = Vec<Asked>> {
    (1..=5_usize).prop_flat_map(|count| {
        let slot = (Timestamp::MAX.millis() - Timestamp::MIN.millis()) / i64::try_from(count).unwrap();
        let one = (
            0..slot - 4 * 3_600_000,
            prop_oneof![Just(-1439), Just(1439), -1439..=1439_i32],
            "[0-9]{0,6}",
            prop_oneof![Just(0), Just(MAX_CENTS), 0..=MAX_CENTS],
            any::<u8>(),
            prop::sample::subsequence(vec![123_i64, 456, 789], 1..=3),
            prop::collection::vec(any::<u8>(), 3),
        );
        prop::collection::vec(one, count).prop_map(move |drawn| {
            drawn
                .into_iter()
                .enumerate()
                .map(|(k, (within, minutes, extra, cents, form, services, shapes))| {
                    let millis = Timestamp::MIN.millis() + i64::try_from(k).unwrap() * slot + within;
                    let references = services.iter().zip(shapes).map(|(id, shape)| reference(*id, shape)).collect();
                    Asked {
                        millis,
                        datetime: written(millis, minutes, &extra),
                        cents,
                        totalfee: fee_text(cents, form),
                        services,
                        references,
                    }
                })
                .collect()
        })
    })
}

/// Creates `asked` through the API, exports the store, imports the export into a fresh one and
/// exports that: both exports hold the orders asked for, alike but for when they were stored.
async fn round_trip(asked: Vec<Asked>) {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for order in &asked {
        let reply = app.call("POST", "/orders", Some(Role::Writer), Some(&order.body()), &[]).await;
        assert_eq!(reply.status, 201, "{}: {}", order.body(), reply.text);
        let stored = reply.json();
        assert_eq!(stored["datetime"], Timestamp::from_millis(order.millis).to_string(), "{}", order.body());
        assert_eq!(stored["totalfee"].to_string(), Money::from_cents(order.cents).to_string(), "{}", order.body());
        let ids: Vec<i64> = stored["services"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, order.services, "{}", order.body());
        created.push(stored);
    }
    let exported = app.db().cli().arg("export").assert().success().get_output().stdout.clone();
    let target = TestDb::new().await;
    target.cli().args(["import", "-"]).write_stdin(exported.clone()).assert().success();
    let again = target.cli().arg("export").assert().success().get_output().stdout.clone();
    let (exported, again) = (orders_in(&exported), orders_in(&again));
    created.iter_mut().for_each(without_store_times);
    created.sort_by_key(|o| o["id"].as_i64());
    assert_eq!(exported, created, "the export holds the orders created");
    assert_eq!(again, exported, "the import holds the orders exported");
}

/// An export's orders, without the times the store set.
fn orders_in(ndjson: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(ndjson);
    text.lines()
        .map(|line| {
            let mut order: Value = serde_json::from_str(line).expect("an exported line is JSON");
            without_store_times(&mut order);
            order
        })
        .collect()
}

fn without_store_times(order: &mut Value) {
    let object = order.as_object_mut().expect("an order");
    object.remove("created_at");
    object.remove("updated_at");
}

#[test]
fn orders_created_through_the_api_export_and_import_into_a_fresh_store_unchanged() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // The ends of the range, written with the offsets at both ends.
    let ends = vec![
        Asked {
            millis: Timestamp::MIN.millis(),
            datetime: "0000-12-31T00:01:00.000999-23:59".to_owned(),
            cents: 0,
            totalfee: "0".to_owned(),
            services: vec![123],
            references: vec![json!(123)],
        },
        Asked {
            millis: Timestamp::MAX.millis(),
            datetime: "9999-12-31T00:00:59.999999999-23:59".to_owned(),
            cents: MAX_CENTS,
            totalfee: "1e9".to_owned(),
            services: vec![123, 456, 789],
            references: vec![json!({"id": "789"}), json!("456"), json!({"id": 123})],
        },
    ];
    runtime.block_on(round_trip(ends));
    // Each case runs a server, two databases and three commands: a few cases, few shrinks.
    let config = Config { cases: 6, max_shrink_iters: 16, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&orders(), |asked| {
        runtime.block_on(round_trip(asked));
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
