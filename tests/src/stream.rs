//! Reading a table's DynamoDB stream from moto and shaping the records as
//! Lambda delivers them (`{"Records": [...]}` with DynamoDB-JSON images),
//! so tests drive the trigger engine with real stream records.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Value, json};

/// Follows every shard of a table's stream from its start.
pub struct StreamReader {
    client: Client,
    stream_arn: String,
    iterators: HashMap<String, Option<String>>,
}

impl StreamReader {
    /// A reader of `table`'s stream on moto at `endpoint`.
    pub async fn open(endpoint: &str, table: &str) -> Self {
        let config = crate::moto::sdk_config(endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("table described");
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .expect("the table has a stream")
            .to_owned();
        Self {
            client: Client::new(&config),
            stream_arn,
            iterators: HashMap::new(),
        }
    }

    /// Every record written since the last call, as one Lambda event.
    pub async fn next_batch(&mut self) -> Value {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .expect("stream described");
        let shards: Vec<String> = described
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            let iterator = match self.iterators.get(&shard) {
                Some(Some(it)) => it.clone(),
                Some(None) => continue,
                None => self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&shard)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .expect("shard iterator")
                    .shard_iterator()
                    .expect("iterator")
                    .to_owned(),
            };
            let page = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .expect("records read");
            for record in page.records() {
                records.push(lambda_record(&self.stream_arn, record));
            }
            self.iterators
                .insert(shard, page.next_shard_iterator().map(str::to_owned));
        }
        json!({ "Records": records })
    }
}

fn lambda_record(arn: &str, record: &aws_sdk_dynamodbstreams::types::Record) -> Value {
    let change = record.dynamodb();
    let image = |item: Option<&HashMap<String, AttributeValue>>| {
        item.map(|i| Value::Object(i.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()))
    };
    let mut dynamodb = serde_json::Map::new();
    if let Some(keys) = image(change.and_then(|c| c.keys.as_ref())) {
        dynamodb.insert("Keys".into(), keys);
    }
    if let Some(new) = image(change.and_then(|c| c.new_image.as_ref())) {
        dynamodb.insert("NewImage".into(), new);
    }
    if let Some(old) = image(change.and_then(|c| c.old_image.as_ref())) {
        dynamodb.insert("OldImage".into(), old);
    }
    dynamodb.insert(
        "SequenceNumber".into(),
        json!(change.and_then(|c| c.sequence_number()).unwrap_or_default()),
    );
    dynamodb.insert(
        "SizeBytes".into(),
        json!(change.and_then(|c| c.size_bytes()).unwrap_or(0)),
    );
    dynamodb.insert("StreamViewType".into(), json!("NEW_AND_OLD_IMAGES"));
    json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": arn,
        "dynamodb": Value::Object(dynamodb),
    })
}

/// An attribute in DynamoDB JSON.
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::L(items) => json!({ "L": items.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({
            "M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>()
        }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::B(b) => {
            json!({ "B": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b.as_ref()) })
        }
        other => panic!("unexpected attribute in a stream image: {other:?}"),
    }
}
