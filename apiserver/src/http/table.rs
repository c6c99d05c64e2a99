//! Server-side printing: meta.k8s.io/v1 Table with a kind's columns, or upstream's default
//! Name / Created At columns.

use crate::registry::tables::{default_columns, human_duration};
use crate::registry::PrinterColumn;
use crate::registry::Resource;
use serde_json::{json, Value};
use serde_json_path::JsonPath;

/// How much of each object a Table row carries (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// A Table of `objects`; `list_meta` is the list's metadata (resourceVersion, continue).
pub fn table(resource: &Resource, objects: &[Value], list_meta: Value, include: IncludeObject) -> Value {
    if let (None, Some(printer)) = (resource.strategy.columns(), resource.strategy.printer_columns()) {
        return printer_table(printer, objects, list_meta, include);
    }
    let columns = resource.strategy.columns().unwrap_or(default_columns());
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = columns.iter().map(|c| (c.cell)(obj)).collect();
            row(cells, obj, include)
        })
        .collect();
    envelope(list_meta, definitions, rows)
}

/// One Table row: its cells and, as asked, the object or its metadata.
fn row(cells: Vec<Value>, obj: &Value, include: IncludeObject) -> Value {
    let mut row = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = super::metadata::partial(obj, "v1"),
        IncludeObject::Object => row["object"] = obj.clone(),
    }
    row
}

/// A Table from JSONPath columns (a CRD's additionalPrinterColumns), led by Name like upstream.
fn printer_table(columns: &[PrinterColumn], objects: &[Value], list_meta: Value, include: IncludeObject) -> Value {
    let name = &default_columns()[0];
    let mut definitions = vec![
        json!({"name": name.name, "type": name.type_, "format": name.format, "description": name.description, "priority": 0}),
    ];
    definitions.extend(columns.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    let paths: Vec<Option<JsonPath>> = columns
        .iter()
        .map(|c| JsonPath::parse(&format!("${}", c.json_path)).ok())
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut cells = vec![(name.cell)(obj)];
            cells.extend(
                columns
                    .iter()
                    .zip(&paths)
                    .map(|(column, path)| printer_cell(column, path.as_ref(), obj)),
            );
            row(cells, obj, include)
        })
        .collect();
    envelope(list_meta, definitions, rows)
}

/// A printer column's cell: the first match of its path, dates as upstream's age, and null when
/// nothing matches.
fn printer_cell(column: &PrinterColumn, path: Option<&JsonPath>, obj: &Value) -> Value {
    let Some(found) = path.and_then(|p| p.query(obj).first().cloned()) else {
        return Value::Null;
    };
    match (column.type_.as_str(), &found) {
        ("date", Value::String(ts)) => match ts.parse::<jiff::Timestamp>() {
            Ok(t) => json!(human_duration(
                jiff::Timestamp::now().as_nanosecond() - t.as_nanosecond()
            )),
            Err(_) => found,
        },
        ("string", Value::Object(_) | Value::Array(_)) => Value::String(found.to_string()),
        _ => found,
    }
}

/// The meta.k8s.io/v1 Table around column definitions and rows.
fn envelope(list_meta: Value, definitions: Vec<Value>, rows: Vec<Value>) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}
