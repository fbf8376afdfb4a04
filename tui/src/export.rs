//! `e`: the current view written to a CSV or JSON file. The file is written
//! beside its target under a temporary name and renamed into place, so a
//! reader never sees half a file; an existing file is replaced only after the
//! user said yes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A view's rows, produced one at a time (a timeline view can hold millions).
pub(crate) struct Table<'a> {
    pub headers: Vec<&'static str>,
    pub rows: Box<dyn Iterator<Item = Vec<Value>> + 'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    /// One JSON array of objects keyed by the headers.
    Json,
}

impl Format {
    /// From the file name: `.csv` or `.json`.
    pub(crate) fn of(path: &Path) -> Result<Format, String> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            _ => Err(format!("{}: name a .csv or .json file", path.display())),
        }
    }
}

/// Writes `table` to `path` through a temporary file and a rename; returns
/// the number of rows written.
pub(crate) fn write(table: Table, path: &Path, format: Format) -> io::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        let n = match format {
            Format::Csv => csv(&mut w, table)?,
            Format::Json => json(&mut w, table)?,
        };
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn csv(w: &mut impl Write, table: Table) -> io::Result<u64> {
    let line = |w: &mut dyn Write, cells: &mut dyn Iterator<Item = String>| -> io::Result<()> {
        for (k, c) in cells.enumerate() {
            if k > 0 {
                w.write_all(b",")?;
            }
            // RFC 4180: quote a field holding a comma, quote or line break; double its quotes.
            if c.contains([',', '"', '\n', '\r']) {
                write!(w, "\"{}\"", c.replace('"', "\"\""))?;
            } else {
                w.write_all(c.as_bytes())?;
            }
        }
        w.write_all(b"\r\n")
    };
    line(w, &mut table.headers.iter().map(|h| h.to_string()))?;
    let mut n = 0;
    for row in table.rows {
        line(
            w,
            &mut row.into_iter().map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => s,
                v => v.to_string(),
            }),
        )?;
        n += 1;
    }
    Ok(n)
}

fn json(w: &mut impl Write, table: Table) -> io::Result<u64> {
    w.write_all(b"[")?;
    let mut n = 0;
    for row in table.rows {
        let obj: serde_json::Map<String, Value> = table
            .headers
            .iter()
            .map(|h| h.to_string())
            .zip(row)
            .collect();
        w.write_all(if n == 0 { b"\n  " } else { b",\n  " })?;
        serde_json::to_writer(&mut *w, &obj)?;
        n += 1;
    }
    w.write_all(b"\n]\n")?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table<'static> {
        Table {
            headers: vec!["n", "message"],
            rows: Box::new(
                vec![
                    vec![json!(1), json!("plain")],
                    vec![json!(2), json!("a, \"quoted\"\nline")],
                    vec![Value::Null, json!("")],
                ]
                .into_iter(),
            ),
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_json_reads_back() {
        let dir = std::env::temp_dir().join(format!("dumptrace-tui-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("view.csv");
        assert_eq!(write(table(), &p, Format::Csv).expect("written"), 3);
        let text = std::fs::read_to_string(&p).expect("read");
        assert_eq!(
            text,
            "n,message\r\n1,plain\r\n2,\"a, \"\"quoted\"\"\nline\"\r\n,\r\n"
        );
        let j = dir.join("view.json");
        write(table(), &j, Format::Json).expect("written");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(&j).expect("read")).expect("json");
        assert_eq!(v[1]["message"], "a, \"quoted\"\nline");
        assert_eq!(v.as_array().map(Vec::len), Some(3));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty());
        assert!(Format::of(Path::new("x.txt")).is_err());
        assert_eq!(Format::of(Path::new("x.JSON")), Ok(Format::Json));
    }
}
